package redisstore_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack"
	"github.com/cachestack/cachestack/codec"
	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/redisstore"
	"github.com/cachestack/cachestack/store/storetest"
)

// newClusterClient returns a client of the Redis Cluster whose nodes
// CACHESTACK_REDIS_CLUSTER_ADDRS lists (comma-separated; scripts/services.sh
// starts one and sets it), closed when t ends. When no cluster is given or
// it does not answer, it skips t with the reason, or fails it if
// CACHESTACK_REQUIRE_SERVICES=1.
func newClusterClient(t *testing.T) *redis.ClusterClient {
	t.Helper()
	unavailable := func(msg string) {
		t.Helper()
		if os.Getenv("CACHESTACK_REQUIRE_SERVICES") == "1" {
			t.Fatal(msg + "; CACHESTACK_REQUIRE_SERVICES=1, so this fails")
		}
		t.Skip(msg)
	}
	addrs := os.Getenv("CACHESTACK_REDIS_CLUSTER_ADDRS")
	if addrs == "" {
		unavailable("CACHESTACK_REDIS_CLUSTER_ADDRS is not set: no Redis Cluster to test against (run scripts/services.sh)")
	}
	c := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs:       strings.Split(addrs, ","),
		DialTimeout: 2 * time.Second,
	})
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		unavailable(fmt.Sprintf("no Redis Cluster answers at CACHESTACK_REDIS_CLUSTER_ADDRS=%s (run scripts/services.sh): %v", addrs, err))
	}
	state, err := c.ClusterInfo(ctx).Result()
	if err != nil || !strings.Contains(state, "cluster_state:ok") {
		unavailable(fmt.Sprintf("the Redis Cluster at %s is not in cluster_state:ok: %v %q", addrs, err, state))
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
	// The keys are spread over every primary, so that listing them all
	// and clearing them all take a visit to each.
	var (
		mu        sync.Mutex
		primaries int
		holding   int
	)
	require.NoError(t, c.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		ks, err := n.Keys(ctx, rawPattern(s.Namespace())).Result()
		mu.Lock()
		defer mu.Unlock()
		primaries++
		if len(ks) > 0 {
			holding++
		}
		return err
	}))
	require.GreaterOrEqual(t, primaries, 2, "a cluster of one primary shows nothing here")
	require.Equal(t, primaries, holding, "every primary holds some of the keys")

	assert.Equal(t, want, keys(t, s))
	require.NoError(t, s.Clear(ctx))
	assert.Empty(t, keys(t, s))
	left, err := rawKeys(ctx, c, rawPattern(s.Namespace()))
	require.NoError(t, err)
	assert.Empty(t, left, "Clear leaves no key on any primary")
	v, err := other.Get(ctx, "k000")
	require.NoError(t, err)
	assert.Equal(t, "other", string(v))
}

// TestClusterCacheHit: a cache whose store is the cluster, through the
// response codec, answers the second GET of a cacheable response from the
// cluster, without asking the origin again.
func TestClusterCacheHit(t *testing.T) {
	c := newClusterClient(t)
	var originHits atomic.Int64
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		originHits.Add(1)
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = io.WriteString(w, "body of "+r.URL.Path)
	}))
	defer origin.Close()
	transport := &http.Transport{}
	defer transport.CloseIdleConnections()

	bs := open(t, c, nil)
	cache, err := cachestack.New(&cachestack.Options{
		Store:     codec.Bind(bs, codec.Response()),
		Transport: transport,
	})
	require.NoError(t, err)
	defer cache.Close()
	client := cache.Client()
	get := func(path string) (string, bool) {
		t.Helper()
		resp, err := client.Get(origin.URL + path)
		require.NoError(t, err, "GET %s", path)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		return string(b), cachestack.InfoOf(resp).FromCache
	}

	for _, path := range []string{"/a", "/b", "/c"} {
		body, hit := get(path)
		require.Equal(t, "body of "+path, body)
		require.False(t, hit, "the first GET of %s goes to the origin", path)
	}
	require.Equal(t, int64(3), originHits.Load())
	require.NoError(t, cache.Flush(t.Context())) // writes to the cluster are made in the background
	stored := keys(t, bs)
	require.Len(t, stored, 3, "each response is one entry in the cluster")
	for _, path := range []string{"/a", "/b", "/c"} {
		body, hit := get(path)
		require.Equal(t, "body of "+path, body)
		require.True(t, hit, "the second GET of %s is a hit from the cluster", path)
	}
	require.Equal(t, int64(3), originHits.Load(), "the origin was asked once per path")
}
