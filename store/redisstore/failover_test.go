package redisstore_test

import (
	"bytes"
	"context"
	"flag"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
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
	"github.com/cachestack/cachestack/store/redisstore"
)

var (
	failoverDuration = flag.Duration("failover.duration", 5*time.Second, "how long TestClusterFailover loads the cache (make fleet: 30s)")
	failoverReadOnly = flag.Bool("failover.readonly", false, "TestClusterFailover's client reads from replicas (ClusterOptions.ReadOnly), to measure it")
	failoverTimeout  = flag.Int("failover.node-timeout", 1000, "the cluster-node-timeout, in ms, of TestClusterFailover's cluster (make fleet: 5000, as scripts/services.sh)")
)

// ownCluster is a Redis Cluster of three primaries and three replicas
// that scripts/services.sh starts for one test, on six free loopback
// ports, with its PID files in a temporary directory; it is stopped when
// the test ends.
type ownCluster struct {
	addrs []string
	dir   string // the PID files: dir/PORT.pid
}

func startOwnCluster(t *testing.T, nodeTimeoutMS int) *ownCluster {
	t.Helper()
	for _, exe := range []string{"redis-server", "redis-cli", "bash"} {
		if _, err := exec.LookPath(exe); err != nil {
			msg := exe + " is not installed (apt-get install redis-server; scripts/services.sh does on CI)"
			if os.Getenv("CACHESTACK_REQUIRE_SERVICES") == "1" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
	base := freeClusterPorts(t)
	cache := t.TempDir()
	script, err := filepath.Abs("../../scripts/services.sh")
	require.NoError(t, err)
	cmd := exec.Command("bash", script)
	cmd.Env = append(os.Environ(),
		"CACHESTACK_SERVICES_ONLY=redis-cluster",
		"CACHESTACK_REDIS_CLUSTER_PORT="+strconv.Itoa(base),
		"CACHESTACK_REDIS_CLUSTER_NODE_TIMEOUT="+strconv.Itoa(nodeTimeoutMS),
		"XDG_CACHE_HOME="+cache)
	c := &ownCluster{dir: filepath.Join(cache, "cachestack", "redis-cluster")}
	t.Cleanup(c.stop)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	for p := base; p < base+6; p++ {
		c.addrs = append(c.addrs, "127.0.0.1:"+strconv.Itoa(p))
	}
	require.Contains(t, string(out), "redis-cluster: started", "services.sh did not start a cluster: %s", out)
	t.Logf("%s", strings.TrimSpace(string(out)))
	return c
}

// freeClusterPorts returns a base port such that it, the five after it
// and their cluster bus ports (+10000) are free, below the ephemeral
// range.
func freeClusterPorts(t *testing.T) int {
	t.Helper()
	for range 50 {
		base := 12000 + rand.IntN(7000)
		free := true
		for p := base; p < base+6 && free; p++ {
			for _, q := range []int{p, p + 10000} {
				l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(q))
				if err != nil {
					free = false
					break
				}
				l.Close()
			}
		}
		if free {
			return base
		}
	}
	t.Fatal("no six free ports for a cluster")
	return 0
}

// pid is the PID services.sh recorded for the node on port.
func (c *ownCluster) pid(t *testing.T, port string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(c.dir, port+".pid"))
	require.NoError(t, err)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	require.NoError(t, err)
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	require.NoError(t, err)
	require.Contains(t, string(cmdline), "redis-server", "PID %d is not a redis-server", pid)
	return pid
}

// stop kills every node whose PID file is still there.
func (c *ownCluster) stop() {
	files, _ := filepath.Glob(filepath.Join(c.dir, "*.pid"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			continue
		}
		if cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline"); err == nil && strings.Contains(string(cmdline), "redis-server") {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// failoverClient returns the cluster client the failover test measures:
// go-redis's defaults but for one dial attempt rather than five 100 ms
// apart (the cache's lookup deadline, 50 ms, is over long before) and
// shorter dial and read timeouts (the cache's own deadlines bound a call
// anyway).
func failoverClient(addrs []string) *redis.ClusterClient {
	return redis.NewClusterClient(&redis.ClusterOptions{
		Addrs:         addrs,
		DialTimeout:   500 * time.Millisecond,
		ReadTimeout:   500 * time.Millisecond,
		WriteTimeout:  500 * time.Millisecond,
		DialerRetries: 1,
		ReadOnly:      *failoverReadOnly,
	})
}

// TestClusterFailover loads a cache over a Redis Cluster of its own from
// several goroutines while one primary is killed (SIGKILL, by the PID that
// scripts/services.sh recorded) and its replica takes over. No request
// fails that the origin answered, and the test prints the figures:
// requests, store errors, p99, how long until the store answers for the
// killed primary's slots again, and the breaker's openings. make test runs
// it for 5 s on a cluster whose nodes time out after 1 s; make fleet for
// 30 s with the 5 s node timeout of scripts/services.sh.
func TestClusterFailover(t *testing.T) {
	cl := startOwnCluster(t, *failoverTimeout)
	ctx := t.Context()
	client := failoverClient(cl.addrs)
	defer func() {
		require.NoError(t, client.Close())
		waitRedialsEnd(t)
	}()
	s, err := redisstore.New(client, &redisstore.Options{Namespace: "failover"})
	require.NoError(t, err)

	// The probe key, and the primary that holds it: the one to kill.
	const probeKey = "probe"
	primary, err := client.MasterForKey(ctx, "failover:"+probeKey)
	require.NoError(t, err)
	killAddr := primary.Options().Addr
	_, killPort, _ := net.SplitHostPort(killAddr)
	pid := cl.pid(t, killPort)

	origin := faultload.NewOrigin(time.Millisecond, "max-age=10") // entries expire: hits, misses and writes
	defer origin.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	c, err := cachestack.New(&cachestack.Options{Store: codec.Bind(s, codec.Response()), Transport: tr, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)

	var (
		killedAt  time.Time
		recovered atomic.Int64 // ns from the kill until the store answered for the probe key
		hitsAgain atomic.Int64 // ns from the kill until the cache served a hit after that
		probes    atomic.Int64
		hitsAtRec atomic.Int64
	)
	recovered.Store(-1)
	hitsAgain.Store(-1)
	hitsAtRec.Store(-1)
	// probe tries the killed primary's slots through the store until a
	// Set and a Get there succeed, or ctx ends; it records when.
	probe := func(ctx context.Context) bool {
		for ctx.Err() == nil {
			probes.Add(1)
			pctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			err := s.Set(pctx, probeKey, []byte("x"), time.Minute)
			if err == nil {
				_, err = s.Get(pctx, probeKey)
			}
			cancel()
			if err == nil {
				recovered.Store(int64(time.Since(killedAt)))
				return true
			}
			wait(ctx, 10*time.Millisecond)
		}
		return false
	}
	f := faultload.Run(faultload.Load{
		Name: "cluster failover", Client: c.Client(), BaseURL: origin.URL, Paths: 300, Workers: 8, Duration: *failoverDuration,
		During: func(ctx context.Context) {
			wait(ctx, *failoverDuration/5)
			if ctx.Err() != nil {
				return
			}
			killedAt = time.Now()
			require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
			if !probe(ctx) {
				return
			}
			hitsAtRec.Store(c.Stats().Counts["hits"])
			// Then wait for the cache to serve a hit again, which it
			// does once its breaker lets it use the store.
			for ctx.Err() == nil {
				if c.Stats().Counts["hits"] > hitsAtRec.Load() {
					hitsAgain.Store(int64(time.Since(killedAt)))
					return
				}
				wait(ctx, 10*time.Millisecond)
			}
		},
	})
	require.NoError(t, c.Close())
	stats := c.Stats()
	after := ""
	if recovered.Load() < 0 && !killedAt.IsZero() {
		// Not within the load (a slow machine): the store must still
		// answer within 5 node timeouts of the kill, time for the
		// cluster to promote the replica and for the client to find
		// it (go-redis alone, which reloads the layout every 10 s,
		// would often not).
		pctx, cancel := context.WithDeadline(ctx, killedAt.Add(recoveryBound()))
		if probe(pctx) {
			after = " (after the load ended)"
		}
		cancel()
	}

	since := func(v *atomic.Int64) string {
		if r := v.Load(); r >= 0 {
			return time.Duration(r).Round(time.Millisecond).String()
		}
		return "never, within the run"
	}
	rec := since(&recovered) + after
	t.Logf("%s", f)
	t.Logf("killed %s (PID %d) %v into the run; the store answered for its slots again after %s (%d probes); node timeout %d ms, reads from replicas %v",
		killAddr, pid, (*failoverDuration / 5).Round(time.Millisecond), rec, probes.Load(), *failoverTimeout, *failoverReadOnly)
	t.Logf("the cache served a hit again %s after the kill", since(&hitsAgain))
	t.Logf("origin=%d hits=%d (at recovery %d) misses=%d store_errors=%d store_timeouts=%d store_skipped=%d breaker=%s opens=%d get-p99=%v",
		origin.Hits.Load(), stats.Counts["hits"], hitsAtRec.Load(), stats.Counts["misses"], stats.Counts["store_errors"], stats.Counts["store_timeouts"],
		stats.Counts["store_skipped"], stats.Breaker.State, stats.Breaker.Opens, stats.StoreLatency["get"].P99)

	assert.Zero(t, f.Failed, "requests failed: %v", f.Errors)
	assert.Zero(t, f.Wrong, "wrong bodies served")
	assert.Positive(t, stats.Counts["store_errors"]+stats.Counts["store_timeouts"]+stats.Counts["store_skipped"], "the fault was seen")
	require.GreaterOrEqual(t, recovered.Load(), int64(0), "the store did not answer for the killed primary's slots within %v of the kill", recoveryBound())
	// The replica took over: the killed node's slots have a live primary.
	info, err := client.ClusterInfo(ctx).Result()
	require.NoError(t, err)
	assert.Contains(t, info, "cluster_state:ok")
	v, err := s.Get(ctx, probeKey)
	require.NoError(t, err)
	assert.Equal(t, "x", string(v))
	if *failoverDuration >= 20*time.Second {
		assert.Greater(t, stats.Counts["hits"], hitsAtRec.Load(), "no hit from the cluster after it recovered")
	}
}

// waitRedialsEnd waits until go-redis's background redials of a closed
// client, which sleep a second between attempts, have ended, so that
// goleak does not report them.
func waitRedialsEnd(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if !bytes.Contains(buf[:n], []byte("(*ConnPool).tryDial")) {
			return
		}
		require.True(t, time.Now().Before(deadline), "go-redis still redials after Close")
		time.Sleep(20 * time.Millisecond) // polling for goroutines to end, not an expiry
	}
}

// recoveryBound is how long after the kill TestClusterFailover waits for
// the store to answer for the killed primary's slots: five node timeouts.
func recoveryBound() time.Duration {
	return 5 * time.Duration(*failoverTimeout) * time.Millisecond
}
