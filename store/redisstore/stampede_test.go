package redisstore_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack"
	"github.com/cachestack/cachestack/codec"
	"github.com/cachestack/cachestack/middleware"
	"github.com/cachestack/cachestack/store/memstore"
	"github.com/cachestack/cachestack/store/redisstore"
	"github.com/cachestack/cachestack/store/tierstore"
)

// countingOrigin answers every path with its name and the header its
// test sets, counting requests per path. The first request for a path
// waits at the gate, when there is one, before it is answered; the gate
// opens at the end of the test at the latest.
type countingOrigin struct {
	*httptest.Server
	mu     sync.Mutex
	hits   map[string]int
	header http.Header
	gate   chan struct{}            // nil: no gate
	hold   func(path string, n int) // called before the n-th request for path is answered
	ends   chan struct{}            // closed when the test ends
	seen   chan string              // each request's path, as it arrives
	times  []time.Time              // when each request arrived
}

func newCountingOrigin(t *testing.T, header http.Header, gated bool) *countingOrigin {
	return newHoldingOrigin(t, header, gated, nil)
}

// newHoldingOrigin is newCountingOrigin with a hold, called before each
// request is answered.
func newHoldingOrigin(t *testing.T, header http.Header, gated bool, hold func(path string, n int)) *countingOrigin {
	o := &countingOrigin{hits: map[string]int{}, header: header, ends: make(chan struct{}), seen: make(chan string, 1024), hold: hold}
	if gated {
		o.gate = make(chan struct{})
	}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		o.hits[r.URL.Path]++
		n := o.hits[r.URL.Path]
		o.times = append(o.times, time.Now())
		o.mu.Unlock()
		o.seen <- r.URL.Path
		if o.gate != nil && n == 1 {
			select {
			case <-o.gate:
			case <-o.ends:
			case <-r.Context().Done():
				return
			}
		}
		if o.hold != nil {
			o.hold(r.URL.Path, n)
		}
		for k, v := range o.header {
			w.Header()[k] = v
		}
		if len(r.Header["Authorization"]) > 0 {
			w.Header().Set("Cache-Control", "private, max-age=60")
		}
		_, _ = io.WriteString(w, "body of "+r.URL.Path+" #"+strconv.Itoa(n))
	}))
	t.Cleanup(func() {
		close(o.ends)
		o.Server.CloseClientConnections()
		o.Server.Close()
	})
	return o
}

func (o *countingOrigin) count(path string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.hits[path]
}

// arrived waits until a request for path has reached the origin.
func (o *countingOrigin) arrived(t *testing.T, path string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case p := <-o.seen:
			if p == path {
				return
			}
		case <-timeout:
			t.Fatalf("no request for %s reached the origin", path)
		}
	}
}

// leaseCache is a cache over the namespace ns of c, as another process
// would open it, coalescing across processes with lo.
func leaseCache(t *testing.T, c redis.UniversalClient, ns string, lo *middleware.LeaseOptions) *cachestack.Cache {
	t.Helper()
	s, err := redisstore.New(c, &redisstore.Options{Namespace: ns})
	require.NoError(t, err)
	transport := &http.Transport{}
	t.Cleanup(transport.CloseIdleConnections)
	cache, err := cachestack.New(&cachestack.Options{
		Store: codec.Bind(s, codec.Response()), Transport: transport,
		Coalesce: true, CoalesceAcrossProcesses: lo,
		// A loaded machine, or the race detector, can make a lookup
		// miss the default deadline; these tests are about leases.
		GetTimeout: 2 * time.Second, SetTimeout: 2 * time.Second, DeleteTimeout: 2 * time.Second,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = cache.Close() })
	return cache
}

type result struct {
	body string
	resp *http.Response
	err  error
}

// get sends a GET of url with header h through cache, in the background.
func get(ctx context.Context, cache *cachestack.Cache, url string, h http.Header) <-chan result {
	out := make(chan result, 1)
	go func() {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			out <- result{err: err}
			return
		}
		for k, v := range h {
			req.Header[k] = v
		}
		resp, err := cache.RoundTrip(req)
		if err != nil {
			out <- result{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		out <- result{body: string(b), resp: resp, err: err}
	}()
	return out
}

// waiting waits until cache has a miss waiting for another's lease.
func waiting(t *testing.T, cache *cachestack.Cache) {
	t.Helper()
	require.Eventually(t, func() bool { return cache.Counters().LeaseWaits.Load() > 0 }, 10*time.Second, time.Millisecond,
		"the second cache never waited for the first's lease")
}

// TestLeaseShares: two caches over one Redis namespace, as two processes
// would have; while the first fetches, the second waits for its lease and
// is answered from the store: the origin sees one request.
func TestLeaseShares(t *testing.T) {
	c := newClient(t)
	ns := open(t, c, nil).Namespace()
	o := newCountingOrigin(t, http.Header{"Cache-Control": {"max-age=60"}}, true)
	lo := &middleware.LeaseOptions{TTL: 10 * time.Second, MaxWait: 10 * time.Second}
	a, b := leaseCache(t, c, ns, lo), leaseCache(t, c, ns, lo)

	ra := get(t.Context(), a, o.URL+"/x", nil)
	o.arrived(t, "/x")
	rb := get(t.Context(), b, o.URL+"/x", nil)
	waiting(t, b)
	close(o.gate)
	for _, r := range []result{<-ra, <-rb} {
		require.NoError(t, r.err)
		assert.Equal(t, "body of /x #1", r.body)
	}
	assert.Equal(t, 1, o.count("/x"), "the origin saw one request")
	assert.EqualValues(t, 1, b.Counters().LeaseHits.Load(), "the second cache answered from the store")
	assert.True(t, cachestack.InfoOf((<-get(t.Context(), b, o.URL+"/x", nil)).resp).FromCache)
	assert.Zero(t, a.Counters().LeaseErrors.Load()+b.Counters().LeaseErrors.Load())
}

// TestLeaseReleasedWithoutEntry: a response that is not stored releases
// the lease at once; the waiter fetches its own without waiting out
// MaxWait.
func TestLeaseReleasedWithoutEntry(t *testing.T) {
	for _, tt := range []struct {
		name   string
		header http.Header
	}{
		{"no-store", http.Header{"Cache-Control": {"no-store"}}},
		{"vary-star", http.Header{"Cache-Control": {"max-age=60"}, "Vary": {"*"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t)
			ns := open(t, c, nil).Namespace()
			o := newCountingOrigin(t, tt.header, true)
			lo := &middleware.LeaseOptions{TTL: time.Minute, MaxWait: time.Minute}
			a, b := leaseCache(t, c, ns, lo), leaseCache(t, c, ns, lo)
			ra := get(t.Context(), a, o.URL+"/x", nil)
			o.arrived(t, "/x")
			rb := get(t.Context(), b, o.URL+"/x", nil)
			waiting(t, b)
			close(o.gate)
			r := <-ra
			require.NoError(t, r.err)
			assert.Equal(t, "body of /x #1", r.body)
			r = <-rb
			require.NoError(t, r.err)
			assert.Equal(t, "body of /x #2", r.body, "the waiter fetched its own")
			assert.Equal(t, 2, o.count("/x"))
			assert.Zero(t, b.Counters().LeaseTimeouts.Load(), "released at once, not waited out")
			assert.Zero(t, b.Counters().LeaseHits.Load())
		})
	}
}

// TestLeaseSetCookie: a response that sets a cookie is stored without
// it; a waiter is answered with the stored response, which sets none, as
// a later hit would be: the holder's cookie reaches no one else.
func TestLeaseSetCookie(t *testing.T) {
	c := newClient(t)
	ns := open(t, c, nil).Namespace()
	o := newCountingOrigin(t, http.Header{"Cache-Control": {"max-age=60"}, "Set-Cookie": {"session=holder"}}, true)
	lo := &middleware.LeaseOptions{TTL: time.Minute, MaxWait: time.Minute}
	a, b := leaseCache(t, c, ns, lo), leaseCache(t, c, ns, lo)
	ra := get(t.Context(), a, o.URL+"/x", nil)
	o.arrived(t, "/x")
	rb := get(t.Context(), b, o.URL+"/x", nil)
	waiting(t, b)
	close(o.gate)
	r := <-ra
	require.NoError(t, r.err)
	assert.Equal(t, "session=holder", r.resp.Header.Get("Set-Cookie"), "the holder gets its cookie")
	r = <-rb
	require.NoError(t, r.err)
	assert.Equal(t, "body of /x #1", r.body)
	assert.Empty(t, r.resp.Header.Values("Set-Cookie"), "the waiter does not get the holder's cookie")
	assert.Equal(t, 1, o.count("/x"))
}

// TestLeaseNotForCredentials: requests with credentials take no lease,
// as they are not coalesced within a process: each caller's goes to the
// origin.
func TestLeaseNotForCredentials(t *testing.T) {
	c := newClient(t)
	ns := open(t, c, nil).Namespace()
	o := newCountingOrigin(t, http.Header{"Cache-Control": {"max-age=60"}}, true)
	lo := &middleware.LeaseOptions{TTL: time.Minute, MaxWait: time.Minute}
	a, b := leaseCache(t, c, ns, lo), leaseCache(t, c, ns, lo)
	ra := get(t.Context(), a, o.URL+"/x", http.Header{"Authorization": {"Bearer a"}})
	o.arrived(t, "/x")
	rb := get(t.Context(), b, o.URL+"/x", http.Header{"Authorization": {"Bearer a"}})
	o.arrived(t, "/x") // while the first is still held at the gate
	close(o.gate)
	require.NoError(t, (<-ra).err)
	require.NoError(t, (<-rb).err)
	assert.Equal(t, 2, o.count("/x"))
	assert.Zero(t, b.Counters().LeaseWaits.Load())
}

// TestLeaseWaitBounded: a waiter never waits past its own context, nor
// past MaxWait, whatever the holder does.
func TestLeaseWaitBounded(t *testing.T) {
	c := newClient(t)
	ns := open(t, c, nil).Namespace()
	o := newCountingOrigin(t, http.Header{"Cache-Control": {"max-age=60"}}, true) // the holder's fetch never ends
	holder := leaseCache(t, c, ns, &middleware.LeaseOptions{TTL: time.Minute, MaxWait: time.Minute})
	_ = get(t.Context(), holder, o.URL+"/x", nil)
	o.arrived(t, "/x")

	t.Run("context", func(t *testing.T) {
		b := leaseCache(t, c, ns, &middleware.LeaseOptions{TTL: time.Minute, MaxWait: time.Minute})
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		r := <-get(ctx, b, o.URL+"/x", nil)
		t.Logf("a caller with a 200ms deadline returned after %v", time.Since(start))
		require.ErrorIs(t, r.err, context.DeadlineExceeded)
		assert.EqualValues(t, 1, b.Counters().LeaseWaits.Load())
		require.NoError(t, b.Close()) // waits for its background work: the shared request's wait included
		assert.Equal(t, 1, o.count("/x"), "it gave up waiting; nothing fetched for it after")
	})
	t.Run("max wait", func(t *testing.T) {
		b := leaseCache(t, c, ns, &middleware.LeaseOptions{TTL: time.Minute, MaxWait: 100 * time.Millisecond})
		r := <-get(t.Context(), b, o.URL+"/x", nil)
		require.NoError(t, r.err)
		assert.Equal(t, "body of /x #2", r.body, "it waited MaxWait, then fetched on its own")
		assert.EqualValues(t, 1, b.Counters().LeaseTimeouts.Load())
	})
}

// TestLeaseFailsOpen: when the lease cannot be taken (the back store is
// down), the request goes to the origin and succeeds, counted.
func TestLeaseFailsOpen(t *testing.T) {
	down := redis.NewClient(testOptions("127.0.0.1:1")) // nothing listens there
	t.Cleanup(func() { _ = down.Close() })
	back, err := redisstore.New(down, nil)
	require.NoError(t, err)
	front, err := memstore.New[string, []byte](nil)
	require.NoError(t, err)
	tier, err := tierstore.New[string, []byte](front, back, nil)
	require.NoError(t, err)
	o := newCountingOrigin(t, http.Header{"Cache-Control": {"max-age=60"}}, false)
	cache, err := cachestack.New(&cachestack.Options{
		Store: codec.Bind(tier, codec.Response()), Coalesce: true,
		CoalesceAcrossProcesses: &middleware.LeaseOptions{}, Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = cache.Close(); _ = tier.Close() })
	r := <-get(t.Context(), cache, o.URL+"/x", nil)
	require.NoError(t, r.err)
	assert.Equal(t, "body of /x #1", r.body)
	assert.EqualValues(t, 1, cache.Counters().LeaseErrors.Load())
}
