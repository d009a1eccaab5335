package bench

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	gohugo "github.com/gohugoio/httpcache"
	gregjones "github.com/gregjones/httpcache"

	"github.com/cachestack/cachestack"
	"github.com/cachestack/cachestack/bench/internal/backends"
)

// budget is the store budget of the hit benchmarks: far more than they use.
const budget = 64 << 20

// subject is one cache measured by the hit benchmarks.
type subject struct {
	name string
	// open returns the cache as a RoundTripper over next, a function that
	// tells whether a response came from the cache, and settle, which
	// waits for asynchronous writes (nil if there are none).
	open func(tb testing.TB, next http.RoundTripper) (rt http.RoundTripper, settle func(), err error)
	hit  func(*http.Response) bool
}

// subjects are cachestack over every backend, then the peers.
func subjects() []subject {
	var ss []subject
	for _, b := range backends.All() {
		// A server store whose server does not answer is skipped, with
		// the reason, when it is opened.
		ss = append(ss, cachestackSubject("cachestack-"+b.Name, b, false))
	}
	mem, _ := backends.Lookup("memory")
	ss = append(ss, cachestackSubject("cachestack-memory-blind", mem, true))
	return append(ss, peers()...)
}

// peers are the other Go HTTP caches, each with its own in-memory cache.
func peers() []subject {
	return []subject{
		{
			name: "gregjones",
			open: func(_ testing.TB, next http.RoundTripper) (http.RoundTripper, func(), error) {
				t := gregjones.NewMemoryCacheTransport()
				t.Transport = next
				return t, nil, nil
			},
			hit: func(r *http.Response) bool { return r.Header.Get(gregjones.XFromCache) == "1" },
		},
		{
			name: "gohugoio",
			open: func(_ testing.TB, next http.RoundTripper) (http.RoundTripper, func(), error) {
				return &gohugo.Transport{Transport: next, Cache: &mapCache{m: map[string][]byte{}}, MarkCachedResponses: true}, nil, nil
			},
			hit: func(r *http.Response) bool { return r.Header.Get(gohugo.XFromCache) == "1" },
		},
	}
}

// cachestackSubject is cachestack.New over backend b: RFC 9111, the
// default, or the header-blind mode when blind is set.
func cachestackSubject(name string, b backends.Backend, blind bool) subject {
	return subject{
		name: name,
		open: func(tb testing.TB, next http.RoundTripper) (http.RoundTripper, func(), error) {
			in, err := b.Open(backends.Config{MaxBytes: budget, Dir: tb.TempDir()})
			if err != nil {
				return nil, nil, err
			}
			tb.Cleanup(func() { in.Close() })
			// A generous lookup deadline: on a loaded machine a network
			// store can take longer than the default 50ms, and these
			// benchmarks measure hits, not the fail-open path.
			c, err := cachestack.New(&cachestack.Options{Store: in.Store, Transport: next, IgnoreCacheControl: blind, GetTimeout: 5 * time.Second})
			if err != nil {
				return nil, nil, err
			}
			tb.Cleanup(func() { c.Close() })
			// Writes to a store that may block are made in the background:
			// settling waits for them, so that the hits measured come from
			// the store and not from the write-back queue.
			settle := func() {
				c.Flush(context.Background())
				if in.Settle != nil {
					in.Settle()
				}
			}
			return c, settle, nil
		},
		hit: func(r *http.Response) bool { return cachestack.InfoOf(r).FromCache },
	}
}

// mapCache is gohugoio/httpcache's in-memory cache: it exports none, so
// this is its test helper's (and gregjones's MemoryCache) shape.
type mapCache struct {
	mu sync.RWMutex
	m  map[string][]byte
}

func (c *mapCache) Get(key string) ([]byte, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	b, ok := c.m[key]
	return b, ok
}

func (c *mapCache) Set(key string, b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[key] = b
}

func (c *mapCache) Delete(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, key)
}

// fillBytes is how much of other responses the hit benchmarks put in each
// cache before measuring: a cache in use is not empty, and an empty one
// leaves the process a heap so small that the garbage collector runs
// hundreds of times a second, whose fixed cost per cycle then swamps what
// is measured (parallel hits in particular). 8 MiB of bodies is a quarter
// of cachebench's default budget.
const fillBytes = 8 << 20

// warm opens s over o, stores fill bytes' worth of responses to other
// URLs in it, then the response to the measured URL, checking that the
// next request for it is a hit. It returns the cache and that URL; o's hit
// count then includes every request sent so far.
func warm(tb testing.TB, s subject, o *origin, fill int) (http.RoundTripper, string) {
	tb.Helper()
	rt, settle, err := s.open(tb, transport(tb))
	if errors.Is(err, backends.ErrUnavailable) {
		tb.Skip(err)
	}
	if err != nil {
		tb.Fatal(err)
	}
	for i := range fill / o.size {
		get(tb, rt, newRequest(tb, o.URL+"/v1/other/"+strconv.Itoa(i)))
	}
	url := o.URL + "/v1/items/42?expand=owner"
	for range 10 {
		get(tb, rt, newRequest(tb, url))
		if settle != nil {
			settle()
		}
		if s.hit(get(tb, rt, newRequest(tb, url))) {
			return rt, url
		}
	}
	tb.Fatalf("%s: not a hit after 10 tries", s.name)
	return nil, ""
}
