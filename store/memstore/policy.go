package memstore

import (
	"sync"
	"sync/atomic"
	"time"
)

// The shares of a shard's budgets given to its segments (see the package
// documentation): the window holds the newest entries, the protected
// segment the main space's entries read again since they got there.
const (
	windowPercent    = 1
	protectedPercent = 80 // of what the window leaves
)

// agingFactor times the entries a shard holds (64 at least) is how many
// Sets of new keys halve every count, the sketch's and the entries'. Less
// ages faster, which follows popularity that moves (news) better and
// tells steady popularity (a catalogue) apart worse. In bench's replay, 3
// is the largest that misses less than LRU where popularity moves, and
// costs 1.4 points of miss ratio against 5 where it does not.
const agingFactor = 3

// An entry's state packs how often it was used, saturating at maxFreq, and
// whether it was read since eviction last passed it (referenced). Get
// changes it with compare-and-swap under the shard's read lock; everything
// else changes it under the write lock.
const (
	maxFreq    = 15
	freqMask   = 0xf
	referenced = 1 << 4
	hot        = referenced | maxFreq // nothing left for a read to record
)

// segments of a shard.
const (
	inWindow uint8 = iota
	inProbation
	inProtected
	inPending // taken out as a victim while admission decides
)

// shard is a part of the store with its own lock, budgets, segments and
// frequency sketch. Writers hold mu; Get holds it for reading and only
// records the read in the entry's state, so parallel hits never queue
// behind one another.
type shard[K comparable, V any] struct {
	mu      sync.RWMutex
	entries map[K]*entry[K, V]
	// The segments, each a circular list behind a sentinel: next is the
	// newest end, prev the end eviction takes from.
	window, probation, protected segment[K, V]
	pending                      segment[K, V] // victims while admission decides
	sketch                       sketch
	bytes                        int64
	maxBytes                     int64 // 0: no byte budget
	maxEntries                   int   // 0: no entry budget
	// Segment budgets, derived from the shard's; 0 where the shard has
	// none.
	windowBytes, protectedBytes     int64
	windowEntries, protectedEntries int
	_                               [64]byte
}

type entry[K comparable, V any] struct {
	key     K
	hash    uint64
	value   V
	cost    int64
	expires time.Time // zero: never
	// state is the use count and referenced mark; see hot.
	state      atomic.Uint32
	seg        uint8
	prev, next *entry[K, V]
}

// segment is a list of entries with their count and cost.
type segment[K comparable, V any] struct {
	head  entry[K, V] // sentinel: head.next newest, head.prev oldest
	bytes int64
	n     int
	id    uint8
}

func (g *segment[K, V]) init(id uint8) {
	g.head.next, g.head.prev = &g.head, &g.head
	g.bytes, g.n, g.id = 0, 0, id
}

// oldest returns the entry at the eviction end, or nil.
func (g *segment[K, V]) oldest() *entry[K, V] {
	if g.head.prev == &g.head {
		return nil
	}
	return g.head.prev
}

// newest returns the entry at the newest end, or nil.
func (g *segment[K, V]) newest() *entry[K, V] {
	if g.head.next == &g.head {
		return nil
	}
	return g.head.next
}

func (g *segment[K, V]) pushNewest(e *entry[K, V]) {
	e.prev, e.next = &g.head, g.head.next
	e.prev.next, e.next.prev = e, e
	e.seg = g.id
	g.bytes += e.cost
	g.n++
}

func (g *segment[K, V]) pushOldest(e *entry[K, V]) {
	e.next, e.prev = &g.head, g.head.prev
	e.prev.next, e.next.prev = e, e
	e.seg = g.id
	g.bytes += e.cost
	g.n++
}

func (g *segment[K, V]) unlink(e *entry[K, V]) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
	g.bytes -= e.cost
	g.n--
}

// freq returns how often e was used, as far as its counter goes.
func (e *entry[K, V]) freq() uint32 { return e.state.Load() & freqMask }

// hit records a use of e whose state was st: it marks e referenced and
// counts the use. Concurrent readers may race; a lost update only costs a
// count.
func (e *entry[K, V]) hit(st uint32) {
	for st != hot {
		n := st | referenced
		if st&freqMask < maxFreq {
			n++
		}
		if e.state.CompareAndSwap(st, n) {
			return
		}
		st = e.state.Load()
	}
}

// wasReferenced clears e's referenced mark and reports whether it was set.
// Only writers call it, so no read races with it.
func (e *entry[K, V]) wasReferenced() bool {
	st := e.state.Load()
	if st&referenced == 0 {
		return false
	}
	e.state.Store(st &^ referenced)
	return true
}

// init sets the shard's budgets and empties it.
func (sh *shard[K, V]) init(maxBytes int64, maxEntries int) {
	sh.maxBytes, sh.maxEntries = maxBytes, maxEntries
	sh.windowBytes = maxBytes * windowPercent / 100
	sh.protectedBytes = (maxBytes - sh.windowBytes) * protectedPercent / 100
	if maxEntries > 1 {
		sh.windowEntries = max(1, maxEntries*windowPercent/100)
		sh.protectedEntries = max(1, (maxEntries-sh.windowEntries)*protectedPercent/100)
	}
	sh.reset(make(map[K]*entry[K, V]))
}

// reset empties the shard, giving it entries as its map; a nil map (Close)
// also drops the sketch.
func (sh *shard[K, V]) reset(entries map[K]*entry[K, V]) {
	sh.entries = entries
	sh.window.init(inWindow)
	sh.probation.init(inProbation)
	sh.protected.init(inProtected)
	sh.pending.init(inPending)
	sh.bytes = 0
	if entries == nil {
		sh.sketch = sketch{}
		return
	}
	capacity := sh.maxEntries
	if sh.maxBytes > 0 && (capacity == 0 || sh.maxBytes/expectedCost < int64(capacity)) {
		capacity = int(sh.maxBytes / expectedCost)
	}
	sh.sketch.init(capacity)
}

// expectedCost is the value cost assumed to size a byte-budgeted shard's
// sketch before it holds anything; the sketch grows when more entries fit.
const expectedCost = 4 << 10

func (sh *shard[K, V]) segment(id uint8) *segment[K, V] {
	switch id {
	case inWindow:
		return &sh.window
	case inProbation:
		return &sh.probation
	case inProtected:
		return &sh.protected
	default:
		return &sh.pending
	}
}

// add puts a new entry in the window, its count started from the sketch.
func (sh *shard[K, V]) add(e *entry[K, V]) {
	sh.sketch.grow(len(sh.entries) + 1)
	e.state.Store(min(sh.sketch.add(e.hash), maxFreq))
	sh.entries[e.key] = e
	sh.window.pushNewest(e)
	sh.bytes += e.cost
	if sh.sketch.additions >= agingFactor*max(len(sh.entries), 64) {
		sh.age()
	}
}

// resize changes e's cost.
func (sh *shard[K, V]) resize(e *entry[K, V], cost int64) {
	sh.segment(e.seg).bytes += cost - e.cost
	sh.bytes += cost - e.cost
	e.cost = cost
}

// remove drops e from the shard; forget drops it too but first records
// its use count in the sketch, so that it is not a stranger if it comes
// back.
func (sh *shard[K, V]) remove(e *entry[K, V]) {
	sh.segment(e.seg).unlink(e)
	sh.drop(e)
}

func (sh *shard[K, V]) drop(e *entry[K, V]) {
	delete(sh.entries, e.key)
	sh.bytes -= e.cost
}

func (sh *shard[K, V]) forget(e *entry[K, V]) {
	sh.sketch.raise(e.hash, e.freq())
	sh.drop(e)
}

// removeExpired removes key's entry if it has expired at now.
func (sh *shard[K, V]) removeExpired(key K, now time.Time) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if e, ok := sh.entries[key]; ok && !e.expires.IsZero() && !now.Before(e.expires) {
		sh.remove(e)
	}
}

// fits reports whether c fits in the main space, which has the shard's
// budgets less the window's share. A value larger than that fits only in
// an empty main space.
func (sh *shard[K, V]) fits(c *entry[K, V]) bool {
	bytes := sh.probation.bytes + sh.protected.bytes
	n := sh.probation.n + sh.protected.n
	if limit := sh.maxBytes - sh.windowBytes; sh.maxBytes > 0 && bytes+c.cost > limit && (c.cost <= limit || n > 0) {
		return false
	}
	return sh.maxEntries == 0 || n < sh.maxEntries-sh.windowEntries || n == 0
}

// overBy reports whether the shard would still be over a budget with
// bytes and n entries fewer.
func (sh *shard[K, V]) overBy(bytes int64, n int) bool {
	return sh.maxBytes > 0 && sh.bytes-bytes > sh.maxBytes ||
		sh.maxEntries > 0 && len(sh.entries)-n > sh.maxEntries
}

// evict brings the shard back within its budgets after a Set. While the
// window is over its share, or the shard over its budgets (an overwrite
// grew a value of the main space), the oldest entry of the window leaves
// it and joins the main space if there is room there or if it has been
// used more than the entries that would make room for it (admit). The
// window never takes room from the main space: a new entry only pushes
// older ones out of the window. Entries of the main space go only for a
// candidate that beats them, or, with an empty window, to undo an
// overwrite's growth.
func (sh *shard[K, V]) evict() {
	for sh.maxBytes > 0 && sh.window.bytes > sh.windowBytes ||
		sh.maxEntries > 0 && sh.window.n > sh.windowEntries ||
		sh.overBy(0, 0) {
		c := sh.window.oldest()
		if c == nil {
			v := sh.victim()
			if v == nil {
				return // nothing left to evict
			}
			sh.forget(v)
			continue
		}
		sh.window.unlink(c)
		c.wasReferenced() // reads in the window are in its count already
		sh.admit(c)
	}
}

// admit moves c, out of the window, into the main space if it fits there,
// or if it was used more often than the victims that would make room for
// it together: a candidate seen once never pushes out an entry read since.
// A candidate whose count is saturated needs only to beat each victim,
// so that a large value in heavy use is not kept out by the sum of many
// small ones. Otherwise c goes and the victims stay where they were.
func (sh *shard[K, V]) admit(c *entry[K, V]) {
	if sh.fits(c) {
		sh.probation.pushNewest(c)
		return
	}
	var sum, most uint32
	cf := c.freq()
	loses := func() bool {
		if cf == maxFreq {
			return most >= cf
		}
		return sum >= cf
	}
	for !sh.fits(c) && !loses() {
		v := sh.victim()
		if v == nil {
			break
		}
		sh.pending.pushNewest(v)
		f := v.freq()
		sum, most = sum+f, max(most, f)
	}
	if loses() {
		// Back where they were, the first taken the oldest again.
		for v := sh.pending.newest(); v != nil; v = sh.pending.newest() {
			sh.pending.unlink(v)
			sh.probation.pushOldest(v)
		}
		sh.forget(c)
		return
	}
	for v := sh.pending.oldest(); v != nil; v = sh.pending.oldest() {
		sh.pending.unlink(v)
		sh.forget(v)
	}
	sh.probation.pushNewest(c)
}

// victim takes out of its segment, and returns, the next entry of the main
// space to evict: the oldest of probation not referenced since eviction
// last passed it, or when probation is empty the oldest such of the
// protected segment; nil when the main space is empty. On the way, a
// referenced entry of probation moves to the protected segment, whose
// oldest entries move back to probation while it is over its share, and a
// referenced entry of the protected segment gets a second chance at its
// newest end. Each step clears a mark or returns, so the loop ends.
func (sh *shard[K, V]) victim() *entry[K, V] {
	for {
		if v := sh.probation.oldest(); v != nil {
			sh.probation.unlink(v)
			if !v.wasReferenced() {
				return v
			}
			sh.protected.pushNewest(v)
			sh.demote()
			continue
		}
		v := sh.protected.oldest()
		if v == nil {
			return nil
		}
		sh.protected.unlink(v)
		if !v.wasReferenced() {
			return v
		}
		sh.protected.pushNewest(v)
	}
}

// demote moves the protected segment's oldest entries to probation while
// the segment is over its share, giving referenced ones a second chance.
func (sh *shard[K, V]) demote() {
	for sh.maxBytes > 0 && sh.protected.bytes > sh.protectedBytes ||
		sh.maxEntries > 0 && sh.protected.n > sh.protectedEntries {
		v := sh.protected.oldest()
		sh.protected.unlink(v)
		if v.wasReferenced() {
			sh.protected.pushNewest(v)
			continue
		}
		sh.probation.pushNewest(v)
	}
}

// age halves every count, the sketch's and the entries', so that what was
// popular long ago gives way to what is popular now.
func (sh *shard[K, V]) age() {
	sh.sketch.halve()
	for _, g := range []*segment[K, V]{&sh.window, &sh.probation, &sh.protected} {
		for e := g.head.next; e != &g.head; e = e.next {
			st := e.state.Load()
			e.state.Store(st&referenced | (st&freqMask)>>1)
		}
	}
}

// liveKeys appends the keys of the entries live at now to buf, removing
// the expired ones.
func (sh *shard[K, V]) liveKeys(buf []K, now time.Time) []K {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	for _, g := range []*segment[K, V]{&sh.window, &sh.probation, &sh.protected} {
		for e := g.head.next; e != &g.head; {
			next := e.next
			if !e.expires.IsZero() && !now.Before(e.expires) {
				sh.remove(e)
			} else {
				buf = append(buf, e.key)
			}
			e = next
		}
	}
	return buf
}

var AgingFactor = 2
