package ristrettostore

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNativeTTL: the ttl given to Set reaches ristretto, which expires the
// entry by the wall clock on its own; ttl 0 sets none.
func TestNativeTTL(t *testing.T) {
	s, err := New[string, []byte](&Options[[]byte]{Synchronous: true})
	require.NoError(t, err)
	defer s.Close()
	ctx := t.Context()
	require.NoError(t, s.Set(ctx, "ttl", []byte("v"), time.Hour))
	require.NoError(t, s.Set(ctx, "none", []byte("v"), 0))

	left, ok := s.c.GetTTL("ttl")
	require.True(t, ok)
	assert.InDelta(t, time.Hour, left, float64(time.Minute), "ristretto's remaining ttl")
	left, ok = s.c.GetTTL("none")
	require.True(t, ok)
	assert.Zero(t, left, "ttl 0 is no ristretto ttl")
}

func TestDefaultBudget(t *testing.T) {
	s, err := New[string, []byte](nil)
	require.NoError(t, err)
	defer s.Close()
	assert.EqualValues(t, DefaultMaxBytes, s.c.MaxCost())
}
