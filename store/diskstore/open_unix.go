//go:build unix

package diskstore

import (
	"errors"
	"io"
	"os"
	"sync/atomic"
	"syscall"
)

// openFile opens path for reading. It does not follow a symbolic link in
// the last element (the open fails), and does not block on a FIFO or a
// device: whatever is there is checked with Stat before it is read.
func openFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
}

// fileID returns the identity of the file fi describes, its inode number,
// which a rename into place changes and a touch does not; 0 if fi does
// not carry one.
func fileID(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Ino) //nolint:unconvert // uint32 on some platforms
	}
	return 0
}

// openFD is an entry file kept open by the index, so that a Get reads it
// without opening it. Its references are the index's own, while the file
// is a node's, and one for each read in progress: the descriptor is
// closed when the last is released, never while a read uses it, so that
// a read never reaches another file that took its number.
type openFD struct {
	fd   int
	refs atomic.Int32
	// noatime: opened with O_NOATIME (openNoatime), so that no read
	// writes the file's access time, which may wait for the disk.
	noatime bool
	// seq names the file while the index keeps it (TryGetVersion's
	// Version): set by install, from a count that never repeats within
	// the Store, and never 0 once set.
	seq uint64
	// expires is the entry's expiry, from the header of the bytes read
	// when the file was opened (Unix nanoseconds; 0 means never).
	expires int64
}

// keepsOpen reports whether entry files may be kept open here: on Unix,
// where an open file does not stop another process from renaming over it
// or removing it.
const keepsOpen = true

// acquire adds a reference, under the index's lock while f is a node's.
func (f *openFD) acquire() { f.refs.Add(1) }

// release drops a reference, and closes the file with the last. A nil f
// is nothing to release.
func (f *openFD) release() {
	if f != nil && f.refs.Add(-1) == 0 {
		_ = syscall.Close(f.fd)
	}
}

// releaseUnlessLast drops a reference unless it is the last, and reports
// whether it did.
func (f *openFD) releaseUnlessLast() bool {
	for {
		n := f.refs.Load()
		if n <= 1 {
			return false
		}
		if f.refs.CompareAndSwap(n, n-1) {
			return true
		}
	}
}

// errReplaced is why a kept file is not read: it is no longer the file
// at its entry's path.
var errReplaced = errors.New("diskstore: kept file is no longer the entry's")

// readKept reads the n bytes of a kept entry file, with two system calls
// (fstat, pread), if it is still the file at its entry's path: linked
// exactly once, and n bytes long. Entry files are never changed in place,
// only replaced by a rename or removed, and either leaves the file this
// process holds open with no link: so a file linked once is the one at
// the entry's path, unless something other than a diskstore moved it or
// linked it elsewhere. Anything else is errReplaced.
func (f *openFD) readKept(n int64) ([]byte, error) {
	var st syscall.Stat_t
	if err := ignoringEINTR(func() error { return syscall.Fstat(f.fd, &st) }); err != nil {
		return nil, err
	}
	if st.Nlink != 1 || st.Size != n {
		return nil, errReplaced
	}
	buf := make([]byte, n)
	for off := 0; off < len(buf); {
		m, err := syscall.Pread(f.fd, buf[off:], int64(off))
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return nil, err
		case m == 0:
			return nil, io.ErrUnexpectedEOF
		}
		off += m
	}
	return buf, nil
}

func ignoringEINTR(fn func() error) error {
	for {
		if err := fn(); err != syscall.EINTR {
			return err
		}
	}
}

// openRead reads the first n bytes of the file at path with two system
// calls (open without following a link, one read) and returns the file
// open, with one reference, for the index to keep or the caller to
// release. A file shorter than n is io.ErrUnexpectedEOF; one longer is
// read only in part, which the entry's own length field then shows.
// Where the system has it (openNoatime), the file is opened so that
// reading it leaves its access time alone, if this process may (it owns
// the file); otherwise it is opened plainly.
func openRead(path string, n int64) (*openFD, []byte, error) {
	var fd int
	flags := syscall.O_RDONLY | syscall.O_NOFOLLOW | syscall.O_NONBLOCK | syscall.O_CLOEXEC
	noatime := openNoatime != 0
	err := ignoringEINTR(func() (err error) {
		fd, err = syscall.Open(path, flags|openNoatime, 0)
		return err
	})
	if err == syscall.EPERM && noatime {
		noatime = false
		err = ignoringEINTR(func() (err error) {
			fd, err = syscall.Open(path, flags, 0)
			return err
		})
	}
	if err != nil {
		return nil, nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	buf := make([]byte, n)
	for off := 0; off < len(buf); {
		m, err := syscall.Read(fd, buf[off:])
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			_ = syscall.Close(fd)
			return nil, nil, &os.PathError{Op: "read", Path: path, Err: err}
		case m == 0:
			_ = syscall.Close(fd)
			return nil, nil, io.ErrUnexpectedEOF
		}
		off += m
	}
	f := &openFD{fd: fd, noatime: noatime}
	f.refs.Store(1)
	return f, buf, nil
}

// openFileLimit returns the process's limit on open files (the soft
// RLIMIT_NOFILE), or 0 if it cannot be read or is unlimited.
func openFileLimit() int {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Cur > 1<<30 {
		return 0
	}
	return int(lim.Cur)
}
