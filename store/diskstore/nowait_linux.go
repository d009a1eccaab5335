package diskstore

import (
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
	if !f.noatime {
		return nil, store.ErrWouldBlock
	}
	var st unix.Stat_t
	for {
		err := unix.Fstat(f.fd, &st)
		if err == nil {
			break
		}
		if err != unix.EINTR {
			return nil, err
		}
	}
	if st.Nlink != 1 || st.Size != n {
		return nil, errReplaced
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
