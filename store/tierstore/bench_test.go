package tierstore_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/bigcachestore"
	"github.com/cachestack/cachestack/store/memstore"
	"github.com/cachestack/cachestack/store/storetest"
	"github.com/cachestack/cachestack/store/tierstore"
)

// BenchmarkBytes runs the shared store benchmarks on a memstore front over
// a bigcache back, both large enough that nothing is evicted, filled
// through the tier: every Get is a front hit, every Set writes both tiers.
func BenchmarkBytes(b *testing.B) {
	storetest.Bench(b, storetest.BenchBytes(func(b *testing.B, size int) store.Store[string, []byte] {
		budget := int64(2 * storetest.BenchKeys * size)
		front, err := memstore.New[string](&memstore.Options[[]byte]{MaxBytes: budget})
		require.NoError(b, err)
		back, err := bigcachestore.New(&bigcachestore.Options{MaxBytes: budget})
		require.NoError(b, err)
		s, err := tierstore.New[string, []byte](front, back, nil)
		require.NoError(b, err)
		return s
	}))
}
