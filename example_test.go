package cachestack_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/cachestack/cachestack"
	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/keyer"
	"github.com/cachestack/cachestack/middleware"
	"github.com/cachestack/cachestack/policy"
	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/memstore"
)

// fetch GETs url with client, reads the body to EOF (which is what stores a
// response) and returns the response.
func fetch(client *http.Client, url string) *http.Response {
	resp, err := client.Get(url)
	if err != nil {
		log.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// newOrigin starts a server that answers "hello" with the given
// Cache-Control field (none when empty).
func newOrigin(cacheControl string) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if cacheControl != "" {
			w.Header().Set("Cache-Control", cacheControl)
		}
		fmt.Fprintln(w, "hello")
	}))
}

// The drop-in: a cached http.Client in two lines. By default the cache
// follows RFC 9111: the origin's Cache-Control says what may be reused.
func Example() {
	origin := newOrigin("max-age=60")
	defer origin.Close()

	cache, err := cachestack.New(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer cache.Close()
	client := cache.Client()

	for range 2 {
		resp := fetch(client, origin.URL)
		status, _, _ := strings.Cut(resp.Header.Get("Cache-Status"), "; ttl=") // the ttl counts down
		fmt.Println(status, "| from cache:", cachestack.InfoOf(resp).FromCache)
	}
	// Output:
	// cachestack; fwd=uri-miss | from cache: false
	// cachestack; hit | from cache: true
}

// The same cache, assembled by hand from its middlewares, over a transport
// of your choosing.
func Example_chain() {
	origin := newOrigin("max-age=60")
	defer origin.Close()

	s, err := memstore.New[string, *cached.Response](&memstore.Options[*cached.Response]{MaxBytes: 32 << 20})
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
	expiry, err := middleware.Expiry(&middleware.ExpiryOptions{ExpireAfter: policy.After(10 * time.Minute)})
	if err != nil {
		log.Fatal(err)
	}
	st, err := middleware.Store(s, nil)
	if err != nil {
		log.Fatal(err)
	}
	client := &http.Client{Transport: middleware.Chain(middleware.Key(k), filter, expiry, st)(http.DefaultTransport)}

	fetch(client, origin.URL+"/v1/items?api_key=first")
	resp := fetch(client, origin.URL+"/v1/items?api_key=second") // same key: api_key is ignored
	fmt.Println(cachestack.InfoOf(resp).FromCache)
	// Output: true
}

// Expiry per session, per URL pattern (first match wins) and per request.
func Example_expiry() {
	origin := newOrigin("") // no freshness of its own: the user's expiries decide
	defer origin.Close()

	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	cache, err := cachestack.New(&cachestack.Options{
		ExpireAfter: policy.After(time.Hour),
		URLExpiry: []policy.URLExpiry{
			{Pattern: "127.0.0.1*/static", Expiry: policy.Never()},
			{Pattern: "127.0.0.1*/news", Expiry: policy.After(time.Minute)},
		},
		Clock: func() time.Time { return now },
	})
	if err != nil {
		log.Fatal(err)
	}
	defer cache.Close()
	client := cache.Client()

	for _, path := range []string{"/static/logo.png", "/news", "/other"} {
		fetch(client, origin.URL+path)
		info := cachestack.InfoOf(fetch(client, origin.URL+path))
		if info.Expires.IsZero() {
			fmt.Println(path, "never expires")
			continue
		}
		fmt.Println(path, "expires after", info.Expires.Sub(now))
	}

	req, _ := http.NewRequestWithContext(cachestack.WithExpiry(context.Background(), policy.After(5*time.Second)), "GET", origin.URL+"/per-request", nil)
	resp, err := client.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	info := cachestack.InfoOf(fetch(client, origin.URL+"/per-request"))
	fmt.Println("/per-request expires after", info.Expires.Sub(now))
	// Output:
	// /static/logo.png never expires
	// /news expires after 1m0s
	// /other expires after 1h0m0s
	// /per-request expires after 5s
}

// The header-blind mode, aiohttp-client-cache's cache_control=False: the
// origin's Cache-Control is not consulted, and the user's expiry alone says
// how long a response is reused. By default the same origin's no-cache
// would send every request to the network.
func Example_ignoreCacheControl() {
	origin := newOrigin("no-cache")
	defer origin.Close()

	for _, blind := range []bool{false, true} {
		cache, err := cachestack.New(&cachestack.Options{IgnoreCacheControl: blind, ExpireAfter: policy.After(time.Hour)})
		if err != nil {
			log.Fatal(err)
		}
		client := cache.Client()
		fetch(client, origin.URL)
		resp := fetch(client, origin.URL)
		fmt.Println("IgnoreCacheControl:", blind, "| second request from cache:", cachestack.InfoOf(resp).FromCache)
		cache.Close()
	}
	// Output:
	// IgnoreCacheControl: false | second request from cache: false
	// IgnoreCacheControl: true | second request from cache: true
}

// Parameters that do not change the response, such as credentials, can be
// left out of the key; their values are never stored.
func Example_ignoredParams() {
	origin := newOrigin("max-age=60")
	defer origin.Close()

	cache, err := cachestack.New(&cachestack.Options{IgnoredParams: []string{"auth-token"}})
	if err != nil {
		log.Fatal(err)
	}
	defer cache.Close()
	client := cache.Client()

	fetch(client, origin.URL+"/get?auth-token=2F63E5DF4F44")
	resp := fetch(client, origin.URL+"/get?auth-token=D9FAEB3449D3")
	fmt.Println("second request from cache:", cachestack.InfoOf(resp).FromCache)
	for url, err := range cache.URLs(context.Background()) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("stored:", url[len(origin.URL):])
	}
	// Output:
	// second request from cache: true
	// stored: /get
}

// Inspecting and managing what is stored.
func ExampleCache_inspection() {
	origin := newOrigin("")
	defer origin.Close()

	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	cache, err := cachestack.New(&cachestack.Options{
		ExpireAfter: policy.After(time.Hour),
		KeepStale:   time.Hour, // keep expired responses around for DeleteExpired to find
		Clock:       func() time.Time { return now },
	})
	if err != nil {
		log.Fatal(err)
	}
	defer cache.Close()
	client := cache.Client()
	ctx := context.Background()

	fetch(client, origin.URL+"/a")
	fetch(client, origin.URL+"/b")
	has, _ := cache.HasURL(ctx, "GET", origin.URL+"/a")
	fmt.Println("has /a:", has)

	for e, err := range cache.Entries(ctx) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(e.Method, e.URL[len(origin.URL):], e.StatusCode, "expires", e.Expires.Sub(now))
	}

	_ = cache.DeleteURL(ctx, "GET", origin.URL+"/a")
	has, _ = cache.HasURL(ctx, "GET", origin.URL+"/a")
	fmt.Println("has /a after delete:", has)

	deleted, _ := cache.ResetExpiry(ctx, policy.After(time.Minute)) // still fresh: /b was stored just now
	fmt.Println("deleted by reset:", deleted)
	now = now.Add(2 * time.Minute)
	deleted, _ = cache.DeleteExpired(ctx)
	fmt.Println("deleted as expired:", deleted)
	// Unordered output:
	// has /a: true
	// GET /a 200 expires 1h0m0s
	// GET /b 200 expires 1h0m0s
	// has /a after delete: false
	// deleted by reset: 0
	// deleted as expired: 1
}

// The reference library's inspection by key: the key of a request
// (create_key), whether it is stored (contains), the stored response
// (get_response), the keys, the size, and deleting by key.
func ExampleCache_Key() {
	origin := newOrigin("max-age=600")
	defer origin.Close()

	cache, err := cachestack.New(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer cache.Close()
	ctx := context.Background()

	resp := fetch(cache.Client(), origin.URL+"/a")
	req, _ := http.NewRequest("GET", origin.URL+"/a", nil)
	key, err := cache.Key(req)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("stored under the request's key:", cachestack.InfoOf(resp).Key == key)

	has, _ := cache.Contains(ctx, key)
	fmt.Println("contains:", has)
	e, err := cache.Get(ctx, key)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("get: %d %q\n", e.StatusCode, e.Body)
	n, _ := cache.Len(ctx)
	fmt.Println("len:", n)
	for k, err := range cache.Keys(ctx) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("key listed:", k == key)
	}

	_ = cache.Delete(ctx, key)
	has, _ = cache.Contains(ctx, key)
	fmt.Println("contains after delete:", has)
	// Output:
	// stored under the request's key: true
	// contains: true
	// get: 200 "hello\n"
	// len: 1
	// key listed: true
	// contains after delete: false
}

// Response finds what a request would be answered with, following a
// response that varies on request header fields to the variant for the
// request's values; Get on the request's key reports ErrVaries instead,
// since several responses are stored for it.
func ExampleCache_Response() {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Vary", "Accept-Language")
		fmt.Fprint(w, "hello in ", r.Header.Get("Accept-Language"))
	}))
	defer origin.Close()

	cache, err := cachestack.New(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer cache.Close()
	ctx := context.Background()
	request := func(lang string) *http.Request {
		req, _ := http.NewRequest("GET", origin.URL+"/greet", nil)
		req.Header.Set("Accept-Language", lang)
		return req
	}
	for _, lang := range []string{"fr", "de"} {
		resp, err := cache.Client().Do(request(lang))
		if err != nil {
			log.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}

	key, _ := cache.Key(request("fr"))
	_, err = cache.Get(ctx, key)
	fmt.Println("get by the request's key:", errors.Is(err, cachestack.ErrVaries))
	for _, lang := range []string{"de", "fr", "en"} {
		e, err := cache.Response(ctx, request(lang))
		switch {
		case errors.Is(err, store.ErrNotFound):
			fmt.Println(lang + ": not stored")
		case err != nil:
			log.Fatal(err)
		default:
			fmt.Printf("%s: %q\n", lang, e.Body)
		}
	}
	// Output:
	// get by the request's key: true
	// de: "hello in de"
	// fr: "hello in fr"
	// en: not stored
}

// Changing the session's expiry while the cache runs: responses stored
// afterwards get the new one.
func ExampleCache_SetExpiry() {
	origin := newOrigin("")
	defer origin.Close()

	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	cache, err := cachestack.New(&cachestack.Options{
		ExpireAfter:        policy.After(time.Hour),
		IgnoreCacheControl: true,
		Clock:              func() time.Time { return now },
	})
	if err != nil {
		log.Fatal(err)
	}
	defer cache.Close()
	client := cache.Client()

	fetch(client, origin.URL+"/a")
	if err := cache.SetExpiry(policy.After(5 * time.Minute)); err != nil {
		log.Fatal(err)
	}
	fetch(client, origin.URL+"/b")
	for _, p := range []string{"/a", "/b"} {
		fmt.Println(p, "expires in", cachestack.InfoOf(fetch(client, origin.URL+p)).Expires.Sub(now))
	}
	fmt.Println("session expiry:", cache.Expiry())
	// Output:
	// /a expires in 1h0m0s
	// /b expires in 5m0s
	// session expiry: after 5m0s
}

// A key function for an API that needs one: here responses depend on the
// X-Tenant field and nothing else the request carries beyond its URL. The
// request's credentials stay keyed whatever the function returns.
func ExampleOptions_keyFunc() {
	origin := newOrigin("max-age=600")
	defer origin.Close()

	cache, err := cachestack.New(&cachestack.Options{
		KeyFunc: func(req *http.Request) (string, error) {
			return req.Header.Get("X-Tenant"), nil
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer cache.Close()
	client := cache.Client()

	for _, r := range []struct{ tenant, id string }{{"acme", "1"}, {"acme", "2"}, {"globex", "3"}} {
		req, _ := http.NewRequest("GET", origin.URL, nil)
		req.Header.Set("X-Tenant", r.tenant)
		req.Header.Set("X-Request-Id", r.id)
		resp, err := client.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		fmt.Println(r.tenant, r.id, "from cache:", cachestack.InfoOf(resp).FromCache)
	}
	// Output:
	// acme 1 from cache: false
	// acme 2 from cache: true
	// globex 3 from cache: false
}
