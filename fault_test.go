package cachestack_test

import (
	"flag"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack"
	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/codec"
	"github.com/cachestack/cachestack/internal/faultload"
	"github.com/cachestack/cachestack/internal/faultstore"
	"github.com/cachestack/cachestack/middleware"
	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/memstore"
)

// faultDuration is how long each fault test loads the cache: short in
// make test, 20s in make fault.
var faultDuration = flag.Duration("fault.duration", time.Second, "how long each fault test runs its load")

// clientTimeout is the callers' http.Client.Timeout in the cases that set
// one: far above the store's deadlines (a hang the cache did not bound
// would reach it), and above the rare stalls of one to two seconds that
// 20s runs under the race detector on a shared two-core machine show even
// with a healthy store.
const clientTimeout = 5 * time.Second

// originDelay is the origin's latency in the fault tests.
const originDelay = 2 * time.Millisecond

// slack is what a loaded, shared, race-instrumented machine may add to a
// request's p99 beyond the same load without a cache and the store's
// deadline. Without the guard a hung store adds seconds, or forever.
const slack = 400 * time.Millisecond

// baseline is the load's figures with no cache at all, measured once: the
// p99 a fault case is held to is this one plus the store's deadline.
var baseline = sync.OnceValue(func() faultload.Figures {
	origin := faultload.NewOrigin(originDelay, "")
	defer origin.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	return faultload.Run(faultload.Load{Name: "no cache (baseline)", Client: &http.Client{Transport: tr}, BaseURL: origin.URL, Paths: 200, Workers: 50, Duration: *faultDuration})
})

type faultCase struct {
	name     string
	mode     faultstore.Mode
	inline   bool // the store declares it never blocks
	coalesce bool
	swr      bool          // responses are stale at once and refreshed in the background
	timeout  time.Duration // the client's Timeout; 0 none
	garbage  float64       // fraction of lookups answered with random or truncated bytes
}

func TestFaults(t *testing.T) {
	cases := []faultCase{
		{name: "healthy store that may block, client timeout (control)", timeout: clientTimeout},
		{name: "store failing 50%", mode: faultstore.Mode{FailRate: 0.5}},
		{name: "hanging get", mode: faultstore.Mode{HangGet: true}},
		{name: "hanging get honouring its context, client timeout", mode: faultstore.Mode{HangGet: true, HonourContext: true}, timeout: clientTimeout},
		{name: "hanging set", mode: faultstore.Mode{HangSet: true}},
		{name: "hanging set, client timeout", mode: faultstore.Mode{HangSet: true}, timeout: clientTimeout},
		{name: "hanging set, coalesce", mode: faultstore.Mode{HangSet: true}, coalesce: true},
		{name: "hanging set, coalesce, client timeout", mode: faultstore.Mode{HangSet: true}, coalesce: true, timeout: clientTimeout},
		{name: "random bytes", garbage: 0.3},
		{name: "panicking get and set, in-memory store", mode: faultstore.Mode{PanicGet: true, PanicSet: true}, inline: true, coalesce: true, swr: true},
		{name: "panicking get and set, store that may block", mode: faultstore.Mode{PanicGet: true, PanicSet: true}, coalesce: true, swr: true},
		{name: "panicking set, in-memory, coalesce and refresh goroutines", mode: faultstore.Mode{PanicSet: true}, inline: true, coalesce: true, swr: true},
	}
	t.Logf("%s", baseline())
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { runFault(t, tc) })
	}
}

func runFault(t *testing.T, tc faultCase) {
	base := baseline()
	before := runtime.NumGoroutine()
	cc := ""
	if tc.swr {
		cc = "max-age=0, stale-while-revalidate=3600"
	}
	origin := faultload.NewOrigin(originDelay, cc)
	defer origin.Close()

	var s store.Store[string, *cached.Response]
	var fs *faultstore.Store
	if tc.garbage > 0 {
		raw, err := memstore.New[string, []byte](nil)
		require.NoError(t, err)
		s = codec.Bind(&faultstore.Garbage{Store: raw, Rate: tc.garbage}, codec.Response())
	} else {
		m, err := memstore.New[string, *cached.Response](nil)
		require.NoError(t, err)
		fs = faultstore.New(m)
		fs.Inline = tc.inline
		fs.SetMode(tc.mode)
		s = fs
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	c, err := cachestack.New(&cachestack.Options{Store: s, Transport: tr, Coalesce: tc.coalesce, Logger: quietLogger})
	require.NoError(t, err)
	client := &http.Client{Transport: c, Timeout: tc.timeout}

	f := faultload.Run(faultload.Load{Name: tc.name, Client: client, BaseURL: origin.URL, Paths: 200, Workers: 50, Duration: *faultDuration})

	start := time.Now()
	require.NoError(t, c.Close())
	closed := time.Since(start)
	stats := c.Stats()
	if fs != nil {
		fs.Release() // calls stuck in a store that ignores its context end now
	}
	tr.CloseIdleConnections()
	after := faultload.Settle(before+2, 5*time.Second)
	t.Logf("%s close=%v goroutines before=%d after-close=%d | origin=%d hits=%d timeouts=%d errors=%d panics=%d skipped=%d corrupt=%d dropped=%d breaker-opens=%d get-p99=%v",
		f, closed.Round(time.Millisecond), before, after, origin.Hits.Load(), stats.Counts["hits"], stats.Counts["store_timeouts"], stats.Counts["store_errors"],
		stats.Counts["store_panics"], stats.Counts["store_skipped"], stats.Counts["corrupt"], stats.Counts["writes_dropped"], stats.Breaker.Opens, stats.StoreLatency["get"].P99)

	assert.Positive(t, f.Requests)
	assert.Zero(t, f.Failed, "requests failed: %v", f.Errors)
	assert.Zero(t, f.Wrong, "wrong bodies served")
	budget := base.P99 + middleware.DefaultGetTimeout + slack
	assert.Less(t, f.P99, budget, "p99 beyond the load's without a cache (%v), the lookup deadline and %v of slack", base.P99, slack)
	assert.Less(t, closed, middleware.DefaultSetTimeout+middleware.DefaultCloseWait+slack, "Close returns within the write deadline and the wait for stuck calls")
	assert.LessOrEqual(t, after, before+2, "goroutines left after Close")
}

// TestFaultPanicsInAChildProcess runs the panicking cases in a process of
// their own: a panic on a goroutine the cache owns would kill that
// process, and the parent would see it die.
func TestFaultPanicsInAChildProcess(t *testing.T) {
	if os.Getenv("CACHESTACK_FAULT_CHILD") == "1" {
		t.Skip("the child does not start children")
	}
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(exe, "-test.run=^TestFaults$/panicking", "-test.v", "-test.count=1", "-fault.duration="+faultDuration.String())
	cmd.Env = append(os.Environ(), "CACHESTACK_FAULT_CHILD=1")
	out, err := cmd.CombinedOutput()
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "requests=") {
			t.Log("child:", strings.TrimSpace(l))
		}
	}
	require.NoError(t, err, "the child process died or failed:\n%s", out)
	assert.Contains(t, string(out), "--- PASS: TestFaults")
	assert.NotContains(t, string(out), "panic:")
}

// TestCloseReturnsWithAStoreThatNeverAnswers: a store whose calls never
// return, whatever their context says, with coalescing on and callers
// waiting; Close returns, the callers were answered from the origin.
func TestCloseReturnsWithAStoreThatNeverAnswers(t *testing.T) {
	m, err := memstore.New[string, *cached.Response](nil)
	require.NoError(t, err)
	fs := faultstore.New(m)
	fs.SetMode(faultstore.Mode{HangGet: true, HangSet: true})
	defer fs.Release()
	origin := faultload.NewOrigin(originDelay, "")
	defer origin.Close()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c, err := cachestack.New(&cachestack.Options{Store: fs, Transport: tr, Coalesce: true, Logger: quietLogger})
	require.NoError(t, err)
	f := faultload.Run(faultload.Load{Name: "store that never answers", Client: c.Client(), BaseURL: origin.URL, Paths: 20, Workers: 20, Requests: 400})
	done := make(chan struct{})
	start := time.Now()
	go func() { c.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
	t.Logf("%s close=%v stuck=%d", f, time.Since(start).Round(time.Millisecond), c.Stats().StuckCalls)
	assert.Zero(t, f.Failed, "%v", f.Errors)
	assert.Zero(t, f.Wrong)
}
