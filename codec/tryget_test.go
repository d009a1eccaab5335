package codec_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/codec"
	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/memstore"
)

// tryingStore is a byteStore that is a store.TryGetter: TryGet reads it
// and counts, or, refusing, returns store.ErrWouldBlock.
type tryingStore struct {
	*byteStore
	refuse bool
	tries  int
}

func (s *tryingStore) TryGet(ctx context.Context, key string) ([]byte, error) {
	s.tries++
	if s.refuse {
		return nil, store.ErrWouldBlock
	}
	return s.Get(ctx, key)
}

// TestBindTryGetter: Bind hands out a TryGetter only over a byte store
// that has one and may block; its TryGet decodes what the byte store's
// answers, as Get does, and passes store.ErrWouldBlock on.
func TestBindTryGetter(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	_, ok := store.TryGetterOf[string, *cached.Response](codec.Bind[string](newByteStore(), codec.Response()))
	assert.False(t, ok, "over a byte store without TryGet")
	m, err := memstore.New[string, []byte](nil)
	require.NoError(t, err)
	_, ok = store.TryGetterOf[string, *cached.Response](codec.Bind[string](m, codec.Response()))
	assert.False(t, ok, "over a byte store that never blocks")

	bs := &tryingStore{byteStore: newByteStore()}
	s := codec.Bind[string](bs, codec.Response())
	g, ok := store.TryGetterOf[string, *cached.Response](s)
	require.True(t, ok)
	want := &cached.Response{Method: "GET", URL: "https://example.com/", StatusCode: 200, Body: []byte("hello")}
	require.NoError(t, s.Set(ctx, "k", want, 0))
	require.NoError(t, bs.Set(ctx, "junk", []byte("junk"), 0))
	got, err := g.TryGet(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, want.Body, got.Body)
	_, err = g.TryGet(ctx, "missing")
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = g.TryGet(ctx, "junk")
	require.ErrorIs(t, err, codec.ErrFormat)
	assert.Equal(t, 3, bs.tries)

	bs.refuse = true
	_, err = g.TryGet(ctx, "k")
	require.ErrorIs(t, err, store.ErrWouldBlock)
}
