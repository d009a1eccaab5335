package middleware_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/internal/faultstore"
	"github.com/cachestack/cachestack/middleware"
	"github.com/cachestack/cachestack/store/memstore"
)

func batching(t *testing.T) *faultstore.Batching {
	t.Helper()
	return &faultstore.Batching{Store: faulty(t)}
}

// TestWriteBackBatches: over a store.Batcher, the writes that queue up
// while one is being made are made in one SetMany, not one Set each; every
// one is stored and counted, and the store sees fewer calls than entries.
// With WriteBatch 1, each is a Set of its own.
func TestWriteBackBatches(t *testing.T) {
	for _, tt := range []struct {
		name      string
		batch     int
		wantCalls int64 // besides the lookups
		wantItems int64 // given to SetMany
	}{
		{"default", 0, 2, 9},       // the first write alone, then the rest in one batch
		{"small batches", 4, 4, 8}, // the first, two batches of four, the last alone
		{"off", 1, 10, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const n = 10
				s := batching(t)
				s.SetMode(faultstore.Mode{HangSet: true, HonourContext: true})
				w, err := middleware.NewWorkers(0)
				require.NoError(t, err)
				c := new(middleware.Counters)
				st, err := middleware.Store(s, &middleware.StoreOptions{Logger: quiet, Counters: c, Workers: w, Writers: 1, WriteBatch: tt.batch, SetTimeout: time.Minute})
				require.NoError(t, err)
				rt := st(&fakeOrigin{})
				for i := range n {
					_, took := timed(t, rt, "http://origin.test/"+strconv.Itoa(i))
					assert.Zero(t, took)
					synctest.Wait() // the writer has taken what it can
				}
				s.Release()
				require.NoError(t, w.Close())
				assert.EqualValues(t, n, c.Stored.Load(), "every write is made")
				assert.Zero(t, c.StoreErrors.Load()+c.WritesDropped.Load())
				assert.Equal(t, tt.wantCalls, s.Calls.Load()-n, "store calls besides the n lookups")
				assert.Equal(t, tt.wantItems, s.Items.Load(), "writes made in batches")
			})
		})
	}
}

// TestWriteBackBatchFailures: a batch that fails counts each of its
// entries, as failed Sets would be counted: all of them when the call
// fails, panics or times out, and those not stored when some are.
func TestWriteBackBatchFailures(t *testing.T) {
	for _, tt := range []struct {
		name string
		mode faultstore.Mode
		want func(c *middleware.Counters) int64
	}{
		{"every item fails", faultstore.Mode{FailRate: 1}, func(c *middleware.Counters) int64 { return c.StoreErrors.Load() }},
		{"some items fail", faultstore.Mode{FailRate: 0.5}, func(c *middleware.Counters) int64 { return c.StoreErrors.Load() + c.Stored.Load() - 1 }}, // the first, alone, is stored
		{"panic", faultstore.Mode{PanicSet: true}, func(c *middleware.Counters) int64 { return c.StorePanics.Load() }},
		{"timeout", faultstore.Mode{HangSet: true}, func(c *middleware.Counters) int64 { return c.StoreTimeouts.Load() - 1 }}, // the first times out too
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const n = 10
				s := batching(t)
				s.SetMode(faultstore.Mode{HangSet: true, HonourContext: true})
				w, err := middleware.NewWorkers(0)
				require.NoError(t, err)
				c := new(middleware.Counters)
				st, err := middleware.Store(s, &middleware.StoreOptions{Logger: quiet, Counters: c, Workers: w, Writers: 1, SetTimeout: time.Second,
					Breaker: &middleware.BreakerOptions{Failures: -1}})
				require.NoError(t, err)
				rt := st(&fakeOrigin{})
				for i := range n {
					timed(t, rt, "http://origin.test/"+strconv.Itoa(i))
					synctest.Wait()
				}
				// The first write is a Set of its own, still hung; the
				// others wait for it, then go in one batch with the
				// faults of tt.mode.
				s.SetMode(tt.mode)
				if !tt.mode.HangSet {
					s.Release()
				}
				time.Sleep(3 * time.Second) // in the bubble: past the deadlines
				s.Release()
				require.NoError(t, w.Close())
				assert.EqualValues(t, 1, s.Batches.Load())
				assert.EqualValues(t, n-1, tt.want(c), "each entry of the batch is counted")
			})
		})
	}
}

// leasingBatcher is a batching faultstore that also takes leases, and
// records their releases.
type leasingBatcher struct {
	*faultstore.Batching
	mu       sync.Mutex
	released []string
}

func (l *leasingBatcher) Acquire(_ context.Context, key string, _ time.Duration) (string, bool, error) {
	return key, true, nil
}

func (l *leasingBatcher) Release(_ context.Context, key, _ string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.released = append(l.released, key)
	return nil
}

func (l *leasingBatcher) AwaitRelease(context.Context, string) error { return nil }

func (l *leasingBatcher) releases() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.released)
}

// TestWriteBackBatchReleasesLeases: with leases across processes, each
// miss's lease is released once its entry has been written, also when the
// entry went in a batch with others: not before, and once per entry.
func TestWriteBackBatchReleasesLeases(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 6
		s := &leasingBatcher{Batching: batching(t)}
		s.SetMode(faultstore.Mode{HangSet: true, HonourContext: true})
		w, err := middleware.NewWorkers(0)
		require.NoError(t, err)
		c := new(middleware.Counters)
		st, err := middleware.Store(s, &middleware.StoreOptions{Logger: quiet, Counters: c, Workers: w, Writers: 1, SetTimeout: time.Minute,
			Lease: &middleware.LeaseOptions{TTL: time.Minute}})
		require.NoError(t, err)
		rt := st(&fakeOrigin{})
		for i := range n {
			timed(t, rt, "http://origin.test/"+strconv.Itoa(i))
			synctest.Wait()
		}
		assert.Zero(t, s.releases(), "no lease is released before its entry is written")
		s.Batching.Release()
		synctest.Wait()
		assert.Equal(t, n, s.releases(), "each entry's lease is released once it is written")
		assert.EqualValues(t, n-1, s.Items.Load(), "the writes after the first went in a batch")
		require.NoError(t, w.Close())
		assert.EqualValues(t, n, c.Stored.Load())
	})
}

// TestWriteBatchOption: a negative StoreOptions.WriteBatch is refused,
// naming it.
func TestWriteBatchOption(t *testing.T) {
	t.Parallel()
	m, err := memstore.New[string, *cached.Response](nil)
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	_, err = middleware.Store(m, &middleware.StoreOptions{WriteBatch: -1})
	require.ErrorContains(t, err, "StoreOptions.WriteBatch is -1, want >= 0")
}
