package bench

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strconv"
	"testing"

	"github.com/cachestack/cachestack"
	"github.com/cachestack/cachestack/bench/internal/backends"
	"github.com/cachestack/cachestack/policy"
)

// miss is a cache measured by the miss benchmarks, opened over next.
type miss struct {
	name string
	open func(b *testing.B, next http.RoundTripper) http.RoundTripper
	// unbounded: the cache keeps every response (the peers' in-memory
	// caches), so it is left out of BenchmarkMissCPU, whose hundreds of
	// thousands of misses would fill gigabytes.
	unbounded bool
}

// missBudget is the store budget of the miss benchmarks: small enough
// that the stores evict, as a cache under a stream of new URLs does.
const missBudget = 16 << 20

// misses are no cache; cachestack's default stack over every backend
// with a budget of missBudget, storing every response and evicting old
// ones; the same over the memstore storing nothing (ExpireAfter
// DoNotStore: nothing is teed or stored); then the peers.
func misses() []miss {
	ms := []miss{{name: "none", open: func(_ *testing.B, next http.RoundTripper) http.RoundTripper { return next }}}
	for _, be := range backends.All() {
		ms = append(ms, miss{name: "cachestack-" + be.Name, open: func(b *testing.B, next http.RoundTripper) http.RoundTripper {
			return openBackend(b, be, next, policy.Expiry{})
		}})
	}
	mem, _ := backends.Lookup("memory")
	ms = append(ms, miss{name: "cachestack-memory-nostore", open: func(b *testing.B, next http.RoundTripper) http.RoundTripper {
		return openBackend(b, mem, next, policy.DoNotStore())
	}})
	for _, p := range peers() {
		ms = append(ms, miss{name: p.name, unbounded: true, open: func(b *testing.B, next http.RoundTripper) http.RoundTripper {
			rt, _, err := p.open(b, next)
			if err != nil {
				b.Fatal(err)
			}
			return rt
		}})
	}
	return ms
}

// openBackend is cachestack's default stack over be, with a budget of
// missBudget and the given ExpireAfter (the zero Expiry: unset), closed when b
// ends. A backend that cannot run here skips b.
func openBackend(b *testing.B, be backends.Backend, next http.RoundTripper, expire policy.Expiry) http.RoundTripper {
	in, err := be.Open(backends.Config{MaxBytes: missBudget, Dir: b.TempDir()})
	if errors.Is(err, backends.ErrUnavailable) {
		b.Skip(err)
	}
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { in.Close() })
	c, err := cachestack.New(&cachestack.Options{Store: in.Store, Transport: next, ExpireAfter: expire})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

// BenchmarkMiss is a miss: a request with a URL never asked before (a new
// query value each iteration) sent on to the loopback origin, the body read
// to EOF, through each cache of misses called as a RoundTripper, against
// the same round trip over the plain http.Transport (cache=none).
func BenchmarkMiss(b *testing.B) {
	for _, m := range misses() {
		for _, sz := range sizes {
			b.Run("cache="+m.name+"/body="+sz.name, func(b *testing.B) {
				o := newOrigin(b, sz.n, nil)
				rt := m.open(b, transport(b))
				base := o.URL + "/v1/items/42?i="
				get(b, rt, newRequest(b, base+"warm")) // open the connection
				before := o.hits.Load()
				i := 0
				b.ReportAllocs()
				for b.Loop() {
					i++
					get(b, rt, newRequest(b, base+strconv.Itoa(i)))
				}
				if n := o.hits.Load() - before; n != int64(i) {
					b.Fatalf("%d of %d requests reached the origin: not all misses", n, i)
				}
				if c, ok := rt.(*cachestack.Cache); ok {
					reportStoreSkips(b, c, i)
				}
			})
		}
	}
}

// reportStoreSkips reports, per miss, the store calls the cache did not
// make (breaker open, too many stuck calls) and the writes its write-back
// queue dropped: a closed loop that outruns its store measures a cache
// stepping around the store, and these say how much.
func reportStoreSkips(b *testing.B, c *cachestack.Cache, misses int) {
	if misses == 0 {
		return
	}
	n := float64(misses)
	cs := c.Counters()
	b.ReportMetric(float64(cs.StoreSkipped.Load())/n, "skipped/op")
	b.ReportMetric(float64(cs.WritesDropped.Load())/n, "dropped/op")
}

// BenchmarkMissCaller is BenchmarkMiss as the caller sees it: the time
// from the request to the body's EOF, with the cache's background store
// write finished between iterations, outside the timer (Cache.Flush). It
// shows whether storing is off the caller's path; BenchmarkMiss, where
// the writes of earlier misses run beside the next ones on the same cores,
// shows the throughput a closed loop of misses gets. Peers are left out:
// they write on the caller's path, so BenchmarkMiss measures them already.
func BenchmarkMissCaller(b *testing.B) {
	for _, m := range misses() {
		if m.unbounded {
			continue
		}
		for _, sz := range sizes {
			b.Run("cache="+m.name+"/body="+sz.name, func(b *testing.B) {
				o := newOrigin(b, sz.n, nil)
				rt := m.open(b, transport(b))
				flush := func() {}
				if c, ok := rt.(*cachestack.Cache); ok {
					flush = func() {
						if err := c.Flush(b.Context()); err != nil {
							b.Fatal(err)
						}
					}
				}
				base := o.URL + "/v1/items/42?i="
				get(b, rt, newRequest(b, base+"warm")) // open the connection
				flush()
				i := 0
				b.ReportAllocs()
				for b.Loop() {
					i++
					get(b, rt, newRequest(b, base+strconv.Itoa(i)))
					b.StopTimer()
					flush()
					b.StartTimer()
				}
				if c, ok := rt.(*cachestack.Cache); ok && m.name != "cachestack-memory-nostore" {
					if st := c.Counters().Stored.Load(); st < int64(i) {
						b.Fatalf("%d of %d misses stored", st, i)
					}
				}
			})
		}
	}
}

// canned is a RoundTripper that answers every request at once, without a
// network, with the origin's header and a body of its size: what is left
// of a miss when the origin costs nothing.
type canned struct {
	header http.Header
	body   []byte
}

func newCanned(size int) *canned {
	return &canned{header: originHeader(size, nil), body: bytes.Repeat([]byte{'x'}, size)}
}

func (c *canned) RoundTrip(req *http.Request) (*http.Response, error) {
	return &http.Response{
		Status: "200 OK", StatusCode: http.StatusOK,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        c.header.Clone(),
		Body:          io.NopCloser(bytes.NewReader(c.body)),
		ContentLength: int64(len(c.body)),
		Request:       req,
	}, nil
}

// BenchmarkMissCPU is BenchmarkMiss over a canned RoundTripper instead of
// the loopback origin: the CPU cost of the cache on a miss, free of the
// network's noise. cache=none is the canned round trip alone; the peers,
// which keep every response, are left out.
func BenchmarkMissCPU(b *testing.B) {
	for _, m := range misses() {
		if m.unbounded {
			continue
		}
		for _, sz := range sizes {
			b.Run("cache="+m.name+"/body="+sz.name, func(b *testing.B) {
				rt := m.open(b, newCanned(sz.n))
				i := 0
				b.ReportAllocs()
				for b.Loop() {
					i++
					get(b, rt, newRequest(b, "http://127.0.0.1:1234/v1/items/42?i="+strconv.Itoa(i)))
				}
			})
		}
	}
}

// BenchmarkMissVaryCPU is BenchmarkMissCPU for a response that varies
// (Vary: Accept-Encoding, as BenchmarkHit's): what storing it in the URL's
// Vary index costs.
func BenchmarkMissVaryCPU(b *testing.B) {
	for _, m := range misses() {
		if m.unbounded {
			continue
		}
		for _, sz := range sizes {
			b.Run("cache="+m.name+"/body="+sz.name, func(b *testing.B) {
				rt := m.open(b, &canned{header: originHeader(sz.n, varyFields), body: bytes.Repeat([]byte{'x'}, sz.n)})
				i := 0
				b.ReportAllocs()
				for b.Loop() {
					i++
					get(b, rt, newRequest(b, "http://127.0.0.1:1234/v1/items/42?i="+strconv.Itoa(i)))
				}
			})
		}
	}
}

// BenchmarkMissFloor is what any in-memory cache must pay to keep a body
// on a miss, measured without a cache: a copy of the body into a new
// allocation, kept among missBudget bytes of earlier ones (so that, as in
// a full cache, the memory written to is not in the processor's caches).
// Past a few KiB this is mostly memory bandwidth, and it is a floor under
// BenchmarkMiss's stored cases.
func BenchmarkMissFloor(b *testing.B) {
	for _, sz := range sizes {
		b.Run("body="+sz.name, func(b *testing.B) {
			body := bytes.Repeat([]byte{'x'}, sz.n)
			kept := make([][]byte, missBudget/sz.n)
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				kept[i%len(kept)] = append(make([]byte, 0, len(body)), body...)
				i++
			}
		})
	}
}
