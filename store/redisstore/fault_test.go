package redisstore_test

import (
	"context"
	"flag"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack"
	"github.com/cachestack/cachestack/codec"
	"github.com/cachestack/cachestack/internal/faultload"
	"github.com/cachestack/cachestack/middleware"
	"github.com/cachestack/cachestack/store/redisstore"
)

// faultDuration is how long each fault test loads the cache: short in
// make test, 20s in make fault.
var faultDuration = flag.Duration("fault.duration", 1500*time.Millisecond, "how long each fault test runs its load")

// redisServer is a redis-server of the test's own, on a spare loopback
// port, that the test can stop, restart, freeze and thaw.
type redisServer struct {
	t    *testing.T
	exe  string
	port int
	mu   sync.Mutex
	cmd  *exec.Cmd
}

func startRedis(t *testing.T) *redisServer {
	t.Helper()
	exe, err := exec.LookPath("redis-server")
	if err != nil {
		msg := "redis-server is not installed (apt-get install redis-server; scripts/services.sh does on CI)"
		if os.Getenv("CACHESTACK_REQUIRE_SERVICES") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	r := &redisServer{t: t, exe: exe, port: port}
	r.start()
	t.Cleanup(r.kill)
	return r
}

func (r *redisServer) addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }

func (r *redisServer) start() {
	r.mu.Lock()
	defer r.mu.Unlock()
	cmd := exec.Command(r.exe, "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	require.NoError(r.t, cmd.Start())
	r.cmd = cmd
	// Poll for it to come up.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", r.addr(), 100*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		require.True(r.t, time.Now().Before(deadline), "redis-server did not come up on %s", r.addr())
		time.Sleep(20 * time.Millisecond) // polling a server to come up
	}
}

func (r *redisServer) signal(s os.Signal) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd != nil {
		r.cmd.Process.Signal(s)
	}
}

func (r *redisServer) kill() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd != nil {
		r.cmd.Process.Signal(syscall.SIGCONT)
		r.cmd.Process.Kill()
		r.cmd.Wait()
		r.cmd = nil
	}
}

// TestRedisFaults loads a cache over a real Redis with 50 callers while the
// server is killed and restarted, or frozen with SIGSTOP and thawed, in the
// middle of the run. go-redis's defaults are kept (retries, 3s read
// timeout, 5s dial timeout): the cache's own deadlines bound them.
func TestRedisFaults(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault func(r *redisServer, ctx context.Context, third time.Duration, back func())
	}{
		{"killed and restarted", func(r *redisServer, ctx context.Context, third time.Duration, back func()) {
			wait(ctx, third)
			r.kill()
			wait(ctx, third)
			r.start()
			back()
		}},
		{"frozen with SIGSTOP", func(r *redisServer, ctx context.Context, third time.Duration, back func()) {
			wait(ctx, third)
			r.signal(syscall.SIGSTOP)
			wait(ctx, third)
			r.signal(syscall.SIGCONT)
			back()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := startRedis(t)
			before := runtime.NumGoroutine()

			// The same load without a cache, for the p99 to compare to.
			origin := faultload.NewOrigin(2*time.Millisecond, "")
			defer origin.Close()
			tr := &http.Transport{MaxIdleConnsPerHost: 64}
			base := faultload.Run(faultload.Load{Name: "no cache (baseline)", Client: &http.Client{Transport: tr}, BaseURL: origin.URL, Paths: 200, Workers: 50, Duration: *faultDuration / 2})
			t.Log(base)

			client := redis.NewClient(&redis.Options{Addr: r.addr()})
			s, err := redisstore.New(client, &redisstore.Options{Namespace: "fault"})
			require.NoError(t, err)
			c, err := cachestack.New(&cachestack.Options{Store: codec.Bind(s, codec.Response()), Transport: tr, Logger: slog.New(slog.DiscardHandler)})
			require.NoError(t, err)
			originBefore := origin.Hits.Load()
			var hitsWhenBack atomic.Int64
			hitsWhenBack.Store(-1)
			f := faultload.Run(faultload.Load{
				Name: "redis " + tc.name, Client: c.Client(), BaseURL: origin.URL, Paths: 200, Workers: 50, Duration: *faultDuration,
				During: func(ctx context.Context) {
					tc.fault(r, ctx, *faultDuration/3, func() { hitsWhenBack.Store(c.Stats().Counts["hits"]) })
				},
			})
			start := time.Now()
			require.NoError(t, c.Close())
			closed := time.Since(start)
			stats := c.Stats()
			require.NoError(t, client.Close())
			tr.CloseIdleConnections()
			after := faultload.Settle(before+2, 10*time.Second)
			t.Logf("hits when Redis was back: %d", hitsWhenBack.Load())
			t.Logf("%s close=%v goroutines before=%d after-close=%d | origin=%d hits=%d timeouts=%d errors=%d skipped=%d dropped=%d breaker=%s opens=%d get-p50=%v get-p99=%v",
				f, closed.Round(time.Millisecond), before, after, origin.Hits.Load()-originBefore, stats.Counts["hits"], stats.Counts["store_timeouts"],
				stats.Counts["store_errors"], stats.Counts["store_skipped"], stats.Counts["writes_dropped"], stats.Breaker.State, stats.Breaker.Opens,
				stats.StoreLatency["get"].P50, stats.StoreLatency["get"].P99)

			assert.Zero(t, f.Failed, "requests failed: %v", f.Errors)
			assert.Zero(t, f.Wrong, "wrong bodies served")
			assert.Positive(t, stats.Counts["hits"], "the cache served hits while Redis was up")
			assert.Positive(t, stats.Counts["store_timeouts"]+stats.Counts["store_errors"], "the fault was seen")
			budget := base.P99 + middleware.DefaultGetTimeout + 400*time.Millisecond
			assert.Less(t, f.P99, budget, "p99 beyond the load's without a cache (%v), the lookup deadline and slack", base.P99)
			assert.Less(t, closed, middleware.DefaultSetTimeout+middleware.DefaultCloseWait+400*time.Millisecond, "Close returns")
			assert.LessOrEqual(t, after, before+2, "goroutines left after Close")
			if *faultDuration >= 10*time.Second {
				// A third of the run with Redis back is long enough for
				// the breaker's probes (1s, then 2s, 4s... apart) to find
				// it: the cache serves hits from Redis again.
				require.GreaterOrEqual(t, hitsWhenBack.Load(), int64(0))
				assert.Greater(t, stats.Counts["hits"], hitsWhenBack.Load(), "no hit from Redis once it was back")
			}
		})
	}
}

// wait waits d or until ctx ends.
func wait(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
