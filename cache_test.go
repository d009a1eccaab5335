package cachestack_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachestack/cachestack"
	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/middleware"
	"github.com/cachestack/cachestack/policy"
	"github.com/cachestack/cachestack/store"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// countingOrigin answers every path with its name and counts requests.
func countingOrigin(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		if h != nil {
			h(w, r)
			return
		}
		io.WriteString(w, "body of "+r.URL.Path)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// newCache is cachestack.New, over a transport of the test's own unless o
// names one: http.DefaultTransport's idle connections are closed by every
// httptest.Server.Close, which could break a parallel test's request.
func newCache(t *testing.T, o *cachestack.Options) *cachestack.Cache {
	t.Helper()
	var opts cachestack.Options
	if o != nil {
		opts = *o
	}
	if opts.Transport == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		t.Cleanup(tr.CloseIdleConnections)
		opts.Transport = tr
	}
	c, err := cachestack.New(&opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, c.Close()) })
	return c
}

func getBody(t *testing.T, client *http.Client, url string) *http.Response {
	t.Helper()
	resp, err := client.Get(url)
	require.NoError(t, err)
	_, err = io.Copy(io.Discard, resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	return resp
}

func TestNewRejectsBadOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		give cachestack.Options
		want string
	}{
		// Each error names the option as the caller wrote it.
		{"malformed glob", cachestack.Options{URLExpiry: []policy.URLExpiry{{Pattern: "a/[b", Expiry: policy.Never()}}}, `cachestack: Options.URLExpiry: policy: URL pattern 0 "a/[b": missing ]`},
		{"regexp for a glob", cachestack.Options{URLExpiry: []policy.URLExpiry{{Pattern: `^https://api\.x\.com/`, Expiry: policy.Never()}}}, `Options.URLExpiry: policy: URL pattern 0 "^https://api\\.x\\.com/": looks like a regular expression`},
		{"negative expiry", cachestack.Options{ExpireAfter: policy.After(-time.Second)}, "cachestack: Options.ExpireAfter: "},
		{"negative body size", cachestack.Options{MaxBodyBytes: -1}, "cachestack: Options.MaxBodyBytes is -1, want >= 0"},
		{"negative keep stale", cachestack.Options{KeepStale: -time.Second}, "cachestack: Options.KeepStale is -1s, want >= 0"},
		{"negative stale if error", cachestack.Options{StaleIfError: -time.Second}, "cachestack: Options.StaleIfError is -1s"},
		{"bad method", cachestack.Options{AllowedMethods: []string{""}}, `cachestack: Options.AllowedMethods: policy: invalid HTTP method ""`},
		{"lower-case method", cachestack.Options{AllowedMethods: []string{"get"}}, `cachestack: Options.AllowedMethods: policy: HTTP method "get" would never match`},
		{"no methods", cachestack.Options{AllowedMethods: []string{}}, "cachestack: Options.AllowedMethods: empty"},
		{"bad code", cachestack.Options{AllowedCodes: []int{42}}, "cachestack: Options.AllowedCodes: policy: invalid status code 42"},
		{"no codes", cachestack.Options{AllowedCodes: []int{}}, "cachestack: Options.AllowedCodes: empty"},
		{"bad header", cachestack.Options{IncludeHeaders: []string{"a b"}}, `cachestack: Options.IncludeHeaders[0] is "a b", not a valid header field name`},
		{"empty ignored param", cachestack.Options{IgnoredParams: []string{"x", ""}}, "cachestack: Options.IgnoredParams[1] is empty"},
		{"header also ignored", cachestack.Options{IncludeHeaders: []string{"X-Token"}, IgnoredParams: []string{"x-token"}}, `cachestack: Options.IncludeHeaders[0] is "X-Token", which is also in Options.IgnoredParams`},
		{"negative get timeout", cachestack.Options{GetTimeout: -time.Millisecond}, "cachestack: Options.GetTimeout is -1ms, want >= 0"},
		{"negative write queue", cachestack.Options{WriteQueue: -1}, "cachestack: Options.WriteQueue is -1, want >= 0"},
		{"breaker back-off cap under its start", cachestack.Options{Breaker: &middleware.BreakerOptions{OpenFor: time.Minute, MaxOpenFor: time.Second}}, "cachestack: Options.Breaker is"},
		{"heuristic when header-blind", cachestack.Options{IgnoreCacheControl: true, Heuristic: &policy.Heuristic{}}, "cachestack: Options.Heuristic has no effect with Options.IgnoreCacheControl"},
		{"no stale when unreachable, header-blind", cachestack.Options{IgnoreCacheControl: true, NoStaleWhenUnreachable: true}, "cachestack: Options.NoStaleWhenUnreachable has no effect with Options.IgnoreCacheControl"},
		{"reuse POST, header-blind", cachestack.Options{IgnoreCacheControl: true, ReusePOSTResponses: true}, "cachestack: Options.ReusePOSTResponses has no effect with Options.IgnoreCacheControl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := cachestack.New(&tt.give)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestOperations(t *testing.T) {
	t.Parallel()
	origin, hits := countingOrigin(t, nil)
	clock := &testClock{now: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	c := newCache(t, &cachestack.Options{ExpireAfter: policy.After(time.Hour), KeepStale: 24 * time.Hour, Clock: clock.Now})
	client := c.Client()
	ctx := context.Background()

	for _, p := range []string{"/a", "/b", "/c"} {
		getBody(t, client, origin.URL+p)
	}
	has, err := c.HasURL(ctx, "", origin.URL+"/a")
	require.NoError(t, err)
	assert.True(t, has)
	has, err = c.HasURL(ctx, http.MethodHead, origin.URL+"/a")
	require.NoError(t, err)
	assert.False(t, has, "keys include the method")

	var urls []string
	for u, err := range c.URLs(ctx) {
		require.NoError(t, err)
		urls = append(urls, u)
	}
	assert.ElementsMatch(t, []string{origin.URL + "/a", origin.URL + "/b", origin.URL + "/c"}, urls)

	require.NoError(t, c.DeleteURL(ctx, http.MethodGet, origin.URL+"/a"))
	clock.Advance(30 * time.Minute)
	getBody(t, client, origin.URL+"/a")
	assert.Equal(t, int64(4), hits.Load(), "a deleted URL is fetched again")

	n, err := c.ResetExpiry(ctx, policy.After(10*time.Minute))
	require.NoError(t, err)
	assert.Equal(t, 2, n, "/b and /c were stored 30 minutes ago: 10 minutes makes them expired")
	resp := getBody(t, client, origin.URL+"/a")
	assert.True(t, cachestack.InfoOf(resp).FromCache, "/a was stored just now and stays fresh")
	assert.Equal(t, clock.Now().Add(10*time.Minute), cachestack.InfoOf(resp).Expires)

	clock.Advance(11 * time.Minute)
	n, err = c.DeleteExpired(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, n)

	require.NoError(t, c.Clear(ctx))
	for range c.URLs(ctx) {
		t.Fatal("Clear left entries behind")
	}
}

// bareStore is a store without listing or clearing.
type bareStore struct{ m sync.Map }

func (s *bareStore) Get(_ context.Context, k string) (*cached.Response, error) {
	if v, ok := s.m.Load(k); ok {
		return v.(*cached.Response), nil
	}
	return nil, store.ErrNotFound
}
func (s *bareStore) Set(_ context.Context, k string, v *cached.Response, _ time.Duration) error {
	s.m.Store(k, v)
	return nil
}
func (s *bareStore) Delete(_ context.Context, k string) error { s.m.Delete(k); return nil }
func (s *bareStore) Close() error                             { return nil }

func TestListingNeedsALister(t *testing.T) {
	t.Parallel()
	c := newCache(t, &cachestack.Options{Store: &bareStore{}})
	for _, err := range c.URLs(context.Background()) {
		assert.ErrorIs(t, err, errors.ErrUnsupported)
	}
	assert.ErrorIs(t, c.Clear(context.Background()), errors.ErrUnsupported)
}

func TestDisabledScope(t *testing.T) {
	t.Parallel()
	origin, hits := countingOrigin(t, nil)
	c := newCache(t, nil)
	ctx := cachestack.Disable(context.Background())
	for range 3 {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, origin.URL, nil)
		resp, err := c.Client().Do(req)
		require.NoError(t, err)
		resp.Body.Close()
	}
	assert.Equal(t, int64(3), hits.Load())
}

func TestDefaultModeAndRedirectsThroughTheDropIn(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	var hits atomic.Int64
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch r.URL.Path {
		case "/old":
			http.Redirect(w, r, "/new", http.StatusMovedPermanently)
		case "/new":
			w.Header().Set("Cache-Control", "max-age=60")
			io.WriteString(w, "new")
		case "/no-store":
			w.Header().Set("Cache-Control", "no-store")
			io.WriteString(w, "x")
		}
	}))
	transport := &http.Transport{}
	c, err := cachestack.New(&cachestack.Options{Coalesce: true, Transport: transport})
	require.NoError(t, err)
	client := c.Client()

	getBody(t, client, origin.URL+"/old")
	resp := getBody(t, client, origin.URL+"/old")
	assert.True(t, cachestack.InfoOf(resp).FromCache)
	assert.Equal(t, int64(2), hits.Load(), "the second request for /old needs no round trip")
	var redirects []cachestack.Redirect
	for r, err := range c.Redirects(context.Background()) {
		require.NoError(t, err)
		redirects = append(redirects, r)
	}
	assert.Equal(t, []cachestack.Redirect{{From: origin.URL + "/old", Status: 301, Location: origin.URL + "/new", To: origin.URL + "/new"}}, redirects,
		"Location is stored resolved and normalised")

	getBody(t, client, origin.URL+"/no-store")
	getBody(t, client, origin.URL+"/no-store")
	assert.Equal(t, int64(4), hits.Load(), "no-store is never stored")

	require.NoError(t, c.Close())
	transport.CloseIdleConnections()
	origin.Close()
	goleak.VerifyNone(t, ignore)
}

func ExampleCache_Redirects() {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/thing" {
			http.Redirect(w, r, "/v2/thing", http.StatusMovedPermanently)
			return
		}
		w.Header().Set("Cache-Control", "max-age=3600")
		fmt.Fprintln(w, "the thing")
	}))
	defer origin.Close()
	cache, _ := cachestack.New(nil)
	defer cache.Close()
	fetch(cache.Client(), origin.URL+"/v1/thing")
	for r := range cache.Redirects(context.Background()) {
		fmt.Println(r.Status, r.From[len(origin.URL):], "->", r.To[len(origin.URL):])
	}
	// Output: 301 /v1/thing -> /v2/thing
}

// TestRFCOptionsThroughTheDropIn: Options.ReusePOSTResponses and
// Options.NoStaleWhenUnreachable reach the CacheControl middleware.
func TestRFCOptionsThroughTheDropIn(t *testing.T) {
	t.Parallel()
	srv, n := countingOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Content-Location", r.URL.Path)
		io.WriteString(w, r.Method)
	})
	c := newCache(t, &cachestack.Options{ReusePOSTResponses: true})
	resp, err := c.Client().Post(srv.URL+"/doc", "text/plain", strings.NewReader("x"))
	require.NoError(t, err)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	resp = getBody(t, c.Client(), srv.URL+"/doc")
	assert.Equal(t, int64(1), n.Load(), "the GET was answered with the POST's response")
	assert.True(t, cachestack.InfoOf(resp).FromCache)

	clk := &testClock{now: time.Now()}
	for _, off := range []bool{false, true} {
		tr := &http.Transport{}
		down := &atomic.Bool{}
		c := newCache(t, &cachestack.Options{NoStaleWhenUnreachable: off, Clock: clk.Now, KeepStale: time.Hour,
			Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
				if down.Load() {
					return nil, errors.New("connection refused")
				}
				return tr.RoundTrip(r)
			})})
		getBody(t, c.Client(), srv.URL+"/a")
		down.Store(true)
		clk.Advance(2 * time.Minute)
		resp, err := c.Client().Get(srv.URL + "/a")
		if off {
			assert.Error(t, err)
			continue
		}
		require.NoError(t, err)
		resp.Body.Close()
		assert.Contains(t, resp.Header.Get("Cache-Status"), "detail=unreachable")
		tr.CloseIdleConnections()
	}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestDeleteURLDropsParts: DeleteURL also deletes the stored parts of
// partial responses for the URL.
func TestDeleteURLDropsParts(t *testing.T) {
	t.Parallel()
	srv, n := countingOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Etag", `"v1"`)
		http.ServeContent(w, r, "", time.Time{}, strings.NewReader("0123456789"))
	})
	c := newCache(t, nil)
	ranged := func() {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/f", nil)
		req.Header.Set("Range", "bytes=0-4")
		resp, err := c.Client().Do(req)
		require.NoError(t, err)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusPartialContent, resp.StatusCode)
	}
	ranged()
	ranged()
	require.Equal(t, int64(1), n.Load(), "the second is answered from the stored part")
	require.NoError(t, c.DeleteURL(context.Background(), "", srv.URL+"/f"))
	ranged()
	assert.Equal(t, int64(2), n.Load())
}
