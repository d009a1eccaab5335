package middleware

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cachestack/cachestack/cached"
)

// BenchmarkHitResponse is the cost of building a caller's response from a
// stored one: the layer bench/'s BenchmarkLayer cannot reach from outside.
func BenchmarkHitResponse(b *testing.B) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	e := &cached.Response{
		Method: http.MethodGet, URL: "http://example.com/a", StatusCode: 200, Proto: "HTTP/1.1",
		Header: cached.NewHeader(http.Header{
			"Content-Type":   {"application/json"},
			"Content-Length": {"1024"},
			"Date":           {now.Format(http.TimeFormat)},
			"Cache-Control":  {"max-age=3600"},
			"Etag":           {`"abc"`},
			"Last-Modified":  {now.Add(-time.Hour).Format(http.TimeFormat)},
			"Vary":           {"Accept-Encoding"},
		}),
		Body:         []byte(strings.Repeat("x", 1024)),
		ResponseTime: now, Created: now, Expires: now.Add(time.Hour),
	}
	req, _ := http.NewRequest(http.MethodGet, e.URL, nil)
	b.ReportAllocs()
	for b.Loop() {
		hitResponse(req, e, now.Add(time.Minute), false, "hit")
	}
}

// BenchmarkHitHeader is the caller's header built from a stored one of 6
// and of 7 fields: with Age and Cache-Status, 8 and 9. Nine is one past
// what a Go map holds in a single group, so the ninth field costs the map
// a table: two more allocations, and 1.5x to 1.9x the time in the runs
// bench/README reports.
func BenchmarkHitHeader(b *testing.B) {
	stored := http.Header{
		"Content-Type":   {"application/json"},
		"Content-Length": {"1024"},
		"Cache-Control":  {"max-age=3600"},
		"Date":           {"Tue, 01 Dec 2026 12:00:00 GMT"},
		"Last-Modified":  {"Tue, 01 Dec 2026 11:00:00 GMT"},
		"Etag":           {`"abc"`},
	}
	for _, extra := range []string{"", "Server"} {
		h := stored.Clone()
		if extra != "" {
			h[extra] = []string{"origin/1.0"}
		}
		packed := cached.NewHeader(h)
		b.Run("fields="+strconv.Itoa(len(h)+2), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				hitHeader(packed, make([]string, packed.NumValues()+2), "60", "cachestack; hit")
			}
		})
	}
}
