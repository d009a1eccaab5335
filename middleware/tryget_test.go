package middleware_test

import (
	"context"
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

// What a tryStore's TryGet does.
const (
	tryAnswers    = iota // answers from the memory store beneath
	tryWouldBlock        // returns store.ErrWouldBlock
	tryPanics
)

// tryStore is a store that may block (a faultstore, whose Get can be made
// to hang) and is a store.TryGetter, whose TryGet reads the memory store
// beneath it without blocking, refuses, or panics. It counts both.
type tryStore struct {
	*faultstore.Store
	mem        store.Store[string, *cached.Response]
	try        atomic.Int32
	tries, got atomic.Int64
}

func newTryStore(t *testing.T, try int32) *tryStore {
	t.Helper()
	m, err := memstore.New[string, *cached.Response](nil)
	require.NoError(t, err)
	s := &tryStore{Store: faultstore.New(m), mem: m}
	s.try.Store(try)
	return s
}

func (s *tryStore) Get(ctx context.Context, key string) (*cached.Response, error) {
	s.got.Add(1)
	return s.Store.Get(ctx, key)
}

func (s *tryStore) TryGet(ctx context.Context, key string) (*cached.Response, error) {
	s.tries.Add(1)
	switch s.try.Load() {
	case tryWouldBlock:
		return nil, store.ErrWouldBlock
	case tryPanics:
		panic("tryStore: TryGet panics")
	}
	return s.mem.Get(ctx, key)
}

func TestTryGetAnswersWithoutTheDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newTryStore(t, tryAnswers)
		n := new(middleware.Counters)
		mon := new(middleware.Monitor)
		st, err := middleware.Store(s, &middleware.StoreOptions{Logger: quiet, Counters: n, Monitor: mon, GetTimeout: 30 * time.Millisecond})
		require.NoError(t, err)
		o := &fakeOrigin{}
		rt := st(o)
		timed(t, rt, "http://origin.test/x") // a miss that TryGet answers; the response is stored
		s.SetMode(faultstore.Mode{HangGet: true})
		body, took := timed(t, rt, "http://origin.test/x")
		assert.Equal(t, "body of /x", body)
		assert.Zero(t, took, "the hit is answered at once, though Get hangs")
		assert.EqualValues(t, 1, n.Hits.Load())
		assert.EqualValues(t, 1, o.hits.Load())
		assert.EqualValues(t, 2, s.tries.Load())
		assert.Zero(t, s.got.Load(), "Get is never called")
		assert.Zero(t, n.StoreTimeouts.Load())
		assert.EqualValues(t, 2, mon.Stats().StoreLatency["get"].Count, "each lookup is counted once")
		s.Release()
	})
}

func TestTryGetThatWouldBlockFallsBackToGet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newTryStore(t, tryWouldBlock)
		n := new(middleware.Counters)
		st, err := middleware.Store(s, &middleware.StoreOptions{Logger: quiet, Counters: n, GetTimeout: 30 * time.Millisecond})
		require.NoError(t, err)
		o := &fakeOrigin{}
		rt := st(o)
		timed(t, rt, "http://origin.test/x")
		body, _ := timed(t, rt, "http://origin.test/x")
		assert.Equal(t, "body of /x", body)
		assert.EqualValues(t, 1, n.Hits.Load(), "Get answers the hit")
		assert.EqualValues(t, 2, s.tries.Load())
		assert.EqualValues(t, 2, s.got.Load())

		s.SetMode(faultstore.Mode{HangGet: true})
		body, took := timed(t, rt, "http://origin.test/x")
		assert.Equal(t, "body of /x", body)
		assert.Equal(t, 30*time.Millisecond, took, "Get is made under its deadline")
		assert.EqualValues(t, 1, n.StoreTimeouts.Load())
		assert.EqualValues(t, 2, o.hits.Load())
		assert.EqualValues(t, 3, s.tries.Load())
		assert.EqualValues(t, 3, s.got.Load())
		s.Release()
	})
}

func TestPanickingTryGetIsAMiss(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newTryStore(t, tryPanics)
		n := new(middleware.Counters)
		st, err := middleware.Store(s, &middleware.StoreOptions{Logger: quiet, Counters: n, Breaker: &middleware.BreakerOptions{Failures: -1}})
		require.NoError(t, err)
		o := &fakeOrigin{}
		rt := st(o)
		for range 2 {
			body, took := timed(t, rt, "http://origin.test/x")
			assert.Equal(t, "body of /x", body)
			assert.Zero(t, took)
		}
		assert.EqualValues(t, 2, n.StorePanics.Load())
		assert.EqualValues(t, 2, o.hits.Load())
		assert.Zero(t, s.got.Load(), "a panic is the lookup's answer: Get is not made")
	})
}

func TestBreakerProbeIsNotTried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newTryStore(t, tryAnswers)
		s.SetMode(faultstore.Mode{FailRate: 1})
		mon := new(middleware.Monitor)
		st, err := middleware.Store(s, &middleware.StoreOptions{Logger: quiet, Monitor: mon,
			Breaker: &middleware.BreakerOptions{Failures: 1, OpenFor: time.Second}})
		require.NoError(t, err)
		rt := st(&fakeOrigin{})
		timed(t, rt, "http://origin.test/x") // TryGet misses; the Set fails and opens the breaker
		require.Equal(t, "open", mon.Stats().Breaker.State)
		tries, gets := s.tries.Load(), s.got.Load()
		time.Sleep(time.Second) // the back-off, in the bubble's clock
		s.SetMode(faultstore.Mode{})
		timed(t, rt, "http://origin.test/x")
		assert.Equal(t, tries, s.tries.Load(), "the probe tests the store as its other calls are made")
		assert.Equal(t, gets+1, s.got.Load())
		assert.Equal(t, "closed", mon.Stats().Breaker.State)
	})
}
