//go:build unix

package diskstore

import (
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
