package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachestack/cachestack"
	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/codec"
	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/memstore"
	"github.com/cachestack/cachestack/store/redisstore"
	"github.com/cachestack/cachestack/store/tierstore"
)

// Example needs a Redis server, so it is compiled but not run: it has no
// Output comment, since machines without Redis could not produce one. The
// package's tests run the same calls against a real server.
func Example() {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer client.Close() // the caller owns the client; Store.Close leaves it open

	s, err := redisstore.New(client, &redisstore.Options{Namespace: "myapp"})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	ctx := context.Background()

	// Stored as the Redis key "myapp:GET https://example.com/", with PX 3600000.
	if err := s.Set(ctx, "GET https://example.com/", []byte("hello"), time.Hour); err != nil {
		fmt.Println(err) // e.g. redisstore set "GET https://example.com/": dial tcp …
		return
	}
	v, err := s.Get(ctx, "GET https://example.com/")
	fmt.Println(string(v), err)

	_, err = s.Get(ctx, "GET https://example.com/other")
	fmt.Println(errors.Is(err, store.ErrNotFound))

	for key, err := range s.Keys(ctx) {
		fmt.Println(key, err)
	}
}

// ExampleNew_codec lifts the byte store to cached responses. Like Example,
// it needs Redis and is compiled but not run.
func ExampleNew_codec() {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer client.Close()

	bs, err := redisstore.New(client, nil) // namespace "cachestack"
	if err != nil {
		panic(err)
	}
	responses := codec.Bind(bs, codec.Response())
	defer responses.Close()
	ctx := context.Background()

	err = responses.Set(ctx, "GET https://example.com/", &cached.Response{
		Method:     http.MethodGet,
		URL:        "https://example.com/",
		StatusCode: http.StatusOK,
		Header:     cached.NewHeader(http.Header{"Content-Type": {"text/plain"}}),
		Body:       []byte("hello"),
	}, 5*time.Minute)
	if err != nil {
		fmt.Println(err)
		return
	}
	r, err := responses.Get(ctx, "GET https://example.com/")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.StatusCode, string(r.Body))
}

func ExampleNew_error() {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer client.Close()

	_, err := redisstore.New(client, &redisstore.Options{Namespace: "myapp:http"})
	fmt.Println(err)
	_, err = redisstore.New(client, &redisstore.Options{ScanCount: -1})
	fmt.Println(err)
	// Output:
	// redisstore: Options.Namespace "myapp:http" contains ':', which would let it overlap other namespaces; use another separator, such as '-' or '/'
	// redisstore: Options.ScanCount is -1, want >= 0
}

// ExampleNewBus assembles what each process of a fleet runs: a memory
// front of decoded responses over a shared Redis, kept coherent by a Bus,
// for cachestack.Options.Store. Another process's Set or Delete drops the
// key from this front within 2 × PingInterval; if the Bus loses Redis, the
// front falls back to FrontTTL. Like Example, it needs Redis and is
// compiled but not run.
func ExampleNewBus() {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer client.Close() // after the tier, which uses it

	rs, err := redisstore.New(client, &redisstore.Options{Namespace: "myapp"})
	if err != nil {
		panic(err)
	}
	back := codec.Bind(rs, codec.Response())
	front, err := memstore.New[string](&memstore.Options[*cached.Response]{MaxBytes: 64 << 20})
	if err != nil {
		panic(err)
	}
	bus, err := redisstore.NewBus(client, &redisstore.BusOptions{Namespace: "myapp"})
	if err != nil {
		panic(err)
	}
	tier, err := tierstore.NewCoherent(front, back, bus, &tierstore.Options{FrontTTL: 5 * time.Minute})
	if err != nil {
		panic(err)
	}
	defer tier.Close() // stops the subscription, closes front and back

	// tier is a store.Store[string, *cached.Response]: cachestack.Options.Store.
	fmt.Println(bus.Channel(), tier.Coherent())
}

// A cache kept in Redis in one line. OpenResponses needs no server to
// succeed, so this example runs anywhere; its requests go to the network
// while Redis cannot be reached.
func ExampleOpenResponses() {
	s, err := redisstore.OpenResponses("127.0.0.1:6379", &redisstore.Options{Namespace: "myapp"})
	if err != nil {
		panic(err)
	}
	defer s.Close() // closes the client OpenResponses made

	c, err := cachestack.New(&cachestack.Options{Store: s})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	_ = c.Client() // an *http.Client whose responses are kept in Redis
	// Output:
}
