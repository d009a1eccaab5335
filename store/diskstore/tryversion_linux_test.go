package diskstore_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/diskstore"
	"github.com/cachestack/cachestack/store/storetest"
)

// keptVersion has s keep key's file open (a Get), and returns the Version
// TryGetVersion names it by, having checked the value it read.
func keptVersion(t *testing.T, s *diskstore.Store, key string, want []byte) store.Version {
	t.Helper()
	ctx := t.Context()
	v, err := s.Get(ctx, key)
	require.NoError(t, err)
	requireBytes(t, want, v)
	v, ver, err := s.TryGetVersion(ctx, key, 0)
	require.NoError(t, err)
	requireBytes(t, want, v)
	require.NotZero(t, ver)
	return ver
}

// requireNotUnchanged: TryGetVersion with have does not answer that key's
// entry is unchanged; it returns what it answers instead.
func requireNotUnchanged(t *testing.T, s *diskstore.Store, key string, have store.Version, msg string) ([]byte, store.Version, error) {
	t.Helper()
	v, ver, err := s.TryGetVersion(t.Context(), key, have)
	require.NotErrorIs(t, err, store.ErrUnchanged, msg)
	require.NotEqual(t, have, ver, msg)
	return v, ver, err
}

// TestTryGetVersionUnchanged: the version of a kept file is the same from
// one hit to the next, and names it alone: with it TryGetVersion answers
// ErrUnchanged without reading; with any other, it reads.
func TestTryGetVersionUnchanged(t *testing.T) {
	t.Parallel()
	s := open(t, t.TempDir(), nil)
	ctx := t.Context()
	require.NoError(t, s.Set(ctx, "k", []byte("value"), 0))
	ver := keptVersion(t, s, "k", []byte("value"))
	for range 3 {
		v, got, err := s.TryGetVersion(ctx, "k", ver)
		require.ErrorIs(t, err, store.ErrUnchanged)
		require.Nil(t, v)
		require.Equal(t, ver, got)
		v, got, err = s.TryGetVersion(ctx, "k", 0)
		require.NoError(t, err)
		requireBytes(t, []byte("value"), v)
		require.Equal(t, ver, got, "the version is stable across hits")
	}
	v, got, err := s.TryGetVersion(ctx, "k", ver+1)
	require.NoError(t, err, "another version")
	requireBytes(t, []byte("value"), v)
	require.Equal(t, ver, got)
	_, _, err = s.TryGetVersion(ctx, "other", ver)
	require.NotErrorIs(t, err, store.ErrUnchanged, "another key")
}

// TestTryGetVersionAnotherProcess: once another process (another Store on
// the directory) renames a new file of the same size over the entry, or
// removes it, the version of the file kept open is no longer unchanged.
func TestTryGetVersionAnotherProcess(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, b := open(t, dir, nil), open(t, dir, nil)
	ctx := t.Context()
	v1, v2 := bytes.Repeat([]byte("a"), 1000), bytes.Repeat([]byte("b"), 1000) // the same size
	require.NoError(t, a.Set(ctx, "k", v1, 0))
	ver1 := keptVersion(t, a, "k", v1)

	require.NoError(t, b.Set(ctx, "k", v2, 0))
	_, _, err := requireNotUnchanged(t, a, "k", ver1, "renamed over")
	require.ErrorIs(t, err, store.ErrWouldBlock)
	ver2 := keptVersion(t, a, "k", v2)
	require.NotEqual(t, ver1, ver2)
	_, _, err = a.TryGetVersion(ctx, "k", ver2)
	require.ErrorIs(t, err, store.ErrUnchanged)

	require.NoError(t, b.Delete(ctx, "k"))
	_, _, err = requireNotUnchanged(t, a, "k", ver2, "removed")
	require.ErrorIs(t, err, store.ErrWouldBlock)
	_, err = a.Get(ctx, "k")
	require.ErrorIs(t, err, store.ErrNotFound)
}

// TestTryGetVersionThisStoreChanges: this store's own Set and Delete end
// the version of the file it kept.
func TestTryGetVersionThisStoreChanges(t *testing.T) {
	t.Parallel()
	s := open(t, t.TempDir(), nil)
	ctx := t.Context()
	v1, v2 := bytes.Repeat([]byte("a"), 100), bytes.Repeat([]byte("b"), 100)
	require.NoError(t, s.Set(ctx, "k", v1, 0))
	ver1 := keptVersion(t, s, "k", v1)

	require.NoError(t, s.Set(ctx, "k", v2, 0))
	requireNotUnchanged(t, s, "k", ver1, "after Set")
	ver2 := keptVersion(t, s, "k", v2)
	require.NotEqual(t, ver1, ver2)

	require.NoError(t, s.Delete(ctx, "k"))
	_, _, err := requireNotUnchanged(t, s, "k", ver2, "after Delete")
	require.Error(t, err)
}

// TestTryGetVersionExpired: an expired entry is not answered, whatever
// the version.
func TestTryGetVersionExpired(t *testing.T) {
	t.Parallel()
	clk := storetest.NewClock()
	s := open(t, t.TempDir(), &diskstore.Options{Clock: clk.Now})
	ctx := t.Context()
	require.NoError(t, s.Set(ctx, "k", []byte("v"), 30*time.Second))
	ver := keptVersion(t, s, "k", []byte("v"))
	clk.Advance(29 * time.Second)
	_, _, err := s.TryGetVersion(ctx, "k", ver)
	require.ErrorIs(t, err, store.ErrUnchanged)
	clk.Advance(time.Second)
	_, _, err = requireNotUnchanged(t, s, "k", ver, "expired")
	require.ErrorIs(t, err, store.ErrWouldBlock)
	_, err = s.Get(ctx, "k")
	require.ErrorIs(t, err, store.ErrNotFound)
}

// TestTryGetVersionNeverReused: a file let go from the open files and
// opened again, the same bytes, gets a version no file had before.
func TestTryGetVersionNeverReused(t *testing.T) {
	t.Parallel()
	s := open(t, t.TempDir(), &diskstore.Options{MaxOpenFiles: 1})
	ctx := t.Context()
	require.NoError(t, s.Set(ctx, "a", []byte("1"), 0))
	require.NoError(t, s.Set(ctx, "b", []byte("2"), 0))
	seen := map[store.Version]string{}
	var last store.Version
	for i := range 4 {
		for _, k := range []string{"a", "b"} {
			var want []byte
			if k == "a" {
				want = []byte("1")
			} else {
				want = []byte("2")
			}
			ver := keptVersion(t, s, k, want) // evicts the other key's file
			require.Equal(t, 1, diskstore.OpenFiles(s))
			_, dup := seen[ver]
			require.False(t, dup, "round %d, key %s: version %d reused", i, k, ver)
			seen[ver], last = k, ver
		}
	}
	delete(seen, last) // the file kept open now
	for ver, k := range seen {
		requireNotUnchanged(t, s, k, ver, "an evicted file's version")
	}
}
