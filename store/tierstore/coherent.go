package tierstore

import (
	"context"
	"fmt"
	"hash/maphash"
	"sync/atomic"
	"time"

	"github.com/cachestack/cachestack/store"
)

// A Bus carries invalidations between the fronts of Stores, in different
// processes, that share one back. redisstore.Bus is one, over Redis
// pub/sub.
type Bus[K comparable] interface {
	// Publish tells the other subscribers that keys changed in the back;
	// no keys means every key (the back was cleared). A Bus does not
	// deliver its own publications to its own subscribers.
	Publish(ctx context.Context, keys ...K) error
	// Subscribe starts delivering to h, from one goroutine of the Bus,
	// until the returned function is called; that function returns once
	// the goroutine has ended.
	Subscribe(h Handler[K]) (stop func())
	// Lag is the longest the Bus lets pass between Confirmed calls while
	// it is subscribed, plus the interval they confirm: a Store serves
	// its front only while the last Confirmed(t) has t within Lag of the
	// present, so that no entry it serves is staler than Lag, even when
	// the Bus's goroutine falls behind.
	Lag() time.Duration
}

// A Handler receives what a Bus delivers. Its methods are called one at a
// time, in the order the Bus learnt of them.
type Handler[K comparable] interface {
	// Invalidate: keys changed in the back (no keys: every key).
	Invalidate(keys []K)
	// Subscribed: the Bus delivers invalidations from now on. Any that
	// were published before may have been missed.
	Subscribed()
	// Lost: the Bus no longer knows that it delivers every invalidation
	// (its connection failed or stopped answering), until the next
	// Subscribed.
	Lost()
	// Confirmed: every invalidation published before upTo has been
	// delivered.
	Confirmed(upTo time.Time)
}

// stripes is the number of invalidation counters keys hash into.
const stripes = 256

// coherence is a Store's state when it listens to a Bus.
type coherence[K comparable] struct {
	bus     Bus[K]
	stop    func()
	seed    maphash.Seed
	lag     time.Duration
	live    atomic.Bool   // subscribed, and every invalidation delivered
	proven  atomic.Int64  // the last Confirmed time, in Unix nanoseconds
	epoch   atomic.Uint64 // counts flushes of the whole front
	counter [stripes]atomic.Uint64
}

// NewCoherent is New for a Store whose front learns of other processes'
// Set, Delete and Clear on the shared back through bus, in a bounded time
// far below FrontTTL, rather than after FrontTTL.
//
//   - Set, Delete and Clear publish the keys they changed on bus after the
//     back has them;
//   - an invalidation received deletes the key from the front (every key,
//     for a Clear);
//   - a Get or Set whose front write may have raced with an invalidation
//     of its key (the invalidation arrived while it read or wrote the
//     back) deletes what it wrote to the front;
//   - the front is served only while the bus has confirmed delivery up to
//     within its Lag of the present; otherwise a Get reads the back, so
//     that a bus whose goroutine falls behind (a starved process, a slow
//     connection not yet declared lost) never lets an entry staler than
//     Lag be served;
//   - when the bus loses its subscription, the front is flushed, and the
//     entries filled until the bus is subscribed again may be stale for
//     up to FrontTTL, as without a bus; on subscribing again the front is
//     flushed once more (invalidations may have been missed in between),
//     and coherence resumes.
//
// A Set, Delete or Clear whose publication fails returns that error
// (matching the Bus's), after both tiers have been written: the other
// fronts may then serve the old value for up to FrontTTL.
//
// The front must implement store.Clearer. The Store subscribes at once and
// owns the subscription: Close stops it, even with Options.LeaveOpen. The
// bus itself stays the caller's.
func NewCoherent[K comparable, V any](front, back store.Store[K, V], bus Bus[K], opts *Options) (*Store[K, V], error) {
	if bus == nil {
		return nil, fmt.Errorf("tierstore: bus is nil")
	}
	s, err := New(front, back, opts)
	if err != nil {
		return nil, err
	}
	if _, ok := front.(store.Clearer); !ok {
		return nil, fmt.Errorf("tierstore: front store %T cannot clear (store.Clearer), which a coherent front needs to flush itself when its bus is lost", front)
	}
	c := &coherence[K]{bus: bus, seed: maphash.MakeSeed(), lag: bus.Lag()}
	s.coh = c
	c.stop = bus.Subscribe(handler[K, V]{s})
	return s, nil
}

// Coherent reports whether the front is coherent with the back now: the
// Store listens to a bus that is subscribed and has not lost its
// connection. While it reports false, the front may serve an entry up to
// FrontTTL after another process changed it.
func (s *Store[K, V]) Coherent() bool {
	return s.coh != nil && s.coh.live.Load()
}

// servable reports whether the front may be served now: the bus is lost
// (the front then falls back to FrontTTL), or it has confirmed delivery
// up to within Lag of now.
func (c *coherence[K]) servable() bool {
	return !c.live.Load() || time.Now().UnixNano()-c.proven.Load() <= int64(c.lag)
}

// mark is the state of key's invalidations at one instant.
type mark struct{ epoch, key uint64 }

func (c *coherence[K]) stripe(key K) *atomic.Uint64 {
	return &c.counter[maphash.Comparable(c.seed, key)%stripes]
}

func (c *coherence[K]) mark(key K) mark {
	// The key's counter is read before the epoch: a flush bumps the epoch
	// before clearing, an invalidation its counter before deleting.
	k := c.stripe(key).Load()
	return mark{epoch: c.epoch.Load(), key: k}
}

// raced reports whether key may have been invalidated since m.
func (c *coherence[K]) raced(key K, m mark) bool {
	return c.stripe(key).Load() != m.key || c.epoch.Load() != m.epoch
}

// handler is the Store as a Bus's Handler.
type handler[K comparable, V any] struct{ s *Store[K, V] }

func (h handler[K, V]) Invalidate(keys []K) {
	s, c := h.s, h.s.coh
	if len(keys) == 0 {
		h.flush("every key was invalidated")
		return
	}
	for _, k := range keys {
		c.stripe(k).Add(1)
		if err := s.front.Delete(context.Background(), k); err != nil {
			s.log.Warn("tierstore: front delete of an invalidated key failed", "key", k, "err", err)
		}
	}
}

func (h handler[K, V]) Subscribed() {
	// Invalidations may have been missed while not subscribed.
	h.flush("the bus is subscribed")
	h.s.coh.live.Store(true)
}

func (h handler[K, V]) Lost() {
	h.s.coh.live.Store(false)
	h.flush("the bus lost its subscription")
}

func (h handler[K, V]) Confirmed(upTo time.Time) {
	h.s.coh.proven.Store(upTo.UnixNano())
}

func (h handler[K, V]) flush(why string) {
	s := h.s
	s.coh.epoch.Add(1)
	if err := s.front.(store.Clearer).Clear(context.Background()); err != nil {
		s.log.Warn("tierstore: front flush failed", "why", why, "err", err)
	}
}
