package tierstore_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/store/bigcachestore"
	"github.com/cachestack/cachestack/store/memstore"
	"github.com/cachestack/cachestack/store/tierstore"
)

const benchKeys = 1024

var benchSizes = []struct {
	name string
	size int
}{
	{"1KiB", 1 << 10},
	{"64KiB", 64 << 10},
}

// benchStore is a memstore front over a bigcache back, both large enough
// for benchKeys values of size bytes, filled through the tier so that every
// Get is a front hit.
func benchStore(b *testing.B, size int) (*tierstore.Store[string, []byte], []string) {
	b.Helper()
	budget := int64(2 * benchKeys * size)
	front, err := memstore.New[string](&memstore.Options[[]byte]{MaxBytes: budget})
	require.NoError(b, err)
	back, err := bigcachestore.New(&bigcachestore.Options{MaxBytes: budget})
	require.NoError(b, err)
	s, err := tierstore.New[string, []byte](front, back, nil)
	require.NoError(b, err)
	b.Cleanup(func() { _ = s.Close() })
	keys := make([]string, benchKeys)
	for i := range keys {
		keys[i] = fmt.Sprintf("GET https://example.com/item/%d", i)
		require.NoError(b, s.Set(b.Context(), keys[i], make([]byte, size), 0))
	}
	return s, keys
}

// BenchmarkGet is a front hit.
func BenchmarkGet(b *testing.B) {
	for _, bs := range benchSizes {
		b.Run(bs.name, func(b *testing.B) {
			s, keys := benchStore(b, bs.size)
			ctx := b.Context()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := s.Get(ctx, keys[i%benchKeys]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

func BenchmarkGetParallel(b *testing.B) {
	for _, bs := range benchSizes {
		b.Run(bs.name, func(b *testing.B) {
			s, keys := benchStore(b, bs.size)
			ctx := b.Context()
			b.ReportAllocs()
			b.ResetTimer() // RunParallel does not, unlike b.Loop
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if _, err := s.Get(ctx, keys[i%benchKeys]); err != nil {
						b.Error(err)
						return
					}
					i += 7
				}
			})
		})
	}
}

// BenchmarkSet writes both tiers.
func BenchmarkSet(b *testing.B) {
	for _, bs := range benchSizes {
		b.Run(bs.name, func(b *testing.B) {
			s, keys := benchStore(b, bs.size)
			ctx := b.Context()
			v := make([]byte, bs.size)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := s.Set(ctx, keys[i%benchKeys], v, 0); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

func BenchmarkSetParallel(b *testing.B) {
	for _, bs := range benchSizes {
		b.Run(bs.name, func(b *testing.B) {
			s, keys := benchStore(b, bs.size)
			ctx := b.Context()
			v := make([]byte, bs.size)
			b.ReportAllocs()
			b.ResetTimer() // RunParallel does not, unlike b.Loop
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if err := s.Set(ctx, keys[i%benchKeys], v, 0); err != nil {
						b.Error(err)
						return
					}
					i += 7
				}
			})
		})
	}
}
