package seal_test

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack"
	"github.com/cachestack/cachestack/codec"
	"github.com/cachestack/cachestack/seal"
	"github.com/cachestack/cachestack/store/diskstore"
)

// TestCacheOverSealedDisk runs the drop-in cache over a sealed diskstore
// against a real origin: the second request is a hit, nothing of the
// response is in clear on disk, and an entry tampered with on disk is a
// miss, counted, and fetched again.
func TestCacheOverSealedDisk(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("X-Account", planted)
		_, _ = io.WriteString(w, `{"balance":"`+planted+`"}`)
	}))
	defer origin.Close()
	transport := &http.Transport{}
	defer transport.CloseIdleConnections()

	dir := t.TempDir()
	disk, err := diskstore.New(dir, nil)
	require.NoError(t, err)
	sealer := newSealer(t, testKey(0))
	st := codec.Bind(seal.Wrap(disk, sealer), codec.Response())
	defer func() { require.NoError(t, st.Close()) }()
	var logged bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logged, nil))
	c, err := cachestack.New(&cachestack.Options{Store: st, Transport: transport, Logger: logger})
	require.NoError(t, err)
	defer func() { require.NoError(t, c.Close()) }()
	client := c.Client()

	get := func() string {
		t.Helper()
		resp, err := client.Get(origin.URL + "/account")
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, planted, resp.Header.Get("X-Account"))
		// Writes to a disk store are made in the background; what
		// follows reads the store itself.
		require.NoError(t, c.Flush(context.Background()))
		return string(b)
	}
	want := `{"balance":"` + planted + `"}`
	require.Equal(t, want, get())
	require.Equal(t, want, get())
	require.EqualValues(t, 1, calls.Load(), "the second request is a hit")
	require.EqualValues(t, 1, c.Counters().Hits.Load())
	require.Equal(t, seal.Stats{Sealed: 1, Opened: 1}, sealer.Stats())

	files := entryFiles(t, dir)
	require.NotEmpty(t, files)
	for path, b := range files {
		require.NotContains(t, string(b), planted, "%s holds the planted secret in clear", path)
		require.NotContains(t, string(b), "/account", "%s holds the URL in clear", path)
	}

	// Someone who writes the directory flips a byte of each entry's
	// value, in diskstore's own format (its checksum would catch a raw
	// flip of the file): the next lookup is a miss, counted as corrupt,
	// and the origin is asked again.
	ctx := context.Background()
	n := 0
	for k, err := range disk.Keys(ctx) {
		require.NoError(t, err)
		v, err := disk.Get(ctx, k)
		require.NoError(t, err)
		v[len(v)-1] ^= 1
		require.NoError(t, disk.Set(ctx, k, v, 0))
		n++
	}
	require.Equal(t, 1, n)
	require.Equal(t, want, get())
	require.EqualValues(t, 2, calls.Load(), "a tampered entry is a miss")
	require.EqualValues(t, 1, c.Counters().Corrupt.Load())
	require.EqualValues(t, 1, sealer.Stats().Rejected)
	require.Contains(t, logged.String(), "seal: entry fails authentication")
	require.NotContains(t, logged.String(), planted)
	require.Equal(t, want, get())
	require.EqualValues(t, 2, calls.Load(), "the entry fetched again is a hit")
}

// entryFiles returns the contents of every regular file under dir.
func entryFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(path)
		if err == nil && len(b) > 0 && !bytes.HasPrefix([]byte(e.Name()), []byte(".")) {
			files[path] = b
		}
		return err
	})
	require.NoError(t, err)
	return files
}
