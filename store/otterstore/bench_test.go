package otterstore_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/otterstore"
	"github.com/cachestack/cachestack/store/storetest"
)

// BenchmarkBytes runs the shared store benchmarks in a budget large enough
// that nothing is evicted. The []byte value is copied out on Get and in on
// Set.
func BenchmarkBytes(b *testing.B) {
	storetest.Bench(b, storetest.BenchBytes(func(b *testing.B, size int) store.Store[string, []byte] {
		s, err := otterstore.New[string](&otterstore.Options[[]byte]{MaxBytes: int64(2 * storetest.BenchKeys * size)})
		require.NoError(b, err)
		return s
	}))
}
