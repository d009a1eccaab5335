package bench

import (
	"bytes"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// sizes are the body sizes every hit and miss benchmark runs at.
var sizes = []struct {
	name string
	n    int
}{{"1KiB", 1 << 10}, {"64KiB", 64 << 10}}

// origin is a loopback server whose responses every cache may store for an
// hour: Cache-Control max-age=3600 and the validators and fields a typical
// API response carries. Every path answers with a body of the origin's size.
type origin struct {
	*httptest.Server
	size int // of every body
	hits atomic.Int64
}

// apiFields are what a rate-limited JSON API adds to the origin's seven
// fields (a request id, rate-limit counters, security and CORS fields), for
// sixteen in all: BenchmarkHitManyFields's origin.
var apiFields = http.Header{
	"X-Request-Id":                {"7f3c2a9e-4b1d-4e8a-9c2f-1a2b3c4d5e6f"},
	"X-Ratelimit-Limit":           {"5000"},
	"X-Ratelimit-Remaining":       {"4987"},
	"X-Ratelimit-Reset":           {"1764680400"},
	"Strict-Transport-Security":   {"max-age=31536000; includeSubDomains"},
	"X-Content-Type-Options":      {"nosniff"},
	"X-Frame-Options":             {"deny"},
	"Access-Control-Allow-Origin": {"*"},
	"Referrer-Policy":             {"strict-origin-when-cross-origin"},
}

// newOrigin starts an origin whose bodies are size bytes, answering with
// the extra header fields besides its own seven.
func newOrigin(tb testing.TB, size int, extra http.Header) *origin {
	tb.Helper()
	body := bytes.Repeat([]byte("0123456789abcdef"), size/16+1)[:size]
	header := originHeader(size, extra)
	o := &origin{size: size}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.hits.Add(1)
		if r.Body != nil {
			io.Copy(io.Discard, r.Body)
		}
		h := w.Header()
		for k, vs := range header { // fresh slices, as a server building its response has
			h[k] = slices.Clone(vs)
		}
		w.Write(body)
	}))
	tb.Cleanup(o.Close)
	return o
}

// originHeader is the header of every origin response, for a body of size
// bytes: the seven fields of a typical API response, cacheable for an
// hour, and the extra ones.
func originHeader(size int, extra http.Header) http.Header {
	date := time.Now().UTC().Format(http.TimeFormat)
	h := http.Header{
		"Content-Type":   {"application/json; charset=utf-8"},
		"Content-Length": {strconv.Itoa(size)},
		"Cache-Control":  {"public, max-age=3600"},
		"Date":           {date},
		"Last-Modified":  {date},
		"Etag":           {`"33a64df551425fcc55e4d42a148795d9f25f89d4"`},
		"Server":         {"origin/1.0"},
	}
	maps.Copy(h, extra)
	return h
}

// transport is a loopback transport with enough idle connections for
// parallel benchmarks, closed with the test.
func transport(tb testing.TB) *http.Transport {
	t := &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64, DisableCompression: true}
	tb.Cleanup(t.CloseIdleConnections)
	return t
}

// get sends req through rt and reads the body to EOF.
func get(tb testing.TB, rt http.RoundTripper, req *http.Request) *http.Response {
	resp, err := rt.RoundTrip(req)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		tb.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// do sends req through c and reads the body to EOF.
func do(tb testing.TB, c *http.Client, req *http.Request) {
	resp, err := c.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		tb.Fatal(err)
	}
	resp.Body.Close()
}

func newRequest(tb testing.TB, url string) *http.Request {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return req
}
