package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachestack/cachestack"
	"github.com/cachestack/cachestack/bench/internal/backends"
)

// result is one store's run.
type result struct {
	Store        string        `json:"store"`
	Kind         string        `json:"kind"`
	Requests     int64         `json:"requests"`
	Errors       int64         `json:"errors"`
	HitRatio     float64       `json:"hit_ratio"`
	RPS          float64       `json:"requests_per_second"`
	P50          time.Duration `json:"p50_ns"`
	P99          time.Duration `json:"p99_ns"`
	AllocsPerReq float64       `json:"allocs_per_request"`
	HeapInuse    uint64        `json:"heap_inuse_bytes"`
	RSS          uint64        `json:"rss_bytes"`
	StoredBytes  int64         `json:"stored_bytes"`
	Entries      int           `json:"stored_entries"`
}

// skip is a store that could not run here.
type skip struct {
	Store  string `json:"store"`
	Reason string `json:"reason"`
}

// counts are what the clients of a phase add up, read by the progress line.
type counts struct {
	requests, hits, errors atomic.Int64
}

// runStore opens backend b, warms it up, measures it and closes it.
func runStore(ctx context.Context, c *config, b backends.Backend, o *origin, prog *progress) (*result, error) {
	dir, err := backends.TempDir(b.Name)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	in, err := b.Open(backends.Config{MaxBytes: c.Budget, Dir: dir})
	if err != nil {
		return nil, err
	}
	defer in.Close()
	tr := &http.Transport{MaxIdleConns: c.Concurrency * 2, MaxIdleConnsPerHost: c.Concurrency * 2, DisableCompression: true}
	defer tr.CloseIdleConnections()
	cache, err := cachestack.New(&cachestack.Options{Store: in.Store, Transport: tr})
	if err != nil {
		return nil, err
	}
	defer cache.Close()
	client := &http.Client{Transport: cache}

	if c.Warmup > 0 {
		prog.phase(b.Name, "warm-up", c.Warmup)
		if _, err := drive(ctx, c, client, o.url, c.Warmup, 1000, prog); err != nil {
			return nil, err
		}
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	prog.phase(b.Name, "measuring", c.Duration)
	start := time.Now()
	ph, err := drive(ctx, c, client, o.url, c.Duration, 0, prog)
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	if err != nil {
		return nil, err
	}
	prog.phase(b.Name, "counting what is stored", 0)
	if in.Settle != nil {
		in.Settle()
	}
	r := &result{Store: b.Name, Kind: string(b.Kind), Requests: ph.requests, Errors: ph.errors}
	if ph.requests > 0 {
		r.HitRatio = float64(ph.hits) / float64(ph.requests)
		r.AllocsPerReq = float64(after.Mallocs-before.Mallocs) / float64(ph.requests)
	}
	r.RPS = float64(ph.requests) / elapsed.Seconds()
	r.P50, r.P99 = ph.lat.quantile(0.50), ph.lat.quantile(0.99)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	r.HeapInuse = ms.HeapInuse
	r.RSS = rss()
	r.StoredBytes, r.Entries, err = backends.Stored(ctx, in)
	if err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return nil, fmt.Errorf("listing: %w", err)
	}
	return r, nil
}

// phaseResult is what the clients of one phase measured.
type phaseResult struct {
	requests, hits, errors int64
	lat                    hist
}

// drive runs c.Concurrency clients for d. Seed offsets differ between the
// warm-up and the measured phase so they do not replay the same requests.
func drive(ctx context.Context, c *config, client *http.Client, base string, d time.Duration, seedOffset uint64, prog *progress) (*phaseResult, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var cnt counts
	prog.watch(&cnt)
	defer prog.watch(nil)
	urls := make([]string, c.URLs) // built once, like a client's fixed set of endpoints
	for i := range urls {
		urls[i] = base + "/u/" + strconv.Itoa(i)
	}
	hists := make([]hist, c.Concurrency)
	var wg sync.WaitGroup
	for w := range c.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			z := newZipf(c.Seed+seedOffset+uint64(w), c.ZipfS, c.URLs)
			h := &hists[w]
			for ctx.Err() == nil {
				u := urls[z.next()]
				t0 := time.Now()
				hit, err := fetch(ctx, client, u)
				if ctx.Err() != nil {
					return // cut off by the end of the phase: not counted
				}
				h.add(time.Since(t0))
				cnt.requests.Add(1)
				if err != nil {
					cnt.errors.Add(1)
				} else if hit {
					cnt.hits.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return nil, err // the parent was cancelled (interrupt)
	}
	p := &phaseResult{requests: cnt.requests.Load(), hits: cnt.hits.Load(), errors: cnt.errors.Load()}
	for i := range hists {
		p.lat.merge(&hists[i])
	}
	if p.requests > 0 && p.errors == p.requests {
		return nil, errors.New("every request failed")
	}
	return p, nil
}

// fetch GETs url, reads the body to EOF and says whether it was a hit.
func fetch(ctx context.Context, client *http.Client, url string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return false, err
	}
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("status %s", resp.Status)
	}
	return cachestack.InfoOf(resp).FromCache, nil
}

// rss is the resident set size from /proc/self/statm, 0 where there is
// none.
func rss() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		return 0
	}
	return pages * uint64(os.Getpagesize())
}

// releaseMemory returns freed memory to the OS between stores, so that
// each store's RSS is its own.
func releaseMemory() { debug.FreeOSMemory() }
