package sqlitestore_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/sqlitestore"
	"github.com/cachestack/cachestack/store/storetest"
)

// TestSetManyEvicts: a batch that takes the table over MaxBytes evicts in
// its transaction, the least recently used first, down to 90%, keeping the
// usage exact; an item larger than MaxBytes removes its key.
func TestSetManyEvicts(t *testing.T) {
	t.Parallel()
	clock := storetest.NewClock()
	const maxBytes = 10_000
	s, _ := open(t, &sqlitestore.Options{MaxBytes: maxBytes, Clock: clock.Now})
	ctx := t.Context()
	val := func(n int) []byte { return make([]byte, n) }
	for i := range 8 {
		require.NoError(t, s.Set(ctx, fmt.Sprintf("k%d", i), val(998), 0))
		clock.Advance(time.Second)
	}
	require.NoError(t, s.Set(ctx, "big", val(10), 0))
	items := []store.Item[string, []byte]{
		{Key: "n0", Value: val(998)},
		{Key: "n1", Value: val(998)},
		{Key: "n2", Value: val(998)},
		{Key: "big", Value: val(maxBytes)}, // too large: removes big
	}
	require.NoError(t, s.SetMany(ctx, items))
	b, n := usage(t, s)
	assert.LessOrEqual(t, b, int64(maxBytes*9/10))
	got := map[string]bool{}
	for _, k := range keys(t, s) {
		got[k] = true
	}
	assert.Len(t, got, int(n), "the usage counts every entry")
	for _, k := range []string{"n0", "n1", "n2", "k7"} {
		assert.True(t, got[k], "%s should have stayed", k)
	}
	for _, k := range []string{"k0", "k1", "big"} {
		assert.False(t, got[k], "%s should have gone", k)
	}
}
