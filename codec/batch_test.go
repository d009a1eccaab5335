package codec_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/codec"
	"github.com/cachestack/cachestack/store"
)

// batchingStore is a byteStore that writes in batches and counts them.
type batchingStore struct {
	*byteStore
	batches, items int
}

func (b *batchingStore) SetMany(ctx context.Context, items []store.Item[string, []byte]) error {
	b.batches++
	b.items += len(items)
	errs := make([]error, len(items))
	for i, it := range items {
		errs[i] = b.Set(ctx, it.Key, it.Value, it.TTL)
	}
	return store.BatchResult(errs)
}

// TestBindBatcher: Bind hands out a Batcher only over a byte store that
// has one; its SetMany encodes every item and writes them in one batch,
// and an item that does not encode is refused alone.
func TestBindBatcher(t *testing.T) {
	t.Parallel()
	_, ok := store.BatcherOf[string, *cached.Response](codec.Bind[string](newByteStore(), codec.Response()))
	assert.False(t, ok, "over a byte store without SetMany")

	ctx := t.Context()
	bs := &batchingStore{byteStore: newByteStore()}
	s := codec.Bind[string](bs, codec.Response())
	b, ok := store.BatcherOf[string, *cached.Response](s)
	require.True(t, ok)
	r := func(body string) *cached.Response {
		return &cached.Response{Method: "GET", URL: "https://example.com/", StatusCode: 200, Body: []byte(body)}
	}
	require.NoError(t, b.SetMany(ctx, []store.Item[string, *cached.Response]{{Key: "a", Value: r("1")}, {Key: "b", Value: r("2")}}))
	err := b.SetMany(ctx, []store.Item[string, *cached.Response]{{Key: "c", Value: r("3")}, {Key: "nil"}, {Key: "d", Value: r("4")}})
	errs := store.ItemErrors(err, 3)
	require.NoError(t, errs[0])
	require.Error(t, errs[1], "a nil response does not encode")
	require.NoError(t, errs[2])
	assert.Equal(t, 2, bs.batches, "one batch per SetMany")
	assert.Equal(t, 4, bs.items, "the item that did not encode is not sent")
	for k, want := range map[string]string{"a": "1", "b": "2", "c": "3", "d": "4"} {
		got, err := s.Get(ctx, k)
		require.NoError(t, err, k)
		assert.Equal(t, want, string(got.Body), k)
	}
	_, err = bs.Get(ctx, "nil")
	require.ErrorIs(t, err, store.ErrNotFound)
}
