package ristrettostore_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/ristrettostore"
)

func Example() {
	// Synchronous makes each write visible before Set returns, so that
	// this example's output is deterministic; a production cache leaves
	// it off and treats a write ristretto dropped as a later miss.
	s, err := ristrettostore.New[string](&ristrettostore.Options[*cached.Response]{
		MaxBytes:    32 << 20,
		Synchronous: true,
	})
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
	// Output:
	// 200 hello true <nil>
	// true
}

func ExampleNew_error() {
	_, err := ristrettostore.New[string, []byte](&ristrettostore.Options[[]byte]{MaxBytes: -1})
	fmt.Println(err)
	// Output:
	// ristrettostore: Options.MaxBytes is -1, want >= 0
}
