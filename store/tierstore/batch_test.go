package tierstore_test

import (
	"context"
	"iter"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/storetest"
	"github.com/cachestack/cachestack/store/tierstore"
)

// batching is a byte store that writes in batches, one Set per item,
// failing the items whose key is in fail.
type batching struct {
	store.Store[string, []byte]
	fail map[string]bool
}

func (b *batching) SetMany(ctx context.Context, items []store.Item[string, []byte]) error {
	errs := make([]error, len(items))
	for i, it := range items {
		if b.fail[it.Key] {
			errs[i] = errBoom
			continue
		}
		errs[i] = b.Set(ctx, it.Key, it.Value, it.TTL)
	}
	return store.BatchResult(errs)
}

func (b *batching) Keys(ctx context.Context) iter.Seq2[string, error] {
	return b.Store.(store.Lister[string]).Keys(ctx)
}

func (b *batching) Clear(ctx context.Context) error { return b.Store.(store.Clearer).Clear(ctx) }

// TestConformanceBatching runs the suite, SetMany included, over a back
// that writes in batches.
func TestConformanceBatching(t *testing.T) {
	clk := storetest.NewClock()
	h := storetest.Bytes(func(t *testing.T) store.Store[string, []byte] {
		s, err := tierstore.New[string, []byte](mustMem(clk, 1<<20), &batching{Store: mustMem(clk, 0)}, nil)
		require.NoError(t, err)
		return s
	})
	h.Advance = clk.Advance
	storetest.Run(t, h)
}

// TestSetManyBackFails: a tierstore batches only over a back that does;
// an item the back did not store is reported and is not in the front,
// which forgets its older value, while the others reach both tiers.
func TestSetManyBackFails(t *testing.T) {
	_, ok := store.BatcherOf[string, []byte](newTier(t, newStub(), newStub(), nil))
	assert.False(t, ok, "a tierstore over a back that writes no batches")

	front := newStub()
	back := &batching{Store: newStub(), fail: map[string]bool{"bad": true}}
	s := newTier(t, front, back, nil)
	ctx := t.Context()
	require.NoError(t, s.Set(ctx, "bad", []byte("old"), 0))
	b, ok := store.BatcherOf[string, []byte](s)
	require.True(t, ok)
	err := b.SetMany(ctx, []store.Item[string, []byte]{{Key: "good", Value: []byte("1")}, {Key: "bad", Value: []byte("2")}})
	require.ErrorIs(t, err, errBoom)
	errs := store.ItemErrors(err, 2)
	require.NoError(t, errs[0])
	require.ErrorIs(t, errs[1], errBoom)
	got, err := front.Get(ctx, "good")
	require.NoError(t, err)
	assert.Equal(t, "1", string(got))
	_, err = front.Get(ctx, "bad")
	require.ErrorIs(t, err, store.ErrNotFound, "the front after the back failed the item")
}
