// Package faultstore wraps a store with faults on demand: errors at a
// rate, calls that hang (ignoring their context, or until it ends), panics
// and random bytes. The fault tests of the cache use it to show that the
// cache steps aside from each.
package faultstore

import (
	"context"
	"errors"
	"iter"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/store"
)

// ErrInjected is the error a failing call returns.
var ErrInjected = errors.New("faultstore: injected failure")

// Mode is the set of faults in force.
type Mode struct {
	FailRate float64 // fraction of calls that return ErrInjected
	HangGet  bool    // Get blocks until Release (or ctx ends, with HonourContext)
	HangSet  bool    // Set blocks likewise
	// HonourContext makes a hung call return when its context ends;
	// without it the call ignores its context, as a broken driver would.
	HonourContext bool
	PanicGet      bool
	PanicSet      bool
}

// Store is a typed store with faults. It declares that it never blocks
// when Inline is set (store.NonBlocking), so that the cache calls it on
// the request's goroutine; then it must not be told to hang.
type Store struct {
	Inline  bool
	inner   store.Store[string, *cached.Response]
	mode    atomic.Pointer[Mode]
	mu      sync.Mutex
	release chan struct{}
	Calls   atomic.Int64 // calls that reached the store
}

// New wraps inner.
func New(inner store.Store[string, *cached.Response]) *Store {
	s := &Store{inner: inner, release: make(chan struct{})}
	s.mode.Store(&Mode{})
	return s
}

// NeverBlocks implements store.NonBlocking: it reports Inline.
func (s *Store) NeverBlocks() bool { return s.Inline }

// SetMode changes the faults in force.
func (s *Store) SetMode(m Mode) { s.mode.Store(&m) }

// Release unblocks every hung call, now and later, until the next Hold.
func (s *Store) Release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.release:
	default:
		close(s.release)
	}
}

// Hold makes hung calls block again after a Release.
func (s *Store) Hold() {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.release:
		s.release = make(chan struct{})
	default:
	}
}

func (s *Store) hang(ctx context.Context, honour bool) error {
	s.mu.Lock()
	r := s.release
	s.mu.Unlock()
	if honour {
		select {
		case <-r:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	<-r
	return nil
}

func (s *Store) fail(m *Mode) bool { return m.FailRate > 0 && rand.Float64() < m.FailRate }

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, key string) (*cached.Response, error) {
	s.Calls.Add(1)
	m := s.mode.Load()
	if m.PanicGet {
		panic("faultstore: get")
	}
	if m.HangGet {
		if err := s.hang(ctx, m.HonourContext); err != nil {
			return nil, err
		}
	}
	if s.fail(m) {
		return nil, store.Wrap("faultstore", "get", key, ErrInjected)
	}
	return s.inner.Get(ctx, key)
}

// Set implements store.Store.
func (s *Store) Set(ctx context.Context, key string, v *cached.Response, ttl time.Duration) error {
	s.Calls.Add(1)
	m := s.mode.Load()
	if m.PanicSet {
		panic("faultstore: set")
	}
	if m.HangSet {
		if err := s.hang(ctx, m.HonourContext); err != nil {
			return err
		}
	}
	if s.fail(m) {
		return store.Wrap("faultstore", "set", key, ErrInjected)
	}
	return s.inner.Set(ctx, key, v, ttl)
}

// Delete implements store.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	s.Calls.Add(1)
	if s.fail(s.mode.Load()) {
		return store.Wrap("faultstore", "delete", key, ErrInjected)
	}
	return s.inner.Delete(ctx, key)
}

// Close closes the inner store and releases hung calls.
func (s *Store) Close() error {
	s.Release()
	return s.inner.Close()
}

// Keys lists the inner store's keys when it lists them.
func (s *Store) Keys(ctx context.Context) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		l, ok := s.inner.(store.Lister[string])
		if !ok {
			yield("", errors.ErrUnsupported)
			return
		}
		for k, err := range l.Keys(ctx) {
			if !yield(k, err) {
				return
			}
		}
	}
}

// Garbage is a byte store that answers a fraction of its lookups with
// random bytes or a truncated entry instead of what it holds, and the rest
// truthfully.
type Garbage struct {
	store.Store[string, []byte]
	Rate float64
}

// Get implements store.Store.
func (g *Garbage) Get(ctx context.Context, key string) ([]byte, error) {
	v, err := g.Store.Get(ctx, key)
	if rand.Float64() < g.Rate {
		n := rand.IntN(512)
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rand.Uint32())
		}
		if err == nil && len(v) > 1 && rand.IntN(2) == 0 {
			// a damaged entry: the real one cut short, as a torn write
			// leaves it (bytes flipped inside a body cannot be told from
			// a real body without a checksum: sign or a store's own
			// checksum catches those)
			b = v[:rand.IntN(len(v)-1)]
		}
		return b, nil
	}
	return v, err
}

// Batching is a Store that also writes in batches (store.Batcher), with
// the same faults: a batch panics or hangs as a Set does, and each of its
// items fails at FailRate.
type Batching struct {
	*Store
	Batches atomic.Int64 // SetMany calls that reached the store
	Items   atomic.Int64 // the items they held
}

// SetMany implements store.Batcher: one Set of the inner store per item.
func (b *Batching) SetMany(ctx context.Context, items []store.Item[string, *cached.Response]) error {
	b.Calls.Add(1)
	b.Batches.Add(1)
	b.Items.Add(int64(len(items)))
	m := b.mode.Load()
	if m.PanicSet {
		panic("faultstore: set many")
	}
	if m.HangSet {
		if err := b.hang(ctx, m.HonourContext); err != nil {
			return err
		}
	}
	errs := make([]error, len(items))
	for i, it := range items {
		if b.fail(m) {
			errs[i] = store.Wrap("faultstore", "set", it.Key, ErrInjected)
			continue
		}
		errs[i] = b.inner.Set(ctx, it.Key, it.Value, it.TTL)
	}
	return store.BatchResult(errs)
}
