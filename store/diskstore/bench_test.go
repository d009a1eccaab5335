package diskstore_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/store/diskstore"
)

const benchKeys = 256

var benchSizes = []struct {
	name string
	size int
}{
	{"1KiB", 1 << 10},
	{"64KiB", 64 << 10},
}

func benchStore(b *testing.B, size int) (*diskstore.Store, []string, []byte) {
	b.Helper()
	s, err := diskstore.New(b.TempDir(), nil)
	require.NoError(b, err)
	b.Cleanup(func() { _ = s.Close() })
	keys := make([]string, benchKeys)
	v := make([]byte, size)
	for i := range keys {
		keys[i] = fmt.Sprintf("GET https://example.com/item/%d", i)
		require.NoError(b, s.Set(b.Context(), keys[i], v, 0))
	}
	return s, keys, v
}

// BenchmarkGet is a hit: open, stat, one read, checksum, close.
func BenchmarkGet(b *testing.B) {
	for _, sz := range benchSizes {
		b.Run(sz.name, func(b *testing.B) {
			s, keys, _ := benchStore(b, sz.size)
			ctx := b.Context()
			b.SetBytes(int64(sz.size))
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
	for _, sz := range benchSizes {
		b.Run(sz.name, func(b *testing.B) {
			s, keys, _ := benchStore(b, sz.size)
			ctx := b.Context()
			b.SetBytes(int64(sz.size))
			b.ReportAllocs()
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

// BenchmarkSet overwrites existing entries: temporary file, two writes,
// rename.
func BenchmarkSet(b *testing.B) {
	for _, sz := range benchSizes {
		b.Run(sz.name, func(b *testing.B) {
			s, keys, v := benchStore(b, sz.size)
			ctx := b.Context()
			b.SetBytes(int64(sz.size))
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
	for _, sz := range benchSizes {
		b.Run(sz.name, func(b *testing.B) {
			s, keys, v := benchStore(b, sz.size)
			ctx := b.Context()
			b.SetBytes(int64(sz.size))
			b.ReportAllocs()
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
