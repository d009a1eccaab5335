package cachestack_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack"
	"github.com/cachestack/cachestack/codec"
	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/memstore"
)

// lender is an in-memory byte store that lends the slices it holds
// (store.Viewer) and remembers each one it lent with a copy of what it
// held then, so that a test can check nobody wrote into them.
type lender struct {
	*memstore.Store[string, []byte]
	mu   sync.Mutex
	lent [][2][]byte // the slice lent, and its contents when lent
}

func (l *lender) View(ctx context.Context, key string) ([]byte, error) {
	b, err := l.Store.View(ctx, key)
	if err == nil {
		l.mu.Lock()
		l.lent = append(l.lent, [2][]byte{b, bytes.Clone(b)})
		l.mu.Unlock()
	}
	return b, err
}

// changed returns how many slices were lent, and how many of them have
// changed since.
func (l *lender) changed() (lent, changed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, p := range l.lent {
		if !bytes.Equal(p[0], p[1]) {
			changed++
		}
	}
	return len(l.lent), changed
}

// TestCacheNeverWritesLentBytes: over a byte store that lends its own
// bytes, as memstore over []byte does through codec.Bind, the cache serves
// fresh hits, ranges, HEADs and 304 refreshes (which store the refreshed
// entry again) without writing into any of the bytes it was lent: they
// are shared with the store and with every other request.
func TestCacheNeverWritesLentBytes(t *testing.T) {
	t.Parallel()
	ms, err := memstore.New[string, []byte](nil)
	require.NoError(t, err)
	l := &lender{Store: ms}
	body := strings.Repeat("0123456789abcdef", 1<<10) // 16 KiB
	var notModified atomic.Int64
	srv, _ := countingOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Vary", "Accept-Encoding")
		w.Header().Set("ETag", `"v1"`)
		switch r.URL.Path {
		case "/fresh":
			w.Header().Set("Cache-Control", "max-age=60")
		case "/revalidated":
			w.Header().Set("Cache-Control", "no-cache")
			if r.Header.Get("If-None-Match") == `"v1"` {
				notModified.Add(1)
				w.WriteHeader(http.StatusNotModified)
				return
			}
		}
		w.Write([]byte(body))
	})
	c := newCache(t, &cachestack.Options{Store: codec.Bind[string](l, codec.Response())})
	client := c.Client()

	for _, path := range []string{"/fresh", "/revalidated"} {
		for range 3 {
			resp, got := get(t, client, srv.URL+path)
			require.Equal(t, http.StatusOK, resp.StatusCode, path)
			require.Equal(t, body, got, path)
		}
		resp, got := get(t, client, srv.URL+path, "Range", "bytes=2-5")
		require.Equal(t, http.StatusPartialContent, resp.StatusCode, path)
		require.Equal(t, body[2:6], got, path)
		req, err := http.NewRequest(http.MethodHead, srv.URL+path, nil)
		require.NoError(t, err)
		resp, err = client.Do(req)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
	}
	require.GreaterOrEqual(t, notModified.Load(), int64(3), "the origin answered fewer revalidations with 304 than expected")

	lent, changed := l.changed()
	require.Positive(t, lent, "the cache never read through View: codec.Bind copies every hit")
	assert.Zero(t, changed, "the cache wrote into %d of the %d slices the store lent", changed, lent)
}

var _ store.Viewer[string, []byte] = (*lender)(nil)
