package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/cachestack/cachestack"
	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/pgstore"
)

// Example needs a PostgreSQL server, so it is compiled but not run: it has
// no Output comment, since machines without a server could not produce
// one. The package's tests run the same calls against a real server.
func Example() {
	s, err := pgstore.Open("postgres://postgres@127.0.0.1:5432/test?sslmode=disable", &pgstore.Options{
		Table:    "http_cache", // created if missing
		MaxBytes: 256 << 20,
		Timeout:  time.Second, // each call, and the server's statement_timeout
	})
	if err != nil {
		fmt.Println(err) // e.g. pgstore: … connection refused
		return
	}
	defer s.Close() // closes the pool Open made
	ctx := context.Background()

	if err := s.Set(ctx, "GET https://example.com/", []byte("hello"), time.Hour); err != nil {
		fmt.Println(err)
		return
	}
	v, err := s.Get(ctx, "GET https://example.com/")
	fmt.Println(string(v), err)

	_, err = s.Get(ctx, "GET https://example.com/other")
	fmt.Println(errors.Is(err, store.ErrNotFound))

	for key, err := range s.Keys(ctx) {
		fmt.Println(key, err)
	}
	n, err := s.Purge(ctx) // expired rows; Set also purges when over budget
	fmt.Println(n, err)
}

// ExampleOpenResponses puts a cache kept in PostgreSQL under an
// http.Client in one line. Like Example, it needs a server and is
// compiled but not run.
func ExampleOpenResponses() {
	responses, err := pgstore.OpenResponses("postgres://app@db.internal:5432/app", &pgstore.Options{
		Schema:   "cache",
		Table:    "http",
		Unlogged: true, // cheaper writes; emptied after a crash
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer responses.Close()
	c, err := cachestack.New(&cachestack.Options{Store: responses})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	resp, err := c.Client().Get("https://example.com/")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	fmt.Println(resp.StatusCode == http.StatusOK, cachestack.InfoOf(resp).FromCache)
}

func ExampleOpen_error() {
	_, err := pgstore.Open("postgres://127.0.0.1/app", &pgstore.Options{Table: "http-cache"})
	fmt.Println(err)
	_, err = pgstore.Open("postgres://127.0.0.1/app", &pgstore.Options{Timeout: -time.Second})
	fmt.Println(err)
	// Output:
	// pgstore: Options.Table "http-cache" is not a plain identifier (a letter or '_', then letters, digits or '_', at most 48)
	// pgstore: Options.Timeout is -1s, want >= 0
}
