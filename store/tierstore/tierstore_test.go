package tierstore_test

import (
	"bytes"
	"context"
	"errors"
	"iter"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/bigcachestore"
	"github.com/cachestack/cachestack/store/memstore"
	"github.com/cachestack/cachestack/store/ristrettostore"
	"github.com/cachestack/cachestack/store/storetest"
	"github.com/cachestack/cachestack/store/tierstore"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestConformance(t *testing.T) {
	tests := []struct {
		name  string
		front func(clk *storetest.Clock) store.Store[string, []byte]
		back  func(clk *storetest.Clock) store.Store[string, []byte]
	}{
		{
			"MemOverMem",
			func(clk *storetest.Clock) store.Store[string, []byte] { return mustMem(clk, 1<<20) },
			func(clk *storetest.Clock) store.Store[string, []byte] { return mustMem(clk, 0) },
		},
		{
			"RistrettoOverBigcache",
			func(clk *storetest.Clock) store.Store[string, []byte] {
				s, err := ristrettostore.New[string](&ristrettostore.Options[[]byte]{Synchronous: true, Clock: clk.Now})
				if err != nil {
					panic(err)
				}
				return s
			},
			func(clk *storetest.Clock) store.Store[string, []byte] {
				s, err := bigcachestore.New(&bigcachestore.Options{Clock: clk.Now})
				if err != nil {
					panic(err)
				}
				return s
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := storetest.NewClock()
			h := storetest.Bytes(func(t *testing.T) store.Store[string, []byte] {
				s, err := tierstore.New(tt.front(clk), tt.back(clk), nil)
				require.NoError(t, err)
				return s
			})
			h.Advance = clk.Advance
			storetest.Run(t, h)
		})
	}
}

func TestNewErrors(t *testing.T) {
	s := newStub()
	tests := []struct {
		name        string
		front, back store.Store[string, []byte]
		give        *tierstore.Options
		want        string
	}{
		{"NilFront", nil, s, nil, "tierstore: front store is nil"},
		{"NilBack", s, nil, nil, "tierstore: back store is nil"},
		{"NegativeFrontTTL", s, s, &tierstore.Options{FrontTTL: -time.Second}, "tierstore: Options.FrontTTL is -1s, want >= 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tierstore.New(tt.front, tt.back, tt.give)
			require.EqualError(t, err, tt.want)
			assert.Nil(t, got)
		})
	}
}

// TestReadThrough: a back hit fills the front for FrontTTL.
func TestReadThrough(t *testing.T) {
	clk := storetest.NewClock()
	front, back := mustMem(clk, 1<<20), mustMem(clk, 0)
	s := newTier(t, front, back, &tierstore.Options{FrontTTL: 10 * time.Second})
	ctx := t.Context()
	require.NoError(t, back.Set(ctx, "k", []byte("v"), 0))

	got, err := s.Get(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, []byte("v"), got)
	got, err = front.Get(ctx, "k")
	require.NoError(t, err, "the front after a back hit")
	assert.Equal(t, []byte("v"), got)

	clk.Advance(10 * time.Second)
	_, err = front.Get(ctx, "k")
	require.ErrorIs(t, err, store.ErrNotFound, "the front after FrontTTL")
	_, err = s.Get(ctx, "k")
	require.NoError(t, err, "the back still has it")

	_, err = s.Get(ctx, "missing")
	require.ErrorIs(t, err, store.ErrNotFound)
	assert.Same(t, store.ErrNotFound, err, "a miss stays a bare sentinel")
}

// TestStalenessBound: a delete from another process, straight in the
// back, goes unseen until FrontTTL has passed.
func TestStalenessBound(t *testing.T) {
	clk := storetest.NewClock()
	front, back := mustMem(clk, 1<<20), mustMem(clk, 0)
	s := newTier(t, front, back, &tierstore.Options{FrontTTL: 30 * time.Second})
	ctx := t.Context()
	require.NoError(t, s.Set(ctx, "k", []byte("v"), time.Hour))
	require.NoError(t, back.Delete(ctx, "k")) // another process

	clk.Advance(30*time.Second - 1)
	got, err := s.Get(ctx, "k")
	require.NoError(t, err, "within FrontTTL the front still serves it")
	assert.Equal(t, []byte("v"), got)
	clk.Advance(1)
	_, err = s.Get(ctx, "k")
	require.ErrorIs(t, err, store.ErrNotFound, "after FrontTTL")
}

// TestSetTTLs: the front gets the smaller of ttl and FrontTTL.
func TestSetTTLs(t *testing.T) {
	clk := storetest.NewClock()
	front, back := mustMem(clk, 1<<20), mustMem(clk, 0)
	s := newTier(t, front, back, nil) // FrontTTL 1m
	ctx := t.Context()
	require.NoError(t, s.Set(ctx, "short", []byte("a"), 10*time.Second))
	require.NoError(t, s.Set(ctx, "long", []byte("b"), time.Hour))
	require.NoError(t, s.Set(ctx, "none", []byte("c"), 0))

	clk.Advance(10 * time.Second)
	_, err := front.Get(ctx, "short")
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = back.Get(ctx, "short")
	require.ErrorIs(t, err, store.ErrNotFound)
	clk.Advance(50 * time.Second)
	for _, k := range []string{"long", "none"} {
		_, err = front.Get(ctx, k)
		require.ErrorIs(t, err, store.ErrNotFound, "front %s after FrontTTL", k)
		_, err = back.Get(ctx, k)
		require.NoError(t, err, "back %s", k)
	}
}

var errBoom = errors.New("boom")

// TestSetBackFails: the back's error is returned, and the front neither
// gets the new value nor keeps the old one.
func TestSetBackFails(t *testing.T) {
	front, back := newStub(), newStub()
	s := newTier(t, front, back, nil)
	ctx := t.Context()
	require.NoError(t, s.Set(ctx, "k", []byte("old"), 0))
	back.setErr = errBoom
	require.ErrorIs(t, s.Set(ctx, "k", []byte("new"), 0), errBoom)
	_, err := front.Get(ctx, "k")
	require.ErrorIs(t, err, store.ErrNotFound, "the front after a failed back Set")
}

// TestSetFrontFails: the front's error is returned; the back has the value.
func TestSetFrontFails(t *testing.T) {
	front, back := newStub(), newStub()
	s := newTier(t, front, back, nil)
	ctx := t.Context()
	front.setErr = errBoom
	require.ErrorIs(t, s.Set(ctx, "k", []byte("v"), 0), errBoom)
	got, err := back.Get(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, []byte("v"), got)
}

// TestSetCancelledStillInvalidates: the front is invalidated after a failed
// back write even when ctx is cancelled.
func TestSetCancelledStillInvalidates(t *testing.T) {
	front, back := newStub(), newStub()
	s := newTier(t, front, back, nil)
	require.NoError(t, s.Set(t.Context(), "k", []byte("old"), 0))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	front.honourCtx, back.honourCtx = true, true
	require.ErrorIs(t, s.Set(ctx, "k", []byte("new"), 0), context.Canceled)
	front.honourCtx = false
	_, err := front.Get(t.Context(), "k")
	require.ErrorIs(t, err, store.ErrNotFound)
}

func TestDeleteTriesBoth(t *testing.T) {
	front, back := newStub(), newStub()
	s := newTier(t, front, back, nil)
	ctx := t.Context()
	require.NoError(t, s.Set(ctx, "k", []byte("v"), 0))
	back.delErr = errBoom
	require.ErrorIs(t, s.Delete(ctx, "k"), errBoom)
	_, err := front.Get(ctx, "k")
	require.ErrorIs(t, err, store.ErrNotFound, "the front is deleted even though the back failed")

	back.delErr, front.delErr = nil, errBoom
	require.ErrorIs(t, s.Delete(ctx, "k"), errBoom, "the front's error when the back succeeds")
	_, err = back.Get(ctx, "k")
	require.ErrorIs(t, err, store.ErrNotFound)
}

// TestFrontFailureFallsBack: a failing front is logged and read around.
func TestFrontFailureFallsBack(t *testing.T) {
	front, back := newStub(), newStub()
	var logs bytes.Buffer
	s := newTier(t, front, back, &tierstore.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	ctx := t.Context()
	require.NoError(t, back.Set(ctx, "k", []byte("v"), 0))
	front.getErr = errBoom
	got, err := s.Get(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, []byte("v"), got)
	assert.Contains(t, logs.String(), "front get failed")
	assert.Contains(t, logs.String(), "boom")
}

// TestFillCopiesBytes: the caller owns what Get returns even when the front
// keeps the slice it is given.
func TestFillCopiesBytes(t *testing.T) {
	front, back := newStub(), newStub() // stubs keep slices as given
	s := newTier(t, front, back, nil)
	ctx := t.Context()
	require.NoError(t, back.Set(ctx, "k", []byte("value"), 0))
	got, err := s.Get(ctx, "k")
	require.NoError(t, err)
	copy(got, "XXXXX")
	got, err = front.Get(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, []byte("value"), got)
}

func TestKeysFromBack(t *testing.T) {
	clk := storetest.NewClock()
	front, back := mustMem(clk, 1<<20), mustMem(clk, 0)
	s := newTier(t, front, back, nil)
	ctx := t.Context()
	require.NoError(t, back.Set(ctx, "only-back", []byte("v"), 0))
	require.NoError(t, front.Set(ctx, "only-front", []byte("v"), 0))
	var got []string
	for k, err := range s.Keys(ctx) {
		require.NoError(t, err)
		got = append(got, k)
	}
	assert.Equal(t, []string{"only-back"}, got)
}

func TestUnsupported(t *testing.T) {
	front, back := newStub(), noListOrClear{newStub()}
	s := newTier[[]byte](t, front, back, nil)
	ctx := t.Context()
	var errs []error
	for _, err := range s.Keys(ctx) {
		errs = append(errs, err)
	}
	require.Len(t, errs, 1)
	require.ErrorIs(t, errs[0], errors.ErrUnsupported)

	require.NoError(t, s.Set(ctx, "k", []byte("v"), 0))
	require.ErrorIs(t, s.Clear(ctx), errors.ErrUnsupported)
	_, err := front.Get(ctx, "k")
	require.ErrorIs(t, err, store.ErrNotFound, "the front is cleared even though the back cannot be")
}

func TestCloseOwnership(t *testing.T) {
	t.Run("Owns", func(t *testing.T) {
		front, back := newStub(), newStub()
		back.closeErr = errBoom
		s, err := tierstore.New[string, []byte](front, back, nil)
		require.NoError(t, err)
		require.ErrorIs(t, s.Close(), errBoom, "the back's Close error")
		assert.True(t, front.isClosed() && back.isClosed(), "both closed")
		require.NoError(t, s.Close(), "second Close")
	})
	t.Run("LeaveOpen", func(t *testing.T) {
		front, back := newStub(), newStub()
		s, err := tierstore.New[string, []byte](front, back, &tierstore.Options{LeaveOpen: true})
		require.NoError(t, err)
		require.NoError(t, s.Close())
		assert.False(t, front.isClosed() || back.isClosed(), "neither closed")
		_, err = s.Get(t.Context(), "k")
		require.ErrorIs(t, err, store.ErrClosed)
	})
}

func newTier[V any](t *testing.T, front, back store.Store[string, V], opts *tierstore.Options) *tierstore.Store[string, V] {
	t.Helper()
	s, err := tierstore.New(front, back, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func mustMem(clk *storetest.Clock, maxBytes int64) *memstore.Store[string, []byte] {
	s, err := memstore.New[string](&memstore.Options[[]byte]{MaxBytes: maxBytes, Clock: clk.Now})
	if err != nil {
		panic(err)
	}
	return s
}

// stub is a map store with injectable errors. It keeps and returns slices
// as they are, as a store that does not copy may.
type stub struct {
	mu                               sync.Mutex
	m                                map[string][]byte
	closed                           bool
	getErr, setErr, delErr, closeErr error
	honourCtx                        bool
}

func newStub() *stub { return &stub{m: make(map[string][]byte)} }

func (s *stub) Get(ctx context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.getErr != nil {
		return nil, s.getErr
	}
	v, ok := s.m[key]
	if !ok {
		return nil, store.ErrNotFound
	}
	return v, nil
}

func (s *stub) Set(ctx context.Context, key string, value []byte, _ time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.honourCtx && ctx.Err() != nil {
		return ctx.Err()
	}
	if s.setErr != nil {
		return s.setErr
	}
	s.m[key] = value
	return nil
}

func (s *stub) Delete(ctx context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.honourCtx && ctx.Err() != nil {
		return ctx.Err()
	}
	if s.delErr != nil {
		return s.delErr
	}
	delete(s.m, key)
	return nil
}

func (s *stub) Keys(context.Context) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		s.mu.Lock()
		keys := make([]string, 0, len(s.m))
		for k := range s.m {
			keys = append(keys, k)
		}
		s.mu.Unlock()
		for _, k := range keys {
			if !yield(k, nil) {
				return
			}
		}
	}
}

func (s *stub) Clear(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.m)
	return nil
}

func (s *stub) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return s.closeErr
}

func (s *stub) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// noListOrClear hides a store's Keys and Clear.
type noListOrClear struct{ s *stub }

func (n noListOrClear) Get(ctx context.Context, k string) ([]byte, error) { return n.s.Get(ctx, k) }
func (n noListOrClear) Set(ctx context.Context, k string, v []byte, ttl time.Duration) error {
	return n.s.Set(ctx, k, v, ttl)
}
func (n noListOrClear) Delete(ctx context.Context, k string) error { return n.s.Delete(ctx, k) }
func (n noListOrClear) Close() error                               { return n.s.Close() }
