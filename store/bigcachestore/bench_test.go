package bigcachestore_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/bigcachestore"
	"github.com/cachestack/cachestack/store/storetest"
)

// BenchmarkBytes runs the shared store benchmarks in a budget large enough
// that nothing is evicted. A Get copies the value out of bigcache's shard;
// a Set copies it in.
func BenchmarkBytes(b *testing.B) {
	storetest.Bench(b, storetest.BenchBytes(func(b *testing.B, size int) store.Store[string, []byte] {
		s, err := bigcachestore.New(&bigcachestore.Options{MaxBytes: int64(2 * storetest.BenchKeys * size)})
		require.NoError(b, err)
		return s
	}))
}
