//go:build !unix

package diskstore

import (
	"errors"
	"io"
	"os"
)

var errNotRegular = errors.New("not a regular file")

// openFile opens path for reading if it is a regular file. Here, unlike on
// Unix, a symbolic link cannot be refused at open, so it is refused by an
// Lstat just before; callers check what they opened with Stat too.
func openFile(path string) (*os.File, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &os.PathError{Op: "open", Path: path, Err: errNotRegular}
	}
	return os.Open(path)
}

// fileID returns 0: here a file's identity is not tracked, and a file is
// taken to be unchanged if its size is.
func fileID(os.FileInfo) uint64 { return 0 }

// readExact reads the first n bytes of the file at path, which must be a
// regular file: the hit path for an entry whose size the index knows.
func readExact(path string, n int64) ([]byte, error) {
	f, err := openFile(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, n)
	if _, err := io.ReadFull(f, buf); err != nil {
		return nil, err
	}
	return buf, nil
}
