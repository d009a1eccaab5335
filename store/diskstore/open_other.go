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

// openFD is an entry file kept open: never, here (keepsOpen is false).
type openFD struct {
	seq     uint64 // never set here: no file is kept
	expires int64
}

// keepsOpen is false here: on Windows an open file stops another process
// from renaming over it, which is how Set replaces an entry.
const keepsOpen = false

func (f *openFD) acquire() {}
func (f *openFD) release() {}

func (f *openFD) releaseUnlessLast() bool { return true }

var errReplaced = errors.New("diskstore: kept file is no longer the entry's")

func (f *openFD) readKept(int64) ([]byte, error) { return nil, errReplaced }

// openRead reads the first n bytes of the file at path, which must be a
// regular file, and closes it: the hit path for an entry whose size the
// index knows. It returns no open file.
func openRead(path string, n int64) (*openFD, []byte, error) {
	f, err := openFile(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	buf := make([]byte, n)
	if _, err := io.ReadFull(f, buf); err != nil {
		return nil, nil, err
	}
	return nil, buf, nil
}

// openFileLimit returns 0: not known here.
func openFileLimit() int { return 0 }
