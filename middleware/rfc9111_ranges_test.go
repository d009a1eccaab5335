package middleware_test

import (
	"context"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachestack/cachestack/middleware"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const rangeBody = "0123456789"

// rangeOrigin serves rangeBody, fresh for a minute, with the fields of
// stored, and answers Range itself (http.ServeContent) so that a request
// the cache forwards gets what an origin would send.
func rangeOrigin(t *testing.T, c *clock, stored http.Header) *origin {
	return newOrigin(t, dated(c, func(w http.ResponseWriter, r *http.Request) {
		for k, vs := range stored {
			w.Header()[k] = vs
		}
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Content-Type", "text/plain")
		http.ServeContent(w, r, "", time.Time{}, strings.NewReader(rangeBody))
	}))
}

// TestRangeFromStored is RFC 9111 §3.4 with RFC 9110 §14: a GET with Range
// is answered from a complete, fresh stored 200: 206 with Content-Range
// for one range (overlapping and adjacent ranges coalesced, §14.2), 206
// multipart/byteranges for several, 416 with "bytes */length" when none is
// satisfiable, and the whole 200 for a Range the cache does not read or an
// If-Range that does not strongly match (§13.1.5).
func TestRangeFromStored(t *testing.T) {
	t.Parallel()
	start := newClock().Now()
	lmStrong := httpDate(start.Add(-time.Hour))
	lmWeak := httpDate(start)
	tests := []struct {
		name      string
		stored    http.Header
		give      http.Header
		method    string
		want      int
		wantBody  string
		wantRange string   // Content-Range of a single-part 206 or a 416
		wantParts []string // Content-Range of each part of a multipart 206
	}{
		{name: "first bytes", give: header("Range", "bytes=0-3"), want: 206, wantBody: "0123", wantRange: "bytes 0-3/10"},
		{name: "open range", give: header("Range", "bytes=7-"), want: 206, wantBody: "789", wantRange: "bytes 7-9/10"},
		{name: "suffix", give: header("Range", "bytes=-3"), want: 206, wantBody: "789", wantRange: "bytes 7-9/10"},
		{name: "suffix longer than the body", give: header("Range", "bytes=-30"), want: 206, wantBody: rangeBody, wantRange: "bytes 0-9/10"},
		{name: "last-pos past the end", give: header("Range", "bytes=8-20"), want: 206, wantBody: "89", wantRange: "bytes 8-9/10"},
		{name: "unit in any case, spaces", give: header("Range", "Bytes=1-2 , "), want: 206, wantBody: "12", wantRange: "bytes 1-2/10"},
		{name: "overlapping ranges are coalesced", give: header("Range", "bytes=0-3,2-5"), want: 206, wantBody: "012345", wantRange: "bytes 0-5/10"},
		{name: "adjacent ranges are coalesced", give: header("Range", "bytes=4-5,0-3"), want: 206, wantBody: "012345", wantRange: "bytes 0-5/10"},
		{name: "disjoint ranges: multipart/byteranges", give: header("Range", "bytes=7-8,0-1"), want: 206,
			wantParts: []string{"bytes 0-1/10", "bytes 7-8/10"}, wantBody: "0178"},
		{name: "an unsatisfiable range beside a satisfiable one", give: header("Range", "bytes=20-30,1-1"), want: 206, wantBody: "1", wantRange: "bytes 1-1/10"},
		{name: "unsatisfiable: 416", give: header("Range", "bytes=10-"), want: 416, wantRange: "bytes */10"},
		{name: "empty suffix: 416", give: header("Range", "bytes=-0"), want: 416, wantRange: "bytes */10"},
		{name: "last-pos before first-pos: whole", give: header("Range", "bytes=5-2"), want: 200, wantBody: rangeBody},
		{name: "another unit: whole", give: header("Range", "items=0-1"), want: 200, wantBody: rangeBody},
		{name: "garbage: whole", give: header("Range", "bytes=a-b"), want: 200, wantBody: rangeBody},
		{name: "two Range lines: whole", give: header("Range", "bytes=0-1", "Range", "bytes=2-3"), want: 200, wantBody: rangeBody},
		{name: "HEAD: Range is not defined for it", method: http.MethodHead, give: header("Range", "bytes=0-1"), want: 200},
		{name: "If-Range, strong match", stored: header("Etag", `"v1"`), give: header("Range", "bytes=0-1", "If-Range", `"v1"`), want: 206, wantBody: "01", wantRange: "bytes 0-1/10"},
		{name: "If-Range, other tag: whole", stored: header("Etag", `"v1"`), give: header("Range", "bytes=0-1", "If-Range", `"v2"`), want: 200, wantBody: rangeBody},
		{name: "If-Range, weak tag: whole", stored: header("Etag", `W/"v1"`), give: header("Range", "bytes=0-1", "If-Range", `W/"v1"`), want: 200, wantBody: rangeBody},
		{name: "If-Range, weak tag asked of a strong one: whole", stored: header("Etag", `"v1"`), give: header("Range", "bytes=0-1", "If-Range", `W/"v1"`), want: 200, wantBody: rangeBody},
		{name: "If-Range, strong date", stored: header("Last-Modified", lmStrong), give: header("Range", "bytes=0-1", "If-Range", lmStrong), want: 206, wantBody: "01", wantRange: "bytes 0-1/10"},
		{name: "If-Range, weak date: whole", stored: header("Last-Modified", lmWeak), give: header("Range", "bytes=0-1", "If-Range", lmWeak), want: 200, wantBody: rangeBody},
		{name: "If-Range, other date: whole", stored: header("Last-Modified", lmStrong), give: header("Range", "bytes=0-1", "If-Range", lmWeak), want: 200, wantBody: rangeBody},
		{name: "If-Range without Range is ignored", stored: header("Etag", `"v1"`), give: header("If-Range", `"v2"`), want: 200, wantBody: rangeBody},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newClock()
			o := rangeOrigin(t, c, tt.stored)
			rt, _ := newCCStack(t, c, ccOptions{})
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			if method == http.MethodHead {
				do(t, rt, mustRequest(t, context.Background(), http.MethodHead, o.URL, nil))
			} else {
				fetch(t, rt, o, o.URL, nil)
			}
			req := mustRequest(t, context.Background(), method, o.URL, nil)
			for k, vs := range tt.give {
				req.Header[k] = vs
			}
			before := o.hits.Load()
			resp, body := do(t, rt, req)
			assert.Equal(t, before, o.hits.Load(), "answered from the stored response")
			assert.True(t, middleware.InfoOf(resp).FromCache)
			require.Equal(t, tt.want, resp.StatusCode)
			if method == http.MethodHead {
				assert.Empty(t, resp.Header.Get("Content-Range"))
				return
			}
			assert.Equal(t, int64(len(body)), resp.ContentLength)
			if tt.wantParts == nil {
				assert.Equal(t, tt.wantBody, body)
				assert.Equal(t, tt.wantRange, resp.Header.Get("Content-Range"))
				return
			}
			mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
			require.NoError(t, err)
			assert.Equal(t, "multipart/byteranges", mt)
			mr := multipart.NewReader(strings.NewReader(body), params["boundary"])
			var got []string
			var all string
			for {
				p, err := mr.NextPart()
				if err == io.EOF {
					break
				}
				require.NoError(t, err)
				got = append(got, p.Header.Get("Content-Range"))
				assert.Equal(t, "text/plain", p.Header.Get("Content-Type"))
				b, _ := io.ReadAll(p)
				all += string(b)
			}
			assert.Equal(t, tt.wantParts, got)
			assert.Equal(t, tt.wantBody, all)
		})
	}
}

// TestRangeStale: a Range request whose stored response is stale is
// revalidated, and the 304 answers the range from the refreshed response
// (RFC 9111 §4.3.4 then §3.4).
func TestRangeStale(t *testing.T) {
	t.Parallel()
	c := newClock()
	o := rangeOrigin(t, c, header("Etag", `"v1"`))
	rt, _ := newCCStack(t, c, ccOptions{})
	fetch(t, rt, o, o.URL, nil)
	c.Advance(2 * time.Minute)
	resp, body, contacted := fetch(t, rt, o, o.URL, header("Range", "bytes=2-3"))
	assert.True(t, contacted)
	assert.Equal(t, http.StatusPartialContent, resp.StatusCode)
	assert.Equal(t, "23", body)
	assert.Equal(t, "bytes 2-3/10", resp.Header.Get("Content-Range"))
	assert.Contains(t, resp.Header.Get("Cache-Status"), "fwd-status=304")
}

// TestPartialContent is RFC 9111 §3.3 and §3.4: 206 responses are kept
// as parts of the representation and combined when they share a strong
// ETag, overlapping or not; once they cover it, they are stored as a 200
// that answers later requests, ranged or not. A part never answers a
// request by itself; a 206 with another ETag discards the parts; weak
// ETags, and FilterOptions.Codes without 206, keep nothing.
func TestPartialContent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		codes  []int
		etag   string
		ranges []string // the Range of each request, in order; "v2" switches the origin to another ETag first
		want   bool     // a full request afterwards is answered from the cache
	}{
		{name: "one part never answers the whole", ranges: []string{"bytes=0-4"}},
		{name: "adjacent parts", ranges: []string{"bytes=0-4", "bytes=5-9"}, want: true},
		{name: "overlapping parts", ranges: []string{"bytes=3-9", "bytes=0-6"}, want: true},
		{name: "the same part twice is not the whole", ranges: []string{"bytes=0-4", "bytes=0-4"}},
		{name: "disjoint parts, then the gap", ranges: []string{"bytes=0-2", "bytes=7-9", "bytes=3-6"}, want: true},
		{name: "disjoint parts leave a gap", ranges: []string{"bytes=0-2", "bytes=7-9", "bytes=4-5"}},
		{name: "suffix and open parts", ranges: []string{"bytes=-5", "bytes=0-"}, want: true},
		{name: "another ETag discards the parts", ranges: []string{"bytes=0-4", "v2", "bytes=5-9"}},
		{name: "another ETag starts anew", ranges: []string{"bytes=0-4", "v2", "bytes=5-9", "bytes=0-4"}, want: true},
		{name: "weak ETag: not kept", etag: `W/"v1"`, ranges: []string{"bytes=0-4", "bytes=5-9"}},
		{name: "Codes without 206: not kept", codes: []int{200}, ranges: []string{"bytes=0-4", "bytes=5-9"}},
		{name: "Codes with 206", codes: []int{200, 206}, ranges: []string{"bytes=0-4", "bytes=5-9"}, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newClock()
			var etag atomic.Value
			etag.Store(`"v1"`)
			if tt.etag != "" {
				etag.Store(tt.etag)
			}
			o := newOrigin(t, dated(c, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Etag", etag.Load().(string))
				w.Header().Set("Cache-Control", "max-age=60")
				w.Header().Set("Content-Type", "text/plain")
				http.ServeContent(w, r, "", time.Time{}, strings.NewReader(rangeBody))
			}))
			var filter *middleware.FilterOptions
			if tt.codes != nil {
				filter = &middleware.FilterOptions{Codes: tt.codes}
			}
			rt, _ := newCCStack(t, c, ccOptions{filter: filter})
			for _, rg := range tt.ranges {
				if rg == "v2" {
					etag.Store(`"v2"`)
					continue
				}
				resp, _, _ := fetch(t, rt, o, o.URL, header("Range", rg))
				require.Equal(t, http.StatusPartialContent, resp.StatusCode)
			}
			resp, body, contacted := fetch(t, rt, o, o.URL, nil)
			assert.Equal(t, !tt.want, contacted)
			assert.Equal(t, http.StatusOK, resp.StatusCode, "a request for the whole never gets a part")
			assert.Equal(t, rangeBody, body)
			if !tt.want {
				return
			}
			assert.Equal(t, "10", resp.Header.Get("Content-Length"))
			assert.Empty(t, resp.Header.Get("Content-Range"))
			assert.Equal(t, etag.Load().(string), resp.Header.Get("Etag"))
			resp, body, contacted = fetch(t, rt, o, o.URL, header("Range", "bytes=2-3"))
			assert.False(t, contacted, "the combined response answers ranges")
			assert.Equal(t, http.StatusPartialContent, resp.StatusCode)
			assert.Equal(t, "23", body)
		})
	}
}

// TestRangeNotCoalesced: a Range request is not merged with a concurrent
// request for the whole (Coalesce): each gets its own response.
func TestRangeNotCoalesced(t *testing.T) {
	t.Parallel()
	c := newClock()
	release := make(chan struct{})
	var first atomic.Bool
	o := newOrigin(t, dated(c, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Range") == "" && first.CompareAndSwap(false, true) {
			waitFor(release)
		}
		w.Header().Set("Etag", `"v1"`)
		w.Header().Set("Cache-Control", "max-age=60")
		http.ServeContent(w, r, "", time.Time{}, strings.NewReader(rangeBody))
	}))
	rt, _ := newCCStack(t, c, ccOptions{coalesce: &middleware.CoalesceOptions{Workers: newWorkers(t, 4)}})
	done := make(chan string)
	go func() {
		resp, err := rt.RoundTrip(mustRequest(t, context.Background(), http.MethodGet, o.URL, nil))
		if err != nil {
			done <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- string(b)
	}()
	for o.hits.Load() == 0 {
		time.Sleep(time.Millisecond) // polling for the first request to arrive
	}
	resp, body, contacted := fetch(t, rt, o, o.URL, header("Range", "bytes=0-1"))
	close(release)
	assert.True(t, contacted)
	assert.Equal(t, http.StatusPartialContent, resp.StatusCode)
	assert.Equal(t, "01", body)
	assert.Equal(t, rangeBody, <-done)
}

// TestRangeFromParts is RFC 9111 §3.3: a Range request wholly within fresh
// stored parts is answered from them; one that reaches past them, asks for
// validation, carries an If-Range that does not strongly match, or comes
// when the parts are stale, goes to the origin.
func TestRangeFromParts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		give     http.Header
		age      time.Duration
		want     bool // answered from the parts
		wantBody string
	}{
		{name: "within a part", give: header("Range", "bytes=1-3"), want: true, wantBody: "123"},
		{name: "the whole part", give: header("Range", "bytes=7-"), want: true, wantBody: "789"},
		{name: "suffix within a part", give: header("Range", "bytes=-2"), want: true, wantBody: "89"},
		{name: "two ranges in two parts", give: header("Range", "bytes=0-0,9-9"), want: true},
		{name: "past a part", give: header("Range", "bytes=1-4"), wantBody: "1234"},
		{name: "in the gap", give: header("Range", "bytes=5-5"), wantBody: "5"},
		{name: "If-Range matching", give: header("Range", "bytes=1-3", "If-Range", `"v1"`), want: true, wantBody: "123"},
		{name: "If-Range not matching", give: header("Range", "bytes=1-3", "If-Range", `"v0"`), wantBody: rangeBody},
		{name: "no-cache", give: header("Range", "bytes=1-3", "Cache-Control", "no-cache"), wantBody: "123"},
		{name: "the caller's own validators", give: header("Range", "bytes=1-3", "If-None-Match", `"v0"`), wantBody: "123"},
		{name: "stale parts", give: header("Range", "bytes=1-3"), age: 2 * time.Minute, wantBody: "123"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newClock()
			o := rangeOrigin(t, c, header("Etag", `"v1"`))
			rt, _ := newCCStack(t, c, ccOptions{})
			fetch(t, rt, o, o.URL, header("Range", "bytes=0-3"))
			fetch(t, rt, o, o.URL, header("Range", "bytes=7-9"))
			c.Advance(tt.age)
			resp, body, contacted := fetch(t, rt, o, o.URL, tt.give)
			assert.Equal(t, !tt.want, contacted)
			if tt.want {
				assert.Equal(t, "cachestack; hit; detail=partial; ttl=60", resp.Header.Get("Cache-Status"))
			}
			if tt.wantBody == rangeBody {
				assert.Equal(t, http.StatusOK, resp.StatusCode)
			} else {
				assert.Equal(t, http.StatusPartialContent, resp.StatusCode)
			}
			if tt.wantBody != "" {
				assert.Equal(t, tt.wantBody, body)
				return
			}
			_, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
			require.NoError(t, err)
			mr := multipart.NewReader(strings.NewReader(body), params["boundary"])
			var all string
			for {
				p, err := mr.NextPart()
				if err == io.EOF {
					break
				}
				require.NoError(t, err)
				b, _ := io.ReadAll(p)
				all += string(b)
			}
			assert.Equal(t, "09", all)
		})
	}
}

// TestRangeManyParts: RFC 9110 §14.2 lets a server ignore a Range of many
// small ranges; past 16 parts (after coalescing) the cache sends the whole
// response, and up to 16 a multipart/byteranges.
func TestRangeManyParts(t *testing.T) {
	t.Parallel()
	c := newClock()
	body := strings.Repeat("abcdefghij", 10)
	o := newOrigin(t, dated(c, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, body)
	}))
	rt, _ := newCCStack(t, c, ccOptions{})
	fetch(t, rt, o, o.URL, nil)
	ranges := func(n int) string {
		var parts []string
		for i := range n {
			parts = append(parts, strconv.Itoa(i*3)+"-"+strconv.Itoa(i*3))
		}
		return "bytes=" + strings.Join(parts, ",")
	}
	resp, _, contacted := fetch(t, rt, o, o.URL, header("Range", ranges(16)))
	assert.False(t, contacted)
	assert.Equal(t, http.StatusPartialContent, resp.StatusCode)
	assert.Contains(t, resp.Header.Get("Content-Type"), "multipart/byteranges")
	resp, got, contacted := fetch(t, rt, o, o.URL, header("Range", ranges(17)))
	assert.False(t, contacted)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, body, got)
}
