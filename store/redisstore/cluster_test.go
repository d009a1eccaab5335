package redisstore_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/redisstore"
	"github.com/cachestack/cachestack/store/storetest"
)

// newClusterClient returns a client of the Redis Cluster whose nodes
// CACHESTACK_REDIS_CLUSTER_ADDRS lists (comma-separated), or skips: a
// cluster is not one of the services scripts/services.sh brings up, so
// these tests run only where one is given.
func newClusterClient(t *testing.T) *redis.ClusterClient {
	t.Helper()
	addrs := os.Getenv("CACHESTACK_REDIS_CLUSTER_ADDRS")
	if addrs == "" {
		t.Skip("CACHESTACK_REDIS_CLUSTER_ADDRS is not set: no Redis Cluster to test against")
	}
	c := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs:       strings.Split(addrs, ","),
		DialTimeout: 2 * time.Second,
	})
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("CACHESTACK_REDIS_CLUSTER_ADDRS=%s is set, but the cluster does not answer: %v", addrs, err)
	}
	return c
}

// TestClusterConformance: with a ClusterClient, Keys and Clear go over
// every primary, and Clear unlinks keys of different slots.
func TestClusterConformance(t *testing.T) {
	c := newClusterClient(t)
	h := storetest.Bytes(func(t *testing.T) store.Store[string, []byte] {
		return open(t, c, &redisstore.Options{ScanCount: 3})
	})
	h.Lacks = map[storetest.Capability]string{
		storetest.Expiry: "Redis expires keys by its own clock, which a test cannot move; TestTTL checks it",
	}
	storetest.Run(t, h)
}

func TestClusterKeysAndClear(t *testing.T) {
	c := newClusterClient(t)
	s := open(t, c, &redisstore.Options{ScanCount: 5})
	other := open(t, c, nil)
	ctx := t.Context()
	const n = 200 // spread over every primary's slots
	want := make([]string, n)
	for i := range n {
		want[i] = fmt.Sprintf("k%03d", i)
		require.NoError(t, s.Set(ctx, want[i], []byte("v"), 0))
	}
	require.NoError(t, other.Set(ctx, "k000", []byte("other"), 0))
	assert.Equal(t, want, keys(t, s))
	require.NoError(t, s.Clear(ctx))
	assert.Empty(t, keys(t, s))
	v, err := other.Get(ctx, "k000")
	require.NoError(t, err)
	assert.Equal(t, "other", string(v))
}
