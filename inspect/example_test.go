package inspect_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/cachestack/cachestack"
	"github.com/cachestack/cachestack/inspect"
	"github.com/cachestack/cachestack/middleware"
)

// The debug view mounted beside an application's own handlers; here its
// stats are read as JSON.
func ExampleHandler() {
	c, err := cachestack.New(nil)
	if err != nil {
		panic(err)
	}
	defer c.Close()

	mux := http.NewServeMux()
	mux.Handle("/debug/cache/", http.StripPrefix("/debug/cache", inspect.Handler(c, nil)))

	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/debug/cache/stats.json", nil))
	var s middleware.Stats
	if err := json.NewDecoder(rec.Body).Decode(&s); err != nil {
		panic(err)
	}
	fmt.Println("breaker:", s.Breaker.State, "hits:", s.Counts["hits"])
	// Output: breaker: closed hits: 0
}
