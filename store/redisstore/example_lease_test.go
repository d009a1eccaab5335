package redisstore_test

import (
	"fmt"
	"io"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachestack/cachestack"
	"github.com/cachestack/cachestack/codec"
	"github.com/cachestack/cachestack/middleware"
	"github.com/cachestack/cachestack/store/redisstore"
)

// Example_coalesceAcrossProcesses runs in every process of a fleet that
// shares one Redis: when several processes miss the same URL at once, one
// of them asks the origin and the others wait, at most MaxWait and never
// past their request's context, for its response to appear in Redis. Like
// Example, it needs Redis and is compiled but not run.
func Example_coalesceAcrossProcesses() {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer client.Close()
	s, err := redisstore.New(client, &redisstore.Options{Namespace: "myapp"})
	if err != nil {
		panic(err)
	}
	cache, err := cachestack.New(&cachestack.Options{
		Store:    codec.Bind(s, codec.Response()),
		Coalesce: true, // one origin request per key within the process
		CoalesceAcrossProcesses: &middleware.LeaseOptions{
			TTL:     5 * time.Second, // longer than a fetch; the most a crashed holder delays the others
			MaxWait: 2 * time.Second, // then a waiting process fetches on its own
		},
	})
	if err != nil {
		panic(err)
	}
	defer cache.Close()

	resp, err := cache.Client().Get("https://example.com/")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, len(body))
	n := cache.Counters()
	fmt.Println("waited for another process:", n.LeaseWaits.Load(), "answered from Redis after it:", n.LeaseHits.Load())
}

// Example_coalesceAcrossProcessesError: the option needs a store the
// processes share and that can take leases; without one, New fails and
// names it.
func Example_coalesceAcrossProcessesError() {
	_, err := cachestack.New(&cachestack.Options{CoalesceAcrossProcesses: &middleware.LeaseOptions{}})
	fmt.Println(err)
	// Output:
	// cachestack: Options.CoalesceAcrossProcesses: the default in-memory store is not shared between processes; set Options.Store to one that is and can take leases, such as redisstore
}
