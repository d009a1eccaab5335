package dynamostore_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/dynamostore"
)

// TestSetManyTooLarge: in a batch, an item too large for DynamoDB is
// refused alone, as Set refuses it: its key's previous item is deleted,
// its error matches ErrTooLarge, and the other items are stored.
func TestSetManyTooLarge(t *testing.T) {
	c := newClient(t)
	s := open(t, c, nil)
	ctx := t.Context()
	require.NoError(t, s.Set(ctx, "big", []byte("old"), 0))
	err := s.SetMany(ctx, []store.Item[string, []byte]{
		{Key: "a", Value: []byte("1")},
		{Key: "big", Value: make([]byte, dynamostore.MaxItemBytes)},
		{Key: "b", Value: []byte("2")},
	})
	errs := store.ItemErrors(err, 3)
	require.NoError(t, errs[0])
	require.ErrorIs(t, errs[1], store.ErrTooLarge)
	require.NoError(t, errs[2])
	_, err = s.Get(ctx, "big")
	require.ErrorIs(t, err, store.ErrNotFound, "a refused item drops the entry it would have replaced")
	for k, want := range map[string]string{"a": "1", "b": "2"} {
		v, err := s.Get(ctx, k)
		require.NoError(t, err, k)
		assert.Equal(t, want, string(v), k)
	}
	assert.Equal(t, int64(1), s.TooLarge())
}
