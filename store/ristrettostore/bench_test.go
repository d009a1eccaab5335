package ristrettostore_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/ristrettostore"
	"github.com/cachestack/cachestack/store/storetest"
)

// BenchmarkBytes runs the shared store benchmarks in a budget large enough
// that nothing is evicted, with ristretto's asynchronous writes (the
// store is filled with a Wait after each Set). The []byte value is copied
// out on Get and in on Set.
func BenchmarkBytes(b *testing.B) {
	var last *ristrettostore.Store[string, []byte]
	h := storetest.BenchBytes(func(b *testing.B, size int) store.Store[string, []byte] {
		s, err := ristrettostore.New[string](&ristrettostore.Options[[]byte]{MaxBytes: int64(2 * storetest.BenchKeys * size)})
		require.NoError(b, err)
		last = s
		return s
	})
	h.Sync = func() { last.Wait() }
	storetest.Bench(b, h)
}
