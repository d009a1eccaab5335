package diskstore

import (
	"crypto/sha256"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestTryGetTakesNoLockHeldAcrossIO: TryGet answers while the key's stripe
// lock and the scan lock, which Set, Delete, eviction and scans hold
// across file system calls, are held.
func TestTryGetTakesNoLockHeldAcrossIO(t *testing.T) {
	s, err := New(t.TempDir(), nil)
	require.NoError(t, err)
	defer s.Close()
	ctx := t.Context()
	require.NoError(t, s.Set(ctx, "k", []byte("v"), 0))
	_, err = s.Get(ctx, "k")
	require.NoError(t, err)
	sum := sha256.Sum256([]byte("k"))
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
