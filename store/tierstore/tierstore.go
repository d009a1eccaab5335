package tierstore

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/cachestack/cachestack/store"
)

// DefaultFrontTTL is the front's ttl when Options.FrontTTL is zero.
const DefaultFrontTTL = time.Minute

const name = "tierstore"

// Options configure a Store. The zero value, like a nil *Options, means a
// one-minute FrontTTL, a Store that owns (and closes) both stores, and no
// logging.
type Options struct {
	// FrontTTL is the longest the front keeps an entry: the ttl of the
	// entries a Get copies from the back into the front, and the cap on
	// the ttl of those Set writes into the front. It bounds how long
	// another process's Delete or Set in a shared back may go unseen. 0
	// means DefaultFrontTTL.
	FrontTTL time.Duration
	// LeaveOpen makes Close close neither store, for stores shared with
	// other code that closes them itself.
	LeaveOpen bool
	// Logger receives the front's failures that the Store steps around
	// (a failed read falls through to the back, a failed fill is
	// skipped). Nil means no logging.
	Logger *slog.Logger
}

// Store is a two-tier store: a small, fast front (an in-process store)
// over a larger, slower back that is the reference (a shared or persistent
// store). Its zero value is not usable; call New. It implements
// store.Store[K, V], store.Lister[K] and store.Clearer.
type Store[K comparable, V any] struct {
	front, back store.Store[K, V]
	frontTTL    time.Duration
	leaveOpen   bool
	log         *slog.Logger
	closed      atomic.Bool
	coh         *coherence[K] // nil without a bus (New)
}

var (
	_ store.Store[string, []byte] = (*Store[string, []byte])(nil)
	_ store.Lister[string]        = (*Store[string, []byte])(nil)
	_ store.Clearer               = (*Store[string, []byte])(nil)

	_ store.TryGetterSource[string, []byte] = (*Store[string, []byte])(nil)
)

// New returns a Store reading through front to back. Unless
// opts.LeaveOpen is set, the Store owns both: its Close closes them. It
// fails when front or back is nil or FrontTTL is negative.
func New[K comparable, V any](front, back store.Store[K, V], opts *Options) (*Store[K, V], error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	switch {
	case front == nil:
		return nil, errors.New("tierstore: front store is nil")
	case back == nil:
		return nil, errors.New("tierstore: back store is nil")
	case o.FrontTTL < 0:
		return nil, fmt.Errorf("tierstore: Options.FrontTTL is %v, want >= 0", o.FrontTTL)
	}
	if o.FrontTTL == 0 {
		o.FrontTTL = DefaultFrontTTL
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Store[K, V]{
		front:     front,
		back:      back,
		frontTTL:  o.FrontTTL,
		leaveOpen: o.LeaveOpen,
		log:       o.Logger,
	}, nil
}

// Get returns the front's value for key if it has one; otherwise the
// back's, which it then copies into the front for FrontTTL. A front that
// fails (rather than misses) is logged and stepped around. The back's
// errors, a miss included, are returned as the back returned them.
//
// For []byte values the front is given its own copy of the back's bytes,
// so that the caller owns the slice Get returns, whatever the front does
// with the one it is given.
func (s *Store[K, V]) Get(ctx context.Context, key K) (V, error) {
	return s.get(ctx, key, s.back.Get)
}

// get is Get, reading the back with back.
func (s *Store[K, V]) get(ctx context.Context, key K, back func(context.Context, K) (V, error)) (V, error) {
	if s.closed.Load() {
		var zero V
		return zero, store.Wrap(name, "get", key, store.ErrClosed)
	}
	v, err := s.front.Get(ctx, key)
	if err == nil && (s.coh == nil || s.coh.servable()) {
		return v, nil
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) && ctx.Err() == nil {
		s.log.WarnContext(ctx, "tierstore: front get failed; reading the back", "key", key, "err", err)
	}
	var m mark
	if s.coh != nil {
		m = s.coh.mark(key)
	}
	v, err = back(ctx, key)
	if err != nil {
		var zero V
		return zero, err
	}
	fill := v
	if b, ok := any(v).([]byte); ok {
		fill = any(bytes.Clone(b)).(V)
	}
	if err := s.front.Set(ctx, key, fill, s.frontTTL); err != nil && ctx.Err() == nil {
		s.log.WarnContext(ctx, "tierstore: front fill failed", "key", key, "err", err)
	}
	if s.coh != nil && s.coh.raced(key, m) {
		// An invalidation of key arrived while the back was read: what
		// was read may be older than it.
		s.invalidateFront(ctx, key)
	}
	return v, nil
}

// Set writes value to the back, then to the front with the smaller of ttl
// and FrontTTL (FrontTTL when ttl is 0). When the back fails, Set returns
// its error and does not write the front; when either fails, it also
// deletes key from the front, so that the front does not go on serving an
// older value than the back may now hold. That delete is made even if ctx
// is cancelled.
func (s *Store[K, V]) Set(ctx context.Context, key K, value V, ttl time.Duration) error {
	if ttl < 0 {
		return store.Wrap(name, "set", key, store.ErrNegativeTTL)
	}
	if s.closed.Load() {
		return store.Wrap(name, "set", key, store.ErrClosed)
	}
	var m mark
	if s.coh != nil {
		m = s.coh.mark(key)
	}
	if err := s.back.Set(ctx, key, value, ttl); err != nil {
		s.invalidateFront(ctx, key)
		return err
	}
	errPub := s.publish(ctx, "set", key)
	if s.coh != nil {
		// A Get of key reading the back concurrently must not fill the
		// front with what it read, which may be older than value.
		s.coh.stripe(key).Add(1)
		m.key++
	}
	frontTTL := s.frontTTL
	if ttl > 0 && ttl < frontTTL {
		frontTTL = ttl
	}
	if err := s.front.Set(ctx, key, value, frontTTL); err != nil {
		s.invalidateFront(ctx, key)
		return err
	}
	if s.coh != nil && s.coh.raced(key, m) {
		// Another process's write of key may have reached the back
		// after this one.
		s.invalidateFront(ctx, key)
	}
	return errPub
}

// publish tells the bus, if any, that keys changed (none: every key).
func (s *Store[K, V]) publish(ctx context.Context, op string, keys ...K) error {
	if s.coh == nil {
		return nil
	}
	if err := s.coh.bus.Publish(ctx, keys...); err != nil {
		var key any = ""
		if len(keys) == 1 {
			key = keys[0]
		}
		return store.Wrap(name, op, key, fmt.Errorf("publishing the invalidation: %w", err))
	}
	return nil
}

// invalidateFront deletes key from the front after a failed write, or one
// that may have raced with an invalidation.
func (s *Store[K, V]) invalidateFront(ctx context.Context, key K) {
	if err := s.front.Delete(context.WithoutCancel(ctx), key); err != nil {
		s.log.WarnContext(ctx, "tierstore: front delete failed", "key", key, "err", err)
	}
}

// Delete removes key from the back, then from the front, trying both
// whatever the first does, and returns the first error.
func (s *Store[K, V]) Delete(ctx context.Context, key K) error {
	if s.closed.Load() {
		return store.Wrap(name, "delete", key, store.ErrClosed)
	}
	errBack := s.back.Delete(ctx, key)
	var errPub error
	if errBack == nil {
		errPub = s.publish(ctx, "delete", key)
	}
	if s.coh != nil {
		// A Get of key reading the back concurrently must not fill the
		// front with what it read.
		s.coh.stripe(key).Add(1)
	}
	errFront := s.front.Delete(ctx, key)
	return cmp.Or(errBack, errFront, errPub)
}

// Keys yields the back's keys, the back being the reference; the front
// holds a subset of them. When the back is not a store.Lister[K], Keys
// yields one error matching errors.ErrUnsupported.
func (s *Store[K, V]) Keys(ctx context.Context) iter.Seq2[K, error] {
	return func(yield func(K, error) bool) {
		var zero K
		if s.closed.Load() {
			yield(zero, store.Wrap(name, "keys", "", store.ErrClosed))
			return
		}
		l, ok := s.back.(store.Lister[K])
		if !ok {
			yield(zero, store.Wrap(name, "keys", "", fmt.Errorf("back store %T cannot list keys: %w", s.back, errors.ErrUnsupported)))
			return
		}
		for k, err := range l.Keys(ctx) {
			if !yield(k, err) {
				return
			}
		}
	}
}

// Clear clears the back, then the front, trying both whatever the first
// does, and returns the first error. A store that is not a store.Clearer
// fails with an error matching errors.ErrUnsupported.
func (s *Store[K, V]) Clear(ctx context.Context) error {
	if s.closed.Load() {
		return store.Wrap(name, "clear", "", store.ErrClosed)
	}
	errBack := clearStore(ctx, "back", s.back)
	var errPub error
	if errBack == nil {
		errPub = s.publish(ctx, "clear")
	}
	if s.coh != nil {
		s.coh.epoch.Add(1)
	}
	errFront := clearStore(ctx, "front", s.front)
	return cmp.Or(errBack, errFront, errPub)
}

func clearStore[K comparable, V any](ctx context.Context, which string, st store.Store[K, V]) error {
	c, ok := st.(store.Clearer)
	if !ok {
		return store.Wrap(name, "clear", "", fmt.Errorf("%s store %T cannot clear: %w", which, st, errors.ErrUnsupported))
	}
	return c.Clear(ctx)
}

// Close closes the front, then the back, unless Options.LeaveOpen is set,
// and returns their errors joined; calls after it return store.ErrClosed.
// A second Close returns nil.
func (s *Store[K, V]) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	if s.coh != nil {
		s.coh.stop()
		s.coh.live.Store(false)
	}
	if s.leaveOpen {
		return nil
	}
	return errors.Join(s.front.Close(), s.back.Close())
}

// NeverBlocks reports whether both tiers declare that their calls never
// block (store.NonBlocking).
func (s *Store[K, V]) NeverBlocks() bool {
	return store.NeverBlocks(s.front) && store.NeverBlocks(s.back)
}

// TryGetter hands out a store.TryGetter when the front never blocks
// (store.NonBlocking) and the back has one (see store.TryGetterOf): its
// TryGet is Get, reading the back with the back's TryGet, and returns
// store.ErrWouldBlock when that does, before it writes the front.
func (s *Store[K, V]) TryGetter() (store.TryGetter[K, V], bool) {
	if !store.NeverBlocks(s.front) {
		return nil, false
	}
	t, ok := store.TryGetterOf[K, V](s.back)
	if !ok {
		return nil, false
	}
	return &tryGetter[K, V]{s: s, back: t}, true
}

type tryGetter[K comparable, V any] struct {
	s    *Store[K, V]
	back store.TryGetter[K, V]
}

// TryGet returns what Get would, or store.ErrWouldBlock when the back
// cannot answer without blocking.
func (t *tryGetter[K, V]) TryGet(ctx context.Context, key K) (V, error) {
	return t.s.get(ctx, key, t.back.TryGet)
}

// Leaser hands out the back's store.Leaser, when it has one: the back is
// the store other processes share (see store.LeaserOf).
func (s *Store[K, V]) Leaser() (store.Leaser[K], bool) { return store.LeaserOf[K](s.back) }

// Batcher hands out a store.Batcher when the back is (or wraps) one: its
// SetMany writes the batch to the back in one SetMany, then each stored
// item to the front, as Set does for one (see store.BatcherOf).
func (s *Store[K, V]) Batcher() (store.Batcher[K, V], bool) {
	b, ok := store.BatcherOf[K, V](s.back)
	if !ok {
		return nil, false
	}
	return &batcher[K, V]{s: s, back: b}, true
}

type batcher[K comparable, V any] struct {
	s    *Store[K, V]
	back store.Batcher[K, V]
}

// SetMany writes items to the back in one SetMany, publishes the keys it
// stored in one message, then writes them to the front as Set does; the
// front forgets the keys of the items the back did not store.
func (b *batcher[K, V]) SetMany(ctx context.Context, items []store.Item[K, V]) error {
	s := b.s
	if len(items) == 0 {
		return nil
	}
	if s.closed.Load() {
		return store.Wrap(name, "set", "", store.ErrClosed)
	}
	var marks []mark
	if s.coh != nil {
		marks = make([]mark, len(items))
		for i, it := range items {
			marks[i] = s.coh.mark(it.Key)
		}
	}
	errs := store.ItemErrors(b.back.SetMany(ctx, items), len(items))
	stored := make([]K, 0, len(items))
	for i, it := range items {
		if errs[i] != nil {
			s.invalidateFront(ctx, it.Key)
		} else {
			stored = append(stored, it.Key)
		}
	}
	if len(stored) == 0 {
		return store.BatchResult(errs)
	}
	errPub := s.publish(ctx, "set", stored...)
	var own map[*atomic.Uint64]uint64 // this batch's bumps of each stripe
	if s.coh != nil {
		// Gets of these keys reading the back concurrently must not
		// fill the front with what they read, which may be older.
		own = make(map[*atomic.Uint64]uint64, len(stored))
		for _, k := range stored {
			st := s.coh.stripe(k)
			st.Add(1)
			own[st]++
		}
	}
	for i, it := range items {
		if errs[i] != nil {
			continue
		}
		frontTTL := s.frontTTL
		if it.TTL > 0 && it.TTL < frontTTL {
			frontTTL = it.TTL
		}
		if err := s.front.Set(ctx, it.Key, it.Value, frontTTL); err != nil {
			s.invalidateFront(ctx, it.Key)
			errs[i] = err
			continue
		}
		if s.coh != nil {
			m := marks[i]
			m.key += own[s.coh.stripe(it.Key)]
			if s.coh.raced(it.Key, m) {
				s.invalidateFront(ctx, it.Key)
			}
		}
	}
	if err := store.BatchResult(errs); err != nil {
		return err
	}
	return errPub
}
