// Package servertest holds what the tests of the server-backed stores
// (mongostore, dynamostore) do alike: skip or fail when their server is
// missing, run a server process of their own that a test can kill and
// restart, and drive an HTTP cache over a store while its server goes away
// and comes back.
package servertest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack"
	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/store"
)

// Required reports whether CACHESTACK_REQUIRE_SERVICES=1, under which a
// missing server fails a test instead of skipping it.
func Required() bool { return os.Getenv("CACHESTACK_REQUIRE_SERVICES") == "1" }

// Missing skips tb with msg, or fails it when Required.
func Missing(tb testing.TB, msg string) {
	tb.Helper()
	if Required() {
		tb.Fatal(msg + "; CACHESTACK_REQUIRE_SERVICES=1, so this fails")
	}
	tb.Skip(msg)
}

// FreeAddr returns a loopback address with a port nobody listens on now.
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	addr := l.Addr().String()
	require.NoError(tb, l.Close())
	return addr
}

// Process is a server process a test started, listening on Addr.
type Process struct {
	tb      testing.TB
	Addr    string
	command func() *exec.Cmd
	cmd     *exec.Cmd
	done    chan struct{}
	// StartTime is how long the last Start took until Addr accepted
	// connections.
	StartTime time.Duration
}

// Start runs command() and waits, polling, until Addr accepts TCP
// connections (up to 90 s, for a JVM on a loaded machine). The process is
// killed when tb ends. command is called again by each Restart.
func Start(tb testing.TB, addr string, command func() *exec.Cmd) *Process {
	tb.Helper()
	p := &Process{tb: tb, Addr: addr, command: command}
	p.start()
	tb.Cleanup(p.Kill)
	return p
}

func (p *Process) start() {
	p.tb.Helper()
	p.cmd = p.command()
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // kill its children too
	out, err := os.CreateTemp(p.tb.TempDir(), "server-*.log")
	require.NoError(p.tb, err)
	p.cmd.Stdout, p.cmd.Stderr = out, out
	t0 := time.Now()
	require.NoError(p.tb, p.cmd.Start(), "starting %v", p.cmd.Args)
	p.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) {
		_ = cmd.Wait()
		_ = out.Close()
		close(done)
	}(p.cmd, p.done)
	for deadline := time.Now().Add(90 * time.Second); ; {
		c, err := net.DialTimeout("tcp", p.Addr, time.Second)
		if err == nil {
			_ = c.Close()
			break
		}
		select {
		case <-p.done:
			log, _ := os.ReadFile(out.Name())
			p.tb.Fatalf("%v exited before listening on %s:\n%s", p.cmd.Args, p.Addr, log)
		default:
		}
		if time.Now().After(deadline) {
			p.Kill()
			p.tb.Fatalf("%v: nothing listens on %s after 90 s", p.cmd.Args, p.Addr)
		}
		time.Sleep(20 * time.Millisecond) // polling for the server to come up
	}
	p.StartTime = time.Since(t0)
}

// Kill kills the process group with SIGKILL and waits for it to exit. It
// is a no-op when the process is not running.
func (p *Process) Kill() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	select {
	case <-p.done:
	default:
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// Restart starts the process again, on the same address.
func (p *Process) Restart() {
	p.tb.Helper()
	p.Kill()
	p.start()
}

// Port returns Addr's port.
func (p *Process) Port() int {
	_, port, _ := net.SplitHostPort(p.Addr)
	n, _ := strconv.Atoi(port)
	return n
}

// Origin is an httptest server that answers every GET with a cacheable
// 200 whose body names the request's path and a serial number, and counts
// the requests it answers.
type Origin struct {
	*httptest.Server
	Hits atomic.Int64
}

// NewOrigin starts an Origin, closed when tb ends.
func NewOrigin(tb testing.TB, bodySize int) *Origin {
	tb.Helper()
	o := &Origin{}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := o.Hits.Add(1)
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Cache-Control", "max-age=3600")
		body := fmt.Sprintf("%s #%d ", r.URL.Path, n)
		if len(body) < bodySize {
			body += strings.Repeat("x", bodySize-len(body))
		}
		_, _ = io.WriteString(w, body)
	}))
	tb.Cleanup(o.Close)
	return o
}

// Cache returns a cache over s and the origin's own client transport,
// closed when tb ends. It does not close s.
func Cache(tb testing.TB, s store.Store[string, *cached.Response], o *Origin) *cachestack.Cache {
	tb.Helper()
	tr := o.Client().Transport.(*http.Transport).Clone()
	tb.Cleanup(tr.CloseIdleConnections)
	c, err := cachestack.New(&cachestack.Options{Store: s, Transport: tr, MaxBodyBytes: 1 << 20})
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// Get sends a GET of path through c, reads the whole body, and returns it
// with whether it came from the cache and how long it took.
func Get(tb testing.TB, c *cachestack.Cache, o *Origin, path string) (body string, fromCache bool, took time.Duration) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, o.URL+path, nil)
	require.NoError(tb, err)
	t0 := time.Now()
	resp, err := c.Client().Do(req)
	require.NoError(tb, err, "GET %s", path)
	b, err := io.ReadAll(resp.Body)
	require.NoError(tb, err)
	require.NoError(tb, resp.Body.Close())
	took = time.Since(t0)
	assert.Equal(tb, http.StatusOK, resp.StatusCode, "GET %s", path)
	return string(b), cachestack.InfoOf(resp).FromCache, took
}

// DefaultStackHit checks that a cache over s answers a second GET of a
// URL from the store, end to end: the origin sees one request.
func DefaultStackHit(t *testing.T, s store.Store[string, *cached.Response]) {
	t.Helper()
	o := NewOrigin(t, 2048)
	c := Cache(t, s, o)
	first, cachedFirst, _ := Get(t, c, o, "/hit")
	assert.False(t, cachedFirst, "the first GET goes to the origin")
	second, cachedSecond, _ := Get(t, c, o, "/hit")
	assert.True(t, cachedSecond, "the second GET is answered from the store")
	assert.Equal(t, first, second)
	assert.Equal(t, int64(1), o.Hits.Load(), "the origin answered once")
	assert.Equal(t, int64(1), c.Counters().Hits.Load())
	assert.Equal(t, int64(0), c.Counters().StoreErrors.Load())
}

// ServerKilled drives a cache over s while its server, p, is killed and
// restarted: with the server up the second GET is a hit; with it killed,
// every GET is answered by the origin within maxTook (the store's per-call
// timeout keeps the cache prompt) and the store's failures are counted;
// restarted, the same store serves hits again.
func ServerKilled(t *testing.T, p *Process, s store.Store[string, *cached.Response], maxTook time.Duration) {
	t.Helper()
	o := NewOrigin(t, 4096)
	c := Cache(t, s, o)
	_, _, _ = Get(t, c, o, "/before")
	_, hit, _ := Get(t, c, o, "/before")
	require.True(t, hit, "with the server up, the second GET is a hit")
	require.Equal(t, int64(1), o.Hits.Load())

	p.Kill()
	const n = 6
	for i := range n {
		body, hit, took := Get(t, c, o, fmt.Sprintf("/down/%d", i%2))
		assert.False(t, hit, "GET %d with the server down came from the cache", i)
		assert.Contains(t, body, fmt.Sprintf("/down/%d #", i%2))
		assert.Less(t, took, maxTook, "GET %d with the server down took %v", i, took)
		// Let the background write of what it fetched fail first: until
		// then the cache would rightly answer a repeat from its
		// write-back queue.
		require.NoError(t, c.Flush(context.Background()))
	}
	assert.Equal(t, int64(1+n), o.Hits.Load(), "every GET with the server down went to the origin")
	cn := c.Counters()
	failed := cn.StoreErrors.Load() + cn.StoreTimeouts.Load() + cn.StoreSkipped.Load()
	assert.GreaterOrEqual(t, failed, int64(n), "each lookup's failure (or skip, once the breaker opened) is counted")

	p.Restart()
	t.Logf("restarted the server in %v", p.StartTime)
	require.Eventually(t, func() bool {
		_, err := s.Get(context.Background(), "probe")
		return err == store.ErrNotFound
	}, 60*time.Second, 100*time.Millisecond, "the same store reaches the restarted server")
	// The cache's circuit breaker, opened while the server was down,
	// lets a probe through after its back-off (at most
	// middleware.DefaultBreakerMaxOpenFor, 30 s): from then on the store serves
	// hits again.
	start := time.Now()
	assert.Eventually(t, func() bool {
		_, _, _ = Get(t, c, o, "/after")
		_ = c.Flush(context.Background()) // the write is made, not just queued
		_, hit, _ := Get(t, c, o, "/after")
		return hit
	}, 45*time.Second, 200*time.Millisecond, "after the restart, the second GET is a hit again")
	t.Logf("the cache served hits from the restarted server %v after it answered", time.Since(start).Round(time.Millisecond))
}
