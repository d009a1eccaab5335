package middleware_test

import (
	"context"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
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

// TestPartialNeverAnswersWhole pins RFC 9111 §3.3-3.4 as this cache
// implements them: 206 responses are not stored, even when the filter
// lets 206 through (FilterOptions.Codes), so a stored partial response can
// never answer a request for the whole representation; and they are not
// combined.
func TestPartialNeverAnswersWhole(t *testing.T) {
	t.Parallel()
	c := newClock()
	o := rangeOrigin(t, c, header("Etag", `"v1"`))
	rt, counters := newCCStack(t, c, ccOptions{filter: &middleware.FilterOptions{Codes: []int{200, 206}}})
	resp, body, _ := fetch(t, rt, o, o.URL, header("Range", "bytes=0-4"))
	require.Equal(t, http.StatusPartialContent, resp.StatusCode)
	assert.Equal(t, "01234", body)
	resp, body, _ = fetch(t, rt, o, o.URL, header("Range", "bytes=5-9"))
	require.Equal(t, http.StatusPartialContent, resp.StatusCode)
	assert.Equal(t, "56789", body)
	assert.Zero(t, counters.Stored.Load(), "no 206 is stored")

	resp, body, contacted := fetch(t, rt, o, o.URL, nil)
	assert.True(t, contacted, "the two halves are not combined")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, rangeBody, body)

	resp, body, contacted = fetch(t, rt, o, o.URL, nil)
	assert.False(t, contacted, "the full 200 is stored")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, rangeBody, body)
}
