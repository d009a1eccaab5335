package diskstore

import (
	"crypto/sha256"
	"sync"
)

// index is what a Store knows of the directory's entry files: each one's
// size and identity, in order of use by this process. New fills it with
// one scan of the directory; Get, Set, Delete and the removals keep it
// up to date, so eviction takes the least recently used entry from it
// without reading the directory or any file's header. It holds about 150
// bytes per entry (the node and the map's share).
type index struct {
	mu    sync.Mutex
	m     map[[sha256.Size]byte]*node
	root  node  // root.next is the most recently used, root.prev the least
	bytes int64 // the sum of the nodes' sizes
	gen   uint64
}

// node is one entry file in the index.
type node struct {
	sum     [sha256.Size]byte
	size    int64
	id      uint64 // the file's identity (its inode number); 0 where unknown
	touched int64  // Unix nanoseconds the file's modification time was last set to, as far as this process knows
	gen     uint64 // index.gen when the node was last put
	seen    uint64 // the last scan that saw the file
	prev    *node
	next    *node
}

// entryInfo is a copy of a node's fields, to use without the lock.
type entryInfo struct {
	size    int64
	id      uint64
	touched int64
}

func newIndex() *index {
	ix := &index{m: map[[sha256.Size]byte]*node{}}
	ix.root.next, ix.root.prev = &ix.root, &ix.root
	return ix
}

func (ix *index) unlink(n *node) {
	n.prev.next, n.next.prev = n.next, n.prev
	n.prev, n.next = nil, nil
}

func (ix *index) pushFront(n *node) {
	n.prev, n.next = &ix.root, ix.root.next
	n.prev.next, n.next.prev = n, n
}

func (ix *index) pushBack(n *node) {
	n.prev, n.next = ix.root.prev, &ix.root
	n.prev.next, n.next.prev = n, n
}

// use returns what the index knows of sum's file and makes it the most
// recently used.
func (ix *index) use(sum *[sha256.Size]byte) (entryInfo, bool) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	n, ok := ix.m[*sum]
	if !ok {
		return entryInfo{}, false
	}
	if ix.root.next != n {
		ix.unlink(n)
		ix.pushFront(n)
	}
	return entryInfo{n.size, n.id, n.touched}, true
}

// put records sum's file, the most recently used.
func (ix *index) put(sum *[sha256.Size]byte, e entryInfo) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	n, ok := ix.m[*sum]
	if ok {
		ix.unlink(n)
		ix.bytes -= n.size
	} else {
		n = &node{sum: *sum}
		ix.m[*sum] = n
	}
	n.size, n.id, n.touched, n.gen = e.size, e.id, e.touched, ix.gen
	ix.bytes += n.size
	ix.pushFront(n)
}

// setTouched records that sum's file, if it is still file id, had its
// modification time set to t.
func (ix *index) setTouched(sum *[sha256.Size]byte, id uint64, t int64) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if n, ok := ix.m[*sum]; ok && n.id == id {
		n.touched = t
	}
}

// drop forgets sum's file.
func (ix *index) drop(sum *[sha256.Size]byte) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if n, ok := ix.m[*sum]; ok {
		ix.unlink(n)
		delete(ix.m, *sum)
		ix.bytes -= n.size
	}
}

// dropStale forgets sum's file unless it was put since scan gen began.
func (ix *index) dropStale(sum *[sha256.Size]byte, gen uint64) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if n, ok := ix.m[*sum]; ok && n.gen < gen {
		ix.unlink(n)
		delete(ix.m, *sum)
		ix.bytes -= n.size
	}
}

// has reports whether the index holds sum.
func (ix *index) has(sum *[sha256.Size]byte) bool {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	_, ok := ix.m[*sum]
	return ok
}

// over takes the least recently used entry out of the index when the
// index's bytes exceed max, and reports false when they do not.
func (ix *index) over(max int64) (sum [sha256.Size]byte, e entryInfo, ok bool) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	n := ix.root.prev
	if ix.bytes <= max || n == &ix.root {
		return sum, e, false
	}
	ix.unlink(n)
	delete(ix.m, n.sum)
	ix.bytes -= n.size
	return n.sum, entryInfo{n.size, n.id, n.touched}, true
}

// used returns the sum of the sizes of the files in the index.
func (ix *index) used() int64 {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return ix.bytes
}

// startScan begins a scan of the directory and returns its generation.
func (ix *index) startScan() uint64 {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.gen++
	return ix.gen
}

// fileRec is an entry file a scan found.
type fileRec struct {
	sum   [sha256.Size]byte
	size  int64
	id    uint64
	mtime int64 // Unix nanoseconds
}

// merge applies what scan gen found, recs, sorted from the most recently
// modified to the least. A file the index does not hold goes behind every
// file it holds, in order of modification time: this process has not
// used it. A file it holds that nobody put since the scan began takes
// the scan's size and identity, and one the scan did not see has gone
// (another process removed it) and is dropped. Files put during the scan
// are left as they are: the scan may have seen them before the put.
func (ix *index) merge(gen uint64, recs []fileRec) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for i := range recs {
		r := &recs[i]
		n, ok := ix.m[r.sum]
		if !ok {
			n = &node{sum: r.sum, size: r.size, id: r.id, touched: r.mtime, seen: gen}
			ix.m[r.sum] = n
			ix.bytes += n.size
			ix.pushBack(n)
			continue
		}
		n.seen = gen
		if n.gen < gen {
			ix.bytes += r.size - n.size
			n.size, n.id = r.size, r.id
		}
	}
	for n := ix.root.next; n != &ix.root; {
		next := n.next
		if n.seen != gen && n.gen < gen {
			ix.unlink(n)
			delete(ix.m, n.sum)
			ix.bytes -= n.size
		}
		n = next
	}
}
