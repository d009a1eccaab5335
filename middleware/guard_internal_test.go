package middleware

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/internal/faultstore"
	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/memstore"
)

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// guardedStage returns a Store stage over a memstore holding "k", called
// under its deadline as a store that may block is, and, with workers, the
// Workers owning its calls (closed at the end of the test).
func guardedStage(tb testing.TB, workers bool) (*storeStage, *Workers) {
	tb.Helper()
	m, err := memstore.New[string, *cached.Response](nil)
	require.NoError(tb, err)
	require.NoError(tb, m.Set(context.Background(), "k", &cached.Response{StatusCode: 200, Body: []byte("body")}, 0))
	f := faultstore.New(m) // Inline false: it may block
	var w *Workers
	if workers {
		w, err = NewWorkers(0)
		require.NoError(tb, err)
		tb.Cleanup(func() { w.Close() })
	}
	st, err := newStoreStage(f, &StoreOptions{Logger: quietLog, Workers: w})
	require.NoError(tb, err)
	require.False(tb, st.inline)
	return st, w
}

// BenchmarkGuardedCall is one store lookup under its deadline, the guard
// around every call to a store that may block, over a store that answers
// at once: what the guard itself costs.
func BenchmarkGuardedCall(b *testing.B) {
	for _, workers := range []bool{true, false} {
		b.Run(map[bool]string{true: "workers", false: "no workers"}[workers], func(b *testing.B) {
			st, _ := guardedStage(b, workers)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if e, err := st.call(ctx, OpGet, "k", nil, 0); err != nil || e == nil {
					b.Fatal(e, err)
				}
			}
		})
	}
}

// TestGuardedCallAllocs holds the guard's allocations: with Workers, a
// call reuses a waiting goroutine and an answered call's channel; what is
// left is the deadline's context and timer.
func TestGuardedCallAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	st, _ := guardedStage(t, true)
	ctx := context.Background()
	st.call(ctx, OpGet, "k", nil, 0)
	allocs := testing.AllocsPerRun(200, func() {
		if e, err := st.call(ctx, OpGet, "k", nil, 0); err != nil || e == nil {
			t.Fatal(e, err)
		}
	})
	assert.LessOrEqual(t, allocs, 5.0) // the deadline: context, its Done channel, timer; the store's
}

// poolState returns how many guard goroutines w has, and how many wait.
func poolState(w *Workers) (alive, idle int) {
	w.guards.mu.Lock()
	defer w.guards.mu.Unlock()
	return w.guards.alive.count(), len(w.guards.idle)
}

func TestGuardReusesItsGoroutine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st, w := guardedStage(t, true)
		for range 100 {
			e, err := st.call(t.Context(), OpGet, "k", nil, 0)
			require.NoError(t, err)
			require.NotNil(t, e)
			synctest.Wait()
		}
		alive, idle := poolState(w)
		assert.Equal(t, 1, alive, "calls one after another share one goroutine")
		assert.Equal(t, 1, idle)
		require.NoError(t, w.Close())
		alive, _ = poolState(w)
		assert.Zero(t, alive, "Close ends the waiting goroutines")
	})
}

func TestGuardKeepsAtMostMaxIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st, w := guardedStage(t, true)
		f := st.s.(*faultstore.Store)
		f.SetMode(faultstore.Mode{HangGet: true, HonourContext: true})
		n := w.guards.maxIdle + 10
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() { st.call(t.Context(), OpGet, "k", nil, 0) })
		}
		synctest.Wait()
		alive, _ := poolState(w)
		assert.Equal(t, n, alive, "each call waiting on the store has a goroutine")
		f.Release()
		wg.Wait()
		synctest.Wait()
		alive, idle := poolState(w)
		assert.Equal(t, w.guards.maxIdle, alive, "the goroutines beyond maxIdle ended")
		assert.Equal(t, w.guards.maxIdle, idle)
		require.NoError(t, w.Close())
	})
}

func TestGuardReplacesAStuckGoroutine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st, w := guardedStage(t, true)
		f := st.s.(*faultstore.Store)
		st.call(t.Context(), OpGet, "k", nil, 0)
		synctest.Wait()
		f.SetMode(faultstore.Mode{HangGet: true}) // ignores its context
		start := time.Now()
		_, err := st.call(t.Context(), OpGet, "k", nil, 0)
		assert.ErrorIs(t, err, ErrStoreDeadline)
		assert.Equal(t, DefaultGetTimeout, time.Since(start), "the caller walked away at the deadline")
		assert.EqualValues(t, 1, st.stuckCalls.Load())
		assert.Equal(t, 1, w.StuckCalls())

		f.SetMode(faultstore.Mode{})
		e, err := st.call(t.Context(), OpGet, "k", nil, 0)
		require.NoError(t, err, "another goroutine took the next call")
		require.NotNil(t, e)
		synctest.Wait()
		alive, idle := poolState(w)
		assert.Equal(t, 2, alive)
		assert.Equal(t, 1, idle)

		f.Release()
		synctest.Wait()
		assert.Zero(t, st.stuckCalls.Load())
		assert.Zero(t, w.StuckCalls())
		alive, idle = poolState(w)
		assert.Equal(t, 2, alive, "the stuck goroutine waits for work again")
		assert.Equal(t, 2, idle)
		require.NoError(t, w.Close())
	})
}

// panicking panics on every Get.
type panicking struct {
	store.Store[string, *cached.Response]
}

func (panicking) Get(context.Context, string) (*cached.Response, error) { panic("boom") }

func TestGuardSurvivesAPanic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w, err := NewWorkers(0)
		require.NoError(t, err)
		m, err := memstore.New[string, *cached.Response](nil)
		require.NoError(t, err)
		n := new(Counters)
		st, err := newStoreStage(panicking{m}, &StoreOptions{Logger: quietLog, Workers: w, Counters: n})
		require.NoError(t, err)
		for range 3 {
			_, err := st.call(t.Context(), OpGet, "k", nil, 0)
			var pe *PanicError
			require.True(t, errors.As(err, &pe), "%v", err)
			synctest.Wait()
		}
		assert.EqualValues(t, 3, n.StorePanics.Load())
		alive, idle := poolState(w)
		assert.Equal(t, 1, alive, "the goroutine recovered and took the next calls")
		assert.Equal(t, 1, idle)
		require.NoError(t, w.Close())
	})
}

func TestGuardAfterClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st, w := guardedStage(t, true)
		require.NoError(t, w.Close())
		e, err := st.call(t.Context(), OpGet, "k", nil, 0)
		require.NoError(t, err, "a call after Close still runs, on a goroutine of its own")
		require.NotNil(t, e)
		synctest.Wait()
		alive, _ := poolState(w)
		assert.Zero(t, alive)
	})
}

func TestGuardGoroutinesEndAtClose(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	st, w := guardedStage(t, true)
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for range 50 {
				st.call(t.Context(), OpGet, "k", nil, 0)
			}
		})
	}
	wg.Wait()
	require.NoError(t, w.Close())
	goleak.VerifyNone(t, ignore)
}

// TestLeaseGuard: a lease call (guard) runs as a store call does, on the
// Workers' guard goroutines, which calls one after another share; one that
// hangs past its limit returns the caller at the limit, counted as stuck
// until it returns; one that panics is a *PanicError.
func TestLeaseGuard(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st, w := guardedStage(t, true)
		for range 100 {
			require.NoError(t, st.guard(t.Context(), time.Second, func(context.Context) error { return nil }))
			synctest.Wait()
		}
		alive, idle := poolState(w)
		assert.Equal(t, 1, alive, "lease calls one after another share one goroutine")
		assert.Equal(t, 1, idle)

		release := make(chan struct{})
		start := time.Now()
		err := st.guard(t.Context(), 40*time.Millisecond, func(context.Context) error { <-release; return nil })
		assert.ErrorIs(t, err, ErrStoreDeadline)
		assert.Equal(t, 40*time.Millisecond, time.Since(start), "the caller walked away at the limit")
		assert.Equal(t, 1, w.StuckCalls())
		close(release)
		synctest.Wait()
		assert.Zero(t, w.StuckCalls(), "it is no longer stuck once it returns")

		err = st.guard(t.Context(), time.Second, func(context.Context) error { panic("boom") })
		var pe *PanicError
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, "lease", pe.Op)

		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		assert.ErrorIs(t, st.guard(ctx, time.Second, func(ctx context.Context) error { return ctx.Err() }), context.Canceled)
		require.NoError(t, w.Close())
	})
}
