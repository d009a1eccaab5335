package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// redisAddr is the test server ($CACHESTACK_REDIS_ADDR, default
// 127.0.0.1:6379). Without one the test skips, unless
// CACHESTACK_REQUIRE_SERVICES=1, where it fails.
func redisAddr(t *testing.T) string {
	addr := os.Getenv("CACHESTACK_REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		if os.Getenv("CACHESTACK_REQUIRE_SERVICES") == "1" {
			t.Fatalf("no Redis at %s: %v", addr, err)
		}
		t.Skipf("no Redis at %s: %v", addr, err)
	}
	return addr
}

// TestFleet runs three instances over one namespace of a real Redis: the
// origin is asked once, and the namespace is empty afterwards.
func TestFleet(t *testing.T) {
	addr := redisAddr(t)
	var asked atomic.Int64
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		w.Header().Set("Cache-Control", "public, max-age=300")
		w.Write([]byte("the price list\n"))
	}))
	defer origin.Close()
	ns := fmt.Sprintf("fleet-test-%d-%d", os.Getpid(), time.Now().UnixNano())

	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out, addr, ns, 3, origin.URL+"/prices"))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 3)
	assert.Contains(t, lines[0], "instance 1: from cache: false")
	assert.Contains(t, lines[1], "instance 2: from cache: true  Cache-Status: cachestack; hit")
	assert.Contains(t, lines[2], "instance 3: from cache: true")
	assert.EqualValues(t, 1, asked.Load(), "one origin request for the whole fleet")

	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	keys, err := c.Keys(context.Background(), ns+":*").Result()
	require.NoError(t, err)
	assert.Empty(t, keys, "the example clears its namespace")
}

func TestNoRedis(t *testing.T) {
	err := run(context.Background(), &bytes.Buffer{}, "127.0.0.1:1", "x", 1, "http://127.0.0.1:1/")
	assert.ErrorContains(t, err, "no Redis at 127.0.0.1:1")
}
