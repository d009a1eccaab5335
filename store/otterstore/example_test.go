package otterstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/otterstore"
)

func Example() {
	s, err := otterstore.New[string](&otterstore.Options[*cached.Response]{MaxBytes: 32 << 20})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	ctx := context.Background()

	r := &cached.Response{URL: "https://example.com/", StatusCode: 200, Body: []byte("hello")}
	_ = s.Set(ctx, "GET https://example.com/", r, time.Minute)

	got, err := s.Get(ctx, "GET https://example.com/")
	fmt.Println(got.StatusCode, string(got.Body), got == r, err)

	_, err = s.Get(ctx, "GET https://example.com/missing")
	fmt.Println(errors.Is(err, store.ErrNotFound))

	for k, err := range s.Keys(ctx) {
		fmt.Println(k, err)
	}
	// Output:
	// 200 hello true <nil>
	// true
	// GET https://example.com/ <nil>
}

// A fake clock moves otter's clock, so ttls can be shown without waiting.
func Example_clock() {
	var now atomic.Int64 // otter reads the clock from its own goroutine too
	now.Store(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	s, err := otterstore.New[string](&otterstore.Options[[]byte]{
		Clock: func() time.Time { return time.Unix(0, now.Load()) },
	})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	ctx := context.Background()

	_ = s.Set(ctx, "k", []byte("v"), time.Minute)
	now.Add(int64(59 * time.Second))
	_, err = s.Get(ctx, "k")
	fmt.Println(err)
	now.Add(int64(time.Second))
	_, err = s.Get(ctx, "k")
	fmt.Println(err)
	// Output:
	// <nil>
	// store: not found
}

func ExampleNew_error() {
	_, err := otterstore.New[string, []byte](&otterstore.Options[[]byte]{MaxBytes: -1})
	fmt.Println(err)
	// Output:
	// otterstore: Options.MaxBytes is -1, want >= 0
}
