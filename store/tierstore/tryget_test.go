package tierstore_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/storetest"
	"github.com/cachestack/cachestack/store/tierstore"
)

// trying is a byte store that may block (it hides its store's
// NeverBlocks) and is a store.TryGetter: TryGet reads it and counts, or,
// refusing, returns store.ErrWouldBlock.
type trying struct {
	store.Store[string, []byte]
	refuse atomic.Bool
	tries  atomic.Int64
}

func (s *trying) TryGet(ctx context.Context, key string) ([]byte, error) {
	s.tries.Add(1)
	if s.refuse.Load() {
		return nil, store.ErrWouldBlock
	}
	return s.Get(ctx, key)
}

// TestTryGetter: a tier hands out a TryGetter when its front never blocks
// and its back has one; its TryGet reads the front, then the back's
// TryGet, filling the front as Get does, and passes store.ErrWouldBlock
// on without filling it.
func TestTryGetter(t *testing.T) {
	t.Parallel()
	clk := storetest.NewClock()
	ctx := t.Context()
	_, ok := store.TryGetterOf[string, []byte](newTier(t, mustMem(clk, 0), &trying{Store: struct{ store.Store[string, []byte] }{mustMem(clk, 0)}}, nil))
	require.True(t, ok)
	_, ok = store.TryGetterOf[string, []byte](newTier(t, mustMem(clk, 0), struct{ store.Store[string, []byte] }{mustMem(clk, 0)}, nil))
	assert.False(t, ok, "a back without TryGet")
	_, ok = store.TryGetterOf[string, []byte](newTier(t, &trying{Store: mustMem(clk, 0)}, &trying{Store: mustMem(clk, 0)}, nil))
	assert.False(t, ok, "a front that may block")
	_, ok = store.TryGetterOf[string, []byte](newTier(t, mustMem(clk, 0), mustMem(clk, 0), nil))
	assert.False(t, ok, "two stores that never block: Get is the call")

	front, mem := mustMem(clk, 1<<20), mustMem(clk, 0)
	back := &trying{Store: struct{ store.Store[string, []byte] }{mem}}
	s := newTier(t, front, back, &tierstore.Options{LeaveOpen: true})
	g, ok := store.TryGetterOf[string, []byte](s)
	require.True(t, ok)
	require.NoError(t, mem.Set(ctx, "k", []byte("v"), 0))

	back.refuse.Store(true)
	_, err := g.TryGet(ctx, "k")
	require.ErrorIs(t, err, store.ErrWouldBlock)
	_, err = front.Get(ctx, "k")
	require.ErrorIs(t, err, store.ErrNotFound, "the front is not filled")

	back.refuse.Store(false)
	v, err := g.TryGet(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, "v", string(v))
	_, err = front.Get(ctx, "k")
	require.NoError(t, err, "the front is filled")
	_, err = g.TryGet(ctx, "missing")
	require.ErrorIs(t, err, store.ErrNotFound)

	tries := back.tries.Load()
	back.refuse.Store(true)
	v, err = g.TryGet(ctx, "k")
	require.NoError(t, err, "the front answers")
	assert.Equal(t, "v", string(v))
	assert.Equal(t, tries, back.tries.Load(), "without the back")
}
