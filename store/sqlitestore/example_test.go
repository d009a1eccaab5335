package sqlitestore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/cachestack/cachestack"
	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/sqlitestore"
)

func Example() {
	dir, err := os.MkdirTemp("", "sqlitestore-example-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	// In a program, a path like "~/.cache/myapp/http.sqlite".
	s, err := sqlitestore.Open(filepath.Join(dir, "http.sqlite"), &sqlitestore.Options{MaxBytes: 64 << 20})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	ctx := context.Background()

	if err := s.Set(ctx, "GET https://example.com/", []byte("hello"), time.Hour); err != nil {
		panic(err)
	}
	v, err := s.Get(ctx, "GET https://example.com/")
	fmt.Println(string(v), err)

	_, err = s.Get(ctx, "GET https://example.com/other")
	fmt.Println(errors.Is(err, store.ErrNotFound))

	for key, err := range s.Keys(ctx) {
		fmt.Println(key, err)
	}
	bytes, entries, err := s.Usage(ctx)
	fmt.Println(bytes, entries, err)
	// Output:
	// hello <nil>
	// true
	// GET https://example.com/ <nil>
	// 29 1 <nil>
}

// ExampleOpenResponses puts a persistent cache under an http.Client in one
// line: the second request is answered from the SQLite file.
func ExampleOpenResponses() {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "hello")
	}))
	defer origin.Close()
	dir, err := os.MkdirTemp("", "sqlitestore-example-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	responses, err := sqlitestore.OpenResponses(filepath.Join(dir, "http.sqlite"), nil)
	if err != nil {
		panic(err)
	}
	defer responses.Close() // closes the database
	c, err := cachestack.New(&cachestack.Options{Store: responses})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	client := c.Client()

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

// ExampleOpen_readOnly opens a SQLite URI read-only: its parameters pass
// through to the driver, here a pragma and the read-only mode.
func ExampleOpen_readOnly() {
	dir, err := os.MkdirTemp("", "sqlitestore-example-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "http.sqlite")
	ctx := context.Background()

	w, err := sqlitestore.Open(path, nil)
	if err != nil {
		panic(err)
	}
	defer w.Close()
	_ = w.Set(ctx, "k", []byte("v"), 0)

	r, err := sqlitestore.Open("file:"+path+"?mode=ro&_pragma=cache_size(-8000)", nil)
	if err != nil {
		panic(err)
	}
	defer r.Close()
	v, err := r.Get(ctx, "k")
	fmt.Println(string(v), err)
	fmt.Println(errors.Is(r.Set(ctx, "k", []byte("w"), 0), sqlitestore.ErrReadOnly))
	// Output:
	// v <nil>
	// true
}

func ExampleOpen_error() {
	_, err := sqlitestore.Open("cache.sqlite", &sqlitestore.Options{MaxBytes: -1})
	fmt.Println(err)
	_, err = sqlitestore.Open("cache.sqlite", &sqlitestore.Options{Synchronous: "sometimes"})
	fmt.Println(err)
	// Output:
	// sqlitestore: Options.MaxBytes is -1, want >= 0
	// sqlitestore: Options.Synchronous is "sometimes", want OFF, NORMAL, FULL or EXTRA
}
