package redisstore_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/codec"
	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/redisstore"
	"github.com/cachestack/cachestack/store/tierstore"
)

// TestSetManyTTL: each item of a SetMany gets its own expiry, as Set
// sends it (PX in milliseconds rounded up, none for 0), and the batch is
// one pipeline.
func TestSetManyTTL(t *testing.T) {
	c := newClient(t)
	s := open(t, c, nil)
	ctx := t.Context()
	require.NoError(t, s.Set(ctx, "c", []byte("old"), time.Hour))
	items := []store.Item[string, []byte]{
		{Key: "a", Value: []byte("1"), TTL: time.Minute},
		{Key: "b", Value: []byte("2"), TTL: 90*time.Second + time.Nanosecond},
		{Key: "c", Value: []byte("3")}, // removes the hour
	}
	require.NoError(t, s.SetMany(ctx, items))
	for _, tt := range []struct {
		key         string
		max, above  time.Duration
		wantForever bool
	}{
		{"a", time.Minute, 50 * time.Second, false},
		{"b", 90001 * time.Millisecond, 80 * time.Second, false},
		{"c", 0, 0, true},
	} {
		pttl, err := c.PTTL(ctx, s.Namespace()+":"+tt.key).Result()
		require.NoError(t, err)
		if tt.wantForever {
			assert.Equal(t, time.Duration(-1), pttl, "PTTL of %s, set without ttl", tt.key)
			continue
		}
		assert.LessOrEqual(t, pttl, tt.max, "PTTL of %s", tt.key)
		assert.Greater(t, pttl, tt.above, "PTTL of %s", tt.key)
	}
}

// TestBatcherPassesThrough: a typed store over redisstore, and a tierstore
// with it as the back, write in batches through it; the tierstore's batch
// fills its front too.
func TestBatcherPassesThrough(t *testing.T) {
	c := newClient(t)
	s := open(t, c, nil)
	ctx := t.Context()
	b, ok := store.BatcherOf[string, *cached.Response](codec.Bind(s, codec.Response()))
	require.True(t, ok, "codec.Bind over redisstore")
	r := &cached.Response{Method: "GET", URL: "https://example.com/", StatusCode: 200, Body: []byte("hello")}
	require.NoError(t, b.SetMany(ctx, []store.Item[string, *cached.Response]{{Key: "x", Value: r}}))
	raw, err := s.Get(ctx, "x")
	require.NoError(t, err)
	got, err := codec.Response().Unmarshal(raw)
	require.NoError(t, err)
	assert.Equal(t, r.Body, got.Body)

	front := open(t, c, &redisstore.Options{Namespace: s.Namespace() + "-front"})
	tier, err := tierstore.New[string, []byte](front, s, &tierstore.Options{LeaveOpen: true})
	require.NoError(t, err)
	tb, ok := store.BatcherOf[string, []byte](tier)
	require.True(t, ok, "a tierstore over redisstore")
	require.NoError(t, tb.SetMany(ctx, []store.Item[string, []byte]{{Key: "y", Value: []byte("1")}, {Key: "z", Value: []byte("2"), TTL: time.Hour}}))
	for _, st := range []*storeT{{"back", s}, {"front", front}} {
		v, err := st.s.Get(ctx, "z")
		require.NoError(t, err, st.name)
		assert.Equal(t, "2", string(v), st.name)
	}
	pttl, err := c.PTTL(ctx, front.Namespace()+":z").Result()
	require.NoError(t, err)
	assert.LessOrEqual(t, pttl, tierstore.DefaultFrontTTL, "the front keeps an item FrontTTL at most")

	_, ok = store.BatcherOf[string, *cached.Response](codec.Bind[string, *cached.Response](nil, codec.Response()))
	assert.False(t, ok, "a Bind over nothing that batches")
}

type storeT struct {
	name string
	s    store.Store[string, []byte]
}
