package keyer_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"strings"

	"github.com/cachestack/cachestack/keyer"
)

// Two URLs that differ only in query order, host case, default port,
// fragment and an ignored parameter share one key; the Result's URL never
// shows the ignored value.
func Example() {
	k, err := keyer.New(&keyer.Options{IgnoredParams: []string{"auth-token"}})
	if err != nil {
		panic(err)
	}
	a, _ := k.KeyOf("GET", "http://httpbin.org/get?b=2&a=1&auth-token=2F63E5DF4F44")
	b, _ := k.KeyOf("GET", "HTTP://HTTPBIN.org:80/get?auth-token=D9FAEB3449D3&a=1&b=2#top")
	fmt.Println(a.URL)
	fmt.Println(b.URL)
	fmt.Println(a.Key == b.Key)
	// Output:
	// http://httpbin.org/get?a=1&b=2
	// http://httpbin.org/get?a=1&b=2
	// true
}

// With Options.Headers, requests that differ in a listed header are cached
// separately (aiohttp-client-cache's include_headers).
func ExampleOptions_headers() {
	k, err := keyer.New(&keyer.Options{Headers: []string{"Accept"}})
	if err != nil {
		panic(err)
	}
	keyFor := func(accept string) string {
		req, _ := http.NewRequest("GET", "http://httpbin.org/headers", nil)
		req.Header.Set("Accept", accept)
		r, _, _ := k.Key(req)
		return r.Key
	}
	fmt.Println(keyFor("text/plain") == keyFor("application/json"))
	fmt.Println(keyFor("text/plain") == keyFor(" text/plain "))
	// Output:
	// false
	// true
}

// Key reads a request body to digest it and returns a request that replays
// it. JSON bodies are keyed in canonical form, so member order and ignored
// fields do not matter.
func ExampleKeyer_Key() {
	k, err := keyer.New(&keyer.Options{IgnoredParams: []string{"nonce"}})
	if err != nil {
		panic(err)
	}
	post := func(body string) (keyer.Result, *http.Request) {
		req, _ := http.NewRequest("POST", "https://api.example.com/search", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		r, out, err := k.Key(req)
		if err != nil {
			panic(err)
		}
		return r, out
	}
	a, out := post(`{"q":"shoes","page":2,"nonce":"8f1c"}`)
	b, _ := post(`{"page":2, "q":"shoes", "nonce":"77aa"}`)
	fmt.Println(a.Key == b.Key)
	sent, _ := io.ReadAll(out.Body) // out carries the body on to the transport
	fmt.Println(string(sent))
	// Output:
	// true
	// {"q":"shoes","page":2,"nonce":"8f1c"}
}

// KeyOf finds the key of a stored GET from its URL alone.
func ExampleKeyer_KeyOf() {
	k, err := keyer.New(nil)
	if err != nil {
		panic(err)
	}
	req, _ := http.NewRequest("GET", "https://example.com/a?x=1", nil)
	fromReq, _, _ := k.Key(req)
	fromURL, _ := k.KeyOf("GET", "https://EXAMPLE.com:443/a?x=1")
	fmt.Println(fromReq == fromURL, len(fromURL.Key))
	// Output: true 32
}

// A key function for an API whose POST bodies carry a field that changes
// on every call (here a request id) and says nothing about the response:
// the key is made of what Func returns in place of the body, and of the
// method, the URL and the request's credentials, as always.
func ExampleOptions_func() {
	k, err := keyer.New(&keyer.Options{Func: func(req *http.Request) (string, error) {
		var body struct {
			Query string `json:"query"`
		}
		if err := json.NewDecoder(req.Body).Decode(&body); err != nil {
			return "", err
		}
		return body.Query, nil
	}})
	if err != nil {
		log.Fatal(err)
	}
	key := func(body string) string {
		req, _ := http.NewRequest("POST", "https://api.example.com/search", strings.NewReader(body))
		r, _, err := k.Key(req)
		if err != nil {
			log.Fatal(err)
		}
		return r.Key
	}
	fmt.Println(key(`{"query":"go","request_id":1}`) == key(`{"query":"go","request_id":2}`))
	fmt.Println(key(`{"query":"go","request_id":1}`) == key(`{"query":"rust","request_id":1}`))
	// Output:
	// true
	// false
}
