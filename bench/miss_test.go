package bench

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/cachestack/cachestack"
	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/policy"
	"github.com/cachestack/cachestack/store/memstore"
)

// BenchmarkMiss is a miss: a request with a URL never asked before (a new
// query value each iteration) sent on to the loopback origin, the body read
// to EOF, through the cache called as a RoundTripper, against the same
// round trip over the plain http.Transport (cache=none). The store is a
// memstore of 16 MiB: cache=cachestack-memory tees and stores every
// response (evicting old ones), cache=cachestack-memory-nostore has
// ExpireAfter DoNotStore, so nothing is teed or stored.
func BenchmarkMiss(b *testing.B) {
	type miss struct {
		name string
		open func(b *testing.B, next http.RoundTripper) http.RoundTripper
	}
	cache := func(e policy.Expiry) func(b *testing.B, next http.RoundTripper) http.RoundTripper {
		return func(b *testing.B, next http.RoundTripper) http.RoundTripper {
			s, err := memstore.New[string, *cached.Response](&memstore.Options[*cached.Response]{MaxBytes: 16 << 20})
			if err != nil {
				b.Fatal(err)
			}
			c, err := cachestack.New(&cachestack.Options{Store: s, Transport: next, ExpireAfter: e})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { c.Close(); s.Close() })
			return c
		}
	}
	for _, m := range []miss{
		{"none", func(_ *testing.B, next http.RoundTripper) http.RoundTripper { return next }},
		{"cachestack-memory", cache(policy.Never())},
		{"cachestack-memory-nostore", cache(policy.DoNotStore())},
	} {
		for _, sz := range sizes {
			b.Run("cache="+m.name+"/body="+sz.name, func(b *testing.B) {
				o := newOrigin(b, sz.n)
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
			})
		}
	}
}
