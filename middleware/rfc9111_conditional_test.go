package middleware_test

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/cachestack/cachestack/middleware"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCallersConditionalRequest is RFC 9111 §4.3.2: a caller's own
// If-None-Match or If-Modified-Since is evaluated against a fresh stored
// response (RFC 9110 §13.2.2: If-None-Match first, weak comparison, "*"
// and lists; If-Modified-Since only without it): 304 with the fields RFC
// 9110 §15.4.5 names when the condition is false, the stored response when
// it holds. A stale stored response sends the request on as it is, and
// If-Match / If-Unmodified-Since always go to the origin (RFC 9110
// §13.1.1, §13.1.4: a cache may ignore them).
func TestCallersConditionalRequest(t *testing.T) {
	t.Parallel()
	start := newClock().Now()
	lm := httpDate(start.Add(-time.Hour))
	tests := []struct {
		name        string
		stored      http.Header // fields of the stored 200 besides Cache-Control: max-age=60
		method      string      // GET when empty
		give        http.Header
		age         time.Duration // how old the stored response is when asked
		wantStatus  int
		wantOrigin  bool
		wantHeaders http.Header // fields the response must carry
		wantAbsent  []string    // fields it must not carry
	}{
		{name: "If-None-Match matches: 304", stored: header("Etag", `"a"`, "X-Extra", "1", "Content-Type", "text/plain"), give: header("If-None-Match", `"a"`),
			wantStatus: 304, wantHeaders: header("Etag", `"a"`, "Cache-Control", "max-age=60"), wantAbsent: []string{"X-Extra", "Content-Type", "Content-Length"}},
		{name: "If-None-Match, weak comparison", stored: header("Etag", `"a"`), give: header("If-None-Match", `W/"a"`), wantStatus: 304},
		{name: "If-None-Match, weak stored tag", stored: header("Etag", `W/"a"`), give: header("If-None-Match", `"a"`), wantStatus: 304},
		{name: "If-None-Match list", stored: header("Etag", `"b"`), give: header("If-None-Match", `"a", W/"b"`), wantStatus: 304},
		{name: "If-None-Match over several lines", stored: header("Etag", `"b"`), give: header("If-None-Match", `"a"`, "If-None-Match", `"b"`), wantStatus: 304},
		{name: "If-None-Match star", stored: header("Etag", `"a"`), give: header("If-None-Match", `*`), wantStatus: 304},
		{name: "If-None-Match star without a stored ETag", give: header("If-None-Match", `*`), wantStatus: 304},
		{name: "If-None-Match does not match: the stored response", stored: header("Etag", `"a"`), give: header("If-None-Match", `"b"`), wantStatus: 200},
		{name: "If-None-Match without a stored ETag", give: header("If-None-Match", `"a"`), wantStatus: 200},
		{name: "If-None-Match unreadable: the stored response", stored: header("Etag", `"a"`), give: header("If-None-Match", `a`), wantStatus: 200},
		{name: "If-None-Match on HEAD", method: http.MethodHead, stored: header("Etag", `"a"`), give: header("If-None-Match", `"a"`), wantStatus: 304},
		{name: "If-Modified-Since equal to Last-Modified", stored: header("Last-Modified", lm), give: header("If-Modified-Since", lm),
			wantStatus: 304, wantHeaders: header("Last-Modified", lm)},
		{name: "If-Modified-Since later", stored: header("Last-Modified", lm), give: header("If-Modified-Since", httpDate(start)), wantStatus: 304},
		{name: "If-Modified-Since earlier", stored: header("Last-Modified", lm), give: header("If-Modified-Since", httpDate(start.Add(-2*time.Hour))), wantStatus: 200},
		{name: "If-Modified-Since against Date without Last-Modified", give: header("If-Modified-Since", httpDate(start)), wantStatus: 304},
		{name: "If-Modified-Since invalid is ignored", stored: header("Last-Modified", lm), give: header("If-Modified-Since", "yesterday"), wantStatus: 200},
		{name: "Last-Modified is not sent beside an ETag", stored: header("Etag", `"a"`, "Last-Modified", lm), give: header("If-None-Match", `"a"`),
			wantStatus: 304, wantAbsent: []string{"Last-Modified"}},
		{name: "If-None-Match takes precedence over If-Modified-Since", stored: header("Etag", `"a"`, "Last-Modified", lm),
			give: header("If-None-Match", `"b"`, "If-Modified-Since", httpDate(start)), wantStatus: 200},
		{name: "If-None-Match takes precedence, matching", stored: header("Etag", `"a"`, "Last-Modified", lm),
			give: header("If-None-Match", `"a"`, "If-Modified-Since", httpDate(start.Add(-2*time.Hour))), wantStatus: 304},
		{name: "stale: forwarded as is", stored: header("Etag", `"a"`), give: header("If-None-Match", `"a"`), age: 2 * time.Minute,
			wantStatus: 304, wantOrigin: true},
		{name: "stale, not matching: forwarded as is", stored: header("Etag", `"a"`), give: header("If-None-Match", `"b"`), age: 2 * time.Minute,
			wantStatus: 200, wantOrigin: true},
		{name: "If-Match goes to the origin", stored: header("Etag", `"a"`), give: header("If-Match", `"a"`), wantStatus: 200, wantOrigin: true},
		{name: "If-Unmodified-Since goes to the origin", stored: header("Last-Modified", lm), give: header("If-Unmodified-Since", lm), wantStatus: 200, wantOrigin: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newClock()
			o := newOrigin(t, dated(c, func(w http.ResponseWriter, r *http.Request) {
				for k, vs := range tt.stored {
					w.Header()[k] = vs
				}
				w.Header().Set("Cache-Control", "max-age=60")
				if inm := r.Header.Get("If-None-Match"); inm != "" && inm == tt.stored.Get("Etag") {
					w.WriteHeader(http.StatusNotModified)
					return
				}
				io.WriteString(w, "full body")
			}))
			rt, _ := newCCStack(t, c, ccOptions{})
			_, _, contacted := fetch(t, rt, o, o.URL, nil)
			require.True(t, contacted)
			if tt.method == http.MethodHead {
				do(t, rt, mustRequest(t, context.Background(), http.MethodHead, o.URL, nil))
			}
			c.Advance(tt.age)

			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			req := mustRequest(t, context.Background(), method, o.URL, nil)
			for k, vs := range tt.give {
				req.Header[k] = vs
			}
			before := o.hits.Load()
			resp, body := do(t, rt, req)
			assert.Equal(t, tt.wantOrigin, o.hits.Load() != before, "origin contacted")
			require.Equal(t, tt.wantStatus, resp.StatusCode)
			switch {
			case tt.wantStatus == 304:
				assert.Empty(t, body)
				assert.Zero(t, resp.ContentLength)
				if !tt.wantOrigin {
					assert.NotEmpty(t, resp.Header.Get("Date"), "RFC 9110 §15.4.5: Date")
					assert.NotEmpty(t, resp.Header.Get("Age"))
					assert.Contains(t, resp.Header.Get("Cache-Status"), "cachestack; hit")
					assert.True(t, middleware.InfoOf(resp).FromCache)
				}
			case method == http.MethodGet:
				assert.Equal(t, "full body", body)
			}
			for k, vs := range tt.wantHeaders {
				assert.Equal(t, vs, resp.Header.Values(k), k)
			}
			for _, k := range tt.wantAbsent {
				assert.Empty(t, resp.Header.Values(k), k)
			}
		})
	}
}

// TestCallersConditionalRequestHeaderBlind: the header-blind mode keeps
// passing a caller's conditional request through (it does not read
// validators), and the origin's 304 reaches the caller as is.
func TestCallersConditionalRequestHeaderBlind(t *testing.T) {
	t.Parallel()
	c := newClock()
	o := newOrigin(t, dated(c, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Etag", `"a"`)
		if r.Header.Get("If-None-Match") == `"a"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		io.WriteString(w, "full")
	}))
	rt, _ := newCCStack(t, c, ccOptions{noCC: true})
	fetch(t, rt, o, o.URL, nil)
	resp, body, contacted := fetch(t, rt, o, o.URL, header("If-None-Match", `"a"`))
	assert.True(t, contacted)
	assert.Equal(t, http.StatusNotModified, resp.StatusCode)
	assert.Empty(t, body)
	_, body, contacted = fetch(t, rt, o, o.URL, nil)
	assert.False(t, contacted, "the 304 did not replace the stored response")
	assert.Equal(t, "full", body)
}
