package bench

import (
	"net/http"
	"testing"
)

// BenchmarkHit is a fresh hit through an http.Client whose Transport is
// the cache, the body read to EOF, one request built up front (so URL
// parsing is not measured; the same for every cache), the cache already
// holding fillBytes of other responses. cache= names the cache and its
// store; compare them with benchstat -col /cache.
func BenchmarkHit(b *testing.B) { benchHit(b, nil) }

// BenchmarkHitManyFields is BenchmarkHit with an origin that also sends
// apiFields: sixteen header fields rather than seven, as an API's
// responses carry.
func BenchmarkHitManyFields(b *testing.B) { benchHit(b, apiFields) }

// benchHit is BenchmarkHit over origins sending the extra header fields.
func benchHit(b *testing.B, extra http.Header) {
	for _, s := range subjects() {
		for _, sz := range sizes {
			b.Run("cache="+s.name+"/body="+sz.name, func(b *testing.B) {
				o := newOrigin(b, sz.n, extra)
				rt, url := warm(b, s, o, fillBytes)
				c := &http.Client{Transport: rt}
				req := newRequest(b, url)
				before := o.hits.Load()
				b.ReportAllocs()
				for b.Loop() {
					do(b, c, req)
				}
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
	for _, s := range subjects() {
		for _, sz := range sizes {
			b.Run("cache="+s.name+"/body="+sz.name, func(b *testing.B) {
				o := newOrigin(b, sz.n, nil)
				rt, url := warm(b, s, o, fillBytes)
				c := &http.Client{Transport: rt}
				before := o.hits.Load()
				b.ReportAllocs()
				b.ResetTimer() // RunParallel, unlike b.Loop, counts what came before
				b.RunParallel(func(pb *testing.PB) {
					req := newRequest(b, url)
					for pb.Next() {
						do(b, c, req)
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
	for _, s := range subjects() {
		for _, sz := range sizes {
			b.Run("cache="+s.name+"/body="+sz.name, func(b *testing.B) {
				o := newOrigin(b, sz.n, nil)
				rt, url := warm(b, s, o, fillBytes)
				req := newRequest(b, url)
				before := o.hits.Load()
				b.ReportAllocs()
				for b.Loop() {
					get(b, rt, req)
				}
				if n := o.hits.Load() - before; n != 0 {
					b.Fatalf("%d requests reached the origin: not all hits", n)
				}
			})
		}
	}
}
