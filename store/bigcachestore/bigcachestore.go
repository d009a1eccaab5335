package bigcachestore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/allegro/bigcache/v3"

	"github.com/cachestack/cachestack/store"
)

// DefaultMaxBytes is the byte budget of a store whose Options leave
// MaxBytes at zero.
const DefaultMaxBytes = 64 << 20

// MaxKeyLen is the longest key bigcache can store, in bytes: it computes
// the end of a key in its entry (18 bytes of header, then the key) in 16
// bits, and a longer key makes its Get panic with a shard's lock held.
const MaxKeyLen = math.MaxUint16 - 18

const (
	mib = 1 << 20
	// minShardBytes is the smallest budget the default shard count leaves
	// a shard, so that the largest value kept (half a shard) is 2 MiB.
	minShardBytes = 4 * mib
	maxShards     = 1024
	// prefixLen is the length of the expiry written before every value.
	prefixLen = 8
	// entryOverhead is what bigcache adds to a value and its key: a
	// timestamp, a hash and the key's length (18 bytes), and the length
	// of the whole in its queue (a uvarint, at most 5 bytes).
	entryOverhead = 18 + 5
	// noLifeWindow is bigcache's LifeWindow when Options.LifeWindow is 0:
	// bigcache counts whole seconds since an entry was written and drops
	// it once that count exceeds the window, so 0 would drop every entry
	// after a second.
	noLifeWindow = time.Duration(math.MaxInt64)
)

const name = "bigcachestore"

// Options configure a Store. The zero value, like a nil *Options, means a
// 64 MiB budget in 16 shards, no life window, no cleaning goroutine and
// time.Now.
type Options struct {
	// MaxBytes is the byte budget: bigcache's HardMaxCacheSize, which is
	// in MiB, so MaxBytes is rounded up to a whole MiB. It counts what
	// bigcache stores: values, keys, and about 31 bytes an entry. 0 means
	// DefaultMaxBytes.
	MaxBytes int64
	// Shards is the number of bigcache shards, a power of two, each with
	// its own lock and an equal share of the budget. 0 means as many as
	// leave each shard at least 4 MiB, up to 1024 (16 for 64 MiB, 1 under
	// 8 MiB).
	Shards int
	// LifeWindow bounds how long any entry lives, whatever its ttl: an
	// entry is a miss from the earlier of its ttl and LifeWindow after it
	// was set. 0 means no bound.
	LifeWindow time.Duration
	// CleanWindow is how often bigcache's goroutine removes the entries
	// whose LifeWindow has passed, freeing their space. 0 means no
	// goroutine: such entries are then removed as later Sets come across
	// them. Without a LifeWindow there is nothing for it to do.
	CleanWindow time.Duration
	// Clock tells the time for ttls and LifeWindow. Nil means time.Now.
	Clock func() time.Time
}

// Store is a byte store over bigcache. Its zero value is not usable; call
// New. It implements store.Store[string, []byte], store.Lister[string] and
// store.Clearer. Lift it to typed values with codec.Bind.
type Store struct {
	c          *bigcache.BigCache
	now        func() time.Time
	lifeWindow time.Duration
	maxEntry   int // largest value plus key kept, in bytes
	shards     int
	closed     atomic.Bool
	bufs       sync.Pool // *[]byte: Set's prefixed copies
}

var (
	_ store.Store[string, []byte] = (*Store)(nil)
	_ store.Lister[string]        = (*Store)(nil)
	_ store.Clearer               = (*Store)(nil)
)

// New returns an empty store. It fails when MaxBytes, LifeWindow or
// CleanWindow is negative, or when Shards is not a power of two or would
// leave a shard less than 1 MiB of the budget.
func New(opts *Options) (*Store, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	switch {
	case o.MaxBytes < 0:
		return nil, fmt.Errorf("bigcachestore: Options.MaxBytes is %d, want >= 0", o.MaxBytes)
	case o.Shards < 0 || o.Shards&(o.Shards-1) != 0:
		return nil, fmt.Errorf("bigcachestore: Options.Shards is %d, want 0 or a power of two", o.Shards)
	case o.LifeWindow < 0:
		return nil, fmt.Errorf("bigcachestore: Options.LifeWindow is %v, want >= 0", o.LifeWindow)
	case o.CleanWindow < 0:
		return nil, fmt.Errorf("bigcachestore: Options.CleanWindow is %v, want >= 0", o.CleanWindow)
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	budgetMiB := (o.MaxBytes + mib - 1) / mib
	if budgetMiB > math.MaxInt32 {
		return nil, fmt.Errorf("bigcachestore: Options.MaxBytes is %d, want at most %d", o.MaxBytes, int64(math.MaxInt32)*mib)
	}
	if o.Shards == 0 {
		o.Shards = shardCount(budgetMiB * mib)
	}
	shardBytes := budgetMiB * mib / int64(o.Shards)
	if shardBytes < mib {
		return nil, fmt.Errorf("bigcachestore: Options.Shards is %d, want at most %d for a %d MiB budget (1 MiB a shard)", o.Shards, budgetMiB, budgetMiB)
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	life := noLifeWindow
	if o.LifeWindow > 0 {
		// Whole seconds, rounded up, so that bigcache never drops an
		// entry before its window has passed by Clock.
		life = (o.LifeWindow + time.Second - 1).Truncate(time.Second)
	}
	c, err := bigcache.New(context.Background(), bigcache.Config{
		Shards:           o.Shards,
		LifeWindow:       life,
		CleanWindow:      o.CleanWindow,
		MaxEntrySize:     1 << 10, // with the next, an initial 10 KiB a shard
		HardMaxCacheSize: int(budgetMiB),
	})
	if err != nil {
		return nil, fmt.Errorf("bigcachestore: %w", err)
	}
	return &Store{
		c:          c,
		now:        o.Clock,
		lifeWindow: o.LifeWindow,
		maxEntry:   int(shardBytes/2) - entryOverhead - prefixLen,
		shards:     o.Shards,
	}, nil
}

// shardCount is the default Options.Shards for a budget.
func shardCount(budget int64) int {
	n := maxShards
	for n > 1 && budget/int64(n) < minShardBytes {
		n /= 2
	}
	return n
}

// Get returns the value stored under key, in a slice the caller owns:
// bigcache copies the entry out of its buffers, and Get returns that copy
// less the expiry prefix, copying nothing more. A miss, including an
// expired entry, returns store.ErrNotFound itself and does not allocate. Get
// ignores ctx: it never waits but for a shard's lock.
func (s *Store) Get(_ context.Context, key string) ([]byte, error) {
	if s.closed.Load() {
		return nil, store.Wrap(name, "get", key, store.ErrClosed)
	}
	b, err := s.c.Get(key)
	switch {
	case errors.Is(err, bigcache.ErrEntryNotFound):
		return nil, store.ErrNotFound
	case err != nil:
		return nil, store.Wrap(name, "get", key, err)
	case len(b) < prefixLen: // not written by this package
		return nil, store.ErrNotFound
	case s.expired(b):
		// Not deleted here: a Set of a fresh value may have come in
		// since, and bigcache has no delete-if-unchanged. Its space is
		// reclaimed as bigcache's queue wraps around to it.
		return nil, store.ErrNotFound
	}
	return b[prefixLen:], nil
}

// Set stores a copy of value under key, prefixed with its expiry: the
// earlier of now plus ttl (if ttl > 0) and now plus LifeWindow (if set).
//
// A value that, with its key, takes more than half a shard's budget (2 MiB
// with the defaults) is not kept: Set deletes any previous value under key
// and returns an error matching store.ErrTooLarge, and a later Get misses. (Bigcache would otherwise empty
// the whole shard trying to make room, then fail.) A key longer than
// MaxKeyLen is an error. Set ignores ctx: it never waits but for a shard's
// lock.
func (s *Store) Set(_ context.Context, key string, value []byte, ttl time.Duration) error {
	if ttl < 0 {
		return store.Wrap(name, "set", key, store.ErrNegativeTTL)
	}
	if s.closed.Load() {
		return store.Wrap(name, "set", key, store.ErrClosed)
	}
	if len(key) > MaxKeyLen {
		return store.Wrap(name, "set", key, fmt.Errorf("key is %d bytes, want at most %d", len(key), MaxKeyLen))
	}
	if len(key)+len(value) > s.maxEntry {
		if err := s.delete("set", key); err != nil {
			return err
		}
		return store.Wrap(name, "set", key, store.ErrTooLarge)
	}
	var expires int64
	if ttl > 0 || s.lifeWindow > 0 {
		now := s.now()
		if ttl > 0 {
			expires = now.Add(ttl).UnixNano()
		}
		if s.lifeWindow > 0 {
			if life := now.Add(s.lifeWindow).UnixNano(); expires == 0 || life < expires {
				expires = life
			}
		}
	}
	bp, _ := s.bufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	b := append((*bp)[:0], make([]byte, prefixLen)...)
	binary.LittleEndian.PutUint64(b, uint64(expires))
	b = append(b, value...)
	err := s.c.Set(key, b) // bigcache copies b into its queue
	if cap(b) <= 1<<20 {   // keep small buffers only
		*bp = b
		s.bufs.Put(bp)
	}
	return store.Wrap(name, "set", key, err)
}

// Delete removes key. Deleting a key that is not there succeeds. It ignores
// ctx.
func (s *Store) Delete(_ context.Context, key string) error {
	if s.closed.Load() {
		return store.Wrap(name, "delete", key, store.ErrClosed)
	}
	return s.delete("delete", key)
}

func (s *Store) delete(op, key string) error {
	err := s.c.Delete(key)
	if errors.Is(err, bigcache.ErrEntryNotFound) {
		return nil
	}
	return store.Wrap(name, op, key, err)
}

// Keys yields the keys of the live entries, walking bigcache's iterator:
// it copies one shard's key hashes at a time, and each entry as it reaches
// it, and holds no lock while the loop body runs, which may use the store.
// It ends with an error when ctx is done, the store is closed, or bigcache
// fails to read an entry.
func (s *Store) Keys(ctx context.Context) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		it := s.c.Iterator()
		for i := 0; ; i++ {
			if s.closed.Load() {
				yield("", store.Wrap(name, "keys", "", store.ErrClosed))
				return
			}
			if i%256 == 0 {
				if err := ctx.Err(); err != nil {
					yield("", store.Wrap(name, "keys", "", err))
					return
				}
			}
			if !it.SetNext() {
				return
			}
			e, err := it.Value()
			if err != nil {
				yield("", store.Wrap(name, "keys", "", err))
				return
			}
			if v := e.Value(); len(v) < prefixLen || s.expired(v) {
				continue
			}
			if !yield(e.Key(), nil) {
				return
			}
		}
	}
}

// Clear drops every entry (bigcache's Reset).
func (s *Store) Clear(ctx context.Context) error {
	if s.closed.Load() {
		return store.Wrap(name, "clear", "", store.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return store.Wrap(name, "clear", "", err)
	}
	return store.Wrap(name, "clear", "", s.c.Reset())
}

// Close drops every entry and tells bigcache's cleaning goroutine, if
// CleanWindow started one, to stop; calls after it return store.ErrClosed.
// A second Close returns nil. Bigcache offers no way to wait for its
// goroutine: it exits as soon as it sees the signal, without touching the
// cache again.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	_ = s.c.Reset() // never fails
	return store.Wrap(name, "close", "", s.c.Close())
}

// NeverBlocks reports true: the store is in memory and its calls never
// wait (store.NonBlocking).
func (s *Store) NeverBlocks() bool { return true }

// expired reports whether the entry b, with its expiry prefix, has expired.
func (s *Store) expired(b []byte) bool {
	expires := int64(binary.LittleEndian.Uint64(b))
	return expires != 0 && s.now().UnixNano() >= expires
}

// ChecksValues reports true (codec.SelfChecking): the values never leave
// the process's memory, where a typed store's entries are not checked
// either, so a codec over the store need not verify its checksum.
func (s *Store) ChecksValues() bool { return true }
