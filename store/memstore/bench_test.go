package memstore_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/store/memstore"
)

const benchKeys = 1024

func benchStore[V any](b *testing.B, opts *memstore.Options[V], value func(i int) V) (*memstore.Store[string, V], []string) {
	b.Helper()
	s, err := memstore.New[string](opts)
	require.NoError(b, err)
	b.Cleanup(func() { _ = s.Close() })
	keys := make([]string, benchKeys)
	for i := range keys {
		keys[i] = fmt.Sprintf("GET https://example.com/item/%d", i)
		require.NoError(b, s.Set(b.Context(), keys[i], value(i), 0))
	}
	return s, keys
}

func bytes1KiB(int) []byte { return make([]byte, 1024) }

func response1KiB(i int) *cached.Response {
	r := response(i)
	r.Body = make([]byte, 1024)
	return r
}

// BenchmarkGet is a hit on a 1 KiB value, []byte (copied out) and typed.
func BenchmarkGet(b *testing.B) {
	b.Run("Bytes1KiB", func(b *testing.B) { benchGet(b, bytes1KiB) })
	b.Run("Response1KiB", func(b *testing.B) { benchGet(b, response1KiB) })
}

func benchGet[V any](b *testing.B, value func(int) V) {
	s, keys := benchStore(b, nil, value)
	ctx := b.Context()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := s.Get(ctx, keys[i%benchKeys]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkGetParallel is BenchmarkGet from GOMAXPROCS goroutines at once,
// on the default 16 shards and, for comparison, on a single shard (a 7 MiB
// budget), where every Get takes the same lock.
func BenchmarkGetParallel(b *testing.B) {
	b.Run("Bytes1KiB", func(b *testing.B) { benchGetParallel(b, nil, bytes1KiB) })
	b.Run("Response1KiB", func(b *testing.B) { benchGetParallel(b, nil, response1KiB) })
	b.Run("Response1KiB/OneShard", func(b *testing.B) {
		benchGetParallel(b, &memstore.Options[*cached.Response]{MaxBytes: 7 << 20}, response1KiB)
	})
}

func benchGetParallel[V any](b *testing.B, opts *memstore.Options[V], value func(int) V) {
	s, keys := benchStore(b, opts, value)
	ctx := b.Context()
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
}

func BenchmarkSet(b *testing.B) {
	s, keys := benchStore(b, nil, bytes1KiB)
	ctx := b.Context()
	v := make([]byte, 1024)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := s.Set(ctx, keys[i%benchKeys], v, 0); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
