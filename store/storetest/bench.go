package storetest

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/store"
)

// BenchKeys is how many entries Bench fills a store with when
// BenchHarness.Keys is 0.
const BenchKeys = 1024

// benchSizes are the value sizes Bench measures, by sub-benchmark name.
var benchSizes = []struct {
	name string
	size int
}{
	{"1KiB", 1 << 10},
	{"64KiB", 64 << 10},
}

// BenchHarness describes a store under benchmark; see Bench.
type BenchHarness[K comparable, V any] struct {
	// New returns a fresh, empty store with room for Keys values of
	// Value(size) without evicting any, so that every Get is a hit. Bench
	// closes it.
	New func(b *testing.B, size int) store.Store[K, V]
	// Key returns the i-th distinct key, for 0 <= i < Keys. Nil means
	// keys like "GET https://example.com/item/7", when K is string.
	Key func(i int) K
	// Value returns a new value of size bytes: size bytes of []byte, or a
	// typed value whose payload (a response's body, say) is size bytes.
	Value func(size int) V
	// Keys is how many entries the store holds, which the benchmarks go
	// through in turn; 0 means BenchKeys.
	Keys int
	// Sync, if non-nil, is called after each Set that fills the store
	// before the benchmark starts, for stores whose writes become visible
	// asynchronously (ristretto's Wait, for example).
	Sync func()
}

// BenchBytes is a BenchHarness for byte stores with string keys, whose
// values are zeroed byte slices. Set Keys and Sync on the result as the
// store needs.
func BenchBytes(newStore func(b *testing.B, size int) store.Store[string, []byte]) BenchHarness[string, []byte] {
	return BenchHarness[string, []byte]{
		New:   newStore,
		Value: func(size int) []byte { return make([]byte, size) },
	}
}

// BenchResponses is a BenchHarness for typed stores of *cached.Response
// with string keys, whose values are like Response(0) with a body of size
// bytes. Set Keys and Sync on the result as the store needs.
func BenchResponses(newStore func(b *testing.B, size int) store.Store[string, *cached.Response]) BenchHarness[string, *cached.Response] {
	return BenchHarness[string, *cached.Response]{
		New: newStore,
		Value: func(size int) *cached.Response {
			r := Response(0)
			r.Body = make([]byte, size)
			return r
		},
	}
}

// Bench runs the benchmarks every store shares, as sub-benchmarks of b, each
// at 1 KiB and 64 KiB values:
//
//   - Get/1KiB, Get/64KiB: a hit, on each of the Keys entries in turn;
//   - GetParallel/…: the same from GOMAXPROCS goroutines at once;
//   - Set/…: an overwrite of an existing entry, on each in turn;
//   - SetParallel/…: the same from GOMAXPROCS goroutines at once;
//   - SetMany/…: the overwrite of Set made in batches of 64 with
//     SetMany, for a store that writes in batches (store.Batcher; others
//     skip it): an operation is one item, so it compares with Set/….
//
// Each sub-benchmark gets a fresh store, filled with Keys entries before its
// timer starts, and reports allocations and, for []byte values, the value
// size per operation (b.SetBytes, so MB/s). A Get or Set that fails ends
// the benchmark.
//
// Bench measures what every store does; an adapter keeps, beside it, the
// benchmarks of what only it does.
func Bench[K comparable, V any](b *testing.B, h BenchHarness[K, V]) {
	b.Helper()
	require.NotNil(b, h.New, "storetest: BenchHarness.New is nil")
	require.NotNil(b, h.Value, "storetest: BenchHarness.Value is nil")
	require.GreaterOrEqual(b, h.Keys, 0, "storetest: BenchHarness.Keys is negative")
	if h.Key == nil {
		require.Equal(b, reflect.TypeFor[string](), reflect.TypeFor[K](), "storetest: BenchHarness.Key is nil and keys are not strings")
		h.Key = func(i int) K { return any(fmt.Sprintf("GET https://example.com/item/%d", i)).(K) }
	}
	if h.Keys == 0 {
		h.Keys = BenchKeys
	}
	benchmarks := []struct {
		name string
		run  func(b *testing.B, s store.Store[K, V], keys []K, v V)
	}{
		{"Get", benchGet[K, V]},
		{"GetParallel", benchGetParallel[K, V]},
		{"Set", benchSet[K, V]},
		{"SetParallel", benchSetParallel[K, V]},
		{"SetMany", benchSetMany[K, V]},
	}
	for _, bm := range benchmarks {
		b.Run(bm.name, func(b *testing.B) {
			for _, sz := range benchSizes {
				b.Run(sz.name, func(b *testing.B) {
					s, keys := h.fill(b, sz.size)
					v := h.Value(sz.size)
					if _, ok := any(v).([]byte); ok {
						b.SetBytes(int64(sz.size)) // copied in or out on every call
					}
					b.ReportAllocs()
					bm.run(b, s, keys, v)
				})
			}
		})
	}
}

// fill returns a new store holding h.Keys values of size bytes, and their
// keys; the store is closed when b ends.
func (h *BenchHarness[K, V]) fill(b *testing.B, size int) (store.Store[K, V], []K) {
	b.Helper()
	s := h.New(b, size)
	require.NotNil(b, s, "BenchHarness.New returned nil")
	b.Cleanup(func() { _ = s.Close() })
	keys := make([]K, h.Keys)
	for i := range keys {
		keys[i] = h.Key(i)
		require.NoError(b, s.Set(b.Context(), keys[i], h.Value(size), 0))
		if h.Sync != nil {
			h.Sync()
		}
	}
	return s, keys
}

func benchGet[K comparable, V any](b *testing.B, s store.Store[K, V], keys []K, _ V) {
	ctx := b.Context()
	i := 0
	for b.Loop() {
		if _, err := s.Get(ctx, keys[i%len(keys)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func benchGetParallel[K comparable, V any](b *testing.B, s store.Store[K, V], keys []K, _ V) {
	ctx := b.Context()
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

func benchSet[K comparable, V any](b *testing.B, s store.Store[K, V], keys []K, v V) {
	ctx := b.Context()
	i := 0
	for b.Loop() {
		if err := s.Set(ctx, keys[i%len(keys)], v, 0); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func benchSetParallel[K comparable, V any](b *testing.B, s store.Store[K, V], keys []K, v V) {
	ctx := b.Context()
	b.ResetTimer() // RunParallel does not, unlike b.Loop
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if err := s.Set(ctx, keys[i%len(keys)], v, 0); err != nil {
				b.Error(err)
				return
			}
			i += 7
		}
	})
}

// benchBatch is how many items one SetMany of the SetMany benchmark
// holds: the cache's default (middleware.DefaultWriteBatch).
const benchBatch = 64

func benchSetMany[K comparable, V any](b *testing.B, s store.Store[K, V], keys []K, v V) {
	bt, ok := store.BatcherOf[K, V](s)
	if !ok {
		b.Skipf("%T writes no batches (store.Batcher)", s)
	}
	ctx := b.Context()
	batch := make([]store.Item[K, V], 0, benchBatch)
	flush := func() {
		if err := bt.SetMany(ctx, batch); err != nil {
			b.Fatal(err)
		}
		batch = batch[:0]
	}
	i := 0
	for b.Loop() {
		batch = append(batch, store.Item[K, V]{Key: keys[i%len(keys)], Value: v})
		i++
		if len(batch) == benchBatch {
			flush()
		}
	}
	flush()
}
