package middleware_test

import (
	"io"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/cachestack/cachestack/middleware"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pathCounter counts an origin's requests per path.
type pathCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (p *pathCounter) add(path string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n == nil {
		p.n = map[string]int{}
	}
	p.n[path]++
}

func (p *pathCounter) snapshot() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]int{}
	for k, v := range p.n {
		out[k] = v
	}
	return out
}

func (p *pathCounter) since(before map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range p.snapshot() {
		if d := v - before[k]; d > 0 {
			out[k] = d
		}
	}
	return out
}

// redirectOrigin serves redirect chains that end at /final, a response
// fresh for an hour.
func redirectOrigin(t *testing.T, c *clock, counts *pathCounter) *origin {
	hops := map[string]struct {
		code int
		to   string
		cc   string
	}{
		"/301":         {301, "/final", ""},
		"/302":         {302, "/final", ""},
		"/303":         {303, "/final", ""},
		"/307":         {307, "/final", ""},
		"/308":         {308, "/final", ""},
		"/302-fresh":   {302, "/final", "max-age=30"},
		"/301-fresh":   {301, "/final", "max-age=3600"},
		"/301-nostore": {301, "/final", "no-store"},
		"/chain":       {301, "/chain-2", ""},
		"/chain-2":     {308, "/final", ""},
		"/mixed":       {301, "/mixed-2", ""},
		"/mixed-2":     {302, "/final", ""},
	}
	return newOrigin(t, dated(c, func(w http.ResponseWriter, r *http.Request) {
		counts.add(r.URL.Path)
		if h, ok := hops[r.URL.Path]; ok {
			if h.cc != "" {
				w.Header().Set("Cache-Control", h.cc)
			}
			http.Redirect(w, r, h.to, h.code)
			return
		}
		w.Header().Set("Cache-Control", "max-age=3600")
		io.WriteString(w, "final")
	}))
}

// TestRedirectAliases runs http.Client, which follows redirects above the
// transport, against chains of 301, 302, 307 and 308 responses: once a
// chain has been followed, a request for its first URL is answered from
// the cache without the round trips of the redirects, where the redirects
// may be stored (permanent ones, or with explicit freshness under
// CacheControl; any without it).
func TestRedirectAliases(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		path     string
		noCC     bool
		at       time.Duration
		wantHits map[string]int // origin requests per path the second time
	}{
		{name: "301", path: "/301", wantHits: map[string]int{}},
		{name: "308", path: "/308", wantHits: map[string]int{}},
		{name: "302 is not cacheable by default", path: "/302", wantHits: map[string]int{"/302": 1}},
		{name: "307 is not cacheable by default", path: "/307", wantHits: map[string]int{"/307": 1}},
		{name: "302 with explicit freshness", path: "/302-fresh", at: 29 * time.Second, wantHits: map[string]int{}},
		{name: "302 with explicit freshness, expired", path: "/302-fresh", at: 30 * time.Second, wantHits: map[string]int{"/302-fresh": 1}},
		{name: "301 no-store", path: "/301-nostore", wantHits: map[string]int{"/301-nostore": 1}},
		{name: "two permanent hops", path: "/chain", wantHits: map[string]int{}},
		{name: "permanent then temporary", path: "/mixed", wantHits: map[string]int{"/mixed": 1, "/mixed-2": 1}},
		{name: "the alias lives no longer than the response", path: "/301", at: time.Hour, wantHits: map[string]int{"/301": 1, "/final": 1}},
		{name: "without CacheControl every hop is aliased", path: "/302", noCC: true, wantHits: map[string]int{}},
		{name: "without CacheControl, mixed", path: "/mixed", noCC: true, wantHits: map[string]int{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newClock()
			var counts pathCounter
			o := redirectOrigin(t, c, &counts)
			rt, _ := newCCStack(t, c, ccOptions{redirect: true, noCC: tt.noCC})
			client := &http.Client{Transport: rt}
			clientGet := func() *http.Response {
				resp, err := client.Get(o.URL + tt.path)
				require.NoError(t, err)
				b, err := io.ReadAll(resp.Body)
				require.NoError(t, err)
				resp.Body.Close()
				require.Equal(t, "final", string(b))
				return resp
			}
			clientGet()
			c.Advance(tt.at)
			before := counts.snapshot()
			resp := clientGet()
			assert.Equal(t, tt.wantHits, counts.since(before))
			if len(tt.wantHits) == 0 {
				assert.Equal(t, tt.path, resp.Request.URL.Path, "answered for the original URL, without a redirect")
				assert.Contains(t, resp.Header.Get("Cache-Status"), "detail=redirect")
				assert.True(t, middleware.InfoOf(resp).FromCache)
			}
		})
	}
}

// TestRedirectStoredItself: with a filter that allows 301, a redirect
// with explicit freshness is itself stored and served to a client that
// does not follow redirects; one without freshness (heuristics off) is
// stale at once and not stored.
func TestRedirectStoredItself(t *testing.T) {
	t.Parallel()
	tests := []struct {
		path     string
		wantHits int
	}{{"/301-fresh", 1}, {"/301", 2}}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()
			c := newClock()
			var counts pathCounter
			o := redirectOrigin(t, c, &counts)
			rt, _ := newCCStack(t, c, ccOptions{filter: &middleware.FilterOptions{Codes: []int{200, 301}}})
			client := &http.Client{Transport: rt, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			for range 2 {
				resp, err := client.Get(o.URL + tt.path)
				require.NoError(t, err)
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				assert.Equal(t, http.StatusMovedPermanently, resp.StatusCode)
				loc, err := url.Parse(resp.Header.Get("Location"))
				require.NoError(t, err)
				assert.Equal(t, "/final", loc.Path)
			}
			assert.Equal(t, map[string]int{tt.path: tt.wantHits}, counts.snapshot())
		})
	}
}
