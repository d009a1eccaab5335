package slabstore

import (
	"bytes"
	"context"
	"fmt"
	"hash/maphash"
	"iter"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/store"
)

// DefaultMaxBytes is the byte budget of a store whose Options leave
// MaxBytes zero.
const DefaultMaxBytes = 64 << 20

// Segment sizing (see layout): segments of 64 KiB to 1 MiB, at least
// minSegments of them in a shard, so that the oldest one, which eviction
// drops, is a small part of it.
const (
	maxSegmentBytes = 1 << 20
	minSegmentBytes = 64 << 10
	minSegments     = 16
	maxShards       = 16
)

const name = "slabstore"

// Options configure a Store. The zero value, like a nil *Options, means a
// 64 MiB budget and time.Now.
type Options struct {
	// MaxBytes is the byte budget: the memory the segments take, records
	// (key, response and about 150 bytes of bookkeeping each) and the
	// space that deleted and overwritten records leave until their
	// segment is evicted. 0 means DefaultMaxBytes; it must be at least
	// 1 MiB.
	MaxBytes int64
	// Clock tells the time for ttls. Nil means time.Now.
	Clock func() time.Time
}

// Store is an in-memory store of *cached.Response values in large
// pointer-free segments. Its zero value is not usable; call New. It
// implements store.Store[string, *cached.Response], store.Lister[string],
// store.Clearer and store.NonBlocking.
type Store struct {
	shards  []shard
	mask    uint64
	seed    maphash.Seed
	now     func() time.Time // Options.Clock, or clock.Now
	clock   store.Clock      // the clock, when Options.Clock is nil
	ownNow  bool             // Options.Clock was set
	segSize int
	closed  atomic.Bool
	// retired counts the bytes of evicted segments that a Get aliased and
	// the garbage collector has not yet freed; over maxRetired, Get
	// copies instead of aliasing.
	retired    *atomic.Int64
	maxRetired int64
}

var (
	_ store.Store[string, *cached.Response] = (*Store)(nil)
	_ store.Lister[string]                  = (*Store)(nil)
	_ store.Clearer                         = (*Store)(nil)
	_ store.NonBlocking                     = (*Store)(nil)
	_ store.Clocked                         = (*Store)(nil)
)

// New returns an empty store. It fails when opts.MaxBytes is negative or
// below 1 MiB.
func New(opts *Options) (*Store, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxBytes < 1<<20 {
		return nil, fmt.Errorf("slabstore: Options.MaxBytes is %d, want 0 or at least 1 MiB (1048576)", o.MaxBytes)
	}
	n, seg := layout(o.MaxBytes)
	s := &Store{
		shards:  make([]shard, n),
		mask:    uint64(n - 1),
		seed:    maphash.MakeSeed(),
		now:     o.Clock,
		ownNow:  o.Clock != nil,
		segSize: seg,
		retired: new(atomic.Int64),
		// Up to MaxBytes of evicted segments held by responses, on top
		// of MaxBytes of live ones.
		maxRetired: o.MaxBytes,
	}
	if s.now == nil {
		s.now = s.clock.Now
	}
	for i := range s.shards {
		sh := &s.shards[i]
		sh.retired = s.retired
		sh.max = o.MaxBytes / int64(n)
		sh.segSize = seg
		sh.index = make(map[uint64]uint64)
	}
	return s, nil
}

// layout picks the number of shards (a power of two up to maxShards) and
// the segment size for a budget: segments of up to 1 MiB, at least
// minSegments of them in each shard.
func layout(maxBytes int64) (shards, segSize int) {
	shards = maxShards
	for shards > 1 && maxBytes/int64(shards) < minSegments*maxSegmentBytes {
		shards /= 2
	}
	per := maxBytes / int64(shards)
	segSize = int(min(max(per/minSegments, minSegmentBytes), maxSegmentBytes)) &^ 7
	return shards, segSize
}

// Get returns the response stored under key. Its strings and body are the
// store's memory, not copies (see the package documentation): like every
// stored response, it is read-only. Get ignores ctx: it never waits. A
// miss, including an expired entry, returns store.ErrNotFound itself and
// does not allocate.
func (s *Store) Get(_ context.Context, key string) (*cached.Response, error) {
	if s.closed.Load() {
		return nil, store.Wrap(name, "get", key, store.ErrClosed)
	}
	h := maphash.String(s.seed, key)
	sh := &s.shards[h&s.mask]
	sh.mu.RLock()
	seg, rec, ok := sh.lookup(h, key)
	if !ok {
		sh.mu.RUnlock()
		return nil, store.ErrNotFound
	}
	touch(rec)
	copied := s.retired.Load() > s.maxRetired
	if !copied && !seg.lent.Load() {
		seg.lent.Store(true)
	}
	sh.mu.RUnlock()
	// rec is never written again, but for its use count: read it unlocked.
	if d := recordDeadline(rec); d != 0 {
		if now := s.now().UnixNano(); now >= d {
			sh.removeExpired(h, key, now)
			return nil, store.ErrNotFound
		}
	}
	if copied {
		// Too much evicted memory is still held by responses: this one
		// gets its own copy, and holds nothing of the store's.
		rec = bytes.Clone(rec)
	}
	r, err := decode(rec)
	if err != nil {
		return nil, store.Wrap(name, "get", key, err)
	}
	return r, nil
}

// Set stores r under key, copying it into the store's segments: r is not
// kept, and the caller may change it afterwards. When a shard has no room,
// it evicts its oldest segment (see the package documentation). A response
// larger than a shard's budget is not kept: Set removes any previous value
// under key and returns an error matching store.ErrTooLarge. A nil r is an
// error. Set ignores ctx: it never waits.
func (s *Store) Set(_ context.Context, key string, r *cached.Response, ttl time.Duration) error {
	if ttl < 0 {
		return store.Wrap(name, "set", key, store.ErrNegativeTTL)
	}
	if r == nil {
		return store.Wrap(name, "set", key, errNil)
	}
	var deadline int64
	if ttl > 0 {
		deadline = s.now().Add(ttl).UnixNano()
	}
	h := maphash.String(s.seed, key)
	sh := &s.shards[h&s.mask]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if s.closed.Load() { // checked under the lock, so Close's reset is final
		return store.Wrap(name, "set", key, store.ErrClosed)
	}
	var e encoded
	ok := measure(&e, key, r, sh.scratch)
	sh.scratch = e.header[:0]
	if !ok || int64(e.total) > sh.max {
		sh.remove(h, key)
		return store.Wrap(name, "set", key, store.ErrTooLarge)
	}
	b, loc := sh.alloc(e.total, s.now().UnixNano())
	write(b, &e, h, deadline, key, r)
	sh.index[h] = loc
	return nil
}

// errNil is returned by Set for a nil response.
var errNil = fmt.Errorf("nil *cached.Response")

// Delete removes key. Deleting a key that is not there succeeds.
func (s *Store) Delete(_ context.Context, key string) error {
	if s.closed.Load() {
		return store.Wrap(name, "delete", key, store.ErrClosed)
	}
	h := maphash.String(s.seed, key)
	sh := &s.shards[h&s.mask]
	sh.mu.Lock()
	sh.remove(h, key)
	sh.mu.Unlock()
	return nil
}

// Keys yields the live keys, one shard at a time: it holds a shard's lock
// only to copy that shard's keys, so the loop body may call the store. It
// ends with an error when ctx is done or the store is closed.
func (s *Store) Keys(ctx context.Context) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		var buf []string
		for i := range s.shards {
			if s.closed.Load() {
				yield("", store.Wrap(name, "keys", "", store.ErrClosed))
				return
			}
			if err := ctx.Err(); err != nil {
				yield("", store.Wrap(name, "keys", "", err))
				return
			}
			buf = s.shards[i].liveKeys(buf[:0], s.now().UnixNano())
			for _, k := range buf {
				if !yield(k, nil) {
					return
				}
			}
		}
	}
}

// Clear drops every entry.
func (s *Store) Clear(ctx context.Context) error {
	if s.closed.Load() {
		return store.Wrap(name, "clear", "", store.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return store.Wrap(name, "clear", "", err)
	}
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		sh.reset(make(map[uint64]uint64))
		sh.mu.Unlock()
	}
	return nil
}

// Close drops every entry; calls after it return store.ErrClosed. A second
// Close returns nil. Responses returned by Get stay valid.
func (s *Store) Close() error {
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

// UseClock implements store.Clocked: a store built without Options.Clock
// tells the time with now from then on; a store built with one keeps it and
// returns false. cachestack.New calls it with its Options.Clock.
func (s *Store) UseClock(now func() time.Time) bool {
	return s.clock.Use(s.ownNow, now)
}

// NeverBlocks reports true: the store is in memory and its calls never
// wait (store.NonBlocking).
func (s *Store) NeverBlocks() bool { return true }

// Len returns the number of entries held, including expired entries not
// yet removed.
func (s *Store) Len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		n += len(sh.index)
		sh.mu.RUnlock()
	}
	return n
}

// Bytes returns the memory the store's segments take, at most MaxBytes.
func (s *Store) Bytes() int64 {
	var n int64
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		n += sh.bytes
		sh.mu.RUnlock()
	}
	return n
}

// A segment is a run of records, written in order and never rewritten: a
// record's bytes, once written, change no more (but its use count), so
// that a response decoded from them can alias them for as long as it is
// referenced. A segment evicted is dropped, never reused; the garbage
// collector frees it once no response refers to it.
type segment struct {
	id   uint32 // its place in the shard's sequence of segments
	buf  []byte // len: the capacity; used: how much is written
	used int
	lent atomic.Bool // a Get returned a response over it
}

// shard is one lock's part of the store: a FIFO of segments, the newest
// (head) being written, and an index from key hash to record location,
// the segment's id in the high 32 bits and the offset in the low.
type shard struct {
	mu      sync.RWMutex
	index   map[uint64]uint64 // no pointers: the garbage collector skips it
	segs    []*segment        // oldest first; ids consecutive
	head    *segment          // the segment appended to; in segs
	nextID  uint32
	bytes   int64 // sum of len(buf) of segs
	max     int64
	segSize int
	scratch []byte     // Set's buffer for a header's binary form
	pending []*segment // taken out by newSegment, for evictPending
	retired *atomic.Int64
}

// lookup returns the record of key and its segment, or false. The caller
// holds mu.
func (sh *shard) lookup(h uint64, key string) (*segment, []byte, bool) {
	loc, ok := sh.index[h]
	if !ok {
		return nil, nil, false
	}
	seg := sh.segs[uint32(loc>>32)-sh.segs[0].id]
	rec := record(seg, loc)
	if string(recordKey(rec)) != key { // another key of the same hash
		return nil, nil, false
	}
	return seg, rec, true
}

// record returns the record at loc in seg.
func record(seg *segment, loc uint64) []byte {
	off := int(uint32(loc))
	n := recordLen(seg.buf[off:])
	return seg.buf[off : off+n : off+n]
}

// remove deletes key's entry, if the index holds it. The caller holds mu
// for writing.
func (sh *shard) remove(h uint64, key string) {
	if _, _, ok := sh.lookup(h, key); ok {
		delete(sh.index, h)
	}
}

// removeExpired removes key's entry if it is past its deadline at now (a
// Set may have replaced it since it was read).
func (sh *shard) removeExpired(h uint64, key string, now int64) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if _, rec, ok := sh.lookup(h, key); ok {
		if d := recordDeadline(rec); d != 0 && now >= d {
			delete(sh.index, h)
		}
	}
}

// alloc returns n zeroed bytes at the end of the head segment, or of a
// segment of their own when n is more than half a segment, and their
// location, making room first. The caller holds mu for writing.
func (sh *shard) alloc(n int, now int64) ([]byte, uint64) {
	seg := sh.head
	switch {
	case n > sh.segSize/2:
		seg = sh.newSegment(n, now)
	case seg == nil || seg.used+n > len(seg.buf):
		seg = sh.newSegment(sh.segSize, now)
		sh.head = seg
		sh.evictPending(now)
	}
	off := seg.used
	seg.used += n
	if seg != sh.head {
		sh.evictPending(now)
	}
	return seg.buf[off : off+n : off+n], uint64(seg.id)<<32 | uint64(off)
}

// newSegment appends a segment of size bytes, taking the oldest segments
// out while the shard would be over its budget; they wait in sh.pending
// for evictPending, which moves some of their records.
func (sh *shard) newSegment(size int, now int64) *segment {
	for len(sh.segs) > 0 && sh.bytes+int64(size) > sh.max {
		old := sh.segs[0]
		sh.segs[0] = nil
		sh.segs = sh.segs[1:]
		sh.bytes -= int64(len(old.buf))
		if old == sh.head {
			sh.head = nil
		}
		sh.pending = append(sh.pending, old)
	}
	seg := &segment{id: sh.nextID, buf: make([]byte, size)}
	sh.nextID++
	sh.segs = append(sh.segs, seg)
	sh.bytes += int64(size)
	return seg
}

// evictPending evicts the segments newSegment took out.
func (sh *shard) evictPending(now int64) {
	for i, old := range sh.pending {
		sh.evict(old, now)
		sh.retire(old)
		sh.pending[i] = nil
	}
	sh.pending = sh.pending[:0]
}

// retire counts old, a segment just evicted, in the retired bytes if a Get
// aliased it, until the garbage collector frees it.
func (sh *shard) retire(old *segment) {
	if !old.lent.Load() {
		return
	}
	n := int64(len(old.buf))
	sh.retired.Add(n)
	runtime.AddCleanup(&old.buf[0], func(r *atomic.Int64) { r.Add(-n) }, sh.retired)
}

// evict drops the records of old, a segment just taken out of the shard,
// from the index; those read since they were written (or last moved) and
// not expired are moved to the head instead, their count lowered by one,
// while the head has room in its first half, so that entries in use stay
// and one read once long ago does not stay forever.
func (sh *shard) evict(old *segment, now int64) {
	for off := 0; off < old.used; {
		rec := old.buf[off:]
		n := recordLen(rec)
		rec = rec[:n:n]
		h := recordHash(rec)
		if loc, ok := sh.index[h]; ok && loc == uint64(old.id)<<32|uint64(off) {
			if !sh.moved(rec, h, now) {
				delete(sh.index, h)
			}
		}
		off += n
	}
}

// moved copies a live record of an evicted segment to the head, if it
// has been used and is not expired, and the head segment is a regular one
// less than half full with room for it.
func (sh *shard) moved(rec []byte, h uint64, now int64) bool {
	u := *uses(rec) // the shard is locked for writing: no Get touches it
	if u == 0 || len(rec) > sh.segSize/2 {
		return false
	}
	if d := recordDeadline(rec); d != 0 && now >= d {
		return false
	}
	head := sh.head
	if head == nil || len(head.buf) != sh.segSize || head.used+len(rec) > sh.segSize/2 {
		return false
	}
	off := head.used
	dst := head.buf[off : off+len(rec)]
	copy(dst, rec)
	*uses(dst) = u - 1
	head.used += len(rec)
	sh.index[h] = uint64(head.id)<<32 | uint64(off)
	return true
}

// liveKeys appends the keys of the shard's unexpired entries to buf.
func (sh *shard) liveKeys(buf []string, now int64) []string {
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	for _, loc := range sh.index {
		rec := record(sh.segs[uint32(loc>>32)-sh.segs[0].id], loc)
		if d := recordDeadline(rec); d != 0 && now >= d {
			continue
		}
		buf = append(buf, string(recordKey(rec)))
	}
	return buf
}

// reset drops every segment and sets the index to index.
func (sh *shard) reset(index map[uint64]uint64) {
	for _, seg := range sh.segs {
		sh.retire(seg)
	}
	clear(sh.segs)
	sh.segs, sh.head, sh.bytes, sh.index = nil, nil, 0, index
}
