package memstore_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/memstore"
)

func Example() {
	s, err := memstore.New[string, []byte](&memstore.Options[[]byte]{MaxBytes: 1 << 20})
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

// A store typed end to end holds *cached.Response values as they are, costed
// by their Size method. When it is full, an entry used more often stays
// rather than one used less.
func Example_typed() {
	s, err := memstore.New[string, *cached.Response](&memstore.Options[*cached.Response]{MaxEntries: 2})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	ctx := context.Background()

	for _, url := range []string{"/a", "/b"} {
		_ = s.Set(ctx, url, &cached.Response{URL: url, StatusCode: 200, Body: []byte("body of " + url)}, 0)
	}
	_, _ = s.Get(ctx, "/a") // /a is used twice, /b once: /b goes first
	_ = s.Set(ctx, "/c", &cached.Response{URL: "/c", StatusCode: 404}, 0)

	for _, url := range []string{"/a", "/b", "/c"} {
		r, err := s.Get(ctx, url)
		if err != nil {
			fmt.Println(url, err)
			continue
		}
		fmt.Println(url, r.StatusCode)
	}
	fmt.Println(s.Len(), "entries")
	// Output:
	// /a 200
	// /b store: not found
	// /c 404
	// 2 entries
}

func ExampleNew_error() {
	_, err := memstore.New[string, []byte](&memstore.Options[[]byte]{MaxBytes: -5})
	fmt.Println(err)
	// Output:
	// memstore: Options.MaxBytes is -5, want >= 0
}
