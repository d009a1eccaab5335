package diskstore

import (
	"crypto/sha256"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/store"
)

// TestTryGetReadsOnlyFilesOpenedWithoutAtime: a kept file is opened with
// O_NOATIME where the system has it (a read would otherwise write the
// access time, which may wait for the disk), and TryGet does not read a
// kept file opened without it.
func TestTryGetReadsOnlyFilesOpenedWithoutAtime(t *testing.T) {
	s, err := New(t.TempDir(), nil)
	require.NoError(t, err)
	defer s.Close()
	ctx := t.Context()
	require.NoError(t, s.Set(ctx, "k", []byte("v"), 0))
	_, err = s.Get(ctx, "k")
	require.NoError(t, err)
	sum := sha256.Sum256([]byte("k"))
	_, kept, ok := s.ix.useKept(&sum)
	require.True(t, ok)
	defer kept.release()
	require.True(t, kept.noatime, "the store's own file is opened with O_NOATIME")
	_, err = s.TryGet(ctx, "k")
	require.NoError(t, err)

	kept.noatime = false // as another user's file is opened
	_, err = s.TryGet(ctx, "k")
	require.ErrorIs(t, err, store.ErrWouldBlock)
	v, err := s.Get(ctx, "k")
	require.NoError(t, err, "Get reads it")
	require.Equal(t, "v", string(v))
}
