//go:build unix

package diskstore_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// plantFIFOs puts a FIFO at an entry's path and a temporary file's,
// which a reader that opened them plainly would block on, and returns the
// key of the former.
func plantFIFOs(t *testing.T, dir string) []string {
	t.Helper()
	p := filepath.Join(dir, entryRel("fifo"))
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o700))
	require.NoError(t, syscall.Mkfifo(p, 0o600))
	require.NoError(t, syscall.Mkfifo(filepath.Join(filepath.Dir(p), ".tmp-4242"), 0o600))
	return []string{"fifo"}
}
