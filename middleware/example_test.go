package middleware_test

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/keyer"
	"github.com/cachestack/cachestack/middleware"
	"github.com/cachestack/cachestack/policy"
	"github.com/cachestack/cachestack/store/memstore"
)

// Example assembles a cache by hand: keying, filtering, expiry and the
// store, composed with Chain (the first argument is outermost) over the
// default transport.
func Example() {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	}))
	defer origin.Close()

	s, err := memstore.New[string, *cached.Response](nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	k, err := keyer.New(&keyer.Options{IgnoredParams: []string{"api_key"}})
	if err != nil {
		log.Fatal(err)
	}
	filter, err := middleware.Filter(&middleware.FilterOptions{Codes: []int{200, 404}})
	if err != nil {
		log.Fatal(err)
	}
	expiry, err := middleware.Expiry(&middleware.ExpiryOptions{ExpireAfter: policy.After(time.Hour)})
	if err != nil {
		log.Fatal(err)
	}
	st, err := middleware.Store(s, nil)
	if err != nil {
		log.Fatal(err)
	}
	client := &http.Client{Transport: middleware.Chain(middleware.Key(k), filter, expiry, st)(nil)}

	for _, key := range []string{"one", "two"} {
		resp, err := client.Get(origin.URL + "/greeting?api_key=" + key)
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body) // the response is stored once its body is read to EOF
		resp.Body.Close()
		fmt.Printf("%s from cache: %v\n", body, middleware.InfoOf(resp).FromCache)
	}
	// Output:
	// hello from cache: false
	// hello from cache: true
}

// ExampleCacheControl shows RFC 9111 revalidation: once the stored
// response is stale, the cache asks the origin with If-None-Match; the
// origin's 304 refreshes the stored response, and the caller gets a 200
// with the stored body.
func ExampleCacheControl() {
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }

	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", clock().Format(http.TimeFormat))
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Etag", `"v1"`)
		if r.Header.Get("If-None-Match") == `"v1"` {
			fmt.Println("origin: 304 Not Modified")
			w.WriteHeader(http.StatusNotModified)
			return
		}
		fmt.Println("origin: 200 OK")
		io.WriteString(w, "the document")
	}))
	defer origin.Close()

	s, err := memstore.New[string, *cached.Response](&memstore.Options[*cached.Response]{Clock: clock})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	cc, err := middleware.CacheControl(nil)
	if err != nil {
		log.Fatal(err)
	}
	st, err := middleware.Store(s, &middleware.StoreOptions{Clock: clock})
	if err != nil {
		log.Fatal(err)
	}
	client := &http.Client{Transport: middleware.Chain(cc, st)(nil)}

	for _, wait := range []time.Duration{0, 30 * time.Second, 60 * time.Second} {
		mu.Lock()
		now = now.Add(wait)
		mu.Unlock()
		resp, err := client.Get(origin.URL)
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("%d %q Age=%s Cache-Status=%q\n", resp.StatusCode, body, resp.Header.Get("Age"), resp.Header.Get("Cache-Status"))
	}
	// Output:
	// origin: 200 OK
	// 200 "the document" Age= Cache-Status="cachestack; fwd=uri-miss"
	// 200 "the document" Age=30 Cache-Status="cachestack; hit; ttl=30"
	// origin: 304 Not Modified
	// 200 "the document" Age=0 Cache-Status="cachestack; fwd=stale; fwd-status=304; ttl=60"
}

// ExampleInfoOf reads what the cache says about a response: whether it
// came from the store, when it was stored and when it stops being fresh.
func ExampleInfoOf() {
	stored := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	now := stored
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }

	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", clock().Format(http.TimeFormat))
		w.Header().Set("Cache-Control", "max-age=600, stale-if-error=3600")
		io.WriteString(w, "report")
	}))
	defer origin.Close()

	s, err := memstore.New[string, *cached.Response](&memstore.Options[*cached.Response]{Clock: clock})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	cc, err := middleware.CacheControl(nil)
	if err != nil {
		log.Fatal(err)
	}
	st, err := middleware.Store(s, &middleware.StoreOptions{Clock: clock})
	if err != nil {
		log.Fatal(err)
	}
	rt := middleware.Chain(cc, st)(nil)

	show := func() {
		req, _ := http.NewRequest(http.MethodGet, origin.URL, nil)
		resp, err := rt.RoundTrip(req)
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		info := middleware.InfoOf(resp)
		fmt.Printf("status=%d from_cache=%v stale=%v", resp.StatusCode, info.FromCache, info.Stale)
		if info.FromCache {
			fmt.Printf(" created=%s expires=%s", info.Created.Format(time.TimeOnly), info.Expires.Format(time.TimeOnly))
		}
		fmt.Println()
	}
	show() // a miss, stored
	mu.Lock()
	now = now.Add(5 * time.Minute)
	mu.Unlock()
	show() // a fresh hit
	mu.Lock()
	now = now.Add(10 * time.Minute)
	mu.Unlock()
	origin.Close() // the origin goes away: stale-if-error serves the stored response
	show()
	// Output:
	// status=200 from_cache=false stale=false
	// status=200 from_cache=true stale=false created=12:00:00 expires=12:10:00
	// status=200 from_cache=true stale=true created=12:00:00 expires=12:10:00
}

// ExampleCacheControl_rangesAndConditionals shows a fresh stored response
// answering what a download manager or a browser asks of it: a Range
// request gets a 206 with the bytes asked for, and a request carrying the
// caller's own If-None-Match gets a 304, neither reaching the origin.
func ExampleCacheControl_rangesAndConditionals() {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println("origin:", r.Method)
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Header().Set("Etag", `"v1"`)
		io.WriteString(w, "0123456789")
	}))
	defer origin.Close()

	s, err := memstore.New[string, *cached.Response](nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	st, err := middleware.Store(s, nil)
	if err != nil {
		log.Fatal(err)
	}
	client := &http.Client{Transport: st(nil)} // RFC 9111 is the default

	for _, h := range []http.Header{
		{},
		{"Range": {"bytes=2-5"}},
		{"If-None-Match": {`"v1"`}},
	} {
		req, _ := http.NewRequest(http.MethodGet, origin.URL+"/file", nil)
		req.Header = h
		resp, err := client.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("%d %q %q\n", resp.StatusCode, body, resp.Header.Get("Content-Range"))
	}
	// Output:
	// origin: GET
	// 200 "0123456789" ""
	// 206 "2345" "bytes 2-5/10"
	// 304 "" ""
}
