package seal_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/seal"
	"github.com/cachestack/cachestack/store"
)

// trying is a store that may block (hidden) and is a store.TryGetter:
// TryGet reads it, or, refusing, returns store.ErrWouldBlock.
type trying struct {
	hidden
	refuse bool
}

func (s trying) TryGet(ctx context.Context, key string) ([]byte, error) {
	if s.refuse {
		return nil, store.ErrWouldBlock
	}
	return s.Get(ctx, key)
}

// TestStoreTryGetter: the wrapper hands out a TryGetter only over a store
// that has one, and its TryGet answers as Get does, or not at all.
func TestStoreTryGetter(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	k := newSealer(t, testKey(0))
	inner := newMem(t, nil)
	_, ok := store.TryGetterOf[string, []byte](seal.Wrap(inner, k))
	require.False(t, ok, "over a store that never blocks")
	_, ok = store.TryGetterOf[string, []byte](seal.Wrap(hidden{inner}, k))
	require.False(t, ok, "over a store without TryGet")

	s := seal.Wrap(trying{hidden: hidden{inner}}, k)
	require.NoError(t, s.Set(ctx, "k", []byte("v"), 0))
	require.NoError(t, inner.Set(ctx, "forged", []byte("not protected"), 0))
	g, ok := store.TryGetterOf[string, []byte](s)
	require.True(t, ok)
	v, err := g.TryGet(ctx, "k")
	require.NoError(t, err)
	require.Equal(t, "v", string(v))
	_, err = g.TryGet(ctx, "missing")
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = g.TryGet(ctx, "forged")
	require.ErrorIs(t, err, seal.ErrInvalid)

	g, ok = store.TryGetterOf[string, []byte](seal.Wrap(trying{hidden: hidden{inner}, refuse: true}, k))
	require.True(t, ok)
	_, err = g.TryGet(ctx, "k")
	require.ErrorIs(t, err, store.ErrWouldBlock)
}
