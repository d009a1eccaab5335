package middleware_test

import (
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachestack/cachestack/middleware"
	"github.com/cachestack/cachestack/policy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// outcome is what the cache did with a request.
type outcome string

const (
	hit      outcome = "hit"       // served from the store, fresh
	staleHit outcome = "stale hit" // served from the store, stale
	fetched  outcome = "fetched"   // the origin answered it
	timeout  outcome = "504"       // only-if-cached with nothing usable
)

// directiveCase stores the origin's first response, moves the clock, sends
// a second request and checks what the cache did.
type directiveCase struct {
	name     string
	resp     http.Header   // the first response's fields; Cache-Control: max-age=100 when nil
	req      http.Header   // the second request's fields
	at       time.Duration // between the two requests
	want     outcome
	wantGone []string // fields the second response must not carry
}

func runDirectiveCase(t *testing.T, tt directiveCase) {
	t.Helper()
	c := newClock()
	var n atomic.Int64
	o := newOrigin(t, dated(c, func(w http.ResponseWriter, r *http.Request) {
		h := tt.resp
		if h == nil {
			h = header("Cache-Control", "max-age=100")
		}
		for k, vs := range h {
			w.Header()[k] = vs
		}
		fmt.Fprint(w, "v", n.Add(1))
	}))
	// KeepStale keeps stale responses around, so that only the directives
	// decide whether they are used.
	rt, _ := newCCStack(t, c, ccOptions{store: &middleware.StoreOptions{KeepStale: time.Hour}})
	_, body, _ := fetch(t, rt, o, o.URL, nil)
	require.Equal(t, "v1", body)
	c.Advance(tt.at)
	resp, body, contacted := fetch(t, rt, o, o.URL, tt.req)
	info := middleware.InfoOf(resp)
	var got outcome
	switch {
	case resp.StatusCode == http.StatusGatewayTimeout:
		got = timeout
		assert.False(t, contacted)
		assert.Empty(t, body)
	case contacted:
		got = fetched
		assert.Equal(t, "v2", body)
	case info.Stale:
		got = staleHit
		assert.Equal(t, "v1", body)
	default:
		got = hit
		assert.Equal(t, "v1", body)
		assert.True(t, info.FromCache)
	}
	assert.Equal(t, tt.want, got)
	for _, f := range tt.wantGone {
		assert.Empty(t, resp.Header.Values(f), f)
	}
}

// TestRequestDirectives is RFC 9111 §5.2.1, with Pragma (§5.4). The stored
// response is fresh for 100s.
func TestRequestDirectives(t *testing.T) {
	t.Parallel()
	tests := []directiveCase{
		{name: "none, fresh", at: 99 * time.Second, want: hit},
		{name: "none, stale", at: 100 * time.Second, want: fetched},
		{name: "max-age within", req: header("Cache-Control", "max-age=50"), at: 50 * time.Second, want: hit},
		{name: "max-age exceeded while fresh", req: header("Cache-Control", "max-age=50"), at: 51 * time.Second, want: fetched},
		{name: "max-age still limits with max-stale", req: header("Cache-Control", "max-age=50, max-stale=1000"), at: 60 * time.Second, want: fetched},
		{name: "max-age with max-stale accepts stale within both", req: header("Cache-Control", "max-age=200, max-stale=1000"), at: 150 * time.Second, want: staleHit},
		{name: "max-age does not make a stale response usable", req: header("Cache-Control", "max-age=1000"), at: 150 * time.Second, want: fetched},
		{name: "max-stale within", req: header("Cache-Control", "max-stale=30"), at: 130 * time.Second, want: staleHit},
		{name: "max-stale exceeded", req: header("Cache-Control", "max-stale=30"), at: 131 * time.Second, want: fetched},
		{name: "max-stale without a value", req: header("Cache-Control", "max-stale"), at: 3000 * time.Second, want: staleHit},
		{name: "min-fresh met", req: header("Cache-Control", "min-fresh=30"), at: 70 * time.Second, want: hit},
		{name: "min-fresh not met", req: header("Cache-Control", "min-fresh=30"), at: 71 * time.Second, want: fetched},
		{name: "no-cache", req: header("Cache-Control", "no-cache"), at: 0, want: fetched},
		{name: "Pragma: no-cache without Cache-Control", req: header("Pragma", "no-cache"), at: 0, want: fetched},
		{name: "Pragma ignored with Cache-Control", req: header("Pragma", "no-cache", "Cache-Control", "max-stale=1"), at: 0, want: hit},
		// RFC 9111 lets a cache answer a no-store request from what it
		// stored; aiohttp-client-cache's no-store skips reading too, and
		// so does this cache.
		{name: "no-store skips the stored response", req: header("Cache-Control", "no-store"), at: 10 * time.Second, want: fetched},
		{name: "only-if-cached, fresh", req: header("Cache-Control", "only-if-cached"), at: 10 * time.Second, want: hit},
		{name: "only-if-cached, stale", req: header("Cache-Control", "only-if-cached"), at: 200 * time.Second, want: timeout},
		{name: "only-if-cached with max-stale", req: header("Cache-Control", "only-if-cached, max-stale"), at: 200 * time.Second, want: staleHit},
		{name: "only-if-cached with no-cache", req: header("Cache-Control", "only-if-cached, no-cache"), at: 0, want: timeout},
		{name: "names are case-insensitive", req: header("Cache-Control", "MAX-STALE=30"), at: 120 * time.Second, want: staleHit},
		{name: "No-Cache case-insensitive", req: header("Cache-Control", "No-Cache"), at: 0, want: fetched},
		{name: "malformed max-age is ignored", req: header("Cache-Control", "max-age=abc"), at: 60 * time.Second, want: hit},
		{name: "negative max-stale is ignored", req: header("Cache-Control", "max-stale=-1"), at: 120 * time.Second, want: fetched},
		{name: "repeated max-age keeps the smallest", req: header("Cache-Control", "max-age=50, max-age=30"), at: 40 * time.Second, want: fetched},
		{name: "repeated max-age over lines", req: header("Cache-Control", "max-age=30", "Cache-Control", "max-age=50"), at: 40 * time.Second, want: fetched},
		{name: "repeated min-fresh keeps the largest", req: header("Cache-Control", "min-fresh=10, min-fresh=50"), at: 60 * time.Second, want: fetched},
		{name: "unknown directives are ignored", req: header("Cache-Control", "foo, bar=\"baz,qux\", max-stale=30"), at: 120 * time.Second, want: staleHit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			runDirectiveCase(t, tt)
		})
	}
}

// TestResponseDirectives is RFC 9111 §5.2.2 for a private cache.
func TestResponseDirectives(t *testing.T) {
	t.Parallel()
	tests := []directiveCase{
		{name: "no-store", resp: header("Cache-Control", "no-store"), want: fetched},
		{name: "no-store beats max-age", resp: header("Cache-Control", "max-age=100, no-store"), want: fetched},
		{name: "no-store on a second line", resp: header("Cache-Control", "max-age=100", "Cache-Control", "No-Store"), want: fetched},
		{name: "no-store with an argument", resp: header("Cache-Control", "max-age=100, no-store=1"), want: fetched},
		{name: "no-cache is stored but always revalidated", resp: header("Cache-Control", "max-age=100, no-cache", "Etag", `"a"`), at: time.Second, want: fetched},
		{name: "no-cache is not served stale with max-stale", resp: header("Cache-Control", "max-age=100, no-cache", "Etag", `"a"`), req: header("Cache-Control", "max-stale"), at: time.Second, want: fetched},
		{name: "qualified no-cache: served without the field", resp: header("Cache-Control", `max-age=100, no-cache="X-Secret"`, "X-Secret", "s", "X-Other", "o"), at: time.Second, want: hit, wantGone: []string{"X-Secret"}},
		{name: "qualified no-cache, several fields", resp: header("Cache-Control", `max-age=100, no-cache="x-secret, Set-Cookie"`, "X-Secret", "s", "Set-Cookie", "a=b"), at: time.Second, want: hit, wantGone: []string{"X-Secret", "Set-Cookie"}},
		{name: "unqualified no-cache beats a qualified one", resp: header("Cache-Control", `max-age=100, no-cache="X-Secret", no-cache`, "Etag", `"a"`), at: time.Second, want: fetched},
		{name: "qualified no-cache without a field name", resp: header("Cache-Control", `max-age=100, no-cache=""`, "Etag", `"a"`), at: time.Second, want: fetched},
		{name: "must-revalidate while fresh", resp: header("Cache-Control", "max-age=100, must-revalidate"), at: 99 * time.Second, want: hit},
		{name: "must-revalidate beats max-stale", resp: header("Cache-Control", "max-age=100, must-revalidate", "Etag", `"a"`), req: header("Cache-Control", "max-stale"), at: 101 * time.Second, want: fetched},
		{name: "must-revalidate beats only-if-cached with max-stale", resp: header("Cache-Control", "max-age=100, must-revalidate", "Etag", `"a"`), req: header("Cache-Control", "max-stale, only-if-cached"), at: 101 * time.Second, want: timeout},
		{name: "private is fine for a private cache", resp: header("Cache-Control", "private, max-age=100"), at: 99 * time.Second, want: hit},
		{name: "qualified private is fine for a private cache", resp: header("Cache-Control", `private="X-User", max-age=100`, "X-User", "u"), at: 99 * time.Second, want: hit},
		{name: "public", resp: header("Cache-Control", "public, max-age=100"), at: 99 * time.Second, want: hit},
		{name: "proxy-revalidate is for shared caches", resp: header("Cache-Control", "max-age=100, proxy-revalidate"), req: header("Cache-Control", "max-stale"), at: 101 * time.Second, want: staleHit},
		{name: "response Pragma: no-cache means nothing (§5.4)", resp: header("Pragma", "no-cache", "Cache-Control", "max-age=100"), at: 99 * time.Second, want: hit},
		{name: "directive names are case-insensitive", resp: header("Cache-Control", "Max-Age=100, MUST-REVALIDATE", "Etag", `"a"`), req: header("Cache-Control", "max-stale"), at: 101 * time.Second, want: fetched},
		{name: "must-understand: no-store is ignored for an understood status (§5.2.2.3)", resp: header("Cache-Control", "max-age=100, no-store, must-understand"), at: 99 * time.Second, want: hit},
		{name: "immutable changes nothing here", resp: header("Cache-Control", "max-age=100, immutable"), at: 100 * time.Second, want: fetched},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			runDirectiveCase(t, tt)
		})
	}
}

// TestRequestNoStore: a response to a request with no-store is not stored
// (§5.2.1.5), and it does not disturb what is stored.
func TestRequestNoStore(t *testing.T) {
	t.Parallel()
	c := newClock()
	var n atomic.Int64
	o := newOrigin(t, dated(c, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=100")
		w.Header().Set("Etag", `"a"`)
		if r.Header.Get("If-None-Match") == `"a"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		fmt.Fprint(w, "v", n.Add(1))
	}))
	rt, counters := newCCStack(t, c, ccOptions{})
	_, body, _ := fetch(t, rt, o, o.URL+"/a", header("Cache-Control", "no-store"))
	assert.Equal(t, "v1", body)
	_, body, contacted := fetch(t, rt, o, o.URL+"/a", nil)
	assert.True(t, contacted, "nothing was stored")
	assert.Equal(t, "v2", body)
	// A no-store request skips the stored response (as
	// aiohttp-client-cache reads no-store), and what it fetches neither
	// replaces nor deletes the stored response.
	c.Advance(time.Second)
	resp, body, contacted := fetch(t, rt, o, o.URL+"/a", header("Cache-Control", "no-store"))
	assert.True(t, contacted)
	assert.Equal(t, "v3", body)
	assert.False(t, middleware.InfoOf(resp).FromCache)
	_, body, contacted = fetch(t, rt, o, o.URL+"/a", nil)
	assert.False(t, contacted)
	assert.Equal(t, "v2", body)
	assert.Equal(t, int64(1), counters.Stored.Load())
}

// TestOnlyIfCachedMiss: only-if-cached with nothing stored is a 504 that
// never reaches the origin (§5.2.1.7).
func TestOnlyIfCachedMiss(t *testing.T) {
	t.Parallel()
	c := newClock()
	o := newOrigin(t, nil)
	rt, _ := newCCStack(t, c, ccOptions{})
	resp, body, contacted := fetch(t, rt, o, o.URL, header("Cache-Control", "only-if-cached"))
	assert.False(t, contacted)
	assert.Equal(t, http.StatusGatewayTimeout, resp.StatusCode)
	assert.Empty(t, body)
	assert.Equal(t, "cachestack; fwd=miss; detail=only-if-cached", resp.Header.Get("Cache-Status"))
}

// TestPublicAndStatusCacheability is RFC 9111 §3 with §4.2.2: without
// explicit freshness, a status that is not heuristically cacheable is
// stored only when public (or private) allows it, and public lets the
// heuristic apply to it.
func TestPublicAndStatusCacheability(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		cc     string
		want   bool
	}{
		{"heuristically cacheable status", http.StatusOK, "", true},
		{"other status", http.StatusTeapot, "", false},
		{"other status, public", http.StatusTeapot, "public", true},
		{"other status, explicit freshness", http.StatusTeapot, "max-age=3600", true},
		{"404 is heuristically cacheable", http.StatusNotFound, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newClock()
			o := newOrigin(t, dated(c, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Last-Modified", httpDate(c.Now().Add(-100*time.Hour)))
				if tt.cc != "" {
					w.Header().Set("Cache-Control", tt.cc)
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, "x")
			}))
			rt, _ := newCCStack(t, c, ccOptions{
				filter: &middleware.FilterOptions{Codes: []int{200, 404, 418}},
				cc:     &middleware.CacheControlOptions{Heuristic: &policy.Heuristic{}},
			})
			fetch(t, rt, o, o.URL, nil)
			c.Advance(time.Minute)
			resp, _, contacted := fetch(t, rt, o, o.URL, nil)
			assert.Equal(t, tt.want, !contacted)
			assert.Equal(t, tt.status, resp.StatusCode)
		})
	}
}

// TestMustUnderstand is RFC 9111 §5.2.2.3: a response with must-understand
// is stored only when the cache implements its status code's caching
// requirements; an unknown code with explicit freshness is stored without
// it.
func TestMustUnderstand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		give       string
		wantStored bool
	}{
		{"unknown status, explicit freshness", "max-age=100", true},
		{"unknown status, must-understand", "max-age=100, must-understand", false},
		{"unknown status, must-understand and no-store", "max-age=100, must-understand, no-store", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newClock()
			o := newOrigin(t, dated(c, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", tt.give)
				w.WriteHeader(299)
				fmt.Fprint(w, "x")
			}))
			rt, _ := newCCStack(t, c, ccOptions{filter: &middleware.FilterOptions{Codes: []int{200, 299}}})
			fetch(t, rt, o, o.URL, nil)
			_, _, contacted := fetch(t, rt, o, o.URL, nil)
			assert.Equal(t, !tt.wantStored, contacted)
		})
	}
}
