// Command quickstart shows the cache at work: it starts a local origin that
// answers after a one-second delay, fetches the same URL twice through the
// default stack, and prints how long each fetch took and its Cache-Status.
package main

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/cachestack/cachestack"
)

func main() {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(time.Second)                       // a slow, rate-limited or metered API
		w.Header().Set("Cache-Control", "max-age=60") // reusable for a minute (RFC 9111)
		fmt.Fprintln(w, "hello from a slow origin")
	}))
	defer origin.Close()

	cache, err := cachestack.New(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer cache.Close()
	client := cache.Client()

	for i := 1; i <= 2; i++ {
		start := time.Now()
		resp, err := client.Get(origin.URL + "/slow")
		if err != nil {
			log.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, resp.Body); err != nil { // read to EOF: this is what stores it
			log.Fatal(err)
		}
		resp.Body.Close()
		fmt.Printf("fetch %d: %-12v from cache: %-5v Cache-Status: %s\n",
			i, time.Since(start).Round(time.Microsecond), cachestack.InfoOf(resp).FromCache, resp.Header.Get("Cache-Status"))
	}
}
