package ristrettostore

import (
	"context"
	"fmt"
	"iter"
	"sync"
	"time"

	"github.com/dgraph-io/ristretto/v2"

	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/internal/values"
)

// DefaultMaxBytes is the byte budget of a store whose Options leave
// MaxBytes at zero.
const DefaultMaxBytes = 64 << 20

// Defaults for ristretto's admission counters: NumCounters defaults to ten
// counters for every entry the budget would hold at expectedEntrySize bytes
// an entry, and never fewer than minCounters.
const (
	expectedEntrySize = 4 << 10
	minCounters       = 1 << 10
	bufferItems       = 64
)

const name = "ristrettostore"

// Key is the constraint on keys: ristretto's key types that are comparable,
// as store.Store requires (strings and integers; not []byte).
type Key interface {
	comparable
	ristretto.Key
}

// Options configure a Store. The zero value, like a nil *Options, means a
// 64 MiB byte budget, the default Size, asynchronous writes and time.Now.
type Options[V any] struct {
	// MaxBytes is the byte budget, counted with Size; 0 means
	// DefaultMaxBytes. Keys and ristretto's own bookkeeping are not
	// counted (ristretto's IgnoreInternalCost).
	MaxBytes int64
	// Size returns the cost of a value. Nil means V's Size() int64 method
	// if it has one (a nil pointer costs 1), len for []byte and string,
	// and 1 for anything else. A negative size counts as 0.
	Size func(V) int64
	// NumCounters is the number of ristretto's admission counters (its
	// Config.NumCounters); 0 means ten for every 4 KiB of MaxBytes, and at
	// least 1024. Ristretto advises ten times the number of entries the
	// cache holds when full.
	NumCounters int64
	// Synchronous makes every Set, Delete and Clear wait until ristretto
	// has applied it, so that a Get that follows sees it (see the package
	// documentation). It costs a round trip to ristretto's goroutine per
	// write; it is meant for tests.
	Synchronous bool
	// Clock tells the time for the expiry check made on every Get. Nil
	// means time.Now. Ristretto also drops expired entries by itself,
	// by the wall clock.
	Clock func() time.Time
}

// Store is a typed store over a ristretto cache. Its zero value is not
// usable; call New. It implements store.Store[K, V], store.Viewer[K, V],
// store.Lister[K] and store.Clearer.
type Store[K Key, V any] struct {
	// mu makes Close and Clear exclusive: ristretto's Close closes the
	// channels that Get, Set and Delete send on, and its Clear must not
	// run beside writes. Every other call holds it for reading.
	mu      sync.RWMutex
	closed  bool
	c       *ristretto.Cache[K, entry[K, V]]
	max     int64
	size    func(V) int64
	now     func() time.Time
	clock   store.Clock // the clock, when Options.Clock is nil
	ownNow  bool        // Options.Clock was set
	sync    bool
	isBytes bool // V is []byte: copy on Set and Get
}

// entry is what the store keeps in ristretto: the value with its key (for
// Keys; ristretto keeps only hashes of keys) and its own expiry.
type entry[K, V any] struct {
	key     K
	value   V
	expires int64 // Unix nanoseconds by Options.Clock; 0: never
}

var (
	_ store.Store[string, []byte]  = (*Store[string, []byte])(nil)
	_ store.Viewer[string, []byte] = (*Store[string, []byte])(nil)
	_ store.Lister[string]         = (*Store[string, []byte])(nil)
	_ store.Clearer                = (*Store[string, []byte])(nil)
)

// New returns an empty store and starts ristretto's goroutines, which
// Close stops. It fails when MaxBytes or NumCounters in opts is negative.
func New[K Key, V any](opts *Options[V]) (*Store[K, V], error) {
	var o Options[V]
	if opts != nil {
		o = *opts
	}
	if o.MaxBytes < 0 {
		return nil, fmt.Errorf("ristrettostore: Options.MaxBytes is %d, want >= 0", o.MaxBytes)
	}
	if o.NumCounters < 0 {
		return nil, fmt.Errorf("ristrettostore: Options.NumCounters is %d, want >= 0", o.NumCounters)
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.NumCounters == 0 {
		o.NumCounters = max(o.MaxBytes/expectedEntrySize*10, minCounters)
	}
	if o.Size == nil {
		o.Size = values.SizeFunc[V]()
	}
	c, err := ristretto.NewCache(&ristretto.Config[K, entry[K, V]]{
		NumCounters:        o.NumCounters,
		MaxCost:            o.MaxBytes,
		BufferItems:        bufferItems,
		IgnoreInternalCost: true,
	})
	if err != nil {
		return nil, fmt.Errorf("ristrettostore: %w", err)
	}
	s := &Store[K, V]{
		c:       c,
		max:     o.MaxBytes,
		size:    o.Size,
		now:     o.Clock,
		ownNow:  o.Clock != nil,
		sync:    o.Synchronous,
		isBytes: values.IsBytes[V](),
	}
	if s.now == nil {
		s.now = s.clock.Now
	}
	return s, nil
}

// Get returns the value stored under key. For []byte values it returns a
// copy the caller owns (View returns the stored slice itself); other values
// are returned as stored, shared with every other caller, and must be
// treated as read-only. Get ignores ctx: it never waits. A miss, including
// an expired entry and a write that ristretto dropped, returns
// store.ErrNotFound itself; like a hit, it allocates only ristretto's batch
// of recorded accesses, once every 64 reads or so.
func (s *Store[K, V]) Get(ctx context.Context, key K) (V, error) {
	v, err := s.View(ctx, key)
	if err == nil && s.isBytes {
		v = values.Clone(v) // stored slices are never written
	}
	return v, err
}

// View is Get without the copy of a []byte value (store.Viewer): it returns
// the slice the store holds, shared with the store and every other caller,
// which must not be modified or appended to. It stays unchanged after the
// key is overwritten, deleted or evicted: Set stores a copy of its value,
// and the store never writes into a value it holds.
func (s *Store[K, V]) View(_ context.Context, key K) (V, error) {
	var zero V
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return zero, store.Wrap(name, "get", key, store.ErrClosed)
	}
	e, ok := s.c.Get(key)
	s.mu.RUnlock()
	if !ok || e.expires != 0 && s.now().UnixNano() >= e.expires {
		return zero, store.ErrNotFound
	}
	return e.value, nil
}

// Set stores value under key, with ttl passed to ristretto as its native
// ttl. For []byte values it stores a copy; other values are stored as they
// are and must not be modified afterwards.
//
// Set returns nil for every write it hands to ristretto, including those
// ristretto drops (see the package documentation): a dropped write is a
// miss later, never an error. A value that costs more than MaxBytes is not
// kept: Set removes any previous value under key and returns an error
// matching store.ErrTooLarge. Set
// ignores ctx; with Options.Synchronous it waits for ristretto's goroutine,
// which is never blocked for long.
func (s *Store[K, V]) Set(_ context.Context, key K, value V, ttl time.Duration) error {
	if ttl < 0 {
		return store.Wrap(name, "set", key, store.ErrNegativeTTL)
	}
	cost := max(s.size(value), 0)
	if s.isBytes && cost <= s.max {
		value = values.Clone(value)
	}
	e := entry[K, V]{key: key, value: value}
	if ttl > 0 {
		e.expires = s.now().Add(ttl).UnixNano()
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return store.Wrap(name, "set", key, store.ErrClosed)
	}
	if cost > s.max {
		s.c.Del(key)
		if s.sync {
			s.c.Wait()
		}
		return store.Wrap(name, "set", key, store.ErrTooLarge)
	}
	s.c.SetWithTTL(key, e, cost, ttl) // false: dropped by admission, a miss later
	if s.sync {
		s.c.Wait()
	}
	return nil
}

// Delete removes key. Deleting a key that is not there succeeds. It ignores
// ctx.
func (s *Store[K, V]) Delete(_ context.Context, key K) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return store.Wrap(name, "delete", key, store.ErrClosed)
	}
	s.c.Del(key)
	if s.sync {
		s.c.Wait()
	}
	return nil
}

// Keys yields the live keys. Ristretto visits its entries under its own
// locks, so Keys first copies the keys of the live entries into one slice
// (the keys themselves are not copied), then yields them without holding
// any lock: the loop body may call the store. It ends with an error when
// ctx is done or the store is closed.
func (s *Store[K, V]) Keys(ctx context.Context) iter.Seq2[K, error] {
	return func(yield func(K, error) bool) {
		var zero K
		if err := ctx.Err(); err != nil {
			yield(zero, store.Wrap(name, "keys", "", err))
			return
		}
		s.mu.RLock()
		if s.closed {
			s.mu.RUnlock()
			yield(zero, store.Wrap(name, "keys", "", store.ErrClosed))
			return
		}
		now := s.now().UnixNano()
		var keys []K
		s.c.IterValues(func(e entry[K, V]) bool {
			if e.expires == 0 || now < e.expires {
				keys = append(keys, e.key)
			}
			return false
		})
		s.mu.RUnlock()
		for i, k := range keys {
			if i%256 == 255 {
				if err := ctx.Err(); err != nil {
					yield(zero, store.Wrap(name, "keys", "", err))
					return
				}
			}
			if !yield(k, nil) {
				return
			}
		}
	}
}

// Clear drops every entry, including writes still buffered. It waits for
// the calls in progress to finish.
func (s *Store[K, V]) Clear(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return store.Wrap(name, "clear", "", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.Wrap(name, "clear", "", store.ErrClosed)
	}
	s.c.Clear()
	return nil
}

// NeverBlocks reports true: the store is in memory and its calls never
// wait (store.NonBlocking).
func (s *Store[K, V]) NeverBlocks() bool { return true }

// ChecksValues reports true (codec.SelfChecking): the values never leave
// the process's memory, where a typed store's entries are not checked
// either, so codec.Bind decodes them without verifying their checksum.
func (s *Store[K, V]) ChecksValues() bool { return true }

// Wait blocks until ristretto has applied every write made before it was
// called: after Wait, a Get sees them (or misses, for the writes ristretto
// dropped or rejected). It returns at once after Close.
func (s *Store[K, V]) Wait() {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !s.closed {
		s.c.Wait()
	}
}

// Close drops every entry and stops ristretto's goroutines, waiting for
// them to exit; calls after it return store.ErrClosed. A second Close
// returns nil.
func (s *Store[K, V]) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.c.Close()
	return nil
}
