package memstore_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/memstore"
	"github.com/cachestack/cachestack/store/storetest"
)

// BenchmarkBytes runs the shared store benchmarks on []byte values, which
// are copied in on Set and out on Get, on the default 16 shards.
func BenchmarkBytes(b *testing.B) {
	storetest.Bench(b, storetest.BenchBytes(func(b *testing.B, size int) store.Store[string, []byte] {
		return benchStore[[]byte](b, size)
	}))
}

// BenchmarkResponse runs the shared store benchmarks on *cached.Response
// values, which are stored and returned as they are, on the default 16
// shards.
func BenchmarkResponse(b *testing.B) {
	storetest.Bench(b, storetest.BenchResponses(func(b *testing.B, size int) store.Store[string, *cached.Response] {
		return benchStore[*cached.Response](b, size)
	}))
}

// benchStore returns a store with room for storetest.BenchKeys values of
// size bytes, and at least the default budget, so that it has the default
// 16 shards.
func benchStore[V any](b *testing.B, size int) *memstore.Store[string, V] {
	s, err := memstore.New[string](&memstore.Options[V]{MaxBytes: max(memstore.DefaultMaxBytes, int64(2*storetest.BenchKeys*size))})
	require.NoError(b, err)
	return s
}

// BenchmarkGetParallelOneShard is BenchmarkResponse's GetParallel/1KiB on a
// single shard (a 7 MiB budget), where every Get takes the same lock.
func BenchmarkGetParallelOneShard(b *testing.B) {
	s, err := memstore.New[string](&memstore.Options[*cached.Response]{MaxBytes: 7 << 20})
	require.NoError(b, err)
	b.Cleanup(func() { _ = s.Close() })
	ctx := b.Context()
	keys := make([]string, storetest.BenchKeys)
	for i := range keys {
		keys[i] = fmt.Sprintf("GET https://example.com/item/%d", i)
		r := storetest.Response(i)
		r.Body = make([]byte, 1024)
		require.NoError(b, s.Set(ctx, keys[i], r, 0))
	}
	b.SetBytes(1024)
	b.ReportAllocs()
	b.ResetTimer() // RunParallel does not, unlike b.Loop
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := s.Get(ctx, keys[i%len(keys)]); err != nil {
				b.Error(err)
				return
			}
			i += 7
		}
	})
}
