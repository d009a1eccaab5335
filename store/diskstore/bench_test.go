package diskstore_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/diskstore"
	"github.com/cachestack/cachestack/store/storetest"
)

// BenchmarkBytes runs the shared store benchmarks on 256 entries. A Get
// is an fstat and one read of the file the store keeps open, and a
// checksum; a Set, which overwrites an existing entry, is a temporary
// file, two writes and a rename.
func BenchmarkBytes(b *testing.B) {
	h := storetest.BenchBytes(func(b *testing.B, _ int) store.Store[string, []byte] {
		s, err := diskstore.New(b.TempDir(), nil)
		require.NoError(b, err)
		return s
	})
	h.Keys = 256
	storetest.Bench(b, h)
}
