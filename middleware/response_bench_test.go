package middleware

import (
	"net/http"
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
		Header: http.Header{
			"Content-Type":   {"application/json"},
			"Content-Length": {"1024"},
			"Date":           {now.Format(http.TimeFormat)},
			"Cache-Control":  {"max-age=3600"},
			"Etag":           {`"abc"`},
			"Last-Modified":  {now.Add(-time.Hour).Format(http.TimeFormat)},
			"Vary":           {"Accept-Encoding"},
		},
		Body:         []byte(strings.Repeat("x", 1024)),
		ResponseTime: now, Created: now, Expires: now.Add(time.Hour),
	}
	req, _ := http.NewRequest(http.MethodGet, e.URL, nil)
	b.ReportAllocs()
	for b.Loop() {
		hitResponse(req, e, now.Add(time.Minute), false, "hit")
	}
}
