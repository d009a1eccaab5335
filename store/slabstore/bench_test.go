package slabstore_test

import (
	"testing"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/slabstore"
	"github.com/cachestack/cachestack/store/storetest"
)

// BenchmarkResponse runs the shared store benchmarks: a Get builds a
// response over the stored record; a Set copies the response in.
func BenchmarkResponse(b *testing.B) {
	storetest.Bench(b, storetest.BenchResponses(func(b *testing.B, size int) store.Store[string, *cached.Response] {
		s, err := slabstore.New(&slabstore.Options{MaxBytes: max(slabstore.DefaultMaxBytes, int64(2*storetest.BenchKeys*size))})
		if err != nil {
			b.Fatal(err)
		}
		return s
	}))
}
