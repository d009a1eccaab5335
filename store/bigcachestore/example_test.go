package bigcachestore_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/codec"
	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/bigcachestore"
)

func Example() {
	s, err := bigcachestore.New(&bigcachestore.Options{MaxBytes: 16 << 20})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	ctx := context.Background()

	_ = s.Set(ctx, "greeting", []byte("hello"), time.Minute)
	v, err := s.Get(ctx, "greeting")
	fmt.Println(string(v), err)

	_, err = s.Get(ctx, "farewell")
	fmt.Println(errors.Is(err, store.ErrNotFound))
	// Output:
	// hello <nil>
	// true
}

// Responses are stored through a codec, which encodes them on Set and
// decodes them on Get.
func Example_responses() {
	bs, err := bigcachestore.New(nil)
	if err != nil {
		panic(err)
	}
	responses := codec.Bind(bs, codec.Response())
	defer responses.Close() // closes bs
	ctx := context.Background()

	_ = responses.Set(ctx, "GET https://example.com/", &cached.Response{
		URL:        "https://example.com/",
		StatusCode: 200,
		Proto:      "HTTP/1.1",
		Body:       []byte("hello"),
	}, time.Minute)

	r, err := responses.Get(ctx, "GET https://example.com/")
	fmt.Println(r.StatusCode, string(r.Body), err)
	// Output:
	// 200 hello <nil>
}

// A life window bounds every entry's life, whatever its ttl.
func ExampleOptions_lifeWindow() {
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	now := start
	s, err := bigcachestore.New(&bigcachestore.Options{
		LifeWindow: time.Hour,
		Clock:      func() time.Time { return now },
	})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	ctx := context.Background()

	_ = s.Set(ctx, "no ttl", []byte("a"), 0)
	_ = s.Set(ctx, "ttl 1m", []byte("b"), time.Minute)
	_ = s.Set(ctx, "ttl 1d", []byte("c"), 24*time.Hour)
	for _, after := range []time.Duration{time.Minute, time.Hour} {
		now = start.Add(after)
		for _, k := range []string{"no ttl", "ttl 1m", "ttl 1d"} {
			_, err := s.Get(ctx, k)
			fmt.Printf("after %v, %s: %v\n", after, k, err)
		}
	}
	// Output:
	// after 1m0s, no ttl: <nil>
	// after 1m0s, ttl 1m: store: not found
	// after 1m0s, ttl 1d: <nil>
	// after 1h0m0s, no ttl: store: not found
	// after 1h0m0s, ttl 1m: store: not found
	// after 1h0m0s, ttl 1d: store: not found
}
