package store_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/store"
)

func TestItemErrors(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	assert.Equal(t, []error{nil, nil}, store.ItemErrors(nil, 2))
	assert.Equal(t, []error{boom, boom}, store.ItemErrors(boom, 2), "an error that is not a BatchError is every item's")
	be := store.BatchResult([]error{nil, boom, nil})
	require.ErrorIs(t, be, boom)
	assert.Equal(t, []error{nil, boom, nil}, store.ItemErrors(be, 3))
	assert.Equal(t, "1 of 3 items not stored; first: boom", be.Error())
	assert.Equal(t, []error{be, be}, store.ItemErrors(be, 2), "a BatchError of another length is every item's")
	assert.NoError(t, store.BatchResult([]error{nil, nil}))
}
