package memstore

import (
	"context"
	"fmt"
	"hash/maphash"
	"iter"
	"sync/atomic"
	"time"

	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/internal/values"
)

// DefaultMaxBytes is the byte budget of a store whose Options set neither
// MaxBytes nor MaxEntries.
const DefaultMaxBytes = 64 << 20

// Sharding: a store has up to maxShards shards, and fewer when that would
// leave a shard with less than minShardBytes or minShardEntries of budget.
const (
	maxShards       = 16
	minShardBytes   = 4 << 20
	minShardEntries = 256
)

const name = "memstore"

// Options configure a Store. The zero value, like a nil *Options, means a
// 64 MiB byte budget, no entry budget, the default Size and time.Now.
type Options[V any] struct {
	// MaxBytes is the byte budget, counted with Size; 0 means none,
	// unless MaxEntries is 0 too, when it means DefaultMaxBytes. Keys and
	// the store's own bookkeeping (about 100 bytes an entry) are not
	// counted.
	MaxBytes int64
	// MaxEntries is the entry budget; 0 means none.
	MaxEntries int
	// Size returns the cost of a value. Nil means V's Size() int64 method
	// if it has one (a nil pointer costs 1), len for []byte and string,
	// and 1 for anything else. A negative size counts as 0.
	Size func(V) int64
	// Clock tells the time for ttls. Nil means time.Now.
	Clock func() time.Time
}

// Store is a bounded in-memory store. Its zero value is not usable; call
// New. It implements store.Store[K, V], store.Viewer[K, V], store.Lister[K]
// and store.Clearer.
type Store[K comparable, V any] struct {
	shards  []shard[K, V]
	mask    uint64 // len(shards)-1; 0 with one shard, which skips hashing
	seed    maphash.Seed
	size    func(V) int64
	now     func() time.Time
	clock   store.Clock // the clock, when Options.Clock is nil
	ownNow  bool        // Options.Clock was set
	isBytes bool        // V is []byte: copy on Set and Get
	closed  atomic.Bool
}

var (
	_ store.Store[string, []byte]  = (*Store[string, []byte])(nil)
	_ store.Viewer[string, []byte] = (*Store[string, []byte])(nil)
	_ store.Lister[string]         = (*Store[string, []byte])(nil)
	_ store.Clearer                = (*Store[string, []byte])(nil)
)

// New returns an empty store. It fails when a budget in opts is negative.
func New[K comparable, V any](opts *Options[V]) (*Store[K, V], error) {
	var o Options[V]
	if opts != nil {
		o = *opts
	}
	if o.MaxBytes < 0 {
		return nil, fmt.Errorf("memstore: Options.MaxBytes is %d, want >= 0", o.MaxBytes)
	}
	if o.MaxEntries < 0 {
		return nil, fmt.Errorf("memstore: Options.MaxEntries is %d, want >= 0", o.MaxEntries)
	}
	if o.MaxBytes == 0 && o.MaxEntries == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.Size == nil {
		o.Size = values.SizeFunc[V]()
	}
	n := shardCount(o.MaxBytes, o.MaxEntries)
	s := &Store[K, V]{
		shards:  make([]shard[K, V], n),
		mask:    uint64(n - 1),
		seed:    maphash.MakeSeed(),
		size:    o.Size,
		now:     o.Clock,
		ownNow:  o.Clock != nil,
		isBytes: values.IsBytes[V](),
	}
	if s.now == nil {
		s.now = s.clock.Now
	}
	for i := range s.shards {
		sh := &s.shards[i]
		sh.init(share(o.MaxBytes, n, i), int(share(int64(o.MaxEntries), n, i)))
	}
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
		v = values.Clone(v) // stored slices are never written, so copy unlocked
	}
	return v, err
}

// View is Get without the copy of a []byte value (store.Viewer): it returns
// the slice the store holds, shared with the store and every other caller,
// which must not be modified or appended to. It stays unchanged after the
// key is overwritten, deleted or evicted: Set stores a copy of its value,
// and the store never writes into a value it holds. View does not allocate.
func (s *Store[K, V]) View(_ context.Context, key K) (V, error) {
	var zero V
	if s.closed.Load() {
		return zero, store.Wrap(name, "get", key, store.ErrClosed)
	}
	sh := s.shard(key)
	sh.mu.RLock()
	e, ok := sh.entries[key]
	if !ok {
		sh.mu.RUnlock()
		return zero, store.ErrNotFound
	}
	if st := e.state.Load(); st != hot { // a hot entry is left alone: no write at all
		e.hit(st)
	}
	v, expires := e.value, e.expires
	sh.mu.RUnlock()
	if !expires.IsZero() { // read the clock outside the lock
		if now := s.now(); !now.Before(expires) {
			sh.removeExpired(key, now)
			return zero, store.ErrNotFound
		}
	}
	return v, nil
}

// Set stores value under key, evicting entries of the key's shard (see the
// package documentation) while the shard is over its budget. For []byte
// values it stores a copy; other values are stored as they are and must
// not be modified afterwards.
//
// A value that costs more than its shard's byte budget (MaxBytes divided
// among the shards; see the package documentation) is not kept: Set
// removes any previous value under key and returns an error matching
// store.ErrTooLarge, and a later Get misses. Set ignores ctx: it never
// waits.
func (s *Store[K, V]) Set(_ context.Context, key K, value V, ttl time.Duration) error {
	if ttl < 0 {
		return store.Wrap(name, "set", key, store.ErrNegativeTTL)
	}
	if s.isBytes {
		value = values.Clone(value)
	}
	cost := max(s.size(value), 0)
	var expires time.Time
	if ttl > 0 {
		expires = s.now().Add(ttl)
	}
	h := maphash.Comparable(s.seed, key)
	sh := &s.shards[h&s.mask]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if s.closed.Load() { // checked under the lock, so Close's reset is final
		return store.Wrap(name, "set", key, store.ErrClosed)
	}
	e, ok := sh.entries[key]
	switch {
	case sh.maxBytes > 0 && cost > sh.maxBytes:
		if ok {
			sh.remove(e)
		}
		return store.Wrap(name, "set", key, store.ErrTooLarge)
	case ok:
		sh.resize(e, cost)
		e.value, e.expires = value, expires
		e.hit(e.state.Load()) // an overwrite counts as a use
	default:
		sh.add(&entry[K, V]{key: key, hash: h, value: value, cost: cost, expires: expires})
	}
	sh.evict()
	return nil
}

// Delete removes key. Deleting a key that is not there succeeds.
func (s *Store[K, V]) Delete(_ context.Context, key K) error {
	if s.closed.Load() {
		return store.Wrap(name, "delete", key, store.ErrClosed)
	}
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if e, ok := sh.entries[key]; ok {
		sh.remove(e)
	}
	return nil
}

// Keys yields the live keys, one shard at a time: it holds a shard's lock
// only to copy that shard's keys, so the loop body may call the store. It
// removes the expired entries it passes, and ends with an error when ctx is
// done or the store is closed.
func (s *Store[K, V]) Keys(ctx context.Context) iter.Seq2[K, error] {
	return func(yield func(K, error) bool) {
		var (
			zero K
			buf  []K
		)
		for i := range s.shards {
			if s.closed.Load() {
				yield(zero, store.Wrap(name, "keys", "", store.ErrClosed))
				return
			}
			if err := ctx.Err(); err != nil {
				yield(zero, store.Wrap(name, "keys", "", err))
				return
			}
			buf = s.shards[i].liveKeys(buf[:0], s.now())
			for _, k := range buf {
				if !yield(k, nil) {
					return
				}
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
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		sh.reset(make(map[K]*entry[K, V]))
		sh.mu.Unlock()
	}
	return nil
}

// Close drops every entry; calls after it return store.ErrClosed. A second
// Close returns nil.
func (s *Store[K, V]) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		sh.reset(nil)
		sh.mu.Unlock()
	}
	return nil
}

// Len returns the number of entries held, including expired entries not
// yet removed.
func (s *Store[K, V]) Len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		n += len(sh.entries)
		sh.mu.RUnlock()
	}
	return n
}

// Bytes returns the cost, by Options.Size, of the entries held, including
// expired entries not yet removed.
func (s *Store[K, V]) Bytes() int64 {
	var n int64
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		n += sh.bytes
		sh.mu.RUnlock()
	}
	return n
}

// NeverBlocks reports true: the store is in memory and its calls never
// wait (store.NonBlocking).
func (s *Store[K, V]) NeverBlocks() bool { return true }

// ChecksValues reports true (codec.SelfChecking): the values never leave
// the process's memory, where a typed store's entries are not checked
// either, so codec.Bind decodes them without verifying their checksum.
func (s *Store[K, V]) ChecksValues() bool { return true }

// shard returns key's shard. Set computes the hash itself, as it keeps it.
func (s *Store[K, V]) shard(key K) *shard[K, V] {
	if s.mask == 0 {
		return &s.shards[0]
	}
	return &s.shards[maphash.Comparable(s.seed, key)&s.mask]
}

// shardCount picks a power of two up to maxShards that leaves every shard at
// least minShardBytes and minShardEntries of whichever budgets are set.
func shardCount(maxBytes int64, maxEntries int) int {
	n := maxShards
	for n > 1 && (maxBytes > 0 && maxBytes/int64(n) < minShardBytes ||
		maxEntries > 0 && maxEntries/n < minShardEntries) {
		n /= 2
	}
	return n
}

// share is shard i's part of a budget split n ways.
func share(total int64, n, i int) int64 {
	s := total / int64(n)
	if int64(i) < total%int64(n) {
		s++
	}
	return s
}
