package diskstore

import (
	"crypto/sha256"
	"sync"
)

// index is what a Store knows of the directory's entry files: each one's
// size and identity, in order of use by this process. New fills it with
// one scan of the directory; Get, Set, Delete and the removals keep it
// up to date, so eviction takes the least recently used entry from it
// without reading the directory or any file's header. It holds about 180
// bytes per entry (the node and the map's share).
//
// It also keeps up to maxOpen of the files open, the most recently read,
// in a second list: a Get of an entry whose file is open reads it without
// opening it. Whatever replaces or forgets a node's file (put, drop,
// dropStale, over, merge, closeAll) takes its open file away from the
// node and returns it, and the caller releases it (openFD.release) once
// it has let go of the lock, so that the index never hands out a file
// that is not the one at the entry's path as this process last knew it.
type index struct {
	mu      sync.Mutex
	m       map[[sha256.Size]byte]*node
	root    node  // root.next is the most recently used, root.prev the least
	bytes   int64 // the sum of the nodes' sizes
	gen     uint64
	ver     uint64 // counts puts: a node's ver tells one put from the next
	seq     uint64 // counts installs: each kept file's openFD.seq
	fdRoot  node   // fdRoot.fdNext is the most recently read open file, fdRoot.fdPrev the least
	open    int    // nodes with an open file
	maxOpen int    // at most this many; 0 keeps none open
	closed  bool   // closeAll ran: nothing is opened any more
}

// node is one entry file in the index.
type node struct {
	sum     [sha256.Size]byte
	size    int64
	id      uint64 // the file's identity (its inode number); 0 where unknown
	touched int64  // Unix nanoseconds the file's modification time was last set to, as far as this process knows
	gen     uint64 // index.gen when the node was last put
	ver     uint64 // index.ver when the node was last put
	seen    uint64 // the last scan that saw the file
	prev    *node
	next    *node

	fd             *openFD // the file, open, or nil
	fdPrev, fdNext *node   // in the list of open files, when fd is not nil
}

// entryInfo is a copy of a node's fields, to use without the lock.
type entryInfo struct {
	size    int64
	id      uint64
	touched int64
}

func newIndex(maxOpen int) *index {
	ix := &index{m: map[[sha256.Size]byte]*node{}, maxOpen: maxOpen}
	ix.root.next, ix.root.prev = &ix.root, &ix.root
	ix.fdRoot.fdNext, ix.fdRoot.fdPrev = &ix.fdRoot, &ix.fdRoot
	return ix
}

// takeFD takes n's open file, if any, away from it and returns it, for the
// caller to release.
func (ix *index) takeFD(n *node) *openFD {
	fd := n.fd
	if fd == nil {
		return nil
	}
	n.fdPrev.fdNext, n.fdNext.fdPrev = n.fdNext, n.fdPrev
	n.fd, n.fdPrev, n.fdNext = nil, nil, nil
	ix.open--
	return fd
}

// fdFront makes n's open file the most recently read.
func (ix *index) fdFront(n *node) {
	if ix.fdRoot.fdNext == n {
		return
	}
	n.fdPrev.fdNext, n.fdNext.fdPrev = n.fdNext, n.fdPrev
	n.fdPrev, n.fdNext = &ix.fdRoot, ix.fdRoot.fdNext
	n.fdPrev.fdNext, n.fdNext.fdPrev = n, n
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
// recently used. If the file is open, use also returns it, with a
// reference the caller releases; ver identifies the put the node comes
// from, for install.
func (ix *index) use(sum *[sha256.Size]byte) (e entryInfo, fd *openFD, ver uint64, ok bool) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	n, ok := ix.m[*sum]
	if !ok {
		return entryInfo{}, nil, 0, false
	}
	if ix.root.next != n {
		ix.unlink(n)
		ix.pushFront(n)
	}
	if n.fd != nil {
		n.fd.acquire()
		ix.fdFront(n)
	}
	return entryInfo{n.size, n.id, n.touched}, n.fd, n.ver, true
}

// useKept is use for an entry whose file the index keeps open: it returns
// what the index knows of sum's file and the open file, with a reference
// the caller releases, and makes them the most recently used and read.
// For an entry whose file it does not keep open, it changes nothing and
// returns a nil fd; indexed reports whether it knows the entry at all.
func (ix *index) useKept(sum *[sha256.Size]byte) (e entryInfo, fd *openFD, indexed bool) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	n, ok := ix.m[*sum]
	if !ok || n.fd == nil {
		return entryInfo{}, nil, ok
	}
	if ix.root.next != n {
		ix.unlink(n)
		ix.pushFront(n)
	}
	n.fd.acquire()
	ix.fdFront(n)
	return entryInfo{n.size, n.id, n.touched}, n.fd, true
}

// install keeps fd, an open file of sum's entry that a Get opened after
// use returned ver, as the node's open file, if the node is still the one
// put as ver and has no open file: a file opened while a Set replaced the
// entry may be the old one, and is not kept. It reports whether it kept
// fd (the caller's reference passes to the index), and returns the least
// recently read open file if keeping fd took the index over maxOpen, for
// the caller to release. A file it keeps gets a new seq, which no other
// file this index kept had or will have.
func (ix *index) install(sum *[sha256.Size]byte, ver uint64, fd *openFD) (kept bool, victim *openFD) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	n, ok := ix.m[*sum]
	if !ok || n.ver != ver || n.fd != nil || ix.maxOpen <= 0 || ix.closed {
		return false, nil
	}
	ix.seq++
	fd.seq = ix.seq
	n.fd = fd
	n.fdPrev, n.fdNext = &ix.fdRoot, ix.fdRoot.fdNext
	n.fdPrev.fdNext, n.fdNext.fdPrev = n, n
	ix.open++
	if ix.open > ix.maxOpen {
		victim = ix.takeFD(ix.fdRoot.fdPrev)
	}
	return true, victim
}

// uninstall takes fd away from sum's node if it is still its open file:
// a Get found it is no longer the file at the entry's path. It returns
// fd if it took it, for the caller to release.
func (ix *index) uninstall(sum *[sha256.Size]byte, fd *openFD) *openFD {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if n, ok := ix.m[*sum]; ok && n.fd == fd {
		return ix.takeFD(n)
	}
	return nil
}

// openFiles returns how many files the index keeps open.
func (ix *index) openFiles() int {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return ix.open
}

// closeAll takes every open file away from its node, for the caller to
// release, and keeps install from opening more.
func (ix *index) closeAll() []*openFD {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.closed = true
	var fds []*openFD
	for ix.fdRoot.fdNext != &ix.fdRoot {
		fds = append(fds, ix.takeFD(ix.fdRoot.fdNext))
	}
	return fds
}

// put records sum's file, the most recently used. It returns the open
// file of the entry's previous file, if any, for the caller to release.
func (ix *index) put(sum *[sha256.Size]byte, e entryInfo) *openFD {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	n, ok := ix.m[*sum]
	var fd *openFD
	if ok {
		ix.unlink(n)
		ix.bytes -= n.size
		fd = ix.takeFD(n)
	} else {
		n = &node{sum: *sum}
		ix.m[*sum] = n
	}
	ix.ver++
	n.size, n.id, n.touched, n.gen, n.ver = e.size, e.id, e.touched, ix.gen, ix.ver
	ix.bytes += n.size
	ix.pushFront(n)
	return fd
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

// drop forgets sum's file. It returns the file's open file, if any, for
// the caller to release.
func (ix *index) drop(sum *[sha256.Size]byte) *openFD {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if n, ok := ix.m[*sum]; ok {
		ix.unlink(n)
		delete(ix.m, *sum)
		ix.bytes -= n.size
		return ix.takeFD(n)
	}
	return nil
}

// dropStale forgets sum's file unless it was put since scan gen began. It
// returns the file's open file, if any, for the caller to release.
func (ix *index) dropStale(sum *[sha256.Size]byte, gen uint64) *openFD {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if n, ok := ix.m[*sum]; ok && n.gen < gen {
		ix.unlink(n)
		delete(ix.m, *sum)
		ix.bytes -= n.size
		return ix.takeFD(n)
	}
	return nil
}

// has reports whether the index holds sum.
func (ix *index) has(sum *[sha256.Size]byte) bool {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	_, ok := ix.m[*sum]
	return ok
}

// over takes the least recently used entry out of the index when the
// index's bytes exceed max, with its open file if any (for the caller to
// release), and reports false when they do not.
func (ix *index) over(max int64) (sum [sha256.Size]byte, e entryInfo, fd *openFD, ok bool) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	n := ix.root.prev
	if ix.bytes <= max || n == &ix.root {
		return sum, e, nil, false
	}
	ix.unlink(n)
	delete(ix.m, n.sum)
	ix.bytes -= n.size
	return n.sum, entryInfo{n.size, n.id, n.touched}, ix.takeFD(n), true
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
// merge returns the open files of the files it dropped or found replaced,
// for the caller to release.
func (ix *index) merge(gen uint64, recs []fileRec) (fds []*openFD) {
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
			if n.size != r.size || n.id != r.id {
				if fd := ix.takeFD(n); fd != nil {
					fds = append(fds, fd)
				}
			}
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
			if fd := ix.takeFD(n); fd != nil {
				fds = append(fds, fd)
			}
		}
		n = next
	}
	return fds
}
