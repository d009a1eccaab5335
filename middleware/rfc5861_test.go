package middleware_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachestack/cachestack/middleware"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// failingTransport forwards to next until down is set, then fails every
// request as an unreachable origin would.
type failingTransport struct {
	next http.RoundTripper
	down atomic.Bool
}

var errUnreachable = errors.New("dial tcp: connection refused")

func (f *failingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if f.down.Load() {
		if r.Body != nil {
			r.Body.Close()
		}
		return nil, errUnreachable
	}
	return f.next.RoundTrip(r)
}

// TestStaleIfError is RFC 5861 §4, as a response directive, a request
// directive and a user option (StoreOptions.StaleIfError): when the origin
// cannot be reached or answers 5xx, a stale response within the window is
// served, marked stale; must-revalidate and no-cache forbid it (RFC 9111
// §4.2.4).
func TestStaleIfError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		respCC    string        // the stored response's Cache-Control
		reqCC     string        // the failing request's Cache-Control
		option    time.Duration // StoreOptions.StaleIfError
		failure   string        // "transport" or a status code
		at        time.Duration // since the response was stored (fresh for 10s)
		wantStale bool
		wantSts   string // Cache-Status when served stale
	}{
		{name: "directive, 500", respCC: "max-age=10, stale-if-error=60", failure: "500", at: 30 * time.Second, wantStale: true,
			wantSts: "cachestack; fwd=stale; fwd-status=500; detail=stale-if-error; ttl=-20"},
		{name: "directive, at the window's end", respCC: "max-age=10, stale-if-error=60", failure: "503", at: 70 * time.Second, wantStale: true},
		{name: "directive, past the window", respCC: "max-age=10, stale-if-error=60", failure: "500", at: 71 * time.Second},
		{name: "directive, transport error", respCC: "max-age=10, stale-if-error=60", failure: "transport", at: 30 * time.Second, wantStale: true,
			wantSts: "cachestack; fwd=stale; detail=stale-if-error; ttl=-20"},
		{name: "directive, transport error past the window", respCC: "max-age=10, stale-if-error=60", failure: "transport", at: 71 * time.Second},
		{name: "directive name case-insensitive", respCC: "max-age=10, Stale-If-Error=60", failure: "502", at: 30 * time.Second, wantStale: true},
		{name: "option, 502", respCC: "max-age=10", option: time.Minute, failure: "502", at: 30 * time.Second, wantStale: true},
		{name: "option, transport error", respCC: "max-age=10", option: time.Minute, failure: "transport", at: 30 * time.Second, wantStale: true},
		{name: "option, past the window", respCC: "max-age=10", option: time.Minute, failure: "500", at: 71 * time.Second},
		{name: "request directive", respCC: "max-age=10", reqCC: "stale-if-error=60", failure: "500", at: 30 * time.Second, wantStale: true},
		{name: "request directive past its window", respCC: "max-age=10", reqCC: "stale-if-error=5", option: time.Minute, failure: "500", at: 30 * time.Second},
		{name: "the response directive takes the option's place", respCC: "max-age=10, stale-if-error=5", option: time.Minute, failure: "500", at: 30 * time.Second},
		{name: "must-revalidate forbids it", respCC: "max-age=10, must-revalidate", option: time.Minute, failure: "500", at: 30 * time.Second},
		{name: "must-revalidate beats the directive", respCC: "max-age=10, must-revalidate, stale-if-error=60", failure: "transport", at: 30 * time.Second},
		{name: "no-cache forbids it", respCC: "max-age=10, no-cache", option: time.Minute, failure: "500", at: 30 * time.Second},
		{name: "404 is not an error", respCC: "max-age=10, stale-if-error=60", failure: "404", at: 30 * time.Second},
		{name: "nothing allows it", respCC: "max-age=10", failure: "500", at: 30 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newClock()
			var status atomic.Int64
			status.Store(200)
			o := newOrigin(t, dated(c, func(w http.ResponseWriter, r *http.Request) {
				if s := int(status.Load()); s != 200 {
					w.WriteHeader(s)
					io.WriteString(w, "error page")
					return
				}
				w.Header().Set("Cache-Control", tt.respCC)
				w.Header().Set("Etag", `"a"`)
				io.WriteString(w, "good")
			}))
			next := &failingTransport{next: testTransport(t)}
			rt, _ := newCCStack(t, c, ccOptions{next: next, store: &middleware.StoreOptions{StaleIfError: tt.option, KeepStale: time.Hour}})
			fetch(t, rt, o, o.URL, nil)
			c.Advance(tt.at)
			if tt.failure == "transport" {
				next.down.Store(true)
			} else {
				var code int
				fmt.Sscan(tt.failure, &code)
				status.Store(int64(code))
			}
			req := mustRequest(t, context.Background(), http.MethodGet, o.URL, nil)
			if tt.reqCC != "" {
				req.Header.Set("Cache-Control", tt.reqCC)
			}
			resp, err := rt.RoundTrip(req)
			if !tt.wantStale {
				if tt.failure == "transport" {
					assert.ErrorIs(t, err, errUnreachable)
					assert.Nil(t, resp)
					return
				}
				require.NoError(t, err)
				defer resp.Body.Close()
				assert.Equal(t, tt.failure, fmt.Sprint(resp.StatusCode), "the origin's answer passes through")
				assert.False(t, middleware.InfoOf(resp).FromCache)
				return
			}
			require.NoError(t, err)
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, "good", string(b))
			info := middleware.InfoOf(resp)
			assert.True(t, info.FromCache)
			assert.True(t, info.Stale)
			assert.Contains(t, resp.Header.Get("Cache-Status"), "detail=stale-if-error")
			if tt.wantSts != "" {
				assert.Equal(t, tt.wantSts, resp.Header.Get("Cache-Status"))
			}
		})
	}
}

// swrOrigin serves "v1" with max-age=10, stale-while-revalidate=60 and an
// ETag; conditional requests (the background refreshes) are announced on
// revalidating, then wait for release before answering 304 with a new
// X-Version.
type swrOrigin struct {
	*origin
	revalidating chan string
	release      chan struct{}
	aborted      chan struct{} // a refresh was cancelled while it waited
	conditional  atomic.Int64
}

func newSWROrigin(t *testing.T, c *clock) *swrOrigin {
	s := &swrOrigin{revalidating: make(chan string, 100), release: make(chan struct{}), aborted: make(chan struct{}, 100)}
	s.origin = newOrigin(t, dated(c, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=10, stale-while-revalidate=60")
		w.Header().Set("Etag", `"a"`)
		if r.Header.Get("If-None-Match") == "" {
			w.Header().Set("X-Version", "1")
			io.WriteString(w, "v1 of "+r.URL.Path)
			return
		}
		s.conditional.Add(1)
		s.revalidating <- r.URL.Path
		select {
		case <-s.release:
		case <-r.Context().Done():
			s.aborted <- struct{}{}
			return
		case <-time.After(10 * time.Second): // a test that never releases fails rather than hangs
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Date", httpDate(c.Now()))
		w.Header().Set("X-Version", "2")
		w.WriteHeader(http.StatusNotModified)
	}))
	return s
}

// TestStaleWhileRevalidate is RFC 5861 §3: within the window a stale
// response is served at once, marked stale, and refreshed in the
// background: one refresh per key however many callers, detached from the
// caller's context; afterwards the refreshed response is served fresh.
func TestStaleWhileRevalidate(t *testing.T) {
	t.Parallel()
	c := newClock()
	o := newSWROrigin(t, c)
	w := newWorkers(t, 4)
	rt, counters := newCCStack(t, c, ccOptions{cc: &middleware.CacheControlOptions{Workers: w}})
	fetch(t, rt, o.origin, o.URL+"/p", nil)
	c.Advance(20 * time.Second)

	ctx, cancel := context.WithCancel(context.Background())
	resp, body, contacted := fetchCtx(t, ctx, rt, o.origin, o.URL+"/p", nil)
	cancel() // the caller is gone; the refresh is not
	assert.Equal(t, "v1 of /p", body)
	assert.True(t, middleware.InfoOf(resp).Stale)
	assert.True(t, middleware.InfoOf(resp).FromCache)
	assert.Equal(t, "cachestack; hit; detail=stale-while-revalidate; ttl=-10", resp.Header.Get("Cache-Status"))
	assert.Equal(t, "1", resp.Header.Get("X-Version"))
	_ = contacted // the background refresh may already have reached the origin
	assert.Equal(t, "/p", receive(t, o.revalidating), "the refresh is conditional")

	// While it runs, other callers are served stale and start no refresh.
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			resp, err := rt.RoundTrip(mustRequest(t, context.Background(), http.MethodGet, o.URL+"/p", nil))
			if assert.NoError(t, err) {
				assert.True(t, middleware.InfoOf(resp).Stale)
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int64(1), o.conditional.Load(), "one refresh per key")
	assert.Equal(t, int64(1), counters.Refreshes.Load())

	close(o.release)
	require.Eventually(t, func() bool { return counters.Revalidated.Load() == 1 }, 10*time.Second, time.Millisecond)
	resp, body, contacted = fetch(t, rt, o.origin, o.URL+"/p", nil)
	assert.False(t, contacted)
	assert.Equal(t, "v1 of /p", body)
	assert.Equal(t, "2", resp.Header.Get("X-Version"), "the refreshed fields are served")
	assert.False(t, middleware.InfoOf(resp).Stale)
}

// TestStaleWhileRevalidateLimits: past the window, without Workers, or
// with must-revalidate, the stale response is revalidated before it is
// served; with every worker busy it is served stale without a refresh.
func TestStaleWhileRevalidateLimits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		workers   bool
		at        time.Duration
		respExtra string
		wantStale bool
	}{
		{name: "within the window", workers: true, at: 70 * time.Second, wantStale: true},
		{name: "past the window", workers: true, at: 71 * time.Second},
		{name: "without Workers", at: 20 * time.Second},
		{name: "must-revalidate", workers: true, at: 20 * time.Second, respExtra: ", must-revalidate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newClock()
			o := newOrigin(t, dated(c, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "max-age=10, stale-while-revalidate=60"+tt.respExtra)
				w.Header().Set("Etag", `"a"`)
				if r.Header.Get("If-None-Match") != "" {
					w.WriteHeader(http.StatusNotModified)
					return
				}
				io.WriteString(w, "v1")
			}))
			opts := &middleware.CacheControlOptions{}
			if tt.workers {
				opts.Workers = newWorkers(t, 4)
			}
			rt, counters := newCCStack(t, c, ccOptions{cc: opts})
			fetch(t, rt, o, o.URL, nil)
			c.Advance(tt.at)
			resp, body, _ := fetch(t, rt, o, o.URL, nil)
			assert.Equal(t, "v1", body)
			assert.Equal(t, tt.wantStale, middleware.InfoOf(resp).Stale)
			if !tt.wantStale {
				assert.Equal(t, int64(1), counters.Revalidated.Load(), "revalidated before it was served")
				assert.Zero(t, counters.Refreshes.Load())
			}
		})
	}
}

// TestStaleWhileRevalidateBounded: the refreshes are bounded by the
// number of workers; a stale request finding none free is still served
// stale, and a later one starts the refresh.
func TestStaleWhileRevalidateBounded(t *testing.T) {
	t.Parallel()
	c := newClock()
	o := newSWROrigin(t, c)
	rt, counters := newCCStack(t, c, ccOptions{cc: &middleware.CacheControlOptions{Workers: newWorkers(t, 1)}})
	fetch(t, rt, o.origin, o.URL+"/a", nil)
	fetch(t, rt, o.origin, o.URL+"/b", nil)
	c.Advance(20 * time.Second)

	resp, _ := get(t, rt, o.URL+"/a")
	assert.True(t, middleware.InfoOf(resp).Stale)
	assert.Equal(t, "/a", receive(t, o.revalidating))
	resp, _ = get(t, rt, o.URL+"/b")
	assert.True(t, middleware.InfoOf(resp).Stale, "served stale without a worker")
	assert.Equal(t, int64(1), counters.Refreshes.Load(), "no second refresh while the only worker is busy")

	close(o.release)
	require.Eventually(t, func() bool { return counters.Revalidated.Load() == 1 }, 10*time.Second, time.Millisecond)
	require.Eventually(t, func() bool {
		resp, _ := get(t, rt, o.URL+"/b") // the worker is free once /a's refresh returns
		return counters.Refreshes.Load() == 2 && middleware.InfoOf(resp).Stale
	}, 10*time.Second, time.Millisecond)
	assert.Equal(t, "/b", receive(t, o.revalidating))
}

// TestWorkersCloseStopsRefreshes: Close cancels a background refresh that
// is waiting on the origin and returns once it has stopped; no goroutine
// is left behind, and later stale requests start none.
func TestWorkersCloseStopsRefreshes(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	c := newClock()
	o := newSWROrigin(t, c)
	tr := &http.Transport{}
	w, err := middleware.NewWorkers(2)
	require.NoError(t, err)
	rt, counters := newCCStack(t, c, ccOptions{next: tr, cc: &middleware.CacheControlOptions{Workers: w}})
	fetch(t, rt, o.origin, o.URL+"/p", nil)
	c.Advance(20 * time.Second)
	resp, _ := get(t, rt, o.URL+"/p")
	assert.True(t, middleware.InfoOf(resp).Stale)
	receive(t, o.revalidating) // the refresh is blocked at the origin

	require.NoError(t, w.Close())
	require.NoError(t, w.Close(), "Close is idempotent")
	receive(t, o.aborted) // Close cancelled the refresh rather than waiting it out
	assert.Zero(t, counters.Revalidated.Load(), "the refresh was cancelled")

	resp, _ = get(t, rt, o.URL+"/p")
	assert.True(t, middleware.InfoOf(resp).Stale, "still served stale after Close")
	assert.Equal(t, int64(1), counters.Refreshes.Load(), "no refresh after Close")

	tr.CloseIdleConnections()
	o.Close()
	goleak.VerifyNone(t, ignore)
}

// receive waits a bounded time for a value from ch.
func receive[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting on the origin")
		var zero T
		return zero
	}
}
