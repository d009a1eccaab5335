package redisstore_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack"
	"github.com/cachestack/cachestack/codec"
	"github.com/cachestack/cachestack/middleware"
	"github.com/cachestack/cachestack/store/redisstore"
)

// The multi-process tests run this test binary again as child processes:
// with CACHESTACK_STAMPEDE_CHILD set, TestStampedeChild is a process of
// the fleet, configured by these variables.
const (
	envChild   = "CACHESTACK_STAMPEDE_CHILD"   // set: run as a child
	envAddrs   = "CACHESTACK_STAMPEDE_ADDRS"   // Redis address; several, comma-separated: a cluster
	envNS      = "CACHESTACK_STAMPEDE_NS"      // the namespace the fleet shares
	envURLs    = "CACHESTACK_STAMPEDE_URLS"    // the URLs to GET, comma-separated
	envM       = "CACHESTACK_STAMPEDE_M"       // goroutines, each GETting every URL
	envTTL     = "CACHESTACK_STAMPEDE_TTL"     // LeaseOptions.TTL
	envMaxWait = "CACHESTACK_STAMPEDE_MAXWAIT" // LeaseOptions.MaxWait
)

// TestStampedeChild is one process of the fleet that the multi-process
// tests start. It opens a cache over the shared namespace, says "ready",
// waits for "go" on its standard input, then has M goroutines GET every
// URL at once. It reports on its standard output each miss that waits for
// another process's lease ("wait <url>"), each response ("got <url>
// <status> <body>") and, at the end, its counters ("counters <name>=<n>
// ..."). Outside a test fleet it does nothing.
func TestStampedeChild(t *testing.T) {
	if os.Getenv(envChild) == "" {
		t.Skip("runs only as a child of TestStampede and TestStampedeHolderKilled")
	}
	var c redis.UniversalClient
	if addrs := strings.Split(os.Getenv(envAddrs), ","); len(addrs) > 1 {
		c = redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	} else {
		c = redis.NewClient(&redis.Options{Addr: addrs[0]})
	}
	defer c.Close()
	// The first command of a cluster client loads the slot map; made
	// here, it does not make the first lookups miss their deadline.
	require.NoError(t, c.Ping(context.Background()).Err())
	s, err := redisstore.New(c, &redisstore.Options{Namespace: os.Getenv(envNS)})
	require.NoError(t, err)
	ttl, err := time.ParseDuration(os.Getenv(envTTL))
	require.NoError(t, err)
	maxWait, err := time.ParseDuration(os.Getenv(envMaxWait))
	require.NoError(t, err)
	m, err := strconv.Atoi(os.Getenv(envM))
	require.NoError(t, err)
	out := &lineWriter{w: os.Stdout}
	transport := &http.Transport{MaxIdleConnsPerHost: m}
	defer transport.CloseIdleConnections()
	cache, err := cachestack.New(&cachestack.Options{
		Store: codec.Bind(s, codec.Response()), Transport: transport,
		Coalesce: true, CoalesceAcrossProcesses: &middleware.LeaseOptions{TTL: ttl, MaxWait: maxWait},
		Logger: slog.New(&waitReporter{out: out}),
		// A loaded test machine, and a cluster client dialling each
		// node on first use, can miss the default lookup deadline; this
		// test is about leases, not deadlines.
		GetTimeout: 2 * time.Second, SetTimeout: 2 * time.Second, DeleteTimeout: 2 * time.Second,
	})
	require.NoError(t, err)
	defer cache.Close()

	out.printf("ready")
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "go\n", line)
	urls := strings.Split(os.Getenv(envURLs), ",")
	var wg sync.WaitGroup
	for g := range m {
		wg.Go(func() {
			for i := range urls {
				u := urls[(i+g)%len(urls)] // each goroutine in its own order
				resp, err := cache.Client().Get(u)
				if err != nil {
					out.printf("got %s error %v", u, err)
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				out.printf("got %s %d %s", u, resp.StatusCode, strings.ReplaceAll(string(b), " ", "_"))
			}
		})
	}
	wg.Wait()
	require.NoError(t, cache.Flush(context.Background()))
	n := cache.Counters()
	out.printf("counters waits=%d hits=%d timeouts=%d errors=%d", n.LeaseWaits.Load(), n.LeaseHits.Load(), n.LeaseTimeouts.Load(), n.LeaseErrors.Load())
}

// lineWriter writes whole lines from many goroutines.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineWriter) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, format+"\n", args...)
}

// waitReporter is a slog handler that reports the cache's lease_wait
// events, and drops every other record.
type waitReporter struct{ out *lineWriter }

func (h *waitReporter) Enabled(context.Context, slog.Level) bool { return true }
func (h *waitReporter) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *waitReporter) WithGroup(string) slog.Handler            { return h }
func (h *waitReporter) Handle(_ context.Context, r slog.Record) error {
	var event, url, reason string
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "event":
			event = a.Value.String()
		case "url":
			url = a.Value.String()
		case "reason":
			reason = a.Value.String()
		}
		return true
	})
	if event == middleware.EventLeaseWait && reason == "" {
		h.out.printf("wait %s", url)
	}
	if r.Level >= slog.LevelWarn {
		var b strings.Builder
		r.Attrs(func(a slog.Attr) bool {
			fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
			return true
		})
		h.out.printf("log %s%s", r.Message, b.String())
	}
	return nil
}

// child is a running child process of the fleet.
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string // its standard output, line by line; closed at its end
	done  chan error  // its exit
}

// fleetEnv is what every child of one test is given.
type fleetEnv struct {
	addrs, ns    string
	urls         []string
	m            int
	ttl, maxWait time.Duration
}

func startChild(t *testing.T, e fleetEnv) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestStampedeChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), envChild+"=1", envAddrs+"="+e.addrs, envNS+"="+e.ns,
		envURLs+"="+strings.Join(e.urls, ","), envM+"="+strconv.Itoa(e.m),
		envTTL+"="+e.ttl.String(), envMaxWait+"="+e.maxWait.String())
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	ch := &child{cmd: cmd, stdin: stdin, lines: make(chan string, 4096), done: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			ch.lines <- sc.Text()
		}
		close(ch.lines)
		ch.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		for range ch.lines {
		}
	})
	return ch
}

// expect reads ch's lines until one starts with prefix, and returns it.
func (ch *child) expect(t *testing.T, prefix string) string {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-ch.lines:
			if !ok {
				t.Fatalf("child ended before it printed %q", prefix)
			}
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-timeout:
			t.Fatalf("child did not print %q in 30s", prefix)
		}
	}
}

// finish reads the rest of ch's output until it exits, and returns its
// "got" lines and its counters.
func (ch *child) finish(t *testing.T) (got []string, counters map[string]int) {
	t.Helper()
	counters = map[string]int{}
	timeout := time.AfterFunc(time.Minute, func() { _ = ch.cmd.Process.Kill() })
	defer timeout.Stop()
	for l := range ch.lines {
		switch {
		case strings.HasPrefix(l, "log "), strings.HasPrefix(l, "wait "):
			t.Logf("child %d: %s", ch.cmd.Process.Pid, l)
		case strings.HasPrefix(l, "got "):
			got = append(got, l)
		case strings.HasPrefix(l, "counters "):
			for _, f := range strings.Fields(l)[1:] {
				k, v, _ := strings.Cut(f, "=")
				counters[k], _ = strconv.Atoi(v)
			}
		}
	}
	require.NoError(t, <-ch.done, "the child failed")
	return got, counters
}

// fleetAddrs returns the Redis addresses the fleet uses for the server
// or the cluster, skipping t when there is none.
func fleetAddrs(t *testing.T, cluster bool) (redis.UniversalClient, string) {
	if cluster {
		c := newClusterClient(t)
		return c, os.Getenv("CACHESTACK_REDIS_CLUSTER_ADDRS")
	}
	return newClient(t), redisAddr()
}

// TestStampede: N processes of M goroutines each GET the same K URLs at
// once, over one Redis namespace, against a counting origin that holds
// each URL's first request until every other process waits for the lease
// on it: the origin sees one request per URL, and every caller gets it.
func TestStampede(t *testing.T) {
	for _, cluster := range []bool{false, true} {
		t.Run(map[bool]string{false: "server", true: "cluster"}[cluster], func(t *testing.T) {
			const n, m, k = 4, 8, 5
			c, addrs := fleetAddrs(t, cluster)
			ns := open(t, c, nil).Namespace()

			var mu sync.Mutex
			waits := map[string]int{} // by path: processes waiting for its lease
			allWaiting := map[string]chan struct{}{}
			var urls []string
			for i := range k {
				allWaiting[fmt.Sprintf("/k%d", i)] = make(chan struct{})
			}
			ended := t.Context().Done()
			var gaveUp atomic.Int64
			o := newHoldingOrigin(t, http.Header{"Cache-Control": {"max-age=60"}}, false, func(path string, n int) {
				if n == 1 { // the origin answers once every other process waits
					select {
					case <-allWaiting[path]:
					case <-ended:
					case <-time.After(20 * time.Second):
						gaveUp.Add(1)
					}
				}
			})
			for i := range k {
				urls = append(urls, fmt.Sprintf("%s/k%d", o.URL, i))
			}
			e := fleetEnv{addrs: addrs, ns: ns, urls: urls, m: m, ttl: 10 * time.Second, maxWait: 30 * time.Second}
			var children []*child
			for range n {
				ch := startChild(t, e)
				ch.expect(t, "ready")
				children = append(children, ch)
			}
			var wg sync.WaitGroup
			type report struct {
				got      []string
				counters map[string]int
			}
			reports := make([]report, n)
			for i, ch := range children {
				_, err := io.WriteString(ch.stdin, "go\n")
				require.NoError(t, err)
				wg.Go(func() {
					var r report
					r.counters = map[string]int{}
					for l := range ch.lines {
						switch {
						case strings.HasPrefix(l, "wait "):
							p := strings.TrimPrefix(strings.TrimPrefix(l, "wait "), o.URL)
							mu.Lock()
							waits[p]++
							if waits[p] == n-1 {
								close(allWaiting[p])
							}
							mu.Unlock()
						case strings.HasPrefix(l, "got "):
							r.got = append(r.got, l)
						case strings.HasPrefix(l, "log "):
							t.Logf("process %d: %s", i, l)
						case strings.HasPrefix(l, "counters "):
							for _, f := range strings.Fields(l)[1:] {
								k, v, _ := strings.Cut(f, "=")
								r.counters[k], _ = strconv.Atoi(v)
							}
						}
					}
					assert.NoError(t, <-ch.done, "child %d", i)
					reports[i] = r
				})
			}
			wg.Wait()
			assert.Zero(t, gaveUp.Load(), "keys whose first request the origin answered without every other process waiting")

			var perKey []string
			for i := range k {
				p := fmt.Sprintf("/k%d", i)
				perKey = append(perKey, fmt.Sprintf("%s=%d", p, o.count(p)))
				assert.Equal(t, 1, o.count(p), "origin requests for %s", p)
			}
			t.Logf("%d processes x %d goroutines x %d keys: origin requests per key: %s", n, m, k, strings.Join(perKey, " "))
			total := 0
			for i, r := range reports {
				t.Logf("process %d: lease counters %v", i, r.counters)
				require.Len(t, r.got, m*k, "process %d answered every GET", i)
				for _, g := range r.got {
					f := strings.Fields(g)
					require.Len(t, f, 4, g)
					p := strings.TrimPrefix(f[1], o.URL)
					assert.Equal(t, []string{"200", "body_of_" + p + "_#1"}, f[2:], "process %d", i)
				}
				assert.Zero(t, r.counters["timeouts"]+r.counters["errors"], "process %d", i)
				assert.Equal(t, r.counters["waits"], r.counters["hits"], "process %d: every wait ended in a hit", i)
				total += r.counters["waits"]
			}
			// Every process but the key's holder waited for each key (the
			// origin held the holder's request until they did); a process
			// whose goroutine missed just before the entry was stored may
			// have waited twice for one key.
			assert.GreaterOrEqual(t, total, (n-1)*k)
		})
	}
}

// TestStampedeHolderKilled: the process holding a key's lease is killed
// while its origin request hangs. The others, waiting for the lease with
// a MaxWait far longer than its TTL, go on once it expires: each fetches
// on its own, none waited out MaxWait.
func TestStampedeHolderKilled(t *testing.T) {
	const n, m = 4, 4
	ttl := 2 * time.Second
	c, addrs := fleetAddrs(t, false)
	ns := open(t, c, nil).Namespace()
	o := newCountingOrigin(t, http.Header{"Cache-Control": {"max-age=60"}}, true) // the first request never ends
	e := fleetEnv{addrs: addrs, ns: ns, urls: []string{o.URL + "/x"}, m: m, ttl: ttl, maxWait: 30 * ttl}

	// Every process is started and ready before the holder takes the
	// lease, so that the others wait for it well within its TTL.
	holder := startChild(t, e)
	holder.expect(t, "ready")
	var others []*child
	for range n - 1 {
		ch := startChild(t, e)
		ch.expect(t, "ready")
		others = append(others, ch)
	}
	_, err := io.WriteString(holder.stdin, "go\n")
	require.NoError(t, err)
	o.arrived(t, "/x") // the holder has the lease and waits for the origin
	for _, ch := range others {
		_, err := io.WriteString(ch.stdin, "go\n")
		require.NoError(t, err)
	}
	for _, ch := range others {
		ch.expect(t, "wait ")
	}
	require.NoError(t, holder.cmd.Process.Kill())
	killed := time.Now()
	for i, ch := range others {
		got, counters := ch.finish(t)
		require.Len(t, got, m, "child %d", i)
		for _, g := range got {
			assert.Contains(t, g, " 200 body_of_/x_#", "child %d", i)
		}
		assert.Equal(t, map[string]int{"waits": 1, "hits": 0, "timeouts": 0, "errors": 0}, counters,
			"child %d waited once, for the lease to expire, not for MaxWait", i)
	}
	assert.Equal(t, n, o.count("/x"), "the killed holder's request, then one per other process")
	var delays []time.Duration
	o.mu.Lock()
	for _, at := range o.times[1:] {
		delays = append(delays, at.Sub(killed))
	}
	o.mu.Unlock()
	slices.Sort(delays)
	t.Logf("lease TTL %v: the %d waiting processes reached the origin %v after the holder was killed", ttl, n-1, delays)
}
