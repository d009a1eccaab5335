package ristrettostore_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/ristrettostore"
	"github.com/cachestack/cachestack/store/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestConformance runs the suite with synchronous writes, and with
// asynchronous writes made visible by Wait in Harness.Sync.
func TestConformance(t *testing.T) {
	tests := []struct {
		name string
		sync bool
	}{
		{"Synchronous", true},
		{"Wait", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := storetest.NewClock()
			var (
				mu   sync.Mutex
				last *ristrettostore.Store[string, []byte]
			)
			h := storetest.Bytes(func(t *testing.T) store.Store[string, []byte] {
				s, err := ristrettostore.New[string](&ristrettostore.Options[[]byte]{Synchronous: tt.sync, Clock: clk.Now})
				require.NoError(t, err)
				mu.Lock()
				last = s
				mu.Unlock()
				return s
			})
			h.Advance = clk.Advance
			if !tt.sync {
				h.Sync = func() {
					mu.Lock()
					defer mu.Unlock()
					last.Wait()
				}
			}
			storetest.Run(t, h)
		})
	}
}

func TestConformanceTyped(t *testing.T) {
	clk := storetest.NewClock()
	h := storetest.Responses(func(t *testing.T) store.Store[string, *cached.Response] {
		s, err := ristrettostore.New[string](&ristrettostore.Options[*cached.Response]{Synchronous: true, Clock: clk.Now})
		require.NoError(t, err)
		return s
	})
	h.Advance = clk.Advance
	storetest.Run(t, h)
}

func TestConformanceIntKeys(t *testing.T) {
	clk := storetest.NewClock()
	storetest.Run(t, storetest.Harness[uint64, string]{
		New: func(t *testing.T) store.Store[uint64, string] {
			s, err := ristrettostore.New[uint64](&ristrettostore.Options[string]{Synchronous: true, Clock: clk.Now})
			require.NoError(t, err)
			return s
		},
		Key:     func(i int) uint64 { return uint64(i) * 0x9e3779b97f4a7c15 },
		Value:   func(i int) string { return fmt.Sprint("value ", i) },
		Advance: clk.Advance,
	})
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name string
		give *ristrettostore.Options[[]byte]
		want string
	}{
		{"NegativeMaxBytes", &ristrettostore.Options[[]byte]{MaxBytes: -5}, "ristrettostore: Options.MaxBytes is -5, want >= 0"},
		{"NegativeNumCounters", &ristrettostore.Options[[]byte]{NumCounters: -1}, "ristrettostore: Options.NumCounters is -1, want >= 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := ristrettostore.New[string](tt.give)
			require.EqualError(t, err, tt.want)
			assert.Nil(t, s)
		})
	}
}

func TestNilOptions(t *testing.T) {
	s, err := ristrettostore.New[string, []byte](nil)
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.Set(t.Context(), "k", []byte("v"), 0))
	s.Wait()
	got, err := s.Get(t.Context(), "k")
	require.NoError(t, err)
	assert.Equal(t, []byte("v"), got)
}

// TestByteBudget: values are costed in bytes, so two values that together
// exceed the budget are not both kept.
func TestByteBudget(t *testing.T) {
	s := newStore[[]byte](t, &ristrettostore.Options[[]byte]{MaxBytes: 1000})
	ctx := t.Context()
	require.NoError(t, s.Set(ctx, "a", make([]byte, 600), 0))
	require.NoError(t, s.Set(ctx, "b", make([]byte, 600), 0))
	_, errA := s.Get(ctx, "a")
	_, errB := s.Get(ctx, "b")
	require.True(t, errA == nil || errors.Is(errA, store.ErrNotFound), "Get(a): %v", errA)
	require.True(t, errB == nil || errors.Is(errB, store.ErrNotFound), "Get(b): %v", errB)
	assert.True(t, (errA == nil) != (errB == nil), "1200 bytes in a 1000-byte budget: want exactly one of a and b, got a: %v, b: %v", errA, errB)

	// Small values fit beside each other.
	for _, k := range []string{"x", "y", "z"} {
		require.NoError(t, s.Set(ctx, k, make([]byte, 100), 0))
	}
	require.NoError(t, s.Clear(ctx))
	for _, k := range []string{"x", "y", "z"} {
		require.NoError(t, s.Set(ctx, k, make([]byte, 100), 0))
		_, err := s.Get(ctx, k)
		require.NoError(t, err, "Get(%s): 300 bytes in a 1000-byte budget", k)
	}
}

// TestTypedCost: a *cached.Response costs its Size, so one larger than the
// budget is not kept.
func TestTypedCost(t *testing.T) {
	s := newStore[*cached.Response](t, &ristrettostore.Options[*cached.Response]{MaxBytes: 4096})
	ctx := t.Context()
	small := storetest.Response(1)
	big := storetest.Response(2)
	big.Body = make([]byte, 8192)
	require.Less(t, small.Size(), int64(4096))
	require.NoError(t, s.Set(ctx, "small", small, 0))
	require.ErrorIs(t, s.Set(ctx, "big", big, 0), store.ErrTooLarge)
	got, err := s.Get(ctx, "small")
	require.NoError(t, err)
	assert.Same(t, small, got, "typed values are stored as they are")
	_, err = s.Get(ctx, "big")
	require.ErrorIs(t, err, store.ErrNotFound, "a response larger than MaxBytes")
}

// TestOversizeValue: a value over the budget is not kept, is refused with
// store.ErrTooLarge, and removes the older value under its key.
func TestOversizeValue(t *testing.T) {
	s := newStore[[]byte](t, &ristrettostore.Options[[]byte]{MaxBytes: 1024})
	ctx := t.Context()
	require.NoError(t, s.Set(ctx, "k", []byte("small"), 0))
	require.NoError(t, s.Set(ctx, "other", []byte("kept"), 0))
	require.ErrorIs(t, s.Set(ctx, "k", make([]byte, 1025), 0), store.ErrTooLarge)
	_, err := s.Get(ctx, "k")
	require.ErrorIs(t, err, store.ErrNotFound, "after overwriting with a value over MaxBytes")
	got, err := s.Get(ctx, "other")
	require.NoError(t, err)
	assert.Equal(t, []byte("kept"), got)
	require.NoError(t, s.Set(ctx, "k", make([]byte, 1024), 0), "a value of exactly MaxBytes")
	_, err = s.Get(ctx, "k")
	require.NoError(t, err, "a value of exactly MaxBytes is kept")
}

// TestDroppedWritesAreMisses floods a small store from several goroutines
// without waiting: ristretto drops or rejects most writes, every Set still
// returns nil, and every Get is a hit or a plain miss.
func TestDroppedWritesAreMisses(t *testing.T) {
	s, err := ristrettostore.New[string](&ristrettostore.Options[[]byte]{MaxBytes: 4096})
	require.NoError(t, err)
	defer s.Close()
	ctx := t.Context()
	const workers, perWorker = 4, 5000
	var wg sync.WaitGroup
	for g := range workers {
		wg.Go(func() {
			for i := range perWorker {
				if err := s.Set(ctx, fmt.Sprint(g, "/", i), make([]byte, 100), 0); err != nil {
					t.Errorf("Set: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	s.Wait()
	hits := 0
	for g := range workers {
		for i := range perWorker {
			_, err := s.Get(ctx, fmt.Sprint(g, "/", i))
			switch {
			case err == nil:
				hits++
			case !errors.Is(err, store.ErrNotFound):
				t.Fatalf("Get: %v, want a hit or store.ErrNotFound", err)
			}
		}
	}
	assert.LessOrEqual(t, hits, 4096/100, "hits beyond the budget")
	t.Logf("%d of %d writes kept", hits, workers*perWorker)
}

func TestWait(t *testing.T) {
	s, err := ristrettostore.New[string, string](nil)
	require.NoError(t, err)
	ctx := t.Context()
	for i := range 100 {
		require.NoError(t, s.Set(ctx, fmt.Sprint(i), fmt.Sprint("v", i), 0))
	}
	s.Wait()
	for i := range 100 {
		got, err := s.Get(ctx, fmt.Sprint(i))
		require.NoError(t, err, "after Wait")
		assert.Equal(t, fmt.Sprint("v", i), got)
	}
	require.NoError(t, s.Close())
	s.Wait() // returns at once after Close
}

// TestKeysLoopMayUseStore deletes every key from inside the loop over Keys.
func TestKeysLoopMayUseStore(t *testing.T) {
	s := newStore[[]byte](t, nil)
	ctx := t.Context()
	for i := range 50 {
		require.NoError(t, s.Set(ctx, fmt.Sprint(i), []byte("v"), 0))
	}
	n := 0
	for k, err := range s.Keys(ctx) {
		require.NoError(t, err)
		require.NoError(t, s.Delete(ctx, k))
		n++
	}
	assert.Equal(t, 50, n)
	for _, err := range s.Keys(ctx) {
		t.Fatalf("Keys after deleting every key yielded (err %v)", err)
	}
}

// TestCloseDuringUse closes the store while goroutines use it: calls
// succeed or return store.ErrClosed, and nothing panics (ristretto's own
// Close is not safe beside other calls).
func TestCloseDuringUse(t *testing.T) {
	for range 20 {
		s, err := ristrettostore.New[string, []byte](nil)
		require.NoError(t, err)
		ctx := t.Context()
		var wg sync.WaitGroup
		start := make(chan struct{})
		for g := range 4 {
			wg.Go(func() {
				<-start
				for i := range 200 {
					k := fmt.Sprint(g, i%10)
					for _, err := range []error{
						s.Set(ctx, k, []byte("v"), time.Minute),
						func() error { _, err := s.Get(ctx, k); return err }(),
						s.Delete(ctx, k),
					} {
						if err != nil && !errors.Is(err, store.ErrClosed) && !errors.Is(err, store.ErrNotFound) {
							t.Errorf("during Close: %v", err)
							return
						}
					}
				}
			})
		}
		close(start)
		require.NoError(t, s.Close())
		wg.Wait()
		require.NoError(t, s.Close())
	}
}

func newStore[V any](t *testing.T, opts *ristrettostore.Options[V]) *ristrettostore.Store[string, V] {
	t.Helper()
	var o ristrettostore.Options[V]
	if opts != nil {
		o = *opts
	}
	o.Synchronous = true
	s, err := ristrettostore.New[string](&o)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestLastWriteWinsWhenSynchronous: with Synchronous, a second Set of a
// new key replaces the first (ristretto alone keeps the first of two
// buffered Sets of a new key).
func TestLastWriteWinsWhenSynchronous(t *testing.T) {
	s := newStore[string](t, nil)
	ctx := t.Context()
	for i := range 100 {
		k := fmt.Sprint(i)
		require.NoError(t, s.Set(ctx, k, "first", 0))
		require.NoError(t, s.Set(ctx, k, "second", 0))
		got, err := s.Get(ctx, k)
		require.NoError(t, err)
		require.Equal(t, "second", got)
	}
}

// TestMissDoesNotAllocate: a miss is store.ErrNotFound itself, with no
// allocation on the way (ristretto's occasional access batch aside).
func TestMissDoesNotAllocate(t *testing.T) {
	s, err := ristrettostore.New[string, []byte](nil)
	require.NoError(t, err)
	defer s.Close()
	ctx := t.Context()
	_, err = s.Get(ctx, "missing")
	require.Same(t, store.ErrNotFound, err)
	allocs := testing.AllocsPerRun(1000, func() { _, _ = s.Get(ctx, "missing") })
	assert.Zero(t, allocs)
}

func TestUseClock(t *testing.T) {
	t.Parallel()
	h := storetest.Bytes(func(t *testing.T) store.Store[string, []byte] { return newStore[[]byte](t, nil) })
	storetest.UseClock(t, h)
}
