package middleware_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/middleware"
	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/memstore"
	"github.com/stretchr/testify/require"
)

// testTransport returns a transport of the test's own, closed with it.
// Tests use it rather than http.DefaultTransport, whose idle connections
// every httptest.Server.Close closes: a parallel test's server closing
// could break a request of this one that had just picked such a
// connection up ("CloseIdleConnections called").
func testTransport(t *testing.T) *http.Transport {
	t.Helper()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// origin is an httptest.Server that counts the requests it answers and
// answers each with handler (or a default 200, fresh for an hour, with a
// body naming the path).
type origin struct {
	*httptest.Server
	hits    atomic.Int64
	mu      sync.Mutex
	handler http.HandlerFunc
}

func newOrigin(t *testing.T, h http.HandlerFunc) *origin {
	t.Helper()
	o := &origin{handler: h}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.hits.Add(1)
		o.mu.Lock()
		h := o.handler
		o.mu.Unlock()
		if h == nil {
			w.Header().Set("Cache-Control", "max-age=3600")
			io.WriteString(w, "body of "+r.URL.Path)
			return
		}
		h(w, r)
	}))
	t.Cleanup(o.Close)
	return o
}

// clock is a fake clock that tests move by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newMemstore(t *testing.T, c *clock) *memstore.Store[string, *cached.Response] {
	t.Helper()
	s, err := memstore.New[string, *cached.Response](&memstore.Options[*cached.Response]{MaxBytes: 8 << 20, Clock: c.Now})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// get sends a GET through rt, reads the body to EOF and returns it with the
// response.
func get(t *testing.T, rt http.RoundTripper, url string) (*http.Response, string) {
	t.Helper()
	return do(t, rt, mustRequest(t, context.Background(), http.MethodGet, url, nil))
}

func do(t *testing.T, rt http.RoundTripper, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := rt.RoundTrip(req)
	require.NoError(t, err)
	require.NotNil(t, resp.Body)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	return resp, string(b)
}

func mustRequest(t *testing.T, ctx context.Context, method, url string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	require.NoError(t, err)
	return req
}

// mustMW unwraps a middleware constructor's result.
func mustMW(t *testing.T) func(middleware.Middleware, error) middleware.Middleware {
	return func(m middleware.Middleware, err error) middleware.Middleware {
		t.Helper()
		require.NoError(t, err)
		return m
	}
}

// failingStore is a store whose every call fails, standing in for a backend
// that is down.
type failingStore struct{ err error }

func (f failingStore) Get(context.Context, string) (*cached.Response, error) { return nil, f.err }
func (f failingStore) Set(context.Context, string, *cached.Response, time.Duration) error {
	return f.err
}
func (f failingStore) Delete(context.Context, string) error { return f.err }
func (f failingStore) Close() error                         { return nil }

var _ store.Store[string, *cached.Response] = failingStore{}
