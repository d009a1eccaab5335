package slabstore_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/cachestack/cachestack"
	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/store/slabstore"
)

// A slabstore is the cache's store like any other: give it to
// cachestack.New as Options.Store. It suits a large cache, whose entries
// then cost the garbage collector next to nothing.
func Example() {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, "hello")
	}))
	defer origin.Close()

	s, err := slabstore.New(&slabstore.Options{MaxBytes: 512 << 20})
	if err != nil {
		panic(err)
	}
	c, err := cachestack.New(&cachestack.Options{Store: s})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	defer s.Close()
	client := &http.Client{Transport: c}

	for range 2 {
		resp, err := client.Get(origin.URL)
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(string(body), cachestack.InfoOf(resp).FromCache)
	}
	// Output:
	// hello false
	// hello true
}

// Get returns a response built over the stored bytes: it stays valid, and
// unchanged, after its entry is replaced.
func ExampleStore_Get() {
	s, err := slabstore.New(nil)
	if err != nil {
		panic(err)
	}
	defer s.Close()
	ctx := context.Background()

	_ = s.Set(ctx, "GET /a", &cached.Response{URL: "/a", StatusCode: 200, Body: []byte("first")}, 0)
	r, _ := s.Get(ctx, "GET /a")
	_ = s.Set(ctx, "GET /a", &cached.Response{URL: "/a", StatusCode: 200, Body: []byte("second")}, 0)
	again, _ := s.Get(ctx, "GET /a")
	fmt.Println(string(r.Body), string(again.Body))
	// Output:
	// first second
}

func ExampleNew_error() {
	_, err := slabstore.New(&slabstore.Options{MaxBytes: 1000})
	fmt.Println(err)
	// Output:
	// slabstore: Options.MaxBytes is 1000, want 0 or at least 1 MiB (1048576)
}
