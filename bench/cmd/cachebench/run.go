package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
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
	MissRatio    float64       `json:"miss_ratio"`
	RPS          float64       `json:"requests_per_second"`
	P50          time.Duration `json:"p50_ns"`
	P99          time.Duration `json:"p99_ns"`
	AllocsPerReq float64       `json:"allocs_per_request"`
	HeapInuse    uint64        `json:"heap_inuse_bytes"`
	RSS          uint64        `json:"rss_bytes"`
	StoredBytes  int64         `json:"stored_bytes"`
	Entries      int           `json:"stored_entries"`
	// DiskBytes is what the store's files take on disk (allocated
	// blocks); -1 for a server store, whose disk is not visible here.
	DiskBytes int64 `json:"disk_bytes"`
	// WrittenBytes is the body bytes the cache wrote to the store over
	// the whole run, warm-up included; at most the budget means the
	// budget was never filled and nothing had to be evicted.
	WrittenBytes int64 `json:"written_bytes"`
	// Restart: of RestartChecked popular responses held before the store
	// was closed, RestartKept were hits after it was opened again.
	RestartChecked int `json:"restart_checked"`
	RestartKept    int `json:"restart_kept"`
}

// filled says whether the cache wrote more than the budget to the store,
// so that it had to evict.
func (r *result) filled(budget int64) bool { return r.WrittenBytes > budget }

// overBudget says whether the store kept more than the budget (by a
// tenth): a server bounded by its own memory.
func (r *result) overBudget(budget int64) bool { return r.StoredBytes > budget+budget/10 }

// survives says whether the store kept its entries over a restart.
func (r *result) survives() bool {
	return r.RestartChecked > 0 && r.RestartKept*10 >= r.RestartChecked*9
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

// workload is what the clients request: URL i is urls[i].
type workload struct {
	urls []string
	// popular are the indexes of the most requested URLs, tried after a
	// restart.
	popular []int
}

// restartSample is how many popular URLs the restart check tries.
const restartSample = 100

func newWorkload(c *config, base string) *workload {
	w := &workload{}
	if t := c.trace; t != nil {
		w.urls = make([]string, len(t.paths))
		for i, p := range t.paths {
			if c.Origin != "" {
				w.urls[i] = base + p
			} else {
				w.urls[i] = base + localPath(i, t.sizes[i])
			}
		}
		n := make([]int, len(t.paths))
		for _, i := range t.seq {
			n[i]++
		}
		idx := make([]int, len(n))
		for i := range idx {
			idx[i] = i
		}
		slices.SortStableFunc(idx, func(a, b int) int { return n[b] - n[a] })
		w.popular = idx[:min(len(idx), restartSample)]
		return w
	}
	w.urls = make([]string, c.URLs) // built once, like a client's fixed set of endpoints
	for i := range w.urls {
		w.urls[i] = base + "/u/" + strconv.Itoa(i)
	}
	for i := range min(c.URLs, restartSample) {
		w.popular = append(w.popular, i) // Zipf: index 0 is the most popular
	}
	return w
}

// source draws the URL index client w requests next; false ends the
// phase.
type source interface{ next(w int) (int, bool) }

type zipfSource []*zipf

func (z zipfSource) next(w int) (int, bool) { return z[w].next(), true }

// traceSource hands out a trace's requests in order, shared by the
// clients.
type traceSource struct {
	seq []int32
	pos atomic.Int64
}

func (t *traceSource) next(int) (int, bool) {
	i := t.pos.Add(1) - 1
	if i >= int64(len(t.seq)) {
		return 0, false
	}
	return int(t.seq[i]), true
}

// phaseSource is the source of the warm-up (measured false) or the
// measured phase. The Zipf phases draw from different seeds, so that they
// do not replay the same requests; a trace is cut in two.
func phaseSource(c *config, measured bool) source {
	if t := c.trace; t != nil {
		cut := int(float64(len(t.seq)) * c.TraceWarmup)
		if measured {
			return &traceSource{seq: t.seq[cut:]}
		}
		return &traceSource{seq: t.seq[:cut]}
	}
	offset := uint64(1000)
	if measured {
		offset = 0
	}
	z := make(zipfSource, c.Concurrency)
	for w := range z {
		z[w] = newZipf(c.Seed+offset+uint64(w), c.ZipfS, c.URLs)
	}
	return z
}

// runStore opens backend b, warms it up, measures it, tries a restart and
// closes it.
func runStore(ctx context.Context, c *config, b backends.Backend, o *origin, lim *limiter, prog *progress) (*result, error) {
	dir, err := backends.TempDir(c.Dir, b.Name)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	cfg := backends.Config{MaxBytes: c.Budget, Dir: dir, ID: fmt.Sprintf("cachebench_%d_%d", os.Getpid(), time.Now().UnixNano())}
	in, err := b.Open(cfg)
	if err != nil {
		return nil, err
	}
	closeIn := in.Close
	defer func() { closeIn() }()
	tr := &http.Transport{MaxIdleConns: c.Concurrency * 2, MaxIdleConnsPerHost: c.Concurrency * 2, DisableCompression: true}
	defer tr.CloseIdleConnections()
	cache, err := cachestack.New(&cachestack.Options{Store: in.Store, Transport: lim.wrap(tr), IgnoreCacheControl: c.IgnoreCacheControl})
	if err != nil {
		return nil, err
	}
	defer cache.Close()
	client := &http.Client{Transport: cache}
	if c.Origin != "" {
		client.Timeout = 30 * time.Second
	}
	wl := newWorkload(c, o.url)

	if c.trace != nil || c.Warmup > 0 {
		prog.phase(b.Name, "warm-up", c.Warmup)
		if _, err := drive(ctx, c, client, wl, phaseSource(c, false), c.Warmup, prog); err != nil {
			return nil, err
		}
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	prog.phase(b.Name, "measuring", c.Duration)
	start := time.Now()
	ph, err := drive(ctx, c, client, wl, phaseSource(c, true), c.Duration, prog)
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	if err != nil {
		return nil, err
	}
	prog.phase(b.Name, "counting what is stored", 0)
	if err := cache.Flush(ctx); err != nil {
		return nil, fmt.Errorf("flushing the writes: %w", err)
	}
	if in.Settle != nil {
		in.Settle()
	}
	r := &result{Store: b.Name, Kind: string(b.Kind), Requests: ph.requests, Errors: ph.errors, MissRatio: 1}
	if ph.requests > 0 {
		r.HitRatio = float64(ph.hits) / float64(ph.requests)
		r.MissRatio = 1 - r.HitRatio
		r.AllocsPerReq = float64(after.Mallocs-before.Mallocs) / float64(ph.requests)
	}
	r.RPS = float64(ph.requests) / elapsed.Seconds()
	r.P50, r.P99 = ph.lat.quantile(0.50), ph.lat.quantile(0.99)
	r.WrittenBytes = cache.Counters().StoredBytes.Load()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	r.HeapInuse = ms.HeapInuse
	r.RSS = rss()
	r.StoredBytes, r.Entries, err = backends.Stored(ctx, in)
	if err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return nil, fmt.Errorf("listing: %w", err)
	}
	r.DiskBytes = -1
	if b.Kind != backends.Server {
		r.DiskBytes = diskUsage(dir)
	}

	// The restart: close the store as a process exiting would, leaving
	// its entries, open it again with the same settings, and ask it for
	// the popular responses it held.
	prog.phase(b.Name, "restarting the store", 0)
	sample := make([]string, len(wl.popular))
	for i, u := range wl.popular {
		sample[i] = wl.urls[u]
	}
	held, err := probe(ctx, in, sample)
	if err != nil {
		return nil, err
	}
	if err := cache.Close(); err != nil {
		return nil, err
	}
	closeIn = func() error { return nil }
	if err := in.CloseKeep(); err != nil {
		return nil, fmt.Errorf("closing for the restart: %w", err)
	}
	in2, err := b.Open(cfg)
	if err != nil {
		return nil, fmt.Errorf("opening again after the restart: %w", err)
	}
	closeIn = in2.Close
	kept, err := probe(ctx, in2, held)
	if err != nil {
		return nil, err
	}
	r.RestartChecked, r.RestartKept = len(held), len(kept)
	return r, nil
}

// errNotAsked is the probe's origin: a probe never reaches the origin.
var errNotAsked = errors.New("the restart check does not ask the origin")

// probe asks a cache over in for each URL without reaching the origin and
// returns those it answered.
func probe(ctx context.Context, in *backends.Instance, urls []string) ([]string, error) {
	refuse := roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, errNotAsked })
	cache, err := cachestack.New(&cachestack.Options{Store: in.Store, Transport: refuse, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, err
	}
	defer cache.Close()
	client := &http.Client{Transport: cache}
	var hits []string
	for _, u := range urls {
		if hit, _ := fetch(ctx, client, u); hit {
			hits = append(hits, u)
		}
	}
	return hits, ctx.Err()
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// diskUsage is what the files under dir take on disk.
func diskUsage(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if fi, err := d.Info(); err == nil {
			n += allocated(fi)
		}
		return nil
	})
	return n
}

// phaseResult is what the clients of one phase measured.
type phaseResult struct {
	requests, hits, errors int64
	lat                    hist
}

// drive runs c.Concurrency clients requesting what src draws, until it
// runs out or d has passed (d only bounds a Zipf phase).
func drive(ctx context.Context, c *config, client *http.Client, wl *workload, src source, d time.Duration, prog *progress) (*phaseResult, error) {
	var cancel context.CancelFunc
	if c.trace == nil {
		ctx, cancel = context.WithTimeout(ctx, d)
	} else {
		ctx, cancel = context.WithCancel(ctx)
	}
	defer cancel()
	var cnt counts
	prog.watch(&cnt)
	defer prog.watch(nil)
	hists := make([]hist, c.Concurrency)
	var wg sync.WaitGroup
	for w := range c.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := &hists[w]
			for ctx.Err() == nil {
				i, ok := src.next(w)
				if !ok {
					return
				}
				t0 := time.Now()
				hit, err := fetch(ctx, client, wl.urls[i])
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
