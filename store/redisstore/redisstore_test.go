package redisstore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/codec"
	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/redisstore"
	"github.com/cachestack/cachestack/store/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// redisAddr is the server the tests use: CACHESTACK_REDIS_ADDR, or the
// local default.
func redisAddr() string {
	if a := os.Getenv("CACHESTACK_REDIS_ADDR"); a != "" {
		return a
	}
	return "127.0.0.1:6379"
}

// reachable probes the test server once per test binary.
var reachable = sync.OnceValue(func() error {
	c := redis.NewClient(testOptions(redisAddr()))
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return c.Ping(ctx).Err()
})

// testOptions are the client options of the tests: one dial attempt, no
// retries, so that a server that is down fails fast.
func testOptions(addr string) *redis.Options {
	return &redis.Options{Addr: addr, DialTimeout: 2 * time.Second, DialerRetries: 1, MaxRetries: -1}
}

// newClient returns a client of the test server, closed when tb ends. When
// the server cannot be reached it skips tb with the reason, or fails it if
// CACHESTACK_REQUIRE_SERVICES=1.
func newClient(tb testing.TB) *redis.Client {
	tb.Helper()
	addr := redisAddr()
	if err := reachable(); err != nil {
		msg := fmt.Sprintf("no Redis at %s (set CACHESTACK_REDIS_ADDR, or run scripts/services.sh): %v", addr, err)
		if os.Getenv("CACHESTACK_REQUIRE_SERVICES") == "1" {
			tb.Fatal(msg + "; CACHESTACK_REQUIRE_SERVICES=1, so this fails")
		}
		tb.Skip(msg)
	}
	c := redis.NewClient(testOptions(addr))
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// namespace returns a namespace no other test or run uses: the test's name,
// made safe, and a random suffix.
func namespace(tb testing.TB) string {
	tb.Helper()
	var r [6]byte
	_, _ = rand.Read(r[:])
	n := strings.NewReplacer(":", "_", " ", "_").Replace(tb.Name())
	return "cstest-" + n + "-" + hex.EncodeToString(r[:])
}

// open returns a store on c in a fresh namespace, whose keys are removed
// and store closed when tb ends.
func open(tb testing.TB, c redis.UniversalClient, opts *redisstore.Options) *redisstore.Store {
	tb.Helper()
	var o redisstore.Options
	if opts != nil {
		o = *opts
	}
	if o.Namespace == "" {
		o.Namespace = namespace(tb)
	}
	s, err := redisstore.New(c, &o)
	require.NoError(tb, err)
	tb.Cleanup(func() {
		_ = s.Close()
		requireNamespaceGone(tb, c, o.Namespace)
	})
	return s
}

// requireNamespaceGone clears ns with a fresh store and checks with the raw
// client that no key is left in it.
func requireNamespaceGone(tb testing.TB, c redis.UniversalClient, ns string) {
	tb.Helper()
	s, err := redisstore.New(c, &redisstore.Options{Namespace: ns})
	require.NoError(tb, err)
	ctx := context.Background()
	require.NoError(tb, s.Clear(ctx), "cleaning up namespace %q", ns)
	left, err := rawKeys(ctx, c, rawPattern(ns))
	require.NoError(tb, err)
	require.Empty(tb, left, "keys left in namespace %q", ns)
}

// rawKeys runs KEYS pattern on the server, or on every primary of a
// cluster, each of which holds only the keys of its own slots.
func rawKeys(ctx context.Context, c redis.UniversalClient, pattern string) ([]string, error) {
	cc, ok := c.(*redis.ClusterClient)
	if !ok {
		return c.Keys(ctx, pattern).Result()
	}
	var (
		mu  sync.Mutex
		all []string
	)
	err := cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		ks, err := n.Keys(ctx, pattern).Result()
		mu.Lock()
		defer mu.Unlock()
		all = append(all, ks...)
		return err
	})
	return all, err
}

// rawPattern is a KEYS pattern for exactly ns's keys.
func rawPattern(ns string) string {
	var b strings.Builder
	for _, r := range ns {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String() + ":*"
}

func TestConformance(t *testing.T) {
	c := newClient(t)
	h := storetest.Bytes(func(t *testing.T) store.Store[string, []byte] {
		return open(t, c, nil)
	})
	h.Lacks = map[storetest.Capability]string{
		storetest.Expiry: "Redis expires keys by its own clock, which a test cannot move; TestTTL checks the PX each Set sends and the PTTL Redis reports",
	}
	storetest.Run(t, h)
}

// TestConformanceSmallScan runs the suite with SCAN fetching two keys at a
// time, so that Keys and Clear go through many batches.
func TestConformanceSmallScan(t *testing.T) {
	c := newClient(t)
	h := storetest.Bytes(func(t *testing.T) store.Store[string, []byte] {
		return open(t, c, &redisstore.Options{ScanCount: 2})
	})
	h.Lacks = map[storetest.Capability]string{
		storetest.Expiry: "Redis expires keys by its own clock, which a test cannot move; TestTTL checks it",
	}
	storetest.Run(t, h)
}

func TestNewOptions(t *testing.T) {
	t.Parallel()
	client := redis.NewClient(&redis.Options{Addr: redisAddr()}) // New does no I/O
	t.Cleanup(func() { _ = client.Close() })
	tests := []struct {
		name    string
		client  redis.UniversalClient
		give    *redisstore.Options
		wantNS  string
		wantErr string
	}{
		{name: "Nil", client: client, give: nil, wantNS: "cachestack"},
		{name: "Zero", client: client, give: &redisstore.Options{}, wantNS: redisstore.DefaultNamespace},
		{name: "Namespace", client: client, give: &redisstore.Options{Namespace: "myapp", ScanCount: 500}, wantNS: "myapp"},
		{name: "GlobNamespace", client: client, give: &redisstore.Options{Namespace: `a*b?[c]\d`}, wantNS: `a*b?[c]\d`},
		{name: "NilClient", give: nil, wantErr: "redisstore: client is nil"},
		{name: "NegativeScanCount", client: client, give: &redisstore.Options{ScanCount: -1}, wantErr: "redisstore: Options.ScanCount is -1, want >= 0"},
		{name: "ColonNamespace", client: client, give: &redisstore.Options{Namespace: "a:b"}, wantErr: `redisstore: Options.Namespace "a:b" contains ':', which would let it overlap other namespaces; use another separator, such as '-' or '/'`},
		{name: "ColonOnly", client: client, give: &redisstore.Options{Namespace: ":"}, wantErr: `redisstore: Options.Namespace ":" contains ':'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := redisstore.New(tt.client, tt.give)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				require.Nil(t, s)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantNS, s.Namespace())
			require.NoError(t, s.Close())
		})
	}
}

func TestNilTypedClient(t *testing.T) {
	t.Parallel()
	var c *redis.ClusterClient
	s, err := redisstore.New(c, nil)
	require.EqualError(t, err, "redisstore: client is a nil *redis.ClusterClient")
	require.Nil(t, s)
}

// recorder is a go-redis hook that records every command's arguments.
type recorder struct {
	mu   sync.Mutex
	cmds [][]any
}

func (r *recorder) DialHook(next redis.DialHook) redis.DialHook { return next }

func (r *recorder) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		r.mu.Lock()
		r.cmds = append(r.cmds, slices.Clone(cmd.Args()))
		r.mu.Unlock()
		return next(ctx, cmd)
	}
}

func (r *recorder) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		r.mu.Lock()
		for _, cmd := range cmds {
			r.cmds = append(r.cmds, slices.Clone(cmd.Args()))
		}
		r.mu.Unlock()
		return next(ctx, cmds)
	}
}

// take returns the commands recorded since the last take, as strings,
// leaving out those the client sends on each new connection.
func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.cmds))
	for _, args := range r.cmds {
		if n := fmt.Sprint(args[0]); n == "hello" || n == "client" || n == "auth" || n == "select" {
			continue
		}
		parts := make([]string, len(args))
		for j, a := range args {
			if b, ok := a.([]byte); ok {
				a = string(b)
			}
			parts[j] = fmt.Sprint(a)
		}
		out = append(out, strings.Join(parts, " "))
	}
	r.cmds = nil
	return out
}

// TestTTL checks what Set sends for each ttl, and what Redis then reports
// as the key's remaining time to live, without waiting for anything to
// expire (Redis' clock cannot be moved).
func TestTTL(t *testing.T) {
	c := newClient(t)
	rec := &recorder{}
	c.AddHook(rec)
	s := open(t, c, nil)
	ctx := t.Context()
	full := s.Namespace() + ":k"

	tests := []struct {
		name      string
		give      time.Duration
		wantArgs  string        // the SET command after "set <key> <value>"
		wantPTTL  time.Duration // upper bound of PTTL; -1 means no expiry
		wantAbove time.Duration // PTTL is above this
	}{
		{name: "Zero", give: 0, wantArgs: "", wantPTTL: -1},
		{name: "Minute", give: time.Minute, wantArgs: " px 60000", wantPTTL: time.Minute, wantAbove: 50 * time.Second},
		{name: "RoundsUp", give: 90*time.Second + time.Nanosecond, wantArgs: " px 90001", wantPTTL: 90001 * time.Millisecond, wantAbove: 80 * time.Second},
		{name: "SubMillisecond", give: 1500 * time.Microsecond, wantArgs: " px 2", wantPTTL: 2 * time.Millisecond, wantAbove: -3}, // may be gone already
		{name: "Nanosecond", give: time.Nanosecond, wantArgs: " px 1", wantPTTL: time.Millisecond, wantAbove: -3},
		{name: "Day", give: 24 * time.Hour, wantArgs: " px 86400000", wantPTTL: 24 * time.Hour, wantAbove: 24*time.Hour - 10*time.Second},
		{name: "ZeroAfterTTL", give: 0, wantArgs: "", wantPTTL: -1}, // the previous ttl is removed
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "ZeroAfterTTL" {
				require.NoError(t, s.Set(ctx, "k", []byte("v"), time.Hour))
				rec.take()
			}
			require.NoError(t, s.Set(ctx, "k", []byte("v"), tt.give))
			assert.Equal(t, []string{"set " + full + " v" + tt.wantArgs}, rec.take())
			pttl, err := c.PTTL(ctx, full).Result()
			require.NoError(t, err)
			rec.take()
			if tt.wantPTTL == -1 {
				assert.Equal(t, time.Duration(-1), pttl, "PTTL of a key set without ttl")
				return
			}
			// go-redis reports -2 (no key) as -2ns: the key expired already.
			assert.LessOrEqual(t, pttl, tt.wantPTTL, "PTTL")
			assert.Greater(t, pttl, tt.wantAbove, "PTTL")
			assert.NotEqual(t, time.Duration(-1), pttl, "a key set with a ttl has an expiry")
		})
	}

	t.Run("Negative", func(t *testing.T) {
		require.NoError(t, s.Set(ctx, "k", []byte("old"), 0))
		rec.take()
		err := s.Set(ctx, "k", []byte("new"), -time.Millisecond)
		require.ErrorIs(t, err, store.ErrNegativeTTL)
		var se *store.Error
		require.ErrorAs(t, err, &se)
		assert.Equal(t, "set", se.Op)
		assert.Empty(t, rec.take(), "a negative ttl sends nothing")
		got, err := s.Get(ctx, "k")
		require.NoError(t, err)
		assert.Equal(t, "old", string(got))
	})
}

// TestExpiredIsMiss makes Redis expire a key now, with PEXPIREAT in the
// past, and checks that Get reports a miss and Keys skips it.
func TestExpiredIsMiss(t *testing.T) {
	c := newClient(t)
	s := open(t, c, nil)
	ctx := t.Context()
	require.NoError(t, s.Set(ctx, "gone", []byte("v"), time.Hour))
	require.NoError(t, s.Set(ctx, "kept", []byte("v"), time.Hour))
	require.NoError(t, c.PExpireAt(ctx, s.Namespace()+":gone", time.Unix(1, 0)).Err())
	_, err := s.Get(ctx, "gone")
	require.ErrorIs(t, err, store.ErrNotFound)
	assert.Equal(t, []string{"kept"}, keys(t, s))
}

func keys(t testing.TB, s *redisstore.Store) []string {
	t.Helper()
	var out []string
	for k, err := range s.Keys(context.Background()) {
		require.NoError(t, err)
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestMissIsBareSentinel(t *testing.T) {
	c := newClient(t)
	s := open(t, c, nil)
	_, err := s.Get(t.Context(), "missing")
	assert.Same(t, store.ErrNotFound, err)
	allocs := testing.AllocsPerRun(20, func() { _, _ = s.Get(context.Background(), "missing") })
	t.Logf("allocations per miss, client included: %v", allocs)
}

func TestKeyLayout(t *testing.T) {
	c := newClient(t)
	s := open(t, c, nil)
	ctx := t.Context()
	require.NoError(t, s.Set(ctx, "GET https://example.com/", []byte("hello"), 0))
	got, err := c.Get(ctx, s.Namespace()+":GET https://example.com/").Result()
	require.NoError(t, err)
	assert.Equal(t, "hello", got, `the Redis key is "<namespace>:<key>"`)

	// A key put there by something else, in the layout, is the store's.
	require.NoError(t, c.Set(ctx, s.Namespace()+":raw", "by hand", 0).Err())
	v, err := s.Get(ctx, "raw")
	require.NoError(t, err)
	assert.Equal(t, "by hand", string(v))
	assert.Equal(t, []string{"GET https://example.com/", "raw"}, keys(t, s))

	// A key of another type is an error, not a miss.
	require.NoError(t, c.HSet(ctx, s.Namespace()+":hash", "f", "v").Err())
	_, err = s.Get(ctx, "hash")
	require.Error(t, err)
	assert.NotErrorIs(t, err, store.ErrNotFound)
	assert.ErrorContains(t, err, `redisstore get "hash": WRONGTYPE`)
}

// TestNamespaceIsolation: stores on the same server with different
// namespaces — including namespaces with glob characters that would match
// each other's keys if they were not escaped — see only their own keys,
// and Clear removes only its own.
func TestNamespaceIsolation(t *testing.T) {
	c := newClient(t)
	ctx := t.Context()
	base := namespace(t)
	names := []string{
		base + "-a",
		base + "-a*",       // unescaped, "<base>-a*:*" would match all of these
		base + "-ab",       //
		base + "-a?",       //
		base + "-[ab]",     //
		base + "-b",        //
		base + `-\b`,       //
		base + "-a*-other", //
	}
	stores := make([]*redisstore.Store, len(names))
	for i, ns := range names {
		stores[i] = open(t, c, &redisstore.Options{Namespace: ns, ScanCount: 3})
		for j := range 5 {
			require.NoError(t, stores[i].Set(ctx, fmt.Sprintf("k%d", j), []byte(ns), 0))
		}
		require.NoError(t, stores[i].Set(ctx, "only-"+fmt.Sprint(i), []byte(ns), 0))
	}
	// Something outside every namespace.
	outside := base + "-a*" // no ':' after it
	require.NoError(t, c.Set(ctx, outside, "x", 0).Err())
	t.Cleanup(func() { _ = c.Del(context.Background(), outside).Err() })

	for i, s := range stores {
		want := []string{"k0", "k1", "k2", "k3", "k4", "only-" + fmt.Sprint(i)}
		assert.Equal(t, want, keys(t, s), "Keys of namespace %q", names[i])
		v, err := s.Get(ctx, "k0")
		require.NoError(t, err)
		assert.Equal(t, names[i], string(v), "namespace %q reads its own value", names[i])
		_, err = s.Get(ctx, "only-"+fmt.Sprint((i+1)%len(stores)))
		assert.ErrorIs(t, err, store.ErrNotFound, "namespace %q sees another's key", names[i])
	}

	// Clear each in turn; the others keep all their keys.
	for i, s := range stores {
		require.NoError(t, s.Clear(ctx))
		assert.Empty(t, keys(t, s), "Keys of %q after its Clear", names[i])
		for j := i + 1; j < len(stores); j++ {
			assert.Len(t, keys(t, stores[j]), 6, "Keys of %q after Clear of %q", names[j], names[i])
		}
	}
	n, err := c.Exists(ctx, outside).Result()
	require.NoError(t, err)
	assert.Equal(t, int64(1), n, "Clear removed a key outside its namespace")
}

// TestKeysStreams: Keys fetches one SCAN batch at a time, and a loop that
// breaks sends no further SCAN.
func TestKeysStreams(t *testing.T) {
	c := newClient(t)
	rec := &recorder{}
	c.AddHook(rec)
	const n, count = 200, 10
	s := open(t, c, &redisstore.Options{ScanCount: count})
	ctx := t.Context()
	for i := range n {
		require.NoError(t, s.Set(ctx, fmt.Sprintf("key-%03d", i), []byte{byte(i)}, 0))
	}
	rec.take()

	seen := map[string]int{}
	for k, err := range s.Keys(ctx) {
		require.NoError(t, err)
		seen[k]++
	}
	assert.Len(t, seen, n)
	scans := rec.take()
	assert.Greater(t, len(scans), 5, "a full listing of %d keys with COUNT %d takes several SCANs", n, count)
	for _, cmd := range scans {
		assert.True(t, strings.HasPrefix(cmd, "scan "), "Keys sent %q", cmd)
		assert.Contains(t, cmd, fmt.Sprintf(" match %s:* count %d", s.Namespace(), count))
	}

	got := 0
	for k, err := range s.Keys(ctx) {
		require.NoError(t, err)
		assert.True(t, strings.HasPrefix(k, "key-"), "a key without the namespace: %q", k)
		got++
		if got == 3 {
			break
		}
	}
	assert.Equal(t, 3, got)
	assert.Len(t, rec.take(), 1, "breaking out during the first batch sends no further SCAN")

	// The store is usable after the break, and so is a new listing.
	require.NoError(t, s.Delete(ctx, "key-000"))
	assert.Len(t, keys(t, s), n-1)
}

// TestClearBatches: Clear removes many keys across SCAN batches with
// UNLINK, and nothing outside its namespace.
func TestClearBatches(t *testing.T) {
	c := newClient(t)
	rec := &recorder{}
	c.AddHook(rec)
	s := open(t, c, &redisstore.Options{ScanCount: 16})
	other := open(t, c, nil)
	ctx := t.Context()
	const n = 300
	for i := range n {
		require.NoError(t, s.Set(ctx, fmt.Sprint(i), []byte("v"), time.Hour))
	}
	require.NoError(t, other.Set(ctx, "0", []byte("other"), 0))
	rec.take()
	require.NoError(t, s.Clear(ctx))
	var unlinks int
	for _, cmd := range rec.take() {
		switch {
		case strings.HasPrefix(cmd, "scan "):
		case strings.HasPrefix(cmd, "unlink "):
			unlinks++
			assert.NotContains(t, cmd, other.Namespace())
		default:
			t.Errorf("Clear sent %q", cmd)
		}
	}
	assert.Greater(t, unlinks, 1, "Clear unlinks batch by batch")
	assert.Empty(t, keys(t, s))
	v, err := other.Get(ctx, "0")
	require.NoError(t, err)
	assert.Equal(t, "other", string(v))
}

// TestCancelledContext: with a done context nothing is sent, and the error
// unwraps to the context's.
func TestCancelledContext(t *testing.T) {
	c := newClient(t)
	rec := &recorder{}
	c.AddHook(rec)
	s := open(t, c, nil)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	rec.take()
	_, err := s.Get(ctx, "k")
	assert.ErrorIs(t, err, context.Canceled)
	assert.ErrorIs(t, s.Set(ctx, "k", []byte("v"), 0), context.Canceled)
	assert.ErrorIs(t, s.Delete(ctx, "k"), context.Canceled)
	assert.ErrorIs(t, s.Clear(ctx), context.Canceled)
	var errs []error
	for _, err := range s.Keys(ctx) {
		errs = append(errs, err)
	}
	require.Len(t, errs, 1)
	assert.ErrorIs(t, errs[0], context.Canceled)
	assert.Empty(t, rec.take(), "calls with a done context send nothing")

	dl, cancel2 := context.WithDeadline(t.Context(), time.Unix(1, 0))
	defer cancel2()
	_, err = s.Get(dl, "k")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

// TestCodecRoundTrip stores a cached response through codec.Bind.
func TestCodecRoundTrip(t *testing.T) {
	c := newClient(t)
	bs := open(t, c, nil)
	s := codec.Bind(bs, codec.Response())
	ctx := t.Context()
	t0 := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	give := &cached.Response{
		Method:     http.MethodGet,
		URL:        "https://api.example.com/v1/items/42?expand=owner",
		StatusCode: http.StatusOK,
		Proto:      "HTTP/1.1",
		Header: cached.NewHeader(http.Header{
			"Content-Type":  {"application/json"},
			"Cache-Control": {"max-age=300"},
			"Etag":          {`"abc"`},
			"Set-Cookie":    {"a=1", "b=2"},
		}),
		Body:         bytes.Repeat([]byte("0123456789abcdef"), 4096), // 64 KiB
		VaryHeader:   http.Header{"Accept-Encoding": {"gzip"}},
		RequestTime:  t0.Add(-250 * time.Millisecond),
		ResponseTime: t0.Add(-3 * time.Millisecond),
		Created:      t0,
		Expires:      t0.Add(300 * time.Second),
		InitialAge:   3 * time.Second,
	}

	_, err := s.Get(ctx, "GET /42")
	require.Same(t, store.ErrNotFound, err)
	require.NoError(t, s.Set(ctx, "GET /42", give, 5*time.Minute))
	got, err := s.Get(ctx, "GET /42")
	require.NoError(t, err)
	assert.Equal(t, give.Method, got.Method)
	assert.Equal(t, give.URL, got.URL)
	assert.Equal(t, give.StatusCode, got.StatusCode)
	assert.Equal(t, give.Proto, got.Proto)
	assert.Equal(t, give.Header, got.Header)
	assert.Equal(t, give.Body, got.Body)
	assert.Equal(t, give.VaryHeader, got.VaryHeader)
	assert.True(t, give.RequestTime.Equal(got.RequestTime), "RequestTime")
	assert.True(t, give.ResponseTime.Equal(got.ResponseTime), "ResponseTime")
	assert.True(t, give.Created.Equal(got.Created), "Created")
	assert.True(t, give.Expires.Equal(got.Expires), "Expires")
	assert.Equal(t, give.InitialAge, got.InitialAge)

	got.Body[0] = 'X' // the caller owns what Get returned
	again, err := s.Get(ctx, "GET /42")
	require.NoError(t, err)
	assert.Equal(t, give.Body, again.Body)

	pttl, err := c.PTTL(ctx, bs.Namespace()+":GET /42").Result()
	require.NoError(t, err)
	assert.Greater(t, pttl, 4*time.Minute, "the ttl reaches Redis through the codec")

	var listed []string
	for k, err := range s.Keys(ctx) {
		require.NoError(t, err)
		listed = append(listed, k)
	}
	assert.Equal(t, []string{"GET /42"}, listed)
	require.NoError(t, s.Clear(ctx))
	_, err = s.Get(ctx, "GET /42")
	require.ErrorIs(t, err, store.ErrNotFound)
}

// TestServerDown: a client of a port nobody listens on makes every call
// return an error — never ErrNotFound, never a panic.
func TestServerDown(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())

	c := redis.NewClient(testOptions(addr))
	t.Cleanup(func() { _ = c.Close() })
	s, err := redisstore.New(c, nil)
	require.NoError(t, err, "New does no I/O")
	ctx := t.Context()

	wantDown := func(err error, op string) {
		t.Helper()
		require.Error(t, err, op)
		assert.NotErrorIs(t, err, store.ErrNotFound, op)
		var se *store.Error
		require.ErrorAs(t, err, &se, op)
		assert.Equal(t, "redisstore", se.Store)
		assert.Equal(t, op, se.Op)
		assert.ErrorContains(t, err, "redisstore "+op)
	}
	_, err = s.Get(ctx, "k")
	wantDown(err, "get")
	wantDown(s.Set(ctx, "k", []byte("v"), time.Minute), "set")
	wantDown(s.Delete(ctx, "k"), "delete")
	wantDown(s.Clear(ctx), "clear")
	var errs []error
	for k, err := range s.Keys(ctx) {
		assert.Empty(t, k)
		errs = append(errs, err)
	}
	require.Len(t, errs, 1, "Keys yields one error")
	wantDown(errs[0], "keys")

	require.NoError(t, s.Close())
	_, err = s.Get(ctx, "k")
	assert.ErrorIs(t, err, store.ErrClosed)
}

// TestCloseLeavesClient: Close does not close the caller's client, and
// stores sharing it go on working.
func TestCloseLeavesClient(t *testing.T) {
	c := newClient(t)
	a := open(t, c, nil)
	b := open(t, c, nil)
	ctx := t.Context()
	require.NoError(t, a.Close())
	require.NoError(t, c.Ping(ctx).Err(), "the client is still open after Store.Close")
	require.NoError(t, b.Set(ctx, "k", []byte("v"), 0))
	_, err := a.Get(ctx, "k")
	assert.ErrorIs(t, err, store.ErrClosed)
	var se *store.Error
	require.ErrorAs(t, err, &se)
	assert.Equal(t, `redisstore get "k": store: closed`, err.Error())
}
