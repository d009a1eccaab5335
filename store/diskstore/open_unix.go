//go:build unix

package diskstore

import (
	"io"
	"os"
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

// readExact reads the first n bytes of the file at path with three system
// calls (open without following a link, one read, close) and no
// os.File: the hit path for an entry whose size the index knows. A file
// shorter than n is io.ErrUnexpectedEOF; one longer is read only in part,
// which the entry's own length field then shows.
func readExact(path string, n int64) ([]byte, error) {
	var fd int
	var err error
	for {
		fd, err = syscall.Open(path, syscall.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer syscall.Close(fd)
	buf := make([]byte, n)
	for off := 0; off < len(buf); {
		m, err := syscall.Read(fd, buf[off:])
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return nil, &os.PathError{Op: "read", Path: path, Err: err}
		case m == 0:
			return nil, io.ErrUnexpectedEOF
		}
		off += m
	}
	return buf, nil
}
