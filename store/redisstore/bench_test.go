package redisstore_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/storetest"
)

const benchKeys = 64

var benchSizes = []struct {
	name string
	size int
}{
	{"1KiB", 1 << 10},
	{"64KiB", 64 << 10},
}

// benchSetup stores benchKeys values of size bytes and returns the store's
// keys and the same keys as Redis sees them, for the raw client.
func benchSetup(b *testing.B, size int) (get func(i int) error, raw func(i int) error) {
	b.Helper()
	c := newClient(b)
	s := open(b, c, nil)
	ctx := b.Context()
	keys := make([]string, benchKeys)
	full := make([]string, benchKeys)
	v := make([]byte, size)
	for i := range keys {
		keys[i] = fmt.Sprintf("GET https://example.com/item/%d", i)
		full[i] = s.Namespace() + ":" + keys[i]
		require.NoError(b, s.Set(ctx, keys[i], v, 0))
	}
	get = func(i int) error {
		_, err := s.Get(ctx, keys[i%benchKeys])
		return err
	}
	raw = func(i int) error {
		_, err := c.Get(ctx, full[i%benchKeys]).Bytes()
		return err
	}
	return get, raw
}

// BenchmarkGet is a hit through the store; BenchmarkRawGet is the same
// GET of the same bytes on the same client, without the store. Compare
// them side by side: the store adds the closed and context checks and the
// key's prefix.
func BenchmarkGet(b *testing.B) {
	for _, sz := range benchSizes {
		b.Run(sz.name, func(b *testing.B) {
			get, _ := benchSetup(b, sz.size)
			b.SetBytes(int64(sz.size))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := get(i); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

func BenchmarkRawGet(b *testing.B) {
	for _, sz := range benchSizes {
		b.Run(sz.name, func(b *testing.B) {
			_, raw := benchSetup(b, sz.size)
			b.SetBytes(int64(sz.size))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := raw(i); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkGetVsRaw alternates a store Get and a raw GET of the same bytes
// in one loop, timing each, so that both see the same machine load; it
// reports their times and the ratio store/raw, which should stay under 1.2.
func BenchmarkGetVsRaw(b *testing.B) {
	for _, sz := range benchSizes {
		b.Run(sz.name, func(b *testing.B) {
			get, raw := benchSetup(b, sz.size)
			var store, direct time.Duration
			i := 0
			for b.Loop() {
				t0 := time.Now()
				if err := get(i); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if err := raw(i); err != nil {
					b.Fatal(err)
				}
				direct += time.Since(t1)
				store += t1.Sub(t0)
				i++
			}
			b.ReportMetric(float64(store.Nanoseconds())/float64(i), "store-ns/op")
			b.ReportMetric(float64(direct.Nanoseconds())/float64(i), "raw-ns/op")
			b.ReportMetric(float64(store)/float64(direct), "store/raw")
		})
	}
}

// BenchmarkStore runs the benchmarks every store shares.
func BenchmarkStore(b *testing.B) {
	c := newClient(b)
	h := storetest.BenchBytes(func(b *testing.B, size int) store.Store[string, []byte] {
		return open(b, c, nil)
	})
	h.Keys = benchKeys
	storetest.Bench(b, h)
}
