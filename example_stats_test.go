package cachestack_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"github.com/cachestack/cachestack"
	"github.com/cachestack/cachestack/middleware"
)

// What an on-call engineer reads: the counts, the store's latency and the
// breaker, from Stats; and the cache's events, here logged at Debug.
func ExampleCache_Stats() {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "hello")
	}))
	defer origin.Close()

	// Only the event names, for a stable output.
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == "event" || a.Key == slog.LevelKey {
				return a
			}
			return slog.Attr{}
		},
	}))
	c, err := cachestack.New(&cachestack.Options{
		Logger:     logger,
		GetTimeout: 20 * time.Millisecond, // a lookup slower than this is a miss
		Breaker:    &middleware.BreakerOptions{Failures: 3, OpenFor: 2 * time.Second},
	})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	for range 2 {
		resp, err := c.Client().Get(origin.URL)
		if err != nil {
			panic(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	s := c.Stats()
	fmt.Println("hits:", s.Counts["hits"], "misses:", s.Counts["misses"], "stored:", s.Counts["stored"])
	fmt.Println("lookups timed:", s.StoreLatency["get"].Count, "breaker:", s.Breaker.State)
	// Output:
	// level=DEBUG event=miss
	// level=DEBUG event=stored
	// level=DEBUG event=hit
	// hits: 1 misses: 1 stored: 1
	// lookups timed: 2 breaker: closed
}
