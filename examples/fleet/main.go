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
// # What each instance runs
//
// newInstance is the one place an instance's cache is configured:
//
//   - a memory front over the shared Redis (tierstore.NewCoherent), so a
//     hit costs no network round trip, kept coherent by a redisstore.Bus:
//     another instance's write or delete drops the key from this front
//     within 2 × BusOptions.PingInterval (500 ms by default), and if the
//     bus loses Redis the front falls back to FrontTTL;
//   - Options.Coalesce, one origin request per key within the instance;
//   - Options.CoalesceAcrossProcesses, one origin request per key across
//     the fleet: a miss takes a lease in Redis, and other instances that
//     miss the same key meanwhile wait for the entry (at most MaxWait, and
//     never past their own context) instead of asking the origin.
//
// The README's "Running on many machines" says what each guarantees.
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
	"github.com/cachestack/cachestack/middleware"
	"github.com/cachestack/cachestack/store/memstore"
	"github.com/cachestack/cachestack/store/redisstore"
	"github.com/cachestack/cachestack/store/tierstore"
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
	store  *tierstore.Store[string, *cached.Response]
}

// newInstance connects to Redis and builds the instance's cache over the
// shared namespace.
func newInstance(addr, namespace string) (*instance, error) {
	client := redis.NewClient(&redis.Options{Addr: addr})
	tier, err := newTier(client, namespace)
	if err != nil {
		client.Close()
		return nil, err
	}
	cache, err := cachestack.New(&cachestack.Options{
		Store:    tier,
		Coalesce: true,
		CoalesceAcrossProcesses: &middleware.LeaseOptions{
			TTL:     5 * time.Second, // longer than a fetch; the longest a crashed instance delays the others
			MaxWait: 2 * time.Second, // then a waiting instance fetches on its own
		},
		// A lookup slower than GetTimeout is a miss that goes to the origin
		// (the default, 50ms, suits a Redis close by); writes go to Redis in
		// the background, after the caller has its response, and one slower
		// than SetTimeout is dropped and counted. Both are generous here,
		// for a busy network.
		GetTimeout: 250 * time.Millisecond,
		SetTimeout: time.Second,
	})
	if err != nil {
		tier.Close()
		client.Close()
		return nil, err
	}
	return &instance{client: client, cache: cache, store: tier}, nil
}

// newTier is the instance's store: a memory front of decoded responses
// over the shared Redis namespace, kept coherent by a bus of
// invalidations on the same client.
func newTier(client *redis.Client, namespace string) (*tierstore.Store[string, *cached.Response], error) {
	raw, err := redisstore.New(client, &redisstore.Options{Namespace: namespace})
	if err != nil {
		return nil, err
	}
	back := codec.Bind[string, *cached.Response](raw, codec.Response())
	front, err := memstore.New[string](&memstore.Options[*cached.Response]{MaxBytes: 64 << 20})
	if err != nil {
		back.Close()
		return nil, err
	}
	bus, err := redisstore.NewBus(client, &redisstore.BusOptions{Namespace: namespace})
	if err != nil {
		front.Close()
		back.Close()
		return nil, err
	}
	tier, err := tierstore.NewCoherent(front, back, bus, &tierstore.Options{FrontTTL: time.Minute})
	if err != nil {
		front.Close()
		back.Close()
		return nil, err
	}
	return tier, nil
}

// Close waits (up to five seconds) for the writes the instance queued, so
// that what it fetched is in Redis for the others, then closes the cache,
// the store (its front, its Redis store and its bus) and the client, in
// that order.
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
