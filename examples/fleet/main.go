// Command fleet shows several instances of a service sharing one HTTP
// cache in Redis: what one instance fetched, every other answers without
// asking the origin, and a restarted instance starts warm. It is the Go
// counterpart of aiohttp-client-cache's Redis backend used by several
// processes, whose cache name is the namespace here.
//
// It needs a Redis server (any version go-redis supports; with
// maxmemory-policy allkeys-lru or allkeys-lfu, Redis bounds the cache's
// memory). From this directory, its own Go module:
//
//	cd examples/fleet
//	go run .                                    # Redis at 127.0.0.1:6379
//	go run . -redis 10.0.0.5:6379 -instances 5
//
// It starts a local origin, then the instances one after another, as
// separate processes would: each with its own Redis client and cache over
// the same namespace. Each fetches the same URL; only the first reaches the
// origin. The namespace is cleared at the end.
//
// # Where fleet-wide options go
//
// newInstance is the one place an instance's cache is configured. Today it
// shares the store and coalesces concurrent misses within the instance
// (Options.Coalesce). Options that coordinate the instances themselves —
// one origin request for a miss across the whole fleet (stampede
// protection), or an in-memory front tier kept coherent with Redis — are
// set there too, beside Store, when cachestack offers them.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"time"

	"github.com/cachestack/cachestack"
	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/codec"
	"github.com/cachestack/cachestack/store/redisstore"
	"github.com/redis/go-redis/v9"
)

func main() {
	addr := flag.String("redis", "127.0.0.1:6379", "address of the Redis server")
	n := flag.Int("instances", 3, "how many instances share the cache")
	ns := flag.String("namespace", "fleet-example", "Redis namespace of the cache (aiohttp-client-cache's cache name)")
	flag.Parse()

	var asked atomic.Int64
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		w.Header().Set("Cache-Control", "public, max-age=300")
		fmt.Fprintln(w, "the price list")
	}))
	defer origin.Close()

	if err := run(context.Background(), os.Stdout, *addr, *ns, *n, origin.URL+"/prices"); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("the origin was asked %d time(s) for %d instances\n", asked.Load(), *n)
}

// instance is one member of the fleet: in production, one process.
type instance struct {
	client *redis.Client
	cache  *cachestack.Cache
	store  *redisstore.Store
}

// newInstance connects to Redis and builds the instance's cache over the
// shared namespace.
func newInstance(addr, namespace string) (*instance, error) {
	client := redis.NewClient(&redis.Options{Addr: addr})
	raw, err := redisstore.New(client, &redisstore.Options{Namespace: namespace})
	if err != nil {
		client.Close()
		return nil, err
	}
	cache, err := cachestack.New(&cachestack.Options{
		Store:    codec.Bind[string, *cached.Response](raw, codec.Response()),
		Coalesce: true,
		// A lookup slower than GetTimeout is a miss that goes to the origin
		// (the default, 50ms, suits a Redis close by); writes go to Redis in
		// the background, after the caller has its response, and one slower
		// than SetTimeout is dropped and counted. Both are generous here,
		// for a busy network.
		GetTimeout: 250 * time.Millisecond,
		SetTimeout: time.Second,
	})
	if err != nil {
		raw.Close()
		client.Close()
		return nil, err
	}
	return &instance{client: client, cache: cache, store: raw}, nil
}

// Close waits (up to five seconds) for the writes the instance queued, so
// that what it fetched is in Redis for the others, then closes the cache,
// the store and the client, in that order.
func (in *instance) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := in.cache.Flush(ctx)
	if cerr := in.cache.Close(); err == nil {
		err = cerr
	}
	in.store.Close()
	in.client.Close()
	return err
}

// run starts n instances in turn over namespace; each fetches url once.
func run(ctx context.Context, w io.Writer, addr, namespace string, n int, url string) error {
	probe := redis.NewClient(&redis.Options{Addr: addr})
	defer probe.Close()
	if err := probe.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("no Redis at %s (start one, or pass -redis): %w", addr, err)
	}
	for i := 1; i <= n; i++ {
		in, err := newInstance(addr, namespace)
		if err != nil {
			return err
		}
		resp, err := in.cache.Client().Get(url)
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body) // read to EOF: that is what stores a response
			resp.Body.Close()
		}
		if err == nil {
			fmt.Fprintf(w, "instance %d: from cache: %-5v Cache-Status: %s\n", i, cachestack.InfoOf(resp).FromCache, resp.Header.Get("Cache-Status"))
		}
		if err == nil && i == n {
			err = in.store.Clear(ctx) // leave Redis as it was
		}
		if cerr := in.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("instance %d: %w", i, err)
		}
	}
	return nil
}
