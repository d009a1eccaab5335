package middleware_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/keyer"
	"github.com/cachestack/cachestack/middleware"
	"github.com/cachestack/cachestack/policy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var quiet = slog.New(slog.DiscardHandler)

// stack builds Key, Filter, Expiry and Store over a fresh memstore, in the
// header-blind mode (IgnoreCacheControl): the tests that use it check
// aiohttp-client-cache's own rules, against origins that send no
// Cache-Control.
type stackOptions struct {
	keyer  *keyer.Options
	filter *middleware.FilterOptions
	expiry *middleware.ExpiryOptions
	store  *middleware.StoreOptions
}

func newStack(t *testing.T, c *clock, o stackOptions) (http.RoundTripper, *middleware.Counters) {
	t.Helper()
	k, err := keyer.New(o.keyer)
	require.NoError(t, err)
	so := middleware.StoreOptions{}
	if o.store != nil {
		so = *o.store
	}
	so.Clock, so.Logger = c.Now, quiet
	so.Counters = new(middleware.Counters)
	m := mustMW(t)
	mw := middleware.Chain(
		middleware.Key(k),
		m(middleware.Filter(o.filter)),
		m(middleware.Expiry(o.expiry)),
		middleware.IgnoreCacheControl(),
		m(middleware.Store(newMemstore(t, c), &so)),
	)
	return mw(nil), so.Counters
}

func TestStoreHitAndMiss(t *testing.T) {
	t.Parallel()
	o := newOrigin(t, nil)
	c := newClock()
	rt, n := newStack(t, c, stackOptions{})

	first, body := get(t, rt, o.URL+"/a")
	assert.Equal(t, "body of /a", body)
	assert.Equal(t, "cachestack; fwd=uri-miss", first.Header.Get("Cache-Status"))
	assert.False(t, middleware.InfoOf(first).FromCache)

	c.Advance(3 * time.Second)
	second, body := get(t, rt, o.URL+"/a")
	assert.Equal(t, "body of /a", body)
	assert.Equal(t, int64(1), o.hits.Load(), "the second request must be a hit")
	assert.Equal(t, http.StatusOK, second.StatusCode)
	assert.Equal(t, "200 OK", second.Status)
	assert.Equal(t, "3", second.Header.Get("Age"))
	assert.Equal(t, "cachestack; hit", second.Header.Get("Cache-Status"))
	assert.Equal(t, int64(len("body of /a")), second.ContentLength)
	info := middleware.InfoOf(second)
	assert.True(t, info.FromCache)
	assert.Equal(t, c.Now().Add(-3*time.Second), info.Created)
	assert.True(t, info.Expires.IsZero(), "default expiry is never")
	assert.False(t, info.Stale)
	assert.Equal(t, int64(1), n.Hits.Load())
	assert.Equal(t, int64(1), n.Misses.Load())
	assert.Equal(t, int64(1), n.Stored.Load())
}

func TestHitsAreIndependent(t *testing.T) {
	t.Parallel()
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Thing", "original")
		io.WriteString(w, "payload")
	})
	rt, _ := newStack(t, newClock(), stackOptions{})
	get(t, rt, o.URL)
	a, _ := get(t, rt, o.URL)
	a.Header.Set("X-Thing", "changed by caller")
	b, body := get(t, rt, o.URL)
	assert.Equal(t, "original", b.Header.Get("X-Thing"), "a caller's changes to its header must not reach the store")
	assert.Equal(t, "payload", body)
}

func TestMethods(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		give       *middleware.FilterOptions
		method     string
		wantCached bool
	}{
		{"GET by default", nil, http.MethodGet, true},
		{"HEAD by default", nil, http.MethodHead, true},
		{"POST not by default", nil, http.MethodPost, false},
		{"POST when allowed", &middleware.FilterOptions{Methods: []string{"GET", "POST"}}, http.MethodPost, true},
		{"GET when only POST allowed", &middleware.FilterOptions{Methods: []string{"POST"}}, http.MethodGet, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := newOrigin(t, nil)
			rt, _ := newStack(t, newClock(), stackOptions{filter: tt.give})
			for range 2 {
				var body io.Reader
				if tt.method == http.MethodPost {
					body = strings.NewReader(`{"a":1}`)
				}
				do(t, rt, mustRequest(t, context.Background(), tt.method, o.URL+"/m", body))
			}
			want := int64(2)
			if tt.wantCached {
				want = 1
			}
			assert.Equal(t, want, o.hits.Load())
		})
	}
}

func TestPostBodiesAreKeyed(t *testing.T) {
	t.Parallel()
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Write(b)
	})
	rt, _ := newStack(t, newClock(), stackOptions{filter: &middleware.FilterOptions{Methods: []string{"POST"}}})
	post := func(body string) string {
		_, got := do(t, rt, mustRequest(t, context.Background(), http.MethodPost, o.URL, strings.NewReader(body)))
		return got
	}
	assert.Equal(t, "one", post("one"))
	assert.Equal(t, "two", post("two"))
	assert.Equal(t, "one", post("one"))
	assert.Equal(t, int64(2), o.hits.Load(), "the origin must receive each distinct body once, with the body intact")
}

func TestCodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		give       *middleware.FilterOptions
		code       int
		wantCached bool
	}{
		{"200 by default", nil, 200, true},
		{"404 not by default", nil, 404, false},
		{"418 when allowed", &middleware.FilterOptions{Codes: []int{200, 418}}, 418, true},
		{"200 when only 418 allowed", &middleware.FilterOptions{Codes: []int{418}}, 200, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.code)
				io.WriteString(w, "x")
			})
			rt, _ := newStack(t, newClock(), stackOptions{filter: tt.give})
			get(t, rt, o.URL)
			resp, _ := get(t, rt, o.URL)
			assert.Equal(t, tt.code, resp.StatusCode)
			assert.Equal(t, tt.wantCached, middleware.InfoOf(resp).FromCache)
		})
	}
}

func TestFilterFuncOnWriteAndRead(t *testing.T) {
	t.Parallel()
	o := newOrigin(t, nil)
	var mu sync.Mutex
	allow := map[string]bool{"/kept": true, "/later-rejected": true}
	fn := func(r *cached.Response) bool {
		mu.Lock()
		defer mu.Unlock()
		for p, ok := range allow {
			if strings.HasSuffix(r.URL, p) {
				return ok
			}
		}
		return false
	}
	rt, _ := newStack(t, newClock(), stackOptions{filter: &middleware.FilterOptions{Func: fn}})
	for _, p := range []string{"/kept", "/rejected", "/later-rejected"} {
		get(t, rt, o.URL+p)
	}
	mu.Lock()
	allow["/later-rejected"] = false
	mu.Unlock()
	before := o.hits.Load()
	for _, tt := range []struct {
		path      string
		wantCache bool
	}{{"/kept", true}, {"/rejected", false}, {"/later-rejected", false}} {
		resp, _ := get(t, rt, o.URL+tt.path)
		assert.Equal(t, tt.wantCache, middleware.InfoOf(resp).FromCache, tt.path)
	}
	assert.Equal(t, before+2, o.hits.Load())
}

func TestIgnoredParamsAndHeaders(t *testing.T) {
	t.Parallel()
	o := newOrigin(t, nil)
	rt, _ := newStack(t, newClock(), stackOptions{keyer: &keyer.Options{IgnoredParams: []string{"token"}, Headers: []string{"Accept"}}})
	req := func(url, accept string) *http.Response {
		r := mustRequest(t, context.Background(), http.MethodGet, url, nil)
		r.Header.Set("Accept", accept)
		resp, _ := do(t, rt, r)
		return resp
	}
	req(o.URL+"/p?token=AAA&x=1", "text/plain")
	assert.True(t, middleware.InfoOf(req(o.URL+"/p?x=1&token=BBB", "text/plain")).FromCache, "ignored parameter must not change the key")
	assert.False(t, middleware.InfoOf(req(o.URL+"/p?x=1&token=BBB", "application/json")).FromCache, "a keyed header must change the key")
	assert.False(t, middleware.InfoOf(req(o.URL+"/p?x=2", "text/plain")).FromCache)
}

func TestIgnoredValuesAreNotStored(t *testing.T) {
	t.Parallel()
	o := newOrigin(t, nil)
	c := newClock()
	s := newMemstore(t, c)
	k, err := keyer.New(&keyer.Options{IgnoredParams: []string{"token"}})
	require.NoError(t, err)
	st, err := middleware.Store(s, &middleware.StoreOptions{Clock: c.Now, Logger: quiet})
	require.NoError(t, err)
	rt := middleware.Chain(middleware.Key(k), st)(testTransport(t))
	get(t, rt, o.URL+"/p?token=SECRET123&x=1")
	n := 0
	for key, err := range s.Keys(context.Background()) {
		require.NoError(t, err)
		assert.NotContains(t, key, "SECRET123")
		e, err := s.Get(context.Background(), key)
		require.NoError(t, err)
		assert.NotContains(t, e.URL, "SECRET123")
		assert.Contains(t, e.URL, "x=1")
		n++
	}
	assert.Equal(t, 1, n)
}

func TestExpiry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		give        *middleware.ExpiryOptions
		perRequest  policy.Expiry
		path        string
		wantFreshAt time.Duration // still a hit this long after storing
		wantStale   time.Duration // a miss this long after storing; 0: never expires
		wantStored  bool
	}{
		{name: "default never expires", path: "/x", wantFreshAt: 1000 * time.Hour, wantStored: true},
		{name: "session", give: &middleware.ExpiryOptions{ExpireAfter: policy.After(time.Minute)}, path: "/x", wantFreshAt: 59 * time.Second, wantStale: time.Minute, wantStored: true},
		{name: "session do not store", give: &middleware.ExpiryOptions{ExpireAfter: policy.DoNotStore()}, path: "/x"},
		{name: "url pattern beats session", give: &middleware.ExpiryOptions{ExpireAfter: policy.After(time.Minute), URLs: []policy.URLExpiry{{Pattern: "127.0.0.1*/static", Expiry: policy.After(time.Hour)}}}, path: "/static/a.css", wantFreshAt: 59 * time.Minute, wantStale: time.Hour, wantStored: true},
		{name: "url pattern not matching", give: &middleware.ExpiryOptions{ExpireAfter: policy.After(time.Minute), URLs: []policy.URLExpiry{{Pattern: "example.com/static", Expiry: policy.After(time.Hour)}}}, path: "/static/a.css", wantFreshAt: 59 * time.Second, wantStale: time.Minute, wantStored: true},
		{name: "per request beats url", give: &middleware.ExpiryOptions{URLs: []policy.URLExpiry{{Pattern: "127.0.0.1*", Expiry: policy.After(time.Hour)}}}, perRequest: policy.After(10 * time.Second), path: "/r", wantFreshAt: 9 * time.Second, wantStale: 10 * time.Second, wantStored: true},
		{name: "per request never", give: &middleware.ExpiryOptions{ExpireAfter: policy.After(time.Second)}, perRequest: policy.Never(), path: "/r", wantFreshAt: 1000 * time.Hour, wantStored: true},
		{name: "per request do not store", perRequest: policy.DoNotStore(), path: "/r"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := newOrigin(t, nil)
			c := newClock()
			rt, _ := newStack(t, c, stackOptions{expiry: tt.give})
			ctx := context.Background()
			if tt.perRequest.IsSet() {
				ctx = middleware.WithExpiry(ctx, tt.perRequest)
			}
			do(t, rt, mustRequest(t, ctx, http.MethodGet, o.URL+tt.path, nil))
			if !tt.wantStored {
				resp, _ := get(t, rt, o.URL+tt.path)
				assert.False(t, middleware.InfoOf(resp).FromCache)
				return
			}
			start := c.Now()
			c.Advance(tt.wantFreshAt)
			resp, _ := get(t, rt, o.URL+tt.path)
			info := middleware.InfoOf(resp)
			require.True(t, info.FromCache, "still fresh")
			if tt.wantStale == 0 {
				assert.True(t, info.Expires.IsZero())
				return
			}
			assert.Equal(t, start.Add(tt.wantStale), info.Expires)
			c.Advance(tt.wantStale - tt.wantFreshAt)
			resp, _ = get(t, rt, o.URL+tt.path)
			assert.False(t, middleware.InfoOf(resp).FromCache, "expired")
		})
	}
}

// TestStackingOrderDoesNotMatter checks the expiry precedence, the keyer and
// the filter in every order of the four middlewares.
func TestStackingOrderDoesNotMatter(t *testing.T) {
	t.Parallel()
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/teapot" {
			w.WriteHeader(http.StatusTeapot)
		}
		io.WriteString(w, "ok")
	})
	cases := []struct {
		path        string
		ctx         context.Context
		wantExpires time.Duration
	}{
		{"/session?t=1", context.Background(), time.Minute},                                                         // per-session
		{"/url", context.Background(), time.Hour},                                                                   // per-URL beats per-session
		{"/url/request", middleware.WithExpiry(context.Background(), policy.After(5*time.Second)), 5 * time.Second}, // per-request beats per-URL
		{"/teapot", context.Background(), time.Minute},                                                              // 418 allowed by the filter
	}
	for _, order := range permutations([]int{0, 1, 2, 3}) {
		c := newClock()
		k, err := keyer.New(&keyer.Options{IgnoredParams: []string{"t"}})
		require.NoError(t, err)
		m := mustMW(t)
		mws := []middleware.Middleware{
			middleware.Key(k),
			m(middleware.Filter(&middleware.FilterOptions{Codes: []int{200, 418}})),
			m(middleware.Expiry(&middleware.ExpiryOptions{ExpireAfter: policy.After(time.Minute), URLs: []policy.URLExpiry{{Pattern: "127.0.0.1*/url", Expiry: policy.After(time.Hour)}}})),
			m(middleware.Store(newMemstore(t, c), &middleware.StoreOptions{Clock: c.Now, Logger: quiet})),
		}
		var ordered []middleware.Middleware
		for _, i := range order {
			ordered = append(ordered, mws[i])
		}
		rt := middleware.Chain(ordered...)(testTransport(t))
		before := o.hits.Load()
		for _, tt := range cases {
			do(t, rt, mustRequest(t, tt.ctx, http.MethodGet, o.URL+tt.path, nil))
			// The second request differs only in the ignored parameter.
			resp, _ := get(t, rt, o.URL+strings.Replace(tt.path, "t=1", "t=2", 1))
			info := middleware.InfoOf(resp)
			require.True(t, info.FromCache, "order %v, %s", order, tt.path)
			assert.Equal(t, tt.wantExpires, info.Expires.Sub(c.Now()), "order %v, %s", order, tt.path)
		}
		assert.Equal(t, int64(len(cases)), o.hits.Load()-before, "order %v", order)
	}
}

func permutations(xs []int) [][]int {
	if len(xs) <= 1 {
		return [][]int{append([]int(nil), xs...)}
	}
	var out [][]int
	for i := range xs {
		rest := append(append([]int(nil), xs[:i]...), xs[i+1:]...)
		for _, p := range permutations(rest) {
			out = append(out, append([]int{xs[i]}, p...))
		}
	}
	return out
}
