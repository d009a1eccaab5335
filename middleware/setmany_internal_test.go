package middleware

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/internal/faultstore"
	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/memstore"
)

// recorder is a slog.Handler and a Metrics that keep what a stage reports
// of its store calls: the warnings, and each call's latency outcome.
type recorder struct {
	mu       sync.Mutex
	warnings []slog.Record
	outcomes []Outcome
}

func (r *recorder) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.warnings = append(r.warnings, rec.Clone())
	return nil
}

func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }

func (*recorder) Add(Metric, int64)           {}
func (*recorder) BreakerChanged(BreakerState) {}

func (r *recorder) StoreLatency(op StoreOp, _ time.Duration, o Outcome) {
	if op != OpSet {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.outcomes = append(r.outcomes, o)
}

// events returns the attributes of each warning logged, by event, as
// strings (without "event").
func (r *recorder) events() map[string][]map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string][]map[string]string{}
	for _, rec := range r.warnings {
		attrs := map[string]string{}
		rec.Attrs(func(a slog.Attr) bool {
			attrs[a.Key] = a.Value.String()
			return true
		})
		ev := attrs["event"]
		delete(attrs, "event")
		out[ev] = append(out[ev], attrs)
	}
	return out
}

func (r *recorder) setOutcomes() []Outcome {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Outcome(nil), r.outcomes...)
}

// batchStage returns a Store stage over a batching faultstore, with
// Workers (closed at the end of the test), set up by o and recording into
// the returned recorder; the tests call its setMany directly.
func batchStage(t *testing.T, o StoreOptions) (*storeStage, *faultstore.Batching, *recorder) {
	t.Helper()
	m, err := memstore.New[string, *cached.Response](nil)
	require.NoError(t, err)
	b := &faultstore.Batching{Store: faultstore.New(m)}
	w, err := NewWorkers(0)
	require.NoError(t, err)
	t.Cleanup(func() { b.Release(); w.Close() })
	rec := new(recorder)
	o.Logger, o.Metrics, o.Workers = slog.New(rec), rec, w
	st, err := newStoreStage(b, &o)
	require.NoError(t, err)
	require.NotNil(t, st.batcher)
	return st, b, rec
}

func batchItems(n int) []store.Item[string, *cached.Response] {
	items := make([]store.Item[string, *cached.Response], n)
	for i := range items {
		k := "k" + strconv.Itoa(i)
		items[i] = store.Item[string, *cached.Response]{Key: k, Value: &cached.Response{StatusCode: 200, URL: "http://origin.test/" + k, Body: []byte("body")}, TTL: time.Minute}
	}
	return items
}

func noRetry(int) bool { return false }

// TestSetManyCountsEachItemAndTheCallOnce: a batch's items are counted as
// Sets would be; the call is one latency with one outcome, one failure or
// success for the breaker, and one warning per kind of fault, naming the
// first failed item, the batch's size and how many failed.
func TestSetManyCountsEachItemAndTheCallOnce(t *testing.T) {
	const n = 4
	for _, tt := range []struct {
		name        string
		mode        faultstore.Mode
		wantCount   func(c *Counters) int64
		wantOutcome Outcome
		wantEvent   string
	}{
		{"stored", faultstore.Mode{}, func(c *Counters) int64 { return c.Stored.Load() }, OutcomeOK, ""},
		{"every item fails", faultstore.Mode{FailRate: 1}, func(c *Counters) int64 { return c.StoreErrors.Load() }, OutcomeError, EventStoreError},
		{"panic", faultstore.Mode{PanicSet: true}, func(c *Counters) int64 { return c.StorePanics.Load() }, OutcomePanic, EventStorePanic},
		{"timeout", faultstore.Mode{HangSet: true, HonourContext: true}, func(c *Counters) int64 { return c.StoreTimeouts.Load() }, OutcomeTimeout, EventStoreTimeout},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				st, b, rec := batchStage(t, StoreOptions{SetTimeout: time.Second})
				b.SetMode(tt.mode)
				start := time.Now()
				assert.Empty(t, st.setMany(t.Context(), batchItems(n), noRetry))
				if tt.mode.HangSet {
					assert.Equal(t, time.Second, time.Since(start), "the batch is given SetTimeout")
				}
				assert.EqualValues(t, n, tt.wantCount(st.counters), "each item is counted")
				assert.EqualValues(t, 1, b.Batches.Load())
				assert.EqualValues(t, 1, st.lat[OpSet].stats().Count, "one latency for the call")
				assert.Equal(t, []Outcome{tt.wantOutcome}, rec.setOutcomes())
				ev := rec.events()
				if tt.wantEvent == "" {
					assert.Empty(t, ev)
					assert.Zero(t, st.breaker.consecutive.Load())
					return
				}
				assert.EqualValues(t, 1, st.breaker.consecutive.Load(), "the breaker counts the batch once")
				require.Len(t, ev, 1)
				require.Len(t, ev[tt.wantEvent], 1, "one warning for the batch")
				got := ev[tt.wantEvent][0]
				assert.Equal(t, "set", got["op"])
				assert.Equal(t, "k0", got["key"], "the first failed item")
				assert.Equal(t, strconv.Itoa(n), got["items"])
				assert.Equal(t, strconv.Itoa(n), got["failed"])
				assert.NotEmpty(t, got["error"])
				if tt.wantOutcome == OutcomeTimeout {
					assert.Equal(t, "1s", got["duration"])
				} else {
					assert.NotContains(t, got, "duration")
				}
			})
		})
	}
}

// TestSetManyCallerGivesUp: a batch whose caller gives up (the end of
// Close's flush) blames the store for nothing: no fault counted or
// logged, the breaker untouched; its latency is still recorded.
func TestSetManyCallerGivesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st, b, rec := batchStage(t, StoreOptions{SetTimeout: time.Minute})
		st.breaker.consecutive.Store(2)
		b.SetMode(faultstore.Mode{HangSet: true, HonourContext: true})
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(time.Second, cancel)
		assert.Empty(t, st.setMany(ctx, batchItems(3), noRetry))
		c := st.counters
		assert.Zero(t, c.Stored.Load()+c.StoreErrors.Load()+c.StoreTimeouts.Load()+c.StorePanics.Load()+c.StoreSkipped.Load())
		assert.EqualValues(t, 2, st.breaker.consecutive.Load(), "neither a success nor a failure")
		assert.Empty(t, rec.events())
		assert.Equal(t, []Outcome{OutcomeOK}, rec.setOutcomes())
		assert.EqualValues(t, 1, st.lat[OpSet].stats().Count)
	})
}

// TestSetManyAsTheProbe: a batch that is the half-open breaker's probe is
// recorded with the breaker by the probe's goroutine alone: a failed one
// opens it again for twice as long and counts one failure, not two; a
// successful one closes it. A single Set that is the probe is counted
// by its caller too, as an ordinary call (see call).
func TestSetManyAsTheProbe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st, b, _ := batchStage(t, StoreOptions{SetTimeout: time.Second, Breaker: &BreakerOptions{Failures: 1, OpenFor: time.Second}})
		b.SetMode(faultstore.Mode{FailRate: 1})
		_, err := st.call(t.Context(), OpSet, "x", &cached.Response{StatusCode: 200}, 0)
		require.Error(t, err)
		require.Equal(t, BreakerOpen, BreakerState(st.breaker.state.Load()))

		assert.Empty(t, st.setMany(t.Context(), batchItems(3), noRetry))
		assert.EqualValues(t, 3, st.counters.StoreSkipped.Load(), "an open breaker skips every item")
		assert.Zero(t, b.Batches.Load())

		time.Sleep(time.Second) // the back-off, in the bubble's clock
		assert.Empty(t, st.setMany(t.Context(), batchItems(3), noRetry))
		assert.EqualValues(t, 1, b.Batches.Load(), "the batch is the probe")
		assert.Equal(t, BreakerOpen, BreakerState(st.breaker.state.Load()), "the failed probe opens it again")
		assert.Equal(t, 2*time.Second, time.Until(st.breaker.stats().RetryAt), "for twice as long")
		assert.EqualValues(t, 2, st.breaker.consecutive.Load(), "the probe batch is one failure")

		time.Sleep(2 * time.Second)
		_, err = st.call(t.Context(), OpSet, "x", &cached.Response{StatusCode: 200}, 0)
		require.Error(t, err)
		assert.EqualValues(t, 4, st.breaker.consecutive.Load(), "a single Set as the probe is counted by its goroutine and its caller")

		time.Sleep(4 * time.Second)
		b.SetMode(faultstore.Mode{})
		assert.Empty(t, st.setMany(t.Context(), batchItems(3), noRetry))
		assert.Equal(t, BreakerClosed, BreakerState(st.breaker.state.Load()), "the successful probe closes it")
		assert.Zero(t, st.breaker.consecutive.Load())
		assert.EqualValues(t, 3, st.counters.Stored.Load())
	})
}

// TestSetManyWhenStuck: with MaxStuckCalls calls stuck past their
// deadline, a batch is not made and each item is counted skipped; when it
// would have been the breaker's probe, the probe is handed back, so that
// the next call may be it.
func TestSetManyWhenStuck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st, b, rec := batchStage(t, StoreOptions{MaxStuckCalls: 1, Breaker: &BreakerOptions{Failures: 1, OpenFor: time.Second}})
		b.SetMode(faultstore.Mode{HangGet: true}) // ignoring its context: stuck
		_, err := st.call(t.Context(), OpGet, "x", nil, 0)
		require.ErrorIs(t, err, ErrStoreDeadline)
		require.EqualValues(t, 1, st.stuckCalls.Load())
		require.Equal(t, BreakerOpen, BreakerState(st.breaker.state.Load()), "the timeout opened it")

		time.Sleep(time.Second) // the back-off: the next call is the probe
		assert.Empty(t, st.setMany(t.Context(), batchItems(3), noRetry))
		assert.EqualValues(t, 3, st.counters.StoreSkipped.Load())
		assert.Zero(t, b.Batches.Load())
		assert.Equal(t, BreakerOpen, BreakerState(st.breaker.state.Load()), "the probe is handed back")
		assert.Zero(t, st.lat[OpSet].stats().Count, "a call not made has no latency")
		assert.Empty(t, rec.setOutcomes())

		b.Release()
		synctest.Wait()
		require.Zero(t, st.stuckCalls.Load())
		b.SetMode(faultstore.Mode{})
		assert.Empty(t, st.setMany(t.Context(), batchItems(3), noRetry))
		assert.EqualValues(t, 1, b.Batches.Load(), "the next batch is the probe")
		assert.Equal(t, BreakerClosed, BreakerState(st.breaker.state.Load()))
		assert.EqualValues(t, 3, st.counters.Stored.Load())
	})
}
