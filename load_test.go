package cachestack_test

import (
	"context"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/cachestack/cachestack"
	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/internal/faultload"
	"github.com/cachestack/cachestack/store/memstore"
)

// fullLoad runs TestLoad at its full size: 10,000 requests over 200
// goroutines (make load). Without it TestLoad runs a tenth of that.
var fullLoad = flag.Bool("load", false, "run TestLoad at full size")

// TestLoad sends a mix of hits, misses, revalidations and cancelled
// requests through a cache with coalescing and stale-while-revalidate,
// then closes it and checks that no goroutine is left, that nothing wrong
// was served, and that the heap stayed within the configured budget.
func TestLoad(t *testing.T) {
	requests, workers := 1000, 50
	if *fullLoad {
		requests, workers = 10000, 200
	}
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())

	var revalidated atomic.Int64
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/k/"))
		etag := `"` + strconv.Itoa(n) + `"`
		w.Header().Set("Etag", etag)
		switch n % 4 {
		case 0: // revalidated on every use
			w.Header().Set("Cache-Control", "no-cache")
			if r.Header.Get("If-None-Match") == etag {
				revalidated.Add(1)
				w.WriteHeader(http.StatusNotModified)
				return
			}
		case 1: // stale at once, refreshed in the background
			w.Header().Set("Cache-Control", "max-age=0, stale-while-revalidate=60")
		default:
			w.Header().Set("Cache-Control", "max-age=3600")
		}
		time.Sleep(time.Millisecond) // the origin's latency
		io.WriteString(w, faultload.Body(r.URL.Path))
	}))
	defer origin.Close()

	const storeBudget = 4 << 20
	s, err := memstore.New[string, *cached.Response](&memstore.Options[*cached.Response]{MaxBytes: storeBudget})
	require.NoError(t, err)
	defer s.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: workers}
	c, err := cachestack.New(&cachestack.Options{Store: s, Transport: tr, Coalesce: true, Logger: quietLogger})
	require.NoError(t, err)

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	heapBefore := ms.HeapAlloc
	var peak atomic.Uint64
	sample := func(ctx context.Context) {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > peak.Load() {
				peak.Store(m.HeapAlloc)
			}
			select {
			case <-tick.C:
			case <-ctx.Done():
				return
			}
		}
	}
	start := time.Now()
	f := faultload.Run(faultload.Load{Name: "load", Client: c.Client(), BaseURL: origin.URL, Paths: 2000, Workers: workers, Requests: requests, CancelEvery: 10, During: sample})
	took := time.Since(start)
	require.NoError(t, c.Close())
	tr.CloseIdleConnections()
	stats := c.Stats()

	t.Logf("%s in %v | hits=%d misses=%d stale=%d revalidated=%d (origin 304s %d) refreshes=%d coalesced=%d stored=%d | heap before=%.1f MiB peak=%.1f MiB, store budget %.1f MiB",
		f, took.Round(time.Millisecond), stats.Counts["hits"], stats.Counts["misses"], stats.Counts["stale"], stats.Counts["revalidated"], revalidated.Load(),
		stats.Counts["refreshes"], stats.Counts["coalesced"], stats.Counts["stored"], mib(heapBefore), mib(peak.Load()), mib(storeBudget))
	assert.EqualValues(t, requests, f.Requests)
	assert.Zero(t, f.Failed, "%v", f.Errors)
	assert.Zero(t, f.Wrong)
	assert.Positive(t, f.Cancelled)
	assert.Positive(t, stats.Counts["hits"])
	assert.Positive(t, stats.Counts["revalidated"])
	assert.Positive(t, stats.Counts["refreshes"])
	// The heap holds the store's budget, each in-flight request's
	// buffers (small bodies here) and the race detector's shadow of them;
	// 64 KiB per caller is far above what one needs.
	budget := heapBefore + storeBudget + uint64(workers)*64<<10 + 16<<20
	assert.Less(t, peak.Load(), budget, "peak heap %.1f MiB, budget %.1f MiB", mib(peak.Load()), mib(budget))
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }
