package ristrettostore_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/store/ristrettostore"
)

const benchKeys = 1024

var benchSizes = []struct {
	name string
	size int
}{
	{"1KiB", 1 << 10},
	{"64KiB", 64 << 10},
}

// benchStore returns a store holding benchKeys values of size bytes, in a
// budget large enough that none is evicted.
func benchStore(b *testing.B, size int) (*ristrettostore.Store[string, []byte], []string) {
	b.Helper()
	s, err := ristrettostore.New[string](&ristrettostore.Options[[]byte]{MaxBytes: int64(2 * benchKeys * size)})
	require.NoError(b, err)
	b.Cleanup(func() { _ = s.Close() })
	keys := make([]string, benchKeys)
	for i := range keys {
		keys[i] = fmt.Sprintf("GET https://example.com/item/%d", i)
		require.NoError(b, s.Set(b.Context(), keys[i], make([]byte, size), 0))
		s.Wait()
	}
	return s, keys
}

// BenchmarkGet is a hit; the []byte value is copied out.
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

// BenchmarkSet overwrites existing keys; the value is copied in.
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
