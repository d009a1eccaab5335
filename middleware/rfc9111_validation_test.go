package middleware_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachestack/cachestack/middleware"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// conditions records the conditional fields of the requests an origin
// receives.
type conditions struct {
	mu   sync.Mutex
	seen []http.Header
}

func (cs *conditions) record(r *http.Request) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	h := http.Header{}
	for _, f := range []string{"If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since"} {
		if v, ok := r.Header[f]; ok {
			h[f] = v
		}
	}
	cs.seen = append(cs.seen, h)
}

func (cs *conditions) last() http.Header {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.seen[len(cs.seen)-1]
}

// TestValidation is RFC 9111 §4.3: a stale stored response with a validator
// is revalidated with a conditional request (§4.3.1); a 304 updates the
// stored header fields and freshness (§4.3.4) and the caller gets the
// stored response; a full response replaces it (§4.3.3).
func TestValidation(t *testing.T) {
	t.Parallel()
	lm := httpDate(newClock().Now().Add(-time.Hour))
	tests := []struct {
		name      string
		give      http.Header // the first response's fields besides Cache-Control: max-age=10
		reply     int         // the origin's answer to the revalidation: 304 or 200
		replyWith http.Header // fields of that answer
		wantSent  http.Header // the conditional fields the origin receives
		wantBody  string
		wantFrom  bool   // the caller's response counts as served from the cache
		wantField string // X-Version in the caller's response
		wantNext  bool   // a third request, 5s later, is a hit
	}{
		{
			name: "ETag, 304", give: header("Etag", `"a"`, "X-Version", "1"),
			reply: 304, replyWith: header("Etag", `"a"`, "X-Version", "2", "Cache-Control", "max-age=10"),
			wantSent: header("If-None-Match", `"a"`), wantBody: "v1", wantFrom: true, wantField: "2", wantNext: true,
		},
		{
			name: "weak ETag, 304", give: header("Etag", `W/"a"`, "X-Version", "1"),
			reply: 304, replyWith: header("Cache-Control", "max-age=10"),
			wantSent: header("If-None-Match", `W/"a"`), wantBody: "v1", wantFrom: true, wantField: "1", wantNext: true,
		},
		{
			name: "Last-Modified, 304", give: header("Last-Modified", lm, "X-Version", "1"),
			reply: 304, replyWith: header("X-Version", "2", "Cache-Control", "max-age=10"),
			wantSent: header("If-Modified-Since", lm), wantBody: "v1", wantFrom: true, wantField: "2", wantNext: true,
		},
		{
			name: "both validators are sent", give: header("Etag", `"a"`, "Last-Modified", lm, "X-Version", "1"),
			reply: 304, replyWith: header("Cache-Control", "max-age=10"),
			wantSent: header("If-None-Match", `"a"`, "If-Modified-Since", lm), wantBody: "v1", wantFrom: true, wantField: "1", wantNext: true,
		},
		{
			name: "304 without new freshness keeps the stored max-age, counted from now", give: header("Etag", `"a"`, "X-Version", "1"),
			reply: 304, replyWith: header("Etag", `"a"`),
			wantSent: header("If-None-Match", `"a"`), wantBody: "v1", wantFrom: true, wantField: "1", wantNext: true,
		},
		{
			name: "304 that makes it stale at once", give: header("Etag", `"a"`, "X-Version", "1"),
			reply: 304, replyWith: header("Cache-Control", "no-cache"),
			wantSent: header("If-None-Match", `"a"`), wantBody: "v1", wantFrom: true, wantField: "1", wantNext: false,
		},
		{
			name: "a full response replaces the entry", give: header("Etag", `"a"`, "X-Version", "1"),
			reply: 200, replyWith: header("Etag", `"b"`, "X-Version", "2", "Cache-Control", "max-age=10"),
			wantSent: header("If-None-Match", `"a"`), wantBody: "v2", wantField: "2", wantNext: true,
		},
		{
			name: "no validator: an unconditional request", give: header("X-Version", "1"),
			reply: 200, replyWith: header("X-Version", "2", "Cache-Control", "max-age=10"),
			wantSent: http.Header{}, wantBody: "v2", wantField: "2", wantNext: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newClock()
			var n atomic.Int64
			var cs conditions
			o := newOrigin(t, dated(c, func(w http.ResponseWriter, r *http.Request) {
				cs.record(r)
				if n.Add(1) == 1 {
					for k, vs := range tt.give {
						w.Header()[k] = vs
					}
					w.Header().Set("Cache-Control", "max-age=10")
					io.WriteString(w, "v1")
					return
				}
				for k, vs := range tt.replyWith {
					w.Header()[k] = vs
				}
				w.WriteHeader(tt.reply)
				if tt.reply == http.StatusOK {
					io.WriteString(w, "v2")
				}
			}))
			rt, counters := newCCStack(t, c, ccOptions{})
			fetch(t, rt, o, o.URL, nil)
			c.Advance(20 * time.Second)

			resp, body, contacted := fetch(t, rt, o, o.URL, nil)
			require.True(t, contacted, "a stale response is not served without validation")
			assert.Equal(t, tt.wantSent, cs.last())
			assert.Equal(t, http.StatusOK, resp.StatusCode, "the caller never sees the 304")
			assert.Equal(t, tt.wantBody, body)
			assert.Equal(t, tt.wantField, resp.Header.Get("X-Version"))
			assert.Equal(t, tt.wantFrom, middleware.InfoOf(resp).FromCache)
			if tt.reply == http.StatusNotModified {
				want := "cachestack; fwd=stale; fwd-status=304; ttl=10"
				if !tt.wantNext {
					want = "cachestack; fwd=stale; fwd-status=304; ttl=0"
				}
				assert.Equal(t, want, resp.Header.Get("Cache-Status"))
				assert.Equal(t, int64(1), counters.Revalidated.Load())
				assert.Equal(t, "0", resp.Header.Get("Age"), "the age restarts at the validation")
			}

			c.Advance(5 * time.Second)
			resp, body, contacted = fetch(t, rt, o, o.URL, nil)
			assert.Equal(t, tt.wantNext, !contacted, "the validation refreshed the freshness")
			if tt.wantNext {
				assert.Equal(t, tt.wantBody, body)
				assert.Equal(t, tt.wantField, resp.Header.Get("X-Version"), "the updated fields are stored")
			}
		})
	}
}

// TestNotModifiedMerge checks what a 304 may and may not change in the
// stored response (RFC 9111 §3.2, §4.3.4): its fields replace the stored
// ones, except Content-Length and the fields a cache never stores (§3.1).
func TestNotModifiedMerge(t *testing.T) {
	t.Parallel()
	c := newClock()
	var n atomic.Int64
	o := newOrigin(t, dated(c, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Etag", `"a"`)
		w.Header().Set("Cache-Control", "max-age=10")
		if n.Add(1) == 1 {
			w.Header().Set("X-Kept", "1")
			w.Header().Set("X-Replaced", "old")
			io.WriteString(w, "stored body")
			return
		}
		w.Header().Set("X-Replaced", "new")
		w.Header().Set("X-Added", "yes")
		w.Header().Set("Connection", "X-Hop")
		w.Header().Set("X-Hop", "must not be stored")
		w.Header().Set("Keep-Alive", "timeout=5")
		w.Header().Set("Content-Length", "999")
		w.WriteHeader(http.StatusNotModified)
	}))
	rt, _ := newCCStack(t, c, ccOptions{})
	fetch(t, rt, o, o.URL, nil)
	c.Advance(time.Minute)
	resp, body, _ := fetch(t, rt, o, o.URL, nil)
	assert.Equal(t, "stored body", body)
	c.Advance(time.Second)
	resp, body, contacted := fetch(t, rt, o, o.URL, nil)
	require.False(t, contacted)
	assert.Equal(t, "stored body", body)
	assert.Equal(t, "1", resp.Header.Get("X-Kept"))
	assert.Equal(t, "new", resp.Header.Get("X-Replaced"))
	assert.Equal(t, "yes", resp.Header.Get("X-Added"))
	assert.Equal(t, "11", resp.Header.Get("Content-Length"), "a 304 does not change Content-Length")
	assert.Empty(t, resp.Header.Values("X-Hop"), "a field named by Connection is not stored")
	assert.Empty(t, resp.Header.Values("Keep-Alive"))
	assert.Equal(t, int64(len("stored body")), resp.ContentLength)
}

// TestRefreshAndForceRefresh checks the per-request options: Refresh
// revalidates a fresh stored response before using it (conditionally when
// it has a validator), ForceRefresh ignores it and stores what the origin
// returns.
func TestRefreshAndForceRefresh(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		ctx          func(context.Context) context.Context
		etag         bool
		wantSent     http.Header
		wantBody     string
		wantFrom     bool
		wantAfter    string // body of a plain request afterwards (a hit)
		wantCacheSts string
	}{
		{"Refresh with a validator", middleware.Refresh, true, header("If-None-Match", `"v1"`), "v1", true, "v1", "cachestack; fwd=request; fwd-status=304; ttl=3600"},
		{"Refresh without a validator", middleware.Refresh, false, http.Header{}, "v2", false, "v2", "cachestack; fwd=request; fwd-status=200"},
		{"ForceRefresh with a validator", middleware.ForceRefresh, true, http.Header{}, "v2", false, "v2", "cachestack; fwd=request"},
		{"ForceRefresh without a validator", middleware.ForceRefresh, false, http.Header{}, "v2", false, "v2", "cachestack; fwd=request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newClock()
			var n atomic.Int64
			var cs conditions
			o := newOrigin(t, dated(c, func(w http.ResponseWriter, r *http.Request) {
				cs.record(r)
				w.Header().Set("Cache-Control", "max-age=3600")
				v := fmt.Sprint("v", n.Add(1))
				if tt.etag {
					if r.Header.Get("If-None-Match") == `"v1"` {
						w.WriteHeader(http.StatusNotModified)
						return
					}
					w.Header().Set("Etag", `"`+v+`"`)
				}
				io.WriteString(w, v)
			}))
			rt, _ := newCCStack(t, c, ccOptions{})
			fetch(t, rt, o, o.URL, nil)
			resp, body, contacted := fetchCtx(t, tt.ctx(context.Background()), rt, o, o.URL, nil)
			require.True(t, contacted, "the fresh response is not used as is")
			assert.Equal(t, tt.wantSent, cs.last())
			assert.Equal(t, tt.wantBody, body)
			assert.Equal(t, tt.wantFrom, middleware.InfoOf(resp).FromCache)
			assert.Equal(t, tt.wantCacheSts, resp.Header.Get("Cache-Status"))
			_, body, contacted = fetch(t, rt, o, o.URL, nil)
			assert.False(t, contacted)
			assert.Equal(t, tt.wantAfter, body)
		})
	}
}

// TestUnstorableReplacementDropsStale: when a stale response is revalidated
// and the origin answers with a full response that may not be stored, the
// stale response is outdated and is not kept (§4.3.3): the next request
// is unconditional.
func TestUnstorableReplacementDropsStale(t *testing.T) {
	t.Parallel()
	c := newClock()
	var n atomic.Int64
	var cs conditions
	o := newOrigin(t, dated(c, func(w http.ResponseWriter, r *http.Request) {
		cs.record(r)
		w.Header().Set("Etag", `"a"`)
		if n.Add(1) == 1 {
			w.Header().Set("Cache-Control", "max-age=10")
		} else {
			w.Header().Set("Cache-Control", "no-store")
		}
		io.WriteString(w, "x")
	}))
	rt, _ := newCCStack(t, c, ccOptions{})
	fetch(t, rt, o, o.URL, nil)
	c.Advance(20 * time.Second)
	fetch(t, rt, o, o.URL, nil)
	assert.Equal(t, header("If-None-Match", `"a"`), cs.last())
	fetch(t, rt, o, o.URL, nil)
	assert.Equal(t, http.Header{}, cs.last(), "the stale response is gone")
}

// TestNotModifiedKeepsContentLength: a 304 carrying a Content-Length (Go's
// server drops it, so the 304 comes through a raw transport) does not
// replace the stored one, which describes the stored body (RFC 9111 §3.2).
func TestNotModifiedKeepsContentLength(t *testing.T) {
	t.Parallel()
	c := newClock()
	var n atomic.Int64
	next := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		h := header("Date", httpDate(c.Now()), "Cache-Control", "max-age=10", "Etag", `"a"`)
		if n.Add(1) == 1 {
			h.Set("Content-Length", "11")
			return &http.Response{StatusCode: 200, Header: h, Body: io.NopCloser(strings.NewReader("stored body")), ContentLength: 11, Request: r}, nil
		}
		h.Set("Content-Length", "999")
		h.Set("Content-Encoding", "gzip")
		return &http.Response{StatusCode: 304, Header: h, Body: http.NoBody, Request: r}, nil
	})
	rt, _ := newCCStack(t, c, ccOptions{next: next})
	get(t, rt, "http://origin.test/")
	c.Advance(time.Minute)
	resp, body := get(t, rt, "http://origin.test/")
	assert.Equal(t, "stored body", body)
	assert.Equal(t, "11", resp.Header.Get("Content-Length"))
	assert.Empty(t, resp.Header.Get("Content-Encoding"), "the stored body is not encoded")
	assert.Equal(t, int64(2), n.Load())
}

// TestNotModifiedSelection is RFC 9111 §4.3.4: a 304 updates the stored
// response only when its validators select it: a strong ETag that strongly
// matches the stored one, a weak ETag that weakly matches it, or without
// an ETag a Last-Modified equal to the stored one. A 304 with no validator
// answers the validators the cache sent and selects the stored response.
// One that selects nothing leaves the stored response un-updated, and the
// request is sent again without conditions.
func TestNotModifiedSelection(t *testing.T) {
	t.Parallel()
	lm := httpDate(newClock().Now().Add(-time.Hour))
	other := httpDate(newClock().Now().Add(-2 * time.Hour))
	tests := []struct {
		name     string
		stored   http.Header
		reply    http.Header // the 304's fields
		selected bool
	}{
		{name: "strong ETag matches", stored: header("Etag", `"a"`), reply: header("Etag", `"a"`), selected: true},
		{name: "strong ETag differs", stored: header("Etag", `"a"`), reply: header("Etag", `"b"`)},
		{name: "strong ETag against a weak stored one", stored: header("Etag", `W/"a"`), reply: header("Etag", `"a"`)},
		{name: "weak ETag matches weakly", stored: header("Etag", `"a"`), reply: header("Etag", `W/"a"`), selected: true},
		{name: "weak ETag differs", stored: header("Etag", `W/"a"`), reply: header("Etag", `W/"b"`)},
		{name: "Last-Modified matches", stored: header("Last-Modified", lm), reply: header("Last-Modified", lm), selected: true},
		{name: "Last-Modified differs", stored: header("Last-Modified", lm), reply: header("Last-Modified", other)},
		{name: "ETag decides over Last-Modified", stored: header("Etag", `"a"`, "Last-Modified", lm), reply: header("Etag", `"b"`, "Last-Modified", lm)},
		{name: "no validator: the response the cache asked about", stored: header("Etag", `"a"`), reply: header(), selected: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newClock()
			var n atomic.Int64
			var cs conditions
			o := newOrigin(t, dated(c, func(w http.ResponseWriter, r *http.Request) {
				cs.record(r)
				w.Header().Set("Cache-Control", "max-age=10")
				switch n.Add(1) {
				case 1:
					for k, vs := range tt.stored {
						w.Header()[k] = vs
					}
					io.WriteString(w, "v1")
				case 2:
					for k, vs := range tt.reply {
						w.Header()[k] = vs
					}
					w.Header().Set("X-From-304", "yes")
					w.WriteHeader(http.StatusNotModified)
				default:
					w.Header().Set("Etag", `"b"`)
					io.WriteString(w, "v2")
				}
			}))
			rt, _ := newCCStack(t, c, ccOptions{})
			fetch(t, rt, o, o.URL, nil)
			c.Advance(20 * time.Second)
			resp, body, _ := fetch(t, rt, o, o.URL, nil)
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			if tt.selected {
				assert.Equal(t, int64(2), n.Load())
				assert.Equal(t, "v1", body)
				assert.Equal(t, "yes", resp.Header.Get("X-From-304"), "the 304's fields update the stored response")
				return
			}
			assert.Equal(t, int64(3), n.Load(), "the request is sent again")
			assert.Empty(t, cs.last(), "without conditions")
			assert.Equal(t, "v2", body)
			assert.Empty(t, resp.Header.Get("X-From-304"), "the stored response was not updated by a 304 for another representation")
			resp, body, contacted := fetch(t, rt, o, o.URL, nil)
			assert.False(t, contacted)
			assert.Equal(t, "v2", body, "the full response replaced the stored one")
			assert.Equal(t, `"b"`, resp.Header.Get("Etag"))
		})
	}
}
