package redisstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/codec"
	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/redisstore"
	"github.com/cachestack/cachestack/store/tierstore"
)

// leaseKey is the Redis key redisstore keeps the lease on key under.
func leaseKey(s *redisstore.Store, key string) string {
	return ":lease:" + s.Namespace() + ":" + key
}

func TestLease(t *testing.T) {
	t.Run("server", func(t *testing.T) { testLease(t, newClient(t)) })
	t.Run("cluster", func(t *testing.T) { testLease(t, newClusterClient(t)) })
}

func testLease(t *testing.T, c redis.UniversalClient) {
	ctx := t.Context()
	s := open(t, c, nil)
	other := open(t, c, nil) // another namespace: leases of its own
	const key = "GET https://example.com/a"
	t.Cleanup(func() { c.Del(context.Background(), leaseKey(s, key), leaseKey(other, key)) })

	tok, ok, err := s.Acquire(ctx, key, time.Minute)
	require.NoError(t, err)
	require.True(t, ok, "no one holds it: taken")
	require.NotEmpty(t, tok)

	_, ok, err = s.Acquire(ctx, key, time.Minute)
	require.NoError(t, err)
	assert.False(t, ok, "NX: a second holder is refused while the first holds it")

	pttl, err := c.PTTL(ctx, leaseKey(s, key)).Result()
	require.NoError(t, err)
	assert.True(t, pttl > 0 && pttl <= time.Minute, "the lease expires by itself (PX), in %v", pttl)

	tok2, ok, err := other.Acquire(ctx, key, time.Minute)
	require.NoError(t, err)
	assert.True(t, ok, "another namespace's lease on the same key is another lease")
	require.NoError(t, other.Release(ctx, key, tok2))

	require.NoError(t, s.Release(ctx, key, "not-the-token"))
	n, err := c.Exists(ctx, leaseKey(s, key)).Result()
	require.NoError(t, err)
	assert.EqualValues(t, 1, n, "a release with another token leaves the holder's lease")

	waited := make(chan error, 1)
	go func() { waited <- s.AwaitRelease(ctx, key) }()
	select {
	case err := <-waited:
		t.Fatalf("AwaitRelease returned %v while the lease is held", err)
	default:
	}
	require.NoError(t, s.Release(ctx, key, tok))
	require.NoError(t, <-waited, "AwaitRelease returns once the holder releases")
	n, err = c.Exists(ctx, leaseKey(s, key)).Result()
	require.NoError(t, err)
	assert.Zero(t, n, "the holder's release deletes the lease")
	require.NoError(t, s.Release(ctx, key, tok), "releasing twice is no error")

	require.NoError(t, s.AwaitRelease(ctx, key), "no lease: AwaitRelease returns at once")

	// A lease nobody releases ends when its ttl passes; a holder whose
	// lease expired and was taken again cannot release the new one.
	old, ok, err := s.Acquire(ctx, key, 30*time.Millisecond)
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, s.AwaitRelease(ctx, key), "AwaitRelease returns once the lease expires")
	tok3, ok, err := s.Acquire(ctx, key, time.Minute)
	require.NoError(t, err)
	require.True(t, ok, "an expired lease can be taken again")
	require.NoError(t, s.Release(ctx, key, old))
	n, err = c.Exists(ctx, leaseKey(s, key)).Result()
	require.NoError(t, err)
	assert.EqualValues(t, 1, n, "the expired holder's release leaves the new holder's lease")

	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	err = s.AwaitRelease(short, key)
	assert.ErrorIs(t, err, context.DeadlineExceeded, "AwaitRelease ends with its context")
	require.NoError(t, s.Release(ctx, key, tok3))

	// Leases are no entries: listing and clearing never meet them.
	_, ok, err = s.Acquire(ctx, key, time.Minute)
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, s.Set(ctx, key, []byte("v"), time.Minute))
	var keys []string
	for k, err := range s.Keys(ctx) {
		require.NoError(t, err)
		keys = append(keys, k)
	}
	assert.Equal(t, []string{key}, keys)
	require.NoError(t, s.Clear(ctx))
	n, err = c.Exists(ctx, leaseKey(s, key)).Result()
	require.NoError(t, err)
	assert.EqualValues(t, 1, n, "Clear leaves leases to expire")
}

func TestLeaseErrors(t *testing.T) {
	c := newClient(t)
	ctx := t.Context()
	s := open(t, c, nil)
	_, _, err := s.Acquire(ctx, "k", 0)
	assert.Error(t, err, "a ttl under a millisecond")

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, _, err = s.Acquire(cancelled, "k", time.Second)
	assert.ErrorIs(t, err, context.Canceled)
	assert.ErrorIs(t, s.Release(cancelled, "k", "t"), context.Canceled)
	assert.ErrorIs(t, s.AwaitRelease(cancelled, "k"), context.Canceled)

	require.NoError(t, s.Close())
	_, _, err = s.Acquire(ctx, "k", time.Second)
	assert.ErrorIs(t, err, store.ErrClosed)
	assert.ErrorIs(t, s.Release(ctx, "k", "t"), store.ErrClosed)
	assert.ErrorIs(t, s.AwaitRelease(ctx, "k"), store.ErrClosed)

	down := redis.NewClient(testOptions("127.0.0.1:1")) // nothing listens there
	t.Cleanup(func() { _ = down.Close() })
	ds, err := redisstore.New(down, nil)
	require.NoError(t, err)
	_, _, err = ds.Acquire(ctx, "k", time.Second)
	var se *store.Error
	require.True(t, errors.As(err, &se), "a *store.Error: %v", err)
	assert.Equal(t, "acquire", se.Op)
}

// TestLeaserPassesThrough: the typed stores the cache is given over
// redisstore (codec.Bind, a tierstore with it as the back) lease through
// it; one over a store that cannot lease does not.
func TestLeaserPassesThrough(t *testing.T) {
	c := newClient(t)
	s := open(t, c, nil)
	bound := codec.Bind(s, codec.Response())
	l, ok := store.LeaserOf[string](bound)
	require.True(t, ok)
	assert.Same(t, s, l)

	tier, err := tierstore.New[string, []byte](open(t, c, nil), s, &tierstore.Options{LeaveOpen: true})
	require.NoError(t, err)
	l, ok = store.LeaserOf[string](codec.Bind(tier, codec.Response()))
	require.True(t, ok)
	assert.Same(t, s, l, "a tierstore leases through its back")

	var typed store.Store[string, *cached.Response] = codec.Bind[string, *cached.Response](nil, codec.Response())
	_, ok = store.LeaserOf[string](typed)
	assert.False(t, ok, "a Bind over nothing that leases")
}
