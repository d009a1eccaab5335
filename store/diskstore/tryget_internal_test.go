package diskstore

import (
	"crypto/sha256"
	"testing"

	"github.com/stretchr/testify/require"
)

// keptEntry returns a new store holding "k", whose file it keeps open
// (a Get read it), and the key's digest.
func keptEntry(t *testing.T) (*Store, *[sha256.Size]byte) {
	t.Helper()
	s, err := New(t.TempDir(), nil)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	require.NoError(t, s.Set(t.Context(), "k", []byte("v"), 0))
	_, err = s.Get(t.Context(), "k")
	require.NoError(t, err)
	sum := sha256.Sum256([]byte("k"))
	return s, &sum
}

// TestTryGetTakesNoLockHeldAcrossIO: TryGet answers while the key's stripe
// lock and the scan lock, which Set, Delete, eviction and scans hold
// across file system calls, are held.
func TestTryGetTakesNoLockHeldAcrossIO(t *testing.T) {
	s, sum := keptEntry(t)
	ctx := t.Context()
	mu := &s.stripes[sum[0]%lockStripes]
	mu.Lock()
	s.scanMu.Lock()
	v, err := s.TryGet(ctx, "k")
	s.scanMu.Unlock()
	mu.Unlock()
	if !readsNowait {
		return
	}
	require.NoError(t, err)
	require.Equal(t, "v", string(v))
}
