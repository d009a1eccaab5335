package redisstore_test

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
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

	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/memstore"
	"github.com/cachestack/cachestack/store/redisstore"
	"github.com/cachestack/cachestack/store/storetest"
	"github.com/cachestack/cachestack/store/tierstore"
)

// coherentDuration is how long the writer of TestCoherentFrontsAcrossProcesses
// writes: short in make test, longer in make fleet.
var coherentDuration = flag.Duration("coherent.duration", 3*time.Second, "how long the two-process coherence test writes")

// The bound on staleness this test holds the Bus to while it is subscribed
// (two ping intervals, as BusOptions.PingInterval documents), and while it
// is not (FrontTTL).
const (
	testPing     = redisstore.DefaultPingInterval
	coherentTTL  = time.Minute
	coherentKeys = 16
)

func TestNewBusOptions(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	tests := []struct {
		name string
		give *redisstore.BusOptions
		want string
	}{
		{"Colon", &redisstore.BusOptions{Namespace: "a:b"}, `redisstore: BusOptions.Namespace "a:b" contains ':'`},
		{"NegativePing", &redisstore.BusOptions{PingInterval: -time.Second}, "redisstore: BusOptions.PingInterval is -1s, want >= 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := redisstore.NewBus(c, tt.give)
			require.ErrorContains(t, err, tt.want)
		})
	}
	_, err := redisstore.NewBus(nil, nil)
	require.EqualError(t, err, "redisstore: NewBus: client is nil")
	var nilClient *redis.Client
	_, err = redisstore.NewBus(nilClient, nil)
	require.EqualError(t, err, "redisstore: NewBus: client is a nil *redis.Client")
	b, err := redisstore.NewBus(c, nil)
	require.NoError(t, err)
	assert.Equal(t, "cachestack:invalidations", b.Channel())
}

// eventBus is a Bus that also tells log of the subscription's state.
type eventBus struct {
	*redisstore.Bus
	log func(event string)
}

func (b eventBus) Subscribe(h tierstore.Handler[string]) func() {
	return b.Bus.Subscribe(eventHandler{h, b.log})
}

type eventHandler struct {
	tierstore.Handler[string]
	log func(string)
}

func (h eventHandler) Subscribed() { h.Handler.Subscribed(); h.log("subscribed") }
func (h eventHandler) Lost()       { h.log("lost"); h.Handler.Lost() }

// coherentTier is a process's tier: a memstore front (on clock, if given)
// over a redisstore back in namespace ns, coherent through a Bus on its own
// client, named busName.
func coherentTier(tb testing.TB, ns, busName string, clock func() time.Time, dialer func(context.Context, string, string) (net.Conn, error), log func(string)) *tierstore.Store[string, []byte] {
	tb.Helper()
	backClient := redis.NewClient(testOptions(redisAddr()))
	bo := testOptions(redisAddr())
	bo.ClientName = busName
	bo.Dialer = dialer
	busClient := redis.NewClient(bo)
	tb.Cleanup(func() { _ = backClient.Close(); _ = busClient.Close() })
	back, err := redisstore.New(backClient, &redisstore.Options{Namespace: ns})
	require.NoError(tb, err)
	front, err := memstore.New[string](&memstore.Options[[]byte]{MaxBytes: 1 << 20, Clock: clock})
	require.NoError(tb, err)
	bus, err := redisstore.NewBus(busClient, &redisstore.BusOptions{Namespace: ns, PingInterval: testPing})
	require.NoError(tb, err)
	var b tierstore.Bus[string] = bus
	if log != nil {
		b = eventBus{bus, log}
	}
	s, err := tierstore.NewCoherent(front, back, b, &tierstore.Options{FrontTTL: coherentTTL})
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// waitFor polls cond, failing tb after 10 s. It waits for a state change
// (a subscription, a message), never for an expiry.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		require.True(tb, time.Now().Before(deadline), "waiting for %s", what)
		time.Sleep(2 * time.Millisecond) // polling for a state change, not an expiry
	}
}

// killClient kills the connections of the clients named name with CLIENT
// KILL, as a network fault or a server-side timeout would, and returns how
// many it killed.
func killClient(tb testing.TB, c *redis.Client, name string) int {
	tb.Helper()
	ctx := tb.Context()
	list, err := c.ClientList(ctx).Result()
	require.NoError(tb, err)
	n := 0
	for line := range strings.SplitSeq(list, "\n") {
		if !strings.Contains(" "+line+" ", " name="+name+" ") {
			continue
		}
		for f := range strings.FieldsSeq(line) {
			if id, ok := strings.CutPrefix(f, "id="); ok {
				require.NoError(tb, c.Do(ctx, "client", "kill", "id", id).Err())
				n++
			}
		}
	}
	return n
}

// TestCoherentFallbackWhenCut: a front over Redis learns of another
// process's writes through the Bus; when the Bus's connection is cut and
// cannot be made again, the front is flushed and then serves what it
// reads for up to FrontTTL (shown on the front's clock); once the Bus is
// back, the front is flushed again and learns of writes again.
func TestCoherentFallbackWhenCut(t *testing.T) {
	admin := newClient(t)
	ns := namespace(t)
	t.Cleanup(func() { requireNamespaceGone(t, admin, ns) })
	clk := storetest.NewClock()
	var refuse atomic.Bool
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		if refuse.Load() {
			return nil, errors.New("test: the network to Redis is cut")
		}
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	busName := "cstest-bus-" + ns[len(ns)-12:]
	a := coherentTier(t, ns, "cstest-writer-"+ns[len(ns)-12:], nil, nil, nil)
	b := coherentTier(t, ns, busName, clk.Now, dial, nil)
	ctx := t.Context()
	waitFor(t, "both buses to subscribe", func() bool { return a.Coherent() && b.Coherent() })

	read := func() string {
		t.Helper()
		v, err := b.Get(ctx, "k")
		if err == store.ErrNotFound {
			return "<not found>"
		}
		require.NoError(t, err)
		return string(v)
	}
	require.NoError(t, a.Set(ctx, "k", []byte("v1"), 0))
	require.Equal(t, "v1", read())
	require.NoError(t, a.Set(ctx, "k", []byte("v2"), 0))
	waitFor(t, "B to learn of v2", func() bool { return read() == "v2" })

	refuse.Store(true)
	require.Equal(t, 1, killClient(t, admin, busName), "B's bus has one connection")
	waitFor(t, "B's bus to notice the cut", func() bool { return !b.Coherent() })
	assert.Equal(t, "v2", read())
	require.NoError(t, a.Set(ctx, "k", []byte("v3"), 0))
	clk.Advance(coherentTTL - 1)
	assert.Equal(t, "v2", read(), "while the bus is lost, within FrontTTL, B's front serves the value it read")
	clk.Advance(1)
	assert.Equal(t, "v3", read(), "never beyond FrontTTL")

	require.NoError(t, a.Set(ctx, "k", []byte("v4"), 0)) // missed by B
	refuse.Store(false)
	waitFor(t, "B's bus to subscribe again", b.Coherent)
	assert.Equal(t, "v4", read(), "subscribing again flushed B's front")
	require.NoError(t, a.Delete(ctx, "k"))
	waitFor(t, "B to learn of the delete", func() bool { return read() == "<not found>" })

	require.NoError(t, a.Set(ctx, "k", []byte("v5"), 0))
	waitFor(t, "B to learn of v5", func() bool { return read() == "v5" })
	require.NoError(t, a.Clear(ctx))
	waitFor(t, "B to learn of the clear", func() bool { return read() == "<not found>" })
}

// The two-process test: the parent runs this test binary twice more, as
// a writer and a reader, each with a coherent tier over the same Redis
// namespace, and reads their logs.
const coherentRoleEnv = "CACHESTACK_COHERENT_ROLE"

// TestCoherentChild is the writer or the reader of
// TestCoherentFrontsAcrossProcesses; it does nothing when run alone.
func TestCoherentChild(t *testing.T) {
	role := os.Getenv(coherentRoleEnv)
	if role == "" {
		t.Skip("run by TestCoherentFrontsAcrossProcesses")
	}
	ns := os.Getenv("CACHESTACK_COHERENT_NS")
	out := bufio.NewWriter(os.Stdout)
	var mu sync.Mutex
	emit := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(out, format+"\n", args...)
	}
	defer func() { mu.Lock(); out.Flush(); mu.Unlock() }()
	now := func() int64 { return time.Now().UnixNano() }
	s := coherentTier(t, ns, "cstest-"+role+"-"+ns[len(ns)-12:], nil, nil, func(ev string) { emit("E %s %d", ev, now()) })
	ctx := context.Background()
	waitFor(t, "the bus to subscribe", s.Coherent)
	switch role {
	case "writer":
		d, err := time.ParseDuration(os.Getenv("CACHESTACK_COHERENT_DURATION"))
		require.NoError(t, err)
		versions := make([]int, coherentKeys)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		end := time.Now().Add(d)
		for i := 0; time.Now().Before(end); i++ {
			<-tick.C // pacing the writes
			k := i % coherentKeys
			versions[k]++
			v := versions[k]
			start := now()
			if v%4 == 0 {
				require.NoError(t, s.Delete(ctx, "k"+strconv.Itoa(k)))
				emit("W %d %d del %d %d", k, v, start, now())
			} else {
				require.NoError(t, s.Set(ctx, "k"+strconv.Itoa(k), []byte(strconv.Itoa(v)), 0))
				emit("W %d %d set %d %d", k, v, start, now())
			}
		}
	case "reader":
		emit("READY")
		mu.Lock()
		out.Flush()
		mu.Unlock()
		var done atomic.Bool
		go func() { _, _ = io.Copy(io.Discard, os.Stdin); done.Store(true) }()
		tick := time.NewTicker(200 * time.Microsecond)
		defer tick.Stop()
		for i := 0; !done.Load(); i++ {
			<-tick.C // pacing the reads
			k := i % coherentKeys
			start := now()
			v, err := s.Get(ctx, "k"+strconv.Itoa(k))
			ver := -1
			switch {
			case err == store.ErrNotFound:
			case err != nil:
				t.Fatalf("reader: %v", err)
			default:
				ver, err = strconv.Atoi(string(v))
				require.NoError(t, err)
			}
			emit("R %d %d %d %d", k, ver, start, now())
		}
	}
}

type writeRec struct {
	ver        int
	del        bool
	start, ack int64
}

type readRec struct {
	key, ver   int
	start, end int64
}

// staleness is how long before the read started a newer write than the one
// the read saw had been acknowledged to the writer; 0 when the read saw the
// newest acknowledged write (or one in flight). A read that found no entry
// saw the newest delete (or the initial absence) that started before it.
func staleness(w []writeRec, r readRec) time.Duration {
	seen := 0 // index in w of the first write newer than what r saw
	if r.ver >= 0 {
		seen = r.ver // versions are 1-based: w[ver-1] wrote it
	} else {
		for i, x := range w {
			if x.del && x.start <= r.end {
				seen = i + 1
			}
		}
		// Any delete started before the read ended may be the one it
		// saw: the newest is the charitable choice.
	}
	if seen >= len(w) || w[seen].ack >= r.start {
		return 0
	}
	return time.Duration(r.start - w[seen].ack)
}

// TestCoherentFrontsAcrossProcesses: process A overwrites and deletes keys
// through its coherent tier, process B reads them through its own, both
// over one Redis. B's reads are never stale beyond 2 × PingInterval after
// A's write returned while B's bus is subscribed, nor beyond FrontTTL while
// it is not; halfway, B's bus connection is killed (CLIENT KILL) and comes
// back. The test prints the distribution of stale windows.
func TestCoherentFrontsAcrossProcesses(t *testing.T) {
	admin := newClient(t)
	ns := namespace(t)
	t.Cleanup(func() { requireNamespaceGone(t, admin, ns) })
	exe, err := os.Executable()
	require.NoError(t, err)
	child := func(role string) *exec.Cmd {
		cmd := exec.Command(exe, "-test.run=^TestCoherentChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), coherentRoleEnv+"="+role, "CACHESTACK_COHERENT_NS="+ns,
			"CACHESTACK_COHERENT_DURATION="+coherentDuration.String())
		cmd.Stderr = os.Stderr
		return cmd
	}
	reader := child("reader")
	readerIn, err := reader.StdinPipe()
	require.NoError(t, err)
	readerOut, err := reader.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, reader.Start())
	t.Cleanup(func() { _ = reader.Process.Kill(); _ = reader.Wait() })
	lines := make(chan string, 1024)
	var readerLines []string
	var scanned sync.WaitGroup
	scanned.Go(func() {
		sc := bufio.NewScanner(readerOut)
		ready := false
		for sc.Scan() {
			if !ready && sc.Text() == "READY" {
				ready = true
				lines <- "READY"
				continue
			}
			readerLines = append(readerLines, sc.Text())
		}
		close(lines)
	})
	select {
	case l, ok := <-lines:
		require.True(t, ok && l == "READY", "the reader did not start")
	case <-time.After(30 * time.Second):
		t.Fatal("the reader did not start within 30 s")
	}

	writer := child("writer")
	writerOut, err := writer.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, writer.Start())
	var killedAt int64
	var killer sync.WaitGroup
	killer.Go(func() {
		time.Sleep(*coherentDuration / 2) // the fault's moment, not an expiry
		killedAt = time.Now().UnixNano()
		if n := killClient(t, admin, "cstest-reader-"+ns[len(ns)-12:]); n == 0 {
			t.Error("no connection of the reader's bus to kill")
		}
	})
	writerText, err := io.ReadAll(writerOut)
	require.NoError(t, err)
	require.NoError(t, writer.Wait(), "the writer failed")
	killer.Wait()
	require.NoError(t, readerIn.Close())
	scanned.Wait()
	require.NoError(t, reader.Wait(), "the reader failed")

	writes := make([][]writeRec, coherentKeys)
	nWrites := 0
	for line := range strings.SplitSeq(string(writerText), "\n") {
		var k int
		var w writeRec
		var op string
		if _, err := fmt.Sscanf(line, "W %d %d %s %d %d", &k, &w.ver, &op, &w.start, &w.ack); err != nil {
			continue
		}
		w.del = op == "del"
		require.Equal(t, len(writes[k])+1, w.ver)
		writes[k] = append(writes[k], w)
		nWrites++
	}
	type span struct{ from, to int64 } // the reader's bus not subscribed
	var gaps []span
	var reads []readRec
	for _, line := range readerLines {
		var r readRec
		var ev string
		var at int64
		switch {
		case strings.HasPrefix(line, "R "):
			_, err := fmt.Sscanf(line, "R %d %d %d %d", &r.key, &r.ver, &r.start, &r.end)
			require.NoError(t, err, line)
			reads = append(reads, r)
		case strings.HasPrefix(line, "E "):
			_, err := fmt.Sscanf(line, "E %s %d", &ev, &at)
			require.NoError(t, err, line)
			if ev == "lost" {
				gaps = append(gaps, span{at, 0})
			} else if n := len(gaps); ev == "subscribed" && n > 0 && gaps[n-1].to == 0 {
				gaps[n-1].to = at
			}
		}
	}
	require.NotEmpty(t, reads)
	require.NotZero(t, nWrites)
	require.NotEmpty(t, gaps, "the reader's bus did not see its connection killed")

	// A stale read is held to FrontTTL if the bus was lost at any moment
	// between the newer write and the read; else to 2 × PingInterval.
	bound := 2 * testPing
	lostDuring := func(from, to int64) bool {
		for _, g := range gaps {
			if g.from <= to && (g.to == 0 || g.to >= from) {
				return true
			}
		}
		return false
	}
	var live, fallback []time.Duration
	var beyond []string
	for _, r := range reads {
		d := staleness(writes[r.key], r)
		if d == 0 {
			continue
		}
		if lostDuring(r.start-int64(d), r.start) {
			fallback = append(fallback, d)
			if d > coherentTTL {
				beyond = append(beyond, fmt.Sprintf("key %d read at %d saw version %d, stale %v with the bus lost", r.key, r.start, r.ver, d))
			}
			continue
		}
		live = append(live, d)
		if d > bound {
			beyond = append(beyond, fmt.Sprintf("key %d read at %d saw version %d, stale %v with the bus subscribed", r.key, r.start, r.ver, d))
		}
	}
	t.Logf("writes=%d reads=%d; stale reads with the bus subscribed: %d (%.3f%%) %s; bound %v", nWrites, len(reads), len(live), 100*float64(len(live))/float64(len(reads)), dist(live), bound)
	for _, g := range gaps {
		t.Logf("reader's bus lost %v after the kill, subscribed again %v after the loss", time.Duration(g.from-killedAt).Round(time.Microsecond), time.Duration(g.to-g.from).Round(time.Microsecond))
	}
	t.Logf("stale reads across the lost subscription: %d %s; bound FrontTTL %v", len(fallback), dist(fallback), coherentTTL)
	assert.Empty(t, beyond[:min(len(beyond), 10)], "%d reads stale beyond the bound (first 10 shown)", len(beyond))
}

// dist formats the distribution of ds.
func dist(ds []time.Duration) string {
	if len(ds) == 0 {
		return ""
	}
	ds = slices.Clone(ds)
	slices.Sort(ds)
	q := func(p int) time.Duration { return ds[min(len(ds)-1, len(ds)*p/100)].Round(time.Microsecond) }
	return fmt.Sprintf("p50=%v p90=%v p99=%v max=%v", q(50), q(90), q(99), ds[len(ds)-1].Round(time.Microsecond))
}
