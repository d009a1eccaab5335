package diskstore_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/diskstore"
)

// keepsOpen reports whether this platform keeps entry files open (Unix).
func keepsOpen(t *testing.T) {
	t.Helper()
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" || runtime.GOOS == "js" || runtime.GOOS == "wasip1" {
		t.Skip("entry files are kept open only on Unix")
	}
}

// processFDs returns how many files the process has open, or -1 where
// that cannot be told (no /proc/self/fd).
func processFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents) - 1 // the directory ReadDir itself had open
}

// TestKeptFileFollowsWrites: a Get keeps the entry's file open, and every
// change this process makes to the entry (Set, Delete) lets that file go,
// so that no later Get reads the old one.
func TestKeptFileFollowsWrites(t *testing.T) {
	keepsOpen(t)
	t.Parallel()
	s := open(t, t.TempDir(), nil)
	ctx := t.Context()
	v1, v2 := bytes.Repeat([]byte("a"), 1000), bytes.Repeat([]byte("b"), 1000) // the same size
	require.NoError(t, s.Set(ctx, "k", v1, 0))
	assert.Equal(t, 0, diskstore.OpenFiles(s), "a Set keeps nothing open")
	for range 2 { // opens, then reads the kept file
		v, err := s.Get(ctx, "k")
		require.NoError(t, err)
		requireBytes(t, v1, v)
		require.Equal(t, 1, diskstore.OpenFiles(s))
	}

	require.NoError(t, s.Set(ctx, "k", v2, 0))
	assert.Equal(t, 0, diskstore.OpenFiles(s), "Set lets the replaced file go")
	v, err := s.Get(ctx, "k")
	require.NoError(t, err)
	requireBytes(t, v2, v)
	require.Equal(t, 1, diskstore.OpenFiles(s))

	require.NoError(t, s.Delete(ctx, "k"))
	assert.Equal(t, 0, diskstore.OpenFiles(s), "Delete lets the file go")
	_, err = s.Get(ctx, "k")
	require.ErrorIs(t, err, store.ErrNotFound)

	require.NoError(t, s.Set(ctx, "k", v1, 0))
	_, err = s.Get(ctx, "k")
	require.NoError(t, err)
	require.NoError(t, s.Clear(ctx))
	assert.Equal(t, 0, diskstore.OpenFiles(s), "Clear lets the file go")
	_, err = s.Get(ctx, "k")
	require.ErrorIs(t, err, store.ErrNotFound)
}

// TestKeptFileReplacedElsewhere: another store on the directory (another
// process) replaces or removes an entry whose file this store keeps open;
// this store's next Get sees the change, never the file it holds.
func TestKeptFileReplacedElsewhere(t *testing.T) {
	keepsOpen(t)
	t.Parallel()
	dir := t.TempDir()
	a, b := open(t, dir, nil), open(t, dir, nil)
	ctx := t.Context()
	v1, v2, v3 := bytes.Repeat([]byte("a"), 1000), bytes.Repeat([]byte("b"), 1000), bytes.Repeat([]byte("c"), 2000)
	require.NoError(t, a.Set(ctx, "k", v1, 0))
	for range 2 {
		v, err := a.Get(ctx, "k")
		require.NoError(t, err)
		requireBytes(t, v1, v)
	}
	require.Equal(t, 1, diskstore.OpenFiles(a))

	require.NoError(t, b.Set(ctx, "k", v2, 0)) // same size, renamed over it
	v, err := a.Get(ctx, "k")
	require.NoError(t, err)
	requireBytes(t, v2, v, "a Get reads the file at the entry's path, not the one replaced")
	require.Equal(t, 1, diskstore.OpenFiles(a), "and keeps the new one")
	v, err = a.Get(ctx, "k")
	require.NoError(t, err)
	requireBytes(t, v2, v)

	require.NoError(t, b.Set(ctx, "k", v3, 0)) // another size
	v, err = a.Get(ctx, "k")
	require.NoError(t, err)
	requireBytes(t, v3, v)

	require.NoError(t, b.Delete(ctx, "k"))
	_, err = a.Get(ctx, "k")
	require.ErrorIs(t, err, store.ErrNotFound, "a file another store removed is a miss")
	assert.Equal(t, 0, diskstore.OpenFiles(a))
}

// TestKeptFilesBounded: a store keeps at most MaxOpenFiles files open, the
// most recently read; eviction and Close close them, and -1 keeps none.
func TestKeptFilesBounded(t *testing.T) {
	keepsOpen(t)
	// Not parallel: it counts the process's open files.
	ctx := t.Context()
	const entry = 36 + 3 + 1000
	base := processFDs(t)
	s, err := diskstore.New(t.TempDir(), &diskstore.Options{MaxBytes: 8 * entry, MaxOpenFiles: 3})
	require.NoError(t, err)
	key := func(i int) string { return fmt.Sprintf("k%02d", i) }
	for i := range 8 {
		require.NoError(t, s.Set(ctx, key(i), bytes.Repeat([]byte{byte(i)}, 1000), 0))
	}
	for i := range 8 {
		_, err := s.Get(ctx, key(i))
		require.NoError(t, err)
		require.Equal(t, min(i+1, 3), diskstore.OpenFiles(s))
	}
	if base >= 0 {
		assert.Equal(t, base+3, processFDs(t), "three entry files open, no more")
	}
	// k5, k6, k7 are open; three new entries evict k0..k2 (not open),
	// then k3..k5, which closes k5.
	for i := 8; i < 14; i++ {
		require.NoError(t, s.Set(ctx, key(i), bytes.Repeat([]byte{byte(i)}, 1000), 0))
	}
	_, err = s.Get(ctx, key(5))
	require.ErrorIs(t, err, store.ErrNotFound)
	assert.Equal(t, 2, diskstore.OpenFiles(s), "eviction closed k5's file")
	if base >= 0 {
		assert.Equal(t, base+2, processFDs(t))
	}
	require.NoError(t, s.Close())
	assert.Equal(t, 0, diskstore.OpenFiles(s))
	if base >= 0 {
		assert.Equal(t, base, processFDs(t), "Close closes every file the store kept")
	}

	none, err := diskstore.New(t.TempDir(), &diskstore.Options{MaxOpenFiles: -1})
	require.NoError(t, err)
	defer none.Close()
	require.NoError(t, none.Set(ctx, "k", []byte("v"), 0))
	for range 2 {
		v, err := none.Get(ctx, "k")
		require.NoError(t, err)
		require.Equal(t, []byte("v"), v)
	}
	assert.Equal(t, 0, diskstore.OpenFiles(none))
}

func TestMaxOpenFilesOption(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		give    int
		wantErr string
	}{
		{name: "Default", give: 0},
		{name: "None", give: -1},
		{name: "Some", give: 16},
		{name: "Negative", give: -2, wantErr: "diskstore: Options.MaxOpenFiles is -2, want >= 0, or -1 for none"},
		{name: "OverLimit", give: 1 << 40, wantErr: "diskstore: Options.MaxOpenFiles is 1099511627776, more than half the process's limit on open files"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.name == "OverLimit" {
				keepsOpen(t)
			}
			s, err := diskstore.New(t.TempDir(), &diskstore.Options{MaxOpenFiles: tt.give})
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.NoError(t, s.Close())
		})
	}
}

// TestKeptFilesConcurrent has readers, writers, deleters and finally Close
// at work on a few keys with fewer files kept open than keys, so that
// files are kept, replaced and closed under reads: every Get returns a
// miss, ErrClosed or one complete value a writer wrote for that key.
func TestKeptFilesConcurrent(t *testing.T) {
	t.Parallel()
	s, err := diskstore.New(t.TempDir(), &diskstore.Options{MaxOpenFiles: 2, MaxBytes: 64 << 10})
	require.NoError(t, err)
	ctx := t.Context()
	const keys, writes = 4, 200
	value := func(k, n int) []byte {
		b := bytes.Repeat([]byte{byte(k*50 + n)}, 512+n%3*100)
		binary.LittleEndian.PutUint32(b, uint32(k))
		binary.LittleEndian.PutUint32(b[4:], uint32(n))
		return b
	}
	check := func(k int, v []byte) error {
		if len(v) < 8 {
			return fmt.Errorf("key %d: %d bytes", k, len(v))
		}
		gk, n := int(binary.LittleEndian.Uint32(v)), int(binary.LittleEndian.Uint32(v[4:]))
		if gk != k || n >= writes || !bytes.Equal(v, value(k, n)) {
			return fmt.Errorf("key %d: not a value written for it (key %d, write %d, %d bytes)", k, gk, n, len(v))
		}
		return nil
	}
	var (
		wg      sync.WaitGroup
		writers sync.WaitGroup
	)
	for k := range keys {
		writers.Go(func() {
			for n := range writes {
				if err := s.Set(ctx, fmt.Sprint(k), value(k, n), 0); err != nil {
					t.Error(err)
					return
				}
				if n%17 == 0 {
					if err := s.Delete(ctx, fmt.Sprint(k)); err != nil {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	stop := make(chan struct{})
	for r := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k := (i + r) % keys
				v, err := s.Get(ctx, fmt.Sprint(k))
				switch {
				case errors.Is(err, store.ErrNotFound):
				case errors.Is(err, store.ErrClosed):
					return
				case err != nil:
					t.Error(err)
					return
				default:
					if err := check(k, v); err != nil {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	writers.Wait()
	require.NoError(t, s.Close())
	close(stop)
	wg.Wait()
	assert.Equal(t, 0, diskstore.OpenFiles(s))
}

// requireBytes fails t unless got is want, without printing either.
func requireBytes(t *testing.T, want, got []byte, msgAndArgs ...any) {
	t.Helper()
	if !bytes.Equal(want, got) {
		msg := fmt.Sprintf("got %d bytes starting %q, want %d bytes starting %q", len(got), got[:min(len(got), 8)], len(want), want[:min(len(want), 8)])
		require.Fail(t, msg, msgAndArgs...)
	}
}
