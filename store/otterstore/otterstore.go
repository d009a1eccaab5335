package otterstore

import (
	"context"
	"fmt"
	"iter"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/internal/values"
)

// DefaultMaxBytes is the byte budget of a store whose Options leave
// MaxBytes at zero.
const DefaultMaxBytes = 64 << 20

// never is the expiry given to otter for entries set with ttl 0: otter
// keeps an entry's expiry across an overwrite unless it is given a new one,
// and a century is as good as never while staying far from overflowing
// otter's nanosecond arithmetic.
const never = 100 * 365 * 24 * time.Hour

const name = "otterstore"

// Options configure a Store. The zero value, like a nil *Options, means a
// 64 MiB byte budget, the default Size and the wall clock.
type Options[V any] struct {
	// MaxBytes is the byte budget, counted with Size; 0 means
	// DefaultMaxBytes. Keys and otter's own bookkeeping are not counted.
	MaxBytes int64
	// Size returns the cost of a value. Nil means V's Size() int64 method
	// if it has one (a nil pointer costs 1), len for []byte and string,
	// and 1 for anything else. A negative size counts as 0; otter weighs
	// entries in uint32, so a size over 4 GiB counts as 4 GiB.
	Size func(V) int64
	// Clock tells the time for ttls; it becomes otter's clock, so that
	// moving it expires entries. Nil means the wall clock.
	Clock func() time.Time
}

// Store is a typed store over an otter cache. Its zero value is not usable;
// call New. It implements store.Store[K, V], store.Viewer[K, V],
// store.Lister[K] and store.Clearer.
type Store[K comparable, V any] struct {
	c       *otter.Cache[K, entry[V]]
	max     int64
	size    func(V) int64
	isBytes bool // V is []byte: copy on Set and Get
	closed  atomic.Bool

	// Otter runs its maintenance on goroutines it starts through
	// Options.Executor; the store starts them itself, so that Close can
	// wait for them.
	execMu  sync.Mutex
	closing bool // under execMu: run tasks on the caller's goroutine
	tasks   sync.WaitGroup
}

// entry is what the store keeps in otter: the value and the ttl it was set
// with, which the expiry calculator reads.
type entry[V any] struct {
	value V
	ttl   time.Duration
	cost  uint32
}

var (
	_ store.Store[string, []byte]  = (*Store[string, []byte])(nil)
	_ store.Viewer[string, []byte] = (*Store[string, []byte])(nil)
	_ store.Lister[string]         = (*Store[string, []byte])(nil)
	_ store.Clearer                = (*Store[string, []byte])(nil)
)

// New returns an empty store. It fails when MaxBytes in opts is negative.
func New[K comparable, V any](opts *Options[V]) (*Store[K, V], error) {
	var o Options[V]
	if opts != nil {
		o = *opts
	}
	if o.MaxBytes < 0 {
		return nil, fmt.Errorf("otterstore: Options.MaxBytes is %d, want >= 0", o.MaxBytes)
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.Size == nil {
		o.Size = values.SizeFunc[V]()
	}
	s := &Store[K, V]{
		max:     o.MaxBytes,
		size:    o.Size,
		isBytes: values.IsBytes[V](),
	}
	oo := &otter.Options[K, entry[V]]{
		MaximumWeight:    uint64(o.MaxBytes),
		Weigher:          func(_ K, e entry[V]) uint32 { return e.cost },
		ExpiryCalculator: expiry[K, V]{},
		Executor:         s.execute,
	}
	if o.Clock != nil {
		oo.Clock = clock(o.Clock)
	}
	c, err := otter.New(oo)
	if err != nil {
		return nil, fmt.Errorf("otterstore: %w", err)
	}
	s.c = c
	return s, nil
}

// Get returns the value stored under key. For []byte values it returns a
// copy the caller owns (View returns the stored slice itself); other values
// are returned as stored, shared with every other caller, and must be
// treated as read-only. Get ignores ctx: it never waits. A miss, including
// an expired entry, returns store.ErrNotFound itself and does not allocate.
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
	if s.closed.Load() {
		var zero V
		return zero, store.Wrap(name, "get", key, store.ErrClosed)
	}
	e, ok := s.c.GetIfPresent(key)
	if !ok {
		var zero V
		return zero, store.ErrNotFound
	}
	return e.value, nil
}

// Set stores value under key; otter expires it once ttl has passed by
// Options.Clock. For []byte values it stores a copy; other values are
// stored as they are and must not be modified afterwards.
//
// A value that costs more than MaxBytes is not kept: Set removes any
// previous value under key and returns an error matching
// store.ErrTooLarge, and a later Get misses. Set ignores ctx: it never
// waits.
func (s *Store[K, V]) Set(_ context.Context, key K, value V, ttl time.Duration) error {
	if ttl < 0 {
		return store.Wrap(name, "set", key, store.ErrNegativeTTL)
	}
	if s.closed.Load() {
		return store.Wrap(name, "set", key, store.ErrClosed)
	}
	cost := max(s.size(value), 0)
	if cost > s.max {
		s.c.Invalidate(key)
		return store.Wrap(name, "set", key, store.ErrTooLarge)
	}
	if s.isBytes {
		value = values.Clone(value)
	}
	if ttl == 0 {
		ttl = never
	}
	s.c.Set(key, entry[V]{value: value, ttl: ttl, cost: uint32(min(cost, math.MaxUint32))})
	return nil
}

// Delete removes key. Deleting a key that is not there succeeds. It ignores
// ctx.
func (s *Store[K, V]) Delete(_ context.Context, key K) error {
	if s.closed.Load() {
		return store.Wrap(name, "delete", key, store.ErrClosed)
	}
	s.c.Invalidate(key)
	return nil
}

// Keys yields the live keys, streaming them from otter's table a bucket at
// a time; no lock is held while the loop body runs, so it may call the
// store. It ends with an error when ctx is done or the store is closed.
func (s *Store[K, V]) Keys(ctx context.Context) iter.Seq2[K, error] {
	return func(yield func(K, error) bool) {
		var zero K
		if s.closed.Load() {
			yield(zero, store.Wrap(name, "keys", "", store.ErrClosed))
			return
		}
		if err := ctx.Err(); err != nil {
			yield(zero, store.Wrap(name, "keys", "", err))
			return
		}
		i := 0
		for k := range s.c.Keys() {
			if i++; i%256 == 0 {
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

// Clear drops every entry.
func (s *Store[K, V]) Clear(ctx context.Context) error {
	if s.closed.Load() {
		return store.Wrap(name, "clear", "", store.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return store.Wrap(name, "clear", "", err)
	}
	s.c.InvalidateAll()
	return nil
}

// Close drops every entry and stops otter's goroutines, waiting for them to
// exit; calls after it return store.ErrClosed. A second Close returns nil.
func (s *Store[K, V]) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	s.execMu.Lock()
	s.closing = true
	s.execMu.Unlock()
	s.c.StopAllGoroutines()
	s.tasks.Wait()
	s.c.InvalidateAll()
	return nil
}

// NeverBlocks reports true: the store is in memory and its calls never
// wait (store.NonBlocking).
func (s *Store[K, V]) NeverBlocks() bool { return true }

// ChecksValues reports true (codec.SelfChecking): the values never leave
// the process's memory, where a typed store's entries are not checked
// either, so codec.Bind decodes them without verifying their checksum.
func (s *Store[K, V]) ChecksValues() bool { return true }

// execute is otter's Executor: it runs fn on a goroutine that Close waits
// for, or, once Close has begun, on the caller's goroutine.
func (s *Store[K, V]) execute(fn func()) {
	s.execMu.Lock()
	if s.closing {
		s.execMu.Unlock()
		fn()
		return
	}
	s.tasks.Add(1)
	s.execMu.Unlock()
	go func() {
		defer s.tasks.Done()
		fn()
	}()
}

// expiry gives each entry the ttl it was set with, from its creation or
// latest overwrite; reads leave it alone.
type expiry[K comparable, V any] struct{}

func (expiry[K, V]) ExpireAfterCreate(e otter.Entry[K, entry[V]]) time.Duration {
	return e.Value.ttl
}

func (expiry[K, V]) ExpireAfterUpdate(e otter.Entry[K, entry[V]], _ entry[V]) time.Duration {
	return e.Value.ttl
}

func (expiry[K, V]) ExpireAfterRead(e otter.Entry[K, entry[V]]) time.Duration {
	return e.ExpiresAfter()
}

// clock adapts Options.Clock to otter.Clock. Otter's proactive expiry
// ticks by the wall clock; entries expire by now() whenever otter looks.
type clock func() time.Time

func (c clock) NowNano() int64 { return c().UnixNano() }

func (c clock) Tick(d time.Duration) <-chan time.Time { return time.Tick(d) }
