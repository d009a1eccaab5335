package cachestack_test

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cachestack/cachestack"
	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/codec"
	"github.com/cachestack/cachestack/internal/leaktest"
	"github.com/cachestack/cachestack/middleware"
	"github.com/cachestack/cachestack/policy"
	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/diskstore"
	"github.com/cachestack/cachestack/store/memstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The tests in this file check what a cache put in front of a multi-user
// service must get right by default, through the public API only.

// get sends a GET with the given header fields and reads the body to EOF.
func get(t *testing.T, client *http.Client, url string, kv ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(kv); i += 2 {
		req.Header.Add(kv[i], kv[i+1])
	}
	resp, err := client.Do(req)
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	return resp, string(b)
}

// TestDefaultHonoursCacheControl: New(nil) is an RFC 9111 private cache.
func TestDefaultHonoursCacheControl(t *testing.T) {
	t.Parallel()
	srv, n := countingOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/no-store":
			w.Header().Set("Cache-Control", "no-store")
		case "/private-stale":
			w.Header().Set("Cache-Control", "private, max-age=0")
		case "/fresh":
			w.Header().Set("Cache-Control", "max-age=60")
		case "/gone":
			w.Header().Set("Cache-Control", "max-age=60")
			w.WriteHeader(http.StatusGone)
		case "/not-found": // heuristically cacheable, but no freshness and no validator
			w.WriteHeader(http.StatusNotFound)
		}
		io.WriteString(w, r.URL.Path)
	})
	client := newCache(t, nil).Client()
	for _, tt := range []struct {
		path      string
		fromCache bool
	}{
		{"/no-store", false},
		{"/private-stale", false},
		{"/fresh", true},
		{"/gone", true}, // a 410 with explicit freshness: not only 200 is stored
		{"/not-found", false},
	} {
		before := n.Load()
		get(t, client, srv.URL+tt.path)
		resp, _ := get(t, client, srv.URL+tt.path)
		assert.Equal(t, tt.fromCache, cachestack.InfoOf(resp).FromCache, tt.path)
		if tt.fromCache {
			assert.Equal(t, int64(1), n.Load()-before, tt.path)
		}
	}
}

// TestCookiesAndCredentialsNeverCrossCallers: Cookie and Authorization are
// key material, and Set-Cookie is never replayed from the cache, unless the
// client says it acts for a single user.
func TestCookiesAndCredentialsNeverCrossCallers(t *testing.T) {
	t.Parallel()
	srv, _ := countingOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		if r.URL.Path == "/login" {
			http.SetCookie(w, &http.Cookie{Name: "session", Value: "new"})
		}
		io.WriteString(w, "for "+r.Header.Get("Cookie")+r.Header.Get("Authorization"))
	})
	client := newCache(t, nil).Client()

	get(t, client, srv.URL+"/me", "Cookie", "session=alice")
	resp, body := get(t, client, srv.URL+"/me", "Cookie", "session=bob")
	assert.False(t, cachestack.InfoOf(resp).FromCache)
	assert.Equal(t, "for session=bob", body, "bob must not get alice's response")
	resp, body = get(t, client, srv.URL+"/me", "Cookie", "session=alice")
	assert.True(t, cachestack.InfoOf(resp).FromCache)
	assert.Equal(t, "for session=alice", body)

	get(t, client, srv.URL+"/me", "Authorization", "Bearer alice")
	_, body = get(t, client, srv.URL+"/me", "Authorization", "Bearer bob")
	assert.Equal(t, "for Bearer bob", body)

	first, _ := get(t, client, srv.URL+"/login")
	assert.NotEmpty(t, first.Cookies(), "the caller whose request fetched it gets the cookie")
	resp, _ = get(t, client, srv.URL+"/login")
	assert.True(t, cachestack.InfoOf(resp).FromCache)
	assert.Empty(t, resp.Header.Values("Set-Cookie"), "a hit never sets a cookie")

	single := newCache(t, &cachestack.Options{ShareCredentials: true}).Client()
	get(t, single, srv.URL+"/login")
	resp, _ = get(t, single, srv.URL+"/login")
	assert.True(t, cachestack.InfoOf(resp).FromCache)
	assert.NotEmpty(t, resp.Cookies(), "a single-user client replays Set-Cookie")
}

// TestVaryInEveryMode: a response's Vary is honoured in the header-blind
// mode too; Vary: * is never stored.
func TestVaryInEveryMode(t *testing.T) {
	t.Parallel()
	srv, _ := countingOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/star" {
			w.Header().Set("Vary", "*")
		} else {
			w.Header().Set("Vary", "Accept-Encoding, X-Forwarded-Host")
		}
		io.WriteString(w, "encoding="+r.Header.Get("Accept-Encoding")+" host="+r.Header.Get("X-Forwarded-Host"))
	})
	for _, blind := range []bool{false, true} {
		client := newCache(t, &cachestack.Options{IgnoreCacheControl: blind, ExpireAfter: policy.After(time.Hour)}).Client()
		get(t, client, srv.URL+"/v", "Accept-Encoding", "br", "X-Forwarded-Host", "evil.example")
		resp, body := get(t, client, srv.URL+"/v")
		assert.False(t, cachestack.InfoOf(resp).FromCache, "blind=%v", blind)
		assert.NotContains(t, body, "evil.example", "blind=%v: another variant must not poison this one", blind)
		assert.NotContains(t, body, "br", "blind=%v", blind)
		resp, body = get(t, client, srv.URL+"/v", "Accept-Encoding", "br", "X-Forwarded-Host", "evil.example")
		assert.True(t, cachestack.InfoOf(resp).FromCache, "blind=%v", blind)
		assert.Equal(t, "encoding=br host=evil.example", body)

		get(t, client, srv.URL+"/star")
		resp, _ = get(t, client, srv.URL+"/star")
		assert.False(t, cachestack.InfoOf(resp).FromCache, "blind=%v: Vary: * matches no request", blind)
	}
}

// TestNothingSecretAtRest plants secrets (ignored parameters in the query,
// in headers and in redirects, credentials and cookies a response varies
// on, Set-Cookie) and greps every byte the store keeps for them.
func TestNothingSecretAtRest(t *testing.T) {
	t.Parallel()
	t.Run("memory bytes", func(t *testing.T) {
		t.Parallel()
		raw, err := memstore.New[string, []byte](nil)
		require.NoError(t, err)
		c := newCache(t, leaktest.Options(codec.Bind(raw, codec.Response())))
		leaktest.Plant(t, c.Client())
		var all []byte
		for k, err := range raw.Keys(context.Background()) {
			require.NoError(t, err)
			v, err := raw.Get(context.Background(), k)
			require.NoError(t, err)
			all = append(append(all, k...), v...)
		}
		leaktest.Check(t, "memstore", all)
	})
	t.Run("disk", func(t *testing.T) {
		t.Parallel()
		dir := filepath.Join(t.TempDir(), "cache")
		raw, err := diskstore.New(dir, nil)
		require.NoError(t, err)
		c := newCache(t, leaktest.Options(codec.Bind(raw, codec.Response())))
		leaktest.Plant(t, c.Client())
		require.NoError(t, c.Flush(context.Background())) // disk writes are made in the background
		var all []byte
		require.NoError(t, filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			all = append(append(all, path...), b...)
			return err
		}))
		leaktest.Check(t, "diskstore", all)
	})
}

// foreignEntryStore answers every Get with the same entry, as a byte store
// could after a key collision or a damaged index.
type foreignEntryStore struct {
	*memstore.Store[string, *cached.Response]
	mu    sync.Mutex
	fixed *cached.Response
}

func (s *foreignEntryStore) Get(ctx context.Context, key string) (*cached.Response, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fixed != nil {
		return s.fixed, nil
	}
	return s.Store.Get(ctx, key)
}

var _ store.Store[string, *cached.Response] = (*foreignEntryStore)(nil)

// TestStoredIdentityIsChecked: an entry stored for another request is a
// miss, counted, never served.
func TestStoredIdentityIsChecked(t *testing.T) {
	t.Parallel()
	srv, _ := countingOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "body of "+r.URL.Path)
	})
	inner, err := memstore.New[string, *cached.Response](nil)
	require.NoError(t, err)
	s := &foreignEntryStore{Store: inner}
	c := newCache(t, &cachestack.Options{Store: s})
	client := c.Client()
	get(t, client, srv.URL+"/a")
	for e, err := range c.Entries(context.Background()) {
		require.NoError(t, err)
		s.mu.Lock()
		s.fixed = e
		s.mu.Unlock()
	}
	resp, body := get(t, client, srv.URL+"/b")
	assert.False(t, cachestack.InfoOf(resp).FromCache)
	assert.Equal(t, "body of /b", body, "/a's entry must not answer /b")
	assert.Equal(t, int64(1), c.Counters().Mismatched.Load())
}

// TestRequestDirectivesAsTheReferenceLibraryReadsThem: a request's no-store
// skips the cache in both modes; in the header-blind mode its max-age is the
// stored lifetime, above the user's expiries.
func TestRequestDirectivesAsTheReferenceLibraryReadsThem(t *testing.T) {
	t.Parallel()
	srv, n := countingOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, r.URL.Path)
	})
	for _, blind := range []bool{false, true} {
		clk := &testClock{now: time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)}
		c := newCache(t, &cachestack.Options{IgnoreCacheControl: blind, ExpireAfter: policy.After(time.Hour), Clock: clk.Now})
		client := c.Client()
		get(t, client, srv.URL+"/a")
		before := n.Load()
		resp, _ := get(t, client, srv.URL+"/a", "Cache-Control", "no-store")
		assert.False(t, cachestack.InfoOf(resp).FromCache, "blind=%v: no-store skips reading", blind)
		assert.Equal(t, before+1, n.Load())

		get(t, client, srv.URL+"/m", "Cache-Control", "max-age=30")
		resp, _ = get(t, client, srv.URL+"/m")
		info := cachestack.InfoOf(resp)
		require.True(t, info.FromCache, "blind=%v", blind)
		want := 600 * time.Second // default mode: the response's max-age (RFC 9111 wins)
		if blind {
			want = 30 * time.Second // header-blind: the request's max-age beats ExpireAfter
		}
		assert.Equal(t, want, info.Expires.Sub(clk.Now()), "blind=%v", blind)
	}
}

// TestDeleteURLDeletesItsAliases: a deleted response takes the redirects
// that led to it along.
func TestDeleteURLDeletesItsAliases(t *testing.T) {
	t.Parallel()
	srv, _ := countingOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/old" {
			http.Redirect(w, r, "/new", http.StatusMovedPermanently)
			return
		}
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "new")
	})
	c := newCache(t, nil)
	get(t, c.Client(), srv.URL+"/old")
	count := func() int {
		n := 0
		for _, err := range c.Redirects(context.Background()) {
			require.NoError(t, err)
			n++
		}
		return n
	}
	require.Equal(t, 1, count())
	require.NoError(t, c.DeleteURL(context.Background(), "GET", srv.URL+"/new"))
	assert.Equal(t, 0, count(), "the alias goes with its response")
	for range c.Entries(context.Background()) {
		t.Error("nothing should be left")
	}
	has, err := c.HasURL(context.Background(), "GET", srv.URL+"/old")
	require.NoError(t, err)
	assert.False(t, has)
}

// TestTooSmallStoreIsCounted: a store whose budget holds no response says
// so: nothing is counted as stored, TooLarge counts the refusals.
func TestTooSmallStoreIsCounted(t *testing.T) {
	t.Parallel()
	srv, _ := countingOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "body")
	})
	tiny, err := memstore.New[string, *cached.Response](&memstore.Options[*cached.Response]{MaxBytes: 100})
	require.NoError(t, err)
	c := newCache(t, &cachestack.Options{Store: tiny})
	get(t, c.Client(), srv.URL+"/a")
	assert.Zero(t, c.Counters().Stored.Load())
	assert.Equal(t, int64(1), c.Counters().TooLarge.Load())
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestMisplacedMiddlewareIsReported: an Expiry middleware beneath the Store
// middleware's foreign neighbour can have no effect; the first request
// says so in an error log, once. It sets the default logger, so it does not
// run in parallel.
func TestMisplacedMiddlewareIsReported(t *testing.T) {
	var logs syncBuffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })

	srv, _ := countingOrigin(t, nil)
	s, err := memstore.New[string, *cached.Response](nil)
	require.NoError(t, err)
	st, err := middleware.Store(s, nil)
	require.NoError(t, err)
	ex, err := middleware.Expiry(&middleware.ExpiryOptions{ExpireAfter: policy.After(time.Minute)})
	require.NoError(t, err)
	wrap := func(next http.RoundTripper) http.RoundTripper { // a user's logging middleware, say
		return roundTripperFunc(func(r *http.Request) (*http.Response, error) { return next.RoundTrip(r) })
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)

	good := &http.Client{Transport: middleware.Chain(ex, wrap, st)(tr)}
	get(t, good, srv.URL+"/a")
	assert.NotContains(t, logs.String(), "no effect", "above the foreign middleware, Expiry is handed down")

	bad := &http.Client{Transport: middleware.Chain(st, wrap, ex)(tr)}
	get(t, bad, srv.URL+"/b")
	get(t, bad, srv.URL+"/c")
	assert.Contains(t, logs.String(), "level=ERROR")
	assert.Contains(t, logs.String(), "middlewares=Expiry")
	assert.Equal(t, 1, bytes.Count([]byte(logs.String()), []byte("no effect")), "reported once")
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
