package bench

import (
	"bytes"
	"io"
	"maps"
	"net/http"
	"testing"
	"time"
)

// varyFields is what the hit benchmarks' origin adds to its seven fields:
// Vary: Accept-Encoding, which most servers that may compress send, and
// which makes an RFC 9111 cache (and cachestack in every mode) select the
// stored response by the request's Accept-Encoding.
var varyFields = http.Header{"Vary": {"Accept-Encoding"}}

// withVary returns extra with varyFields added.
func withVary(extra http.Header) http.Header {
	h := maps.Clone(extra)
	if h == nil {
		h = http.Header{}
	}
	maps.Copy(h, varyFields)
	return h
}

// hitSubjects are the subjects of the hit benchmarks: every cache, then
// the floor (floorSubject), the least a cache can do on a hit.
func hitSubjects() []subject { return append(subjects(), floorSubject()) }

// bodyReader reads responses as a caller does that keeps its buffer: each
// body into one bytes.Buffer, reset before each response, so that a hit
// costs the copy of its body out of the cache, as it does to a caller,
// but not the growth of a new buffer.
type bodyReader struct{ buf bytes.Buffer }

// get sends req through rt and reads the body into r's buffer.
func (r *bodyReader) get(tb testing.TB, rt http.RoundTripper, req *http.Request) *http.Response {
	resp, err := rt.RoundTrip(req)
	if err != nil {
		tb.Fatal(err)
	}
	r.read(tb, resp.Body)
	return resp
}

// do sends req through c and reads the body into r's buffer.
func (r *bodyReader) do(tb testing.TB, c *http.Client, req *http.Request) {
	resp, err := c.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	r.read(tb, resp.Body)
}

func (r *bodyReader) read(tb testing.TB, body io.ReadCloser) {
	r.buf.Reset()
	if _, err := r.buf.ReadFrom(body); err != nil {
		tb.Fatal(err)
	}
	body.Close()
}

// reportCPU reports the process's CPU time per operation since start, as
// cpu-ns/op: on a machine shared with other work, wall time (ns/op)
// stretches with the wait for a core, CPU time much less, so comparisons
// of it need fewer runs. It includes the garbage collector's work on other
// threads, which a hit's allocations cause.
func reportCPU(b *testing.B, start time.Duration) {
	if start > 0 && b.N > 0 {
		b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
	}
}

// BenchmarkHit is a fresh hit through an http.Client whose Transport is
// the cache, the body read to EOF into the caller's buffer, one request
// built up front (so URL parsing is not measured; the same for every
// cache), the cache already holding fillBytes of other responses, the
// origin sending Vary: Accept-Encoding. cache= names the cache and its
// store (cachestack-memory is the default RFC 9111 mode,
// cachestack-memory-blind the header-blind one, floor the reference);
// compare them with benchstat -col /cache.
func BenchmarkHit(b *testing.B) { benchHit(b, nil) }

// BenchmarkHitManyFields is BenchmarkHit with an origin that also sends
// apiFields: seventeen header fields rather than eight, as an API's
// responses carry.
func BenchmarkHitManyFields(b *testing.B) { benchHit(b, apiFields) }

// benchHit is BenchmarkHit over origins sending the extra header fields.
func benchHit(b *testing.B, extra http.Header) {
	for _, s := range hitSubjects() {
		for _, sz := range sizes {
			b.Run("cache="+s.name+"/body="+sz.name, func(b *testing.B) {
				o := newOrigin(b, sz.n, withVary(extra))
				rt, url := warm(b, s, o, fillBytes)
				c := &http.Client{Transport: rt}
				req := newRequest(b, url)
				var r bodyReader
				before := o.hits.Load()
				b.ReportAllocs()
				start := cpuTime()
				for b.Loop() {
					r.do(b, c, req)
				}
				reportCPU(b, start)
				if n := o.hits.Load() - before; n != 0 {
					b.Fatalf("%d requests reached the origin: not all hits", n)
				}
			})
		}
	}
}

// BenchmarkHitParallel is BenchmarkHit from GOMAXPROCS goroutines on one
// key. Its ns/op against BenchmarkHit's is the parallel speed-up.
func BenchmarkHitParallel(b *testing.B) {
	for _, s := range hitSubjects() {
		for _, sz := range sizes {
			b.Run("cache="+s.name+"/body="+sz.name, func(b *testing.B) {
				o := newOrigin(b, sz.n, varyFields)
				rt, url := warm(b, s, o, fillBytes)
				c := &http.Client{Transport: rt}
				before := o.hits.Load()
				b.ReportAllocs()
				b.ResetTimer() // RunParallel, unlike b.Loop, counts what came before
				b.RunParallel(func(pb *testing.PB) {
					req := newRequest(b, url)
					var r bodyReader
					for pb.Next() {
						r.do(b, c, req)
					}
				})
				if n := o.hits.Load() - before; n != 0 {
					b.Fatalf("%d requests reached the origin: not all hits", n)
				}
			})
		}
	}
}

// BenchmarkHitRoundTripper is a hit called on the cache as a bare
// http.RoundTripper, without http.Client.
func BenchmarkHitRoundTripper(b *testing.B) {
	for _, s := range hitSubjects() {
		for _, sz := range sizes {
			b.Run("cache="+s.name+"/body="+sz.name, func(b *testing.B) {
				o := newOrigin(b, sz.n, varyFields)
				rt, url := warm(b, s, o, fillBytes)
				req := newRequest(b, url)
				var r bodyReader
				before := o.hits.Load()
				b.ReportAllocs()
				start := cpuTime()
				for b.Loop() {
					r.get(b, rt, req)
				}
				reportCPU(b, start)
				if n := o.hits.Load() - before; n != 0 {
					b.Fatalf("%d requests reached the origin: not all hits", n)
				}
			})
		}
	}
}

// cpuTime is the CPU time the process has used so far (processCPU), or 0
// where that is not measured.
func cpuTime() time.Duration {
	d, _ := processCPU()
	return d
}
