// Command chain puts the cache inside an HTTP client chain that already
// exists: one that retries failed requests and adds a bearer token, as an
// API client often has. It runs a local origin that fails its first answer
// and demands the token, so it needs no network:
//
//	go run ./examples/chain
//
// The chain, outermost first, is
//
//	retry -> auth -> cache -> http.Transport
//
// The cache sits under auth, so that it sees the request as sent, with its
// Authorization field: that field is part of the cache key (unless
// Options.IgnoredParams names it), so one user's responses are never
// served to another. It sits under retry, so that a retried request can be
// answered from the cache, and a failure is never stored: a 503 is not
// cached unless the origin says it may be. (*cachestack.Cache).Middleware
// returns the cache as a func(http.RoundTripper) http.RoundTripper, so it
// composes with middlewares of any library written in that shape;
// middleware.Chain lists them outermost first.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"time"

	"github.com/cachestack/cachestack"
	"github.com/cachestack/cachestack/middleware"
)

func main() {
	var failed atomic.Bool
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer s3cret" {
			http.Error(w, "who are you?", http.StatusUnauthorized)
			return
		}
		if failed.CompareAndSwap(false, true) {
			http.Error(w, "busy, try again", http.StatusServiceUnavailable) // once
			return
		}
		w.Header().Set("Cache-Control", "private, max-age=60")
		fmt.Fprintln(w, `{"user": "ada", "plan": "pro"}`)
	}))
	defer origin.Close()

	if err := run(os.Stdout, origin.URL+"/me", http.DefaultTransport); err != nil {
		log.Fatal(err)
	}
}

// run builds the chain over transport and fetches url three times.
func run(w io.Writer, url string, transport http.RoundTripper) error {
	cache, err := cachestack.New(nil) // the stack alone; the chain supplies the transport
	if err != nil {
		return err
	}
	defer cache.Close()

	client := &http.Client{Transport: middleware.Chain(
		Retry(3, 10*time.Millisecond),
		BearerToken("s3cret"),
		cache.Middleware(),
	)(transport)}

	for i := 1; i <= 3; i++ {
		resp, err := client.Get(url)
		if err != nil {
			return err
		}
		body, err := io.ReadAll(resp.Body) // read to EOF: that is what stores a response
		resp.Body.Close()
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "GET %d: %d %s  from cache: %v  Cache-Status: %s\n", i, resp.StatusCode,
			string(body[:len(body)-1]), cachestack.InfoOf(resp).FromCache, resp.Header.Get("Cache-Status"))
	}
	return nil
}

// Retry retries a GET or HEAD up to attempts times in all, after wait,
// when it fails or is answered 5xx. It stands for any retry middleware.
func Retry(attempts int, wait time.Duration) middleware.Middleware {
	return func(next http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			for i := 1; ; i++ {
				resp, err := next.RoundTrip(r)
				retry := err != nil || resp.StatusCode >= 500
				if !retry || i == attempts || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
					return resp, err
				}
				if resp != nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				select {
				case <-time.After(wait):
				case <-r.Context().Done():
					return nil, errors.Join(err, context.Cause(r.Context()))
				}
			}
		})
	}
}

// BearerToken adds an Authorization field to every request, on a clone, as
// a RoundTripper must not change the caller's request. It stands for any
// authentication middleware (OAuth2 and the like).
func BearerToken(token string) middleware.Middleware {
	return func(next http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			r = r.Clone(r.Context())
			r.Header.Set("Authorization", "Bearer "+token)
			return next.RoundTrip(r)
		})
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
