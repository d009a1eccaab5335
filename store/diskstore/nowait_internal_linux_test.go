package diskstore

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/store"
)

// TestTryGetReadsOnlyFilesOpenedWithoutAtime: a kept file is opened with
// O_NOATIME where the system has it (a read would otherwise write the
// access time, which may wait for the disk), and TryGet does not read a
// kept file opened without it.
func TestTryGetReadsOnlyFilesOpenedWithoutAtime(t *testing.T) {
	s, sum := keptEntry(t)
	ctx := t.Context()
	_, kept, _ := s.ix.useKept(sum)
	require.NotNil(t, kept)
	defer kept.release()
	require.True(t, kept.noatime, "the store's own file is opened with O_NOATIME")
	_, err := s.TryGet(ctx, "k")
	require.NoError(t, err)

	kept.noatime = false // as another user's file is opened
	_, err = s.TryGet(ctx, "k")
	require.ErrorIs(t, err, store.ErrWouldBlock)
	v, err := s.Get(ctx, "k")
	require.NoError(t, err, "Get reads it")
	require.Equal(t, "v", string(v))
}

// TestTryGetLeavesTheLastCloseToGet: when the index lets go of a kept file
// while TryGet reads it, TryGet does not close it (closing a removed
// file frees its blocks, which may wait for the disk): the next Get does.
func TestTryGetLeavesTheLastCloseToGet(t *testing.T) {
	s, sum := keptEntry(t)
	ctx := t.Context()
	_, kept, _ := s.ix.useKept(sum) // TryGet's reference
	require.NotNil(t, kept)
	require.NoError(t, s.Delete(ctx, "k")) // the index lets go of its own
	require.EqualValues(t, 1, kept.refs.Load())

	s.releaseLater(kept)
	require.EqualValues(t, 1, kept.refs.Load(), "not closed by TryGet")
	require.Len(t, s.orphans, 1)
	_, err := s.Get(ctx, "other")
	require.ErrorIs(t, err, store.ErrNotFound)
	require.EqualValues(t, 0, kept.refs.Load(), "closed by the next Get")
	require.Empty(t, s.orphans)
}
