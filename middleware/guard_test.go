package middleware_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/internal/faultstore"
	"github.com/cachestack/cachestack/middleware"
	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/memstore"
)

// fakeOrigin answers every request at once with a fresh, cacheable body;
// it runs inside a synctest bubble, where a real server could not.
type fakeOrigin struct {
	hits  atomic.Int64
	delay time.Duration
}

func (o *fakeOrigin) RoundTrip(req *http.Request) (*http.Response, error) {
	o.hits.Add(1)
	if o.delay > 0 {
		select {
		case <-time.After(o.delay):
		case <-req.Context().Done():
			return nil, req.Context().Err()
		}
	}
	body := "body of " + req.URL.Path
	return &http.Response{
		StatusCode: http.StatusOK, Status: "200 OK", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Cache-Control": {"max-age=60"}, "Content-Length": {strconv.Itoa(len(body))}},
		Body:          io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)), Request: req,
	}, nil
}

func faulty(t *testing.T) *faultstore.Store {
	t.Helper()
	m, err := memstore.New[string, *cached.Response](nil)
	require.NoError(t, err)
	return faultstore.New(m)
}

// timed makes one GET through rt and reads the body to the end, returning
// it and how long the whole took.
func timed(t *testing.T, rt http.RoundTripper, url string) (string, time.Duration) {
	t.Helper()
	start := time.Now()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	resp, err := rt.RoundTrip(req)
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	resp.Body.Close()
	return string(b), time.Since(start)
}

func TestHangingGetIsAMissAtItsDeadline(t *testing.T) {
	for _, honour := range []bool{false, true} {
		t.Run(map[bool]string{false: "ignores context", true: "honours context"}[honour], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := faulty(t)
				s.SetMode(faultstore.Mode{HangGet: true, HonourContext: honour})
				w, err := middleware.NewWorkers(0)
				require.NoError(t, err)
				n := new(middleware.Counters)
				st, err := middleware.Store(s, &middleware.StoreOptions{Logger: quiet, Counters: n, Workers: w, GetTimeout: 30 * time.Millisecond})
				require.NoError(t, err)
				o := &fakeOrigin{}
				body, took := timed(t, st(o), "http://origin.test/x")
				assert.Equal(t, "body of /x", body)
				assert.Equal(t, 30*time.Millisecond, took, "the lookup waited its deadline, no more")
				assert.EqualValues(t, 1, o.hits.Load())
				assert.EqualValues(t, 1, n.StoreTimeouts.Load())
				s.Release()
				require.NoError(t, w.Close())
			})
		})
	}
}

func TestCloseReturnsWhileACallIsStuck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := faulty(t)
		s.SetMode(faultstore.Mode{HangGet: true})
		w, err := middleware.NewWorkersWith(&middleware.WorkersOptions{CloseWait: 200 * time.Millisecond})
		require.NoError(t, err)
		st, err := middleware.Store(s, &middleware.StoreOptions{Logger: quiet, Workers: w})
		require.NoError(t, err)
		timed(t, st(&fakeOrigin{}), "http://origin.test/x")
		assert.Equal(t, 1, w.StuckCalls())
		start := time.Now()
		require.NoError(t, w.Close())
		assert.Equal(t, 200*time.Millisecond, time.Since(start), "Close waits CloseWait for the stuck call, then returns")
		s.Release()
	})
}

func TestHangingSetNeverHoldsTheBody(t *testing.T) {
	for _, withWorkers := range []bool{true, false} {
		t.Run(map[bool]string{true: "write-back", false: "no workers"}[withWorkers], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := faulty(t)
				s.SetMode(faultstore.Mode{HangSet: true})
				w, err := middleware.NewWorkers(0)
				require.NoError(t, err)
				o := &middleware.StoreOptions{Logger: quiet, Counters: new(middleware.Counters), SetTimeout: 100 * time.Millisecond}
				if withWorkers {
					o.Workers = w
				}
				st, err := middleware.Store(s, o)
				require.NoError(t, err)
				body, took := timed(t, st(&fakeOrigin{}), "http://origin.test/x")
				assert.Equal(t, "body of /x", body)
				if withWorkers {
					assert.Zero(t, took, "the write is made in the background")
					time.Sleep(100 * time.Millisecond) // in the bubble: the write's deadline passes
				} else {
					assert.Equal(t, 100*time.Millisecond, took, "the write waits its deadline, no more")
				}
				require.NoError(t, w.Close())
				assert.EqualValues(t, 1, o.Counters.StoreTimeouts.Load())
				s.Release()
			})
		})
	}
}

func TestWriteBackReadsItsOwnWrites(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := faulty(t)
		s.SetMode(faultstore.Mode{HangSet: true, HonourContext: true})
		w, err := middleware.NewWorkers(0)
		require.NoError(t, err)
		n := new(middleware.Counters)
		st, err := middleware.Store(s, &middleware.StoreOptions{Logger: quiet, Counters: n, Workers: w, SetTimeout: time.Second})
		require.NoError(t, err)
		o := &fakeOrigin{}
		rt := st(o)
		timed(t, rt, "http://origin.test/x")
		body, _ := timed(t, rt, "http://origin.test/x")
		assert.Equal(t, "body of /x", body)
		assert.EqualValues(t, 1, o.hits.Load(), "the queued write answers the second request")
		assert.EqualValues(t, 1, n.Hits.Load())
		s.Release()
		require.NoError(t, w.Close())
		assert.EqualValues(t, 1, n.Stored.Load())
	})
}

func TestWriteBackDropsWhatDoesNotFit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := faulty(t)
		s.SetMode(faultstore.Mode{HangSet: true, HonourContext: true})
		w, err := middleware.NewWorkers(0)
		require.NoError(t, err)
		n := new(middleware.Counters)
		st, err := middleware.Store(s, &middleware.StoreOptions{Logger: quiet, Counters: n, Workers: w, Writers: 1, WriteQueue: 1, SetTimeout: time.Second})
		require.NoError(t, err)
		rt := st(&fakeOrigin{})
		for _, p := range []string{"/a", "/b", "/c", "/d"} {
			_, took := timed(t, rt, "http://origin.test"+p)
			assert.Zero(t, took)
			synctest.Wait() // the writer has taken what it can
		}
		// /a is being written, /b waits in the queue, /c and /d do not fit.
		assert.EqualValues(t, 2, n.WritesDropped.Load())
		s.Release()
		require.NoError(t, w.Close())
		assert.EqualValues(t, 2, n.Stored.Load())
	})
}

func TestPanickingStoreIsAMiss(t *testing.T) {
	for _, inline := range []bool{true, false} {
		t.Run(map[bool]string{true: "in-memory store", false: "store that may block"}[inline], func(t *testing.T) {
			t.Parallel()
			m, err := memstore.New[string, *cached.Response](nil)
			require.NoError(t, err)
			var s interface {
				SetMode(faultstore.Mode)
			}
			var mw middleware.Middleware
			n := new(middleware.Counters)
			opts := &middleware.StoreOptions{Logger: quiet, Counters: n, Breaker: &middleware.BreakerOptions{Failures: -1}}
			if inline {
				p := &panicky{Store: faultstore.New(m)}
				s = p
				mw, err = middleware.Store(p, opts)
			} else {
				f := faultstore.New(m)
				s = f
				mw, err = middleware.Store(f, opts)
			}
			require.NoError(t, err)
			s.SetMode(faultstore.Mode{PanicGet: true, PanicSet: true})
			o := newOrigin(t, nil)
			rt := mw(testTransport(t))
			for range 3 {
				_, body := get(t, rt, o.URL+"/x")
				assert.Equal(t, "body of /x", body)
			}
			assert.EqualValues(t, 6, n.StorePanics.Load(), "three gets and three sets")
			assert.EqualValues(t, 3, o.hits.Load())
		})
	}
}

// panicky is a faultstore that declares it never blocks, so the cache
// calls it on the request's goroutine.
type panicky struct{ *faultstore.Store }

func (*panicky) NeverBlocks() bool { return true }

func TestBreakerOpensProbesAndCloses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := faulty(t)
		s.SetMode(faultstore.Mode{FailRate: 1})
		var logs syncBuffer
		mon := new(middleware.Monitor)
		n := new(middleware.Counters)
		st, err := middleware.Store(s, &middleware.StoreOptions{
			Logger: slog.New(slog.NewTextHandler(&logs, nil)), Counters: n, Monitor: mon,
			Breaker: &middleware.BreakerOptions{Failures: 3, OpenFor: time.Second},
		})
		require.NoError(t, err)
		o := &fakeOrigin{}
		rt := st(o)
		for range 10 {
			body, _ := timed(t, rt, "http://origin.test/x")
			assert.Equal(t, "body of /x", body)
		}
		assert.EqualValues(t, 3, s.Calls.Load(), "three failures in a row open the breaker; then the store is skipped")
		assert.Equal(t, "open", mon.Stats().Breaker.State)
		assert.EqualValues(t, 17, n.StoreSkipped.Load())
		assert.Equal(t, 1, strings.Count(logs.String(), "event=breaker_open"))
		assert.Equal(t, 1, strings.Count(logs.String(), "event=store_error"), "store errors are rate-limited")

		time.Sleep(time.Second) // the back-off, in the bubble's clock
		timed(t, rt, "http://origin.test/x")
		assert.EqualValues(t, 4, s.Calls.Load(), "one probe")
		assert.Equal(t, "open", mon.Stats().Breaker.State, "the failed probe opens it again")
		assert.Equal(t, 2*time.Second, time.Until(mon.Stats().Breaker.RetryAt), "for twice as long")

		s.SetMode(faultstore.Mode{})
		time.Sleep(2 * time.Second)
		timed(t, rt, "http://origin.test/x") // probe get succeeds (a miss); the set is made too
		assert.Equal(t, "closed", mon.Stats().Breaker.State)
		assert.Contains(t, logs.String(), "event=breaker_closed")
		body, _ := timed(t, rt, "http://origin.test/x")
		assert.Equal(t, "body of /x", body)
		assert.EqualValues(t, 1, n.Hits.Load())
	})
}

func TestSaturatedCoalescingGoesAlone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w, err := middleware.NewWorkersWith(&middleware.WorkersOptions{Coalesce: 1, Refresh: 1})
		require.NoError(t, err)
		n := new(middleware.Counters)
		m, err := memstore.New[string, *cached.Response](nil)
		require.NoError(t, err)
		st, err := middleware.Store(m, &middleware.StoreOptions{Logger: quiet, Counters: n})
		require.NoError(t, err)
		co, err := middleware.Coalesce(&middleware.CoalesceOptions{Workers: w})
		require.NoError(t, err)
		o := &fakeOrigin{delay: time.Second}
		rt := middleware.Chain(co, st)(o)
		var wg sync.WaitGroup
		for _, p := range []string{"/a", "/b"} {
			wg.Go(func() {
				body, _ := timed(t, rt, "http://origin.test"+p)
				assert.Equal(t, "body of "+p, body)
			})
			synctest.Wait()
		}
		wg.Wait()
		assert.EqualValues(t, 1, n.CoalesceSaturated.Load())
		assert.EqualValues(t, 2, o.hits.Load())
		require.NoError(t, w.Close())
	})
}

func TestStatsReportLatencyAndDeadlines(t *testing.T) {
	mon := new(middleware.Monitor)
	assert.Zero(t, mon.Stats().Counts)
	s := faulty(t)
	st, err := middleware.Store(s, &middleware.StoreOptions{Logger: quiet, Monitor: mon, GetTimeout: 20 * time.Millisecond})
	require.NoError(t, err)
	o := newOrigin(t, nil)
	rt := st(testTransport(t))
	get(t, rt, o.URL+"/x")
	get(t, rt, o.URL+"/x")
	stats := mon.Stats()
	assert.EqualValues(t, 1, stats.Counts["hits"])
	assert.EqualValues(t, 1, stats.Counts["misses"])
	assert.EqualValues(t, 1, stats.Counts["stored"])
	assert.EqualValues(t, 2, stats.StoreLatency["get"].Count)
	assert.EqualValues(t, 1, stats.StoreLatency["set"].Count)
	assert.Positive(t, stats.StoreLatency["get"].P99)
	assert.Equal(t, "20ms", stats.Deadlines["get"])
	assert.False(t, stats.Inline)
	assert.Equal(t, "closed", stats.Breaker.State)
}

func TestBadGuardOptionsAreErrors(t *testing.T) {
	m, err := memstore.New[string, *cached.Response](nil)
	require.NoError(t, err)
	for _, tt := range []struct {
		give middleware.StoreOptions
		want string
	}{
		{middleware.StoreOptions{GetTimeout: -1}, "StoreOptions.GetTimeout"},
		{middleware.StoreOptions{SetTimeout: -1}, "StoreOptions.SetTimeout"},
		{middleware.StoreOptions{WriteQueue: -1}, "StoreOptions.WriteQueue"},
		{middleware.StoreOptions{Breaker: &middleware.BreakerOptions{OpenFor: 2 * time.Second, MaxOpenFor: time.Second}}, "StoreOptions.Breaker"},
	} {
		_, err := middleware.Store(m, &tt.give)
		require.Error(t, err)
		assert.Contains(t, err.Error(), tt.want)
	}
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// hidden hides that a store never blocks, so that the cache calls it
// under a deadline on a goroutine of its own.
type hidden struct {
	store.Store[string, *cached.Response]
}

// BenchmarkGuardedHit compares a hit from an in-memory store called
// directly (it declares it never blocks) with the same store called under
// the lookup deadline, as a network store is.
func BenchmarkGuardedHit(b *testing.B) {
	for _, tt := range []struct {
		name   string
		direct bool
	}{{"direct", true}, {"under deadline", false}} {
		b.Run(tt.name, func(b *testing.B) {
			m, err := memstore.New[string, *cached.Response](nil)
			require.NoError(b, err)
			var s store.Store[string, *cached.Response] = m
			if !tt.direct {
				s = hidden{m}
			}
			st, err := middleware.Store(s, &middleware.StoreOptions{Logger: quiet})
			require.NoError(b, err)
			rt := st(&fakeOrigin{})
			req, err := http.NewRequest(http.MethodGet, "http://origin.test/x", nil)
			require.NoError(b, err)
			resp, err := rt.RoundTrip(req)
			require.NoError(b, err)
			io.Copy(io.Discard, resp.Body)
			b.ReportAllocs()
			for b.Loop() {
				resp, err := rt.RoundTrip(req)
				if err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
			}
		})
	}
}
