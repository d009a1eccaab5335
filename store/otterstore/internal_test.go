package otterstore

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/store"
)

// TestByteBudget: otter weighs entries by their size in bytes and, once
// its maintenance has run, holds no more than MaxBytes.
func TestByteBudget(t *testing.T) {
	s, err := New[string](&Options[[]byte]{MaxBytes: 10 << 10})
	require.NoError(t, err)
	defer s.Close()
	ctx := t.Context()
	const n = 100
	for i := range n {
		require.NoError(t, s.Set(ctx, fmt.Sprint(i), make([]byte, 1<<10), 0))
	}
	s.c.CleanUp() // the maintenance otter would otherwise run a moment later
	assert.LessOrEqual(t, s.c.WeightedSize(), uint64(10<<10))
	kept := 0
	for i := range n {
		_, err := s.Get(ctx, fmt.Sprint(i))
		switch {
		case err == nil:
			kept++
		case !errors.Is(err, store.ErrNotFound):
			t.Fatalf("Get: %v", err)
		}
	}
	assert.Positive(t, kept)
	assert.LessOrEqual(t, kept, 10, "1 KiB entries in a 10 KiB budget")
}
