package diskstore

import (
	"path/filepath"
	"runtime"
	"testing"
)

// TestLinkCountsReliable: a local directory keeps files open, and one
// whose file system cannot be told does not.
func TestLinkCountsReliable(t *testing.T) {
	if runtime.GOOS != "linux" && runtime.GOOS != "darwin" {
		t.Skip("the file system type is checked on Linux and macOS")
	}
	dir := t.TempDir()
	if !linkCountsReliable(dir) {
		t.Skipf("the test's temporary directory %s is not on a local file system", dir)
	}
	if linkCountsReliable(filepath.Join(dir, "missing")) {
		t.Error("a directory whose file system cannot be told is taken as local")
	}
}
