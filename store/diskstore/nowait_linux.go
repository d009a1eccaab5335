package diskstore

import (
	"errors"

	"golang.org/x/sys/unix"

	"github.com/cachestack/cachestack/store"
)

// openNoatime is the flag that opens a file so that reading it never
// updates its access time: an update a read with RWF_NOWAIT still makes,
// and which may wait for the file system's journal, and so for the disk.
const openNoatime = unix.O_NOATIME

// readsNowait reports whether the kernel may be asked to read a file only
// from its page cache (readNowait): here, Linux, with RWF_NOWAIT.
const readsNowait = true

// readNowait reads the n bytes of a kept entry file as readKept does, but
// only if no system call waits for the device: the fstat of the open
// descriptor reads the in-memory inode, and the read is a preadv2 with
// RWF_NOWAIT, which fails with EAGAIN, rather than waiting, if the bytes
// are not all in the page cache. It returns store.ErrWouldBlock if the read
// would wait, or read less than n bytes; errNowaitUnsupported if the
// kernel or the file system refuses RWF_NOWAIT; errReplaced as readKept
// does. A file opened without O_NOATIME (another user's) is not read:
// store.ErrWouldBlock.
func (f *openFD) readNowait(n int64) ([]byte, error) {
	if err := f.stillKept(n); err != nil {
		return nil, err
	}
	buf := make([]byte, n)
	iov := [1][]byte{buf}
	for {
		m, err := unix.Preadv2(f.fd, iov[:], 0, unix.RWF_NOWAIT)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return nil, store.ErrWouldBlock
		case err == unix.EOPNOTSUPP, err == unix.ENOSYS, err == unix.EINVAL:
			return nil, errNowaitUnsupported
		case err != nil:
			return nil, err
		case int64(m) != n:
			return nil, store.ErrWouldBlock // partly cached, or shrank
		}
		return buf, nil
	}
}

// stillKept reports, with an fstat of the open descriptor (which reads
// the in-memory inode, and does not wait for the device), whether f is
// still the file at its entry's path, n bytes long: linked exactly once,
// as readKept checks. Entry files are never changed in place, so such a
// file holds the very bytes it held when it was opened. It returns
// errReplaced if not, and store.ErrWouldBlock for a file opened without
// O_NOATIME (another user's), which is never read without waiting.
func (f *openFD) stillKept(n int64) error {
	if !f.noatime {
		return store.ErrWouldBlock
	}
	var st unix.Stat_t
	for {
		err := unix.Fstat(f.fd, &st)
		if err == nil {
			break
		}
		if err != unix.EINTR {
			return err
		}
	}
	if st.Nlink != 1 || st.Size != n {
		return errReplaced
	}
	return nil
}

// resolveCached is openat2's RESOLVE_CACHED (Linux 5.12), which
// golang.org/x/sys/unix does not name: the path is resolved from the
// kernel's cache of names alone, and the call fails with EAGAIN where that
// would need the file system to read the disk.
const resolveCached = 0x20

// lookupCached reports whether path is absent, learnt from the kernel's
// cache of names without reading the disk: a name removed or looked up
// before, and not created since, is held there as absent. If path is
// present it returns the descriptor its lookup took (an O_PATH one, which
// opens nothing), for the caller to close where it may wait: the last
// close of a file removed meanwhile frees its blocks. absent false, with
// no descriptor: not in that cache; errNowaitUnsupported if the kernel
// cannot do such a lookup (openat2 before Linux 5.6, RESOLVE_CACHED before
// 5.12).
func lookupCached(path string) (absent bool, found *openFD, err error) {
	how := unix.OpenHow{Flags: unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC, Resolve: resolveCached}
	for {
		fd, err := unix.Openat2(unix.AT_FDCWD, path, &how)
		switch {
		case err == nil:
			f := &openFD{fd: fd}
			f.refs.Store(1)
			return false, f, nil
		case err == unix.EINTR:
			continue
		case err == unix.ENOENT:
			return true, nil, nil
		case errors.Is(err, unix.ENOSYS), errors.Is(err, unix.EINVAL), errors.Is(err, unix.E2BIG):
			return false, nil, errNowaitUnsupported
		}
		return false, nil, nil // EAGAIN: not in the cache; anything else is Get's
	}
}
