package codec_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/codec"
	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/diskstore"
)

// TestMemoOverDiskstore: over diskstore, a hit of an unchanged entry
// returns the value decoded before; an entry another process (another
// Store on the directory) or this store replaced is read and decoded
// again, and one removed is not served.
func TestMemoOverDiskstore(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	open := func() *diskstore.Store {
		ds, err := diskstore.New(dir, nil)
		require.NoError(t, err)
		t.Cleanup(func() { ds.Close() })
		return ds
	}
	a, b := open(), open()
	sa, sb := codec.Bind[string](a, codec.Response()), codec.Bind[string](b, codec.Response())
	g, ok := store.TryGetterOf[string, *cached.Response](sa)
	require.True(t, ok)
	// hit returns what TryGet answers, after a Get that keeps the file open.
	hit := func() *cached.Response {
		t.Helper()
		_, err := sa.Get(ctx, "k")
		require.NoError(t, err)
		v, err := g.TryGet(ctx, "k")
		require.NoError(t, err)
		return v
	}

	require.NoError(t, sa.Set(ctx, "k", response("one"), 0))
	first := hit()
	assert.Equal(t, "one", string(first.Body))
	again, err := g.TryGet(ctx, "k")
	require.NoError(t, err)
	assert.Same(t, first, again, "unchanged: the value decoded before")

	require.NoError(t, sb.Set(ctx, "k", response("two"), 0)) // same size, renamed over
	_, err = g.TryGet(ctx, "k")
	require.ErrorIs(t, err, store.ErrWouldBlock, "replaced by another process: Get's")
	second := hit()
	assert.Equal(t, "two", string(second.Body))

	require.NoError(t, sa.Set(ctx, "k", response("tri"), 0))
	third := hit()
	assert.Equal(t, "tri", string(third.Body))
	assert.NotSame(t, second, third)

	require.NoError(t, sb.Delete(ctx, "k"))
	_, err = g.TryGet(ctx, "k")
	require.ErrorIs(t, err, store.ErrWouldBlock, "removed by another process")
	n, _, _ := codec.MemoLen(g)
	assert.Zero(t, n)
}
