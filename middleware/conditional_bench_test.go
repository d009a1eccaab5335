package middleware

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cachestack/cachestack/cached"
)

// BenchmarkAnswerStored is the cost of answering a request from a stored
// response: whole (nothing to do beyond hitResponse), a 304 to the
// caller's If-None-Match, and a 206 to a single Range.
func BenchmarkAnswerStored(b *testing.B) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	e := &cached.Response{
		Method: http.MethodGet, URL: "http://example.com/a", StatusCode: 200, Proto: "HTTP/1.1",
		Header: cached.NewHeader(http.Header{
			"Content-Type":   {"application/json"},
			"Content-Length": {"1024"},
			"Date":           {now.Format(http.TimeFormat)},
			"Cache-Control":  {"max-age=3600"},
			"Etag":           {`"abc"`},
		}),
		Body:         []byte(strings.Repeat("x", 1024)),
		ResponseTime: now, Created: now, Expires: now.Add(time.Hour),
	}
	x := &exchange{parts: parts{cc: defaultCC}}
	for _, tt := range []struct {
		name string
		h    http.Header
	}{
		{"whole", http.Header{}},
		{"if-none-match", http.Header{"If-None-Match": {`"abc"`}}},
		{"range", http.Header{"Range": {"bytes=100-199"}}},
	} {
		req, _ := http.NewRequest(http.MethodGet, e.URL, nil)
		req.Header = tt.h
		b.Run(tt.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if x.answerStored(req, e, now, false, "hit") == nil {
					hitResponse(req, e, now, false, "hit")
				}
			}
		})
	}
}
