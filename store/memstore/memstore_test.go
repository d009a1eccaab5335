package memstore_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/memstore"
	"github.com/cachestack/cachestack/store/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestConformanceBytes(t *testing.T) {
	tests := []struct {
		name string
		give memstore.Options[[]byte]
	}{
		{"Sharded", memstore.Options[[]byte]{}}, // 64 MiB: 16 shards
		{"OneShard", memstore.Options[[]byte]{MaxEntries: 100, MaxBytes: 1 << 20}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := storetest.NewClock()
			h := storetest.Bytes(func(t *testing.T) store.Store[string, []byte] {
				opts := tt.give
				opts.Clock = clk.Now
				s, err := memstore.New[string](&opts)
				require.NoError(t, err)
				return s
			})
			h.Advance = clk.Advance
			storetest.Run(t, h)
		})
	}
}

func TestConformanceTyped(t *testing.T) {
	clk := storetest.NewClock()
	h := storetest.Responses(func(t *testing.T) store.Store[string, *cached.Response] {
		s, err := memstore.New[string](&memstore.Options[*cached.Response]{Clock: clk.Now})
		require.NoError(t, err)
		return s
	})
	h.Advance = clk.Advance
	storetest.Run(t, h)
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name string
		give *memstore.Options[[]byte]
		want string
	}{
		{"NegativeMaxBytes", &memstore.Options[[]byte]{MaxBytes: -5}, "memstore: Options.MaxBytes is -5, want >= 0"},
		{"NegativeMaxEntries", &memstore.Options[[]byte]{MaxEntries: -1}, "memstore: Options.MaxEntries is -1, want >= 0"},
		{"BothNegative", &memstore.Options[[]byte]{MaxBytes: -1, MaxEntries: -1}, "memstore: Options.MaxBytes is -1, want >= 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := memstore.New[string](tt.give)
			require.EqualError(t, err, tt.want)
			assert.Nil(t, s)
		})
	}
}

func TestDefaultBudget(t *testing.T) {
	for _, give := range []*memstore.Options[[]byte]{nil, {}} {
		s, err := memstore.New[int](give)
		require.NoError(t, err)
		ctx := t.Context()
		// 64 MiB over 16 shards: 4 MiB values fit, bigger ones are not kept.
		require.NoError(t, s.Set(ctx, 1, make([]byte, 4<<20), 0))
		require.ErrorIs(t, s.Set(ctx, 2, make([]byte, 4<<20+1), 0), store.ErrTooLarge)
		_, err = s.Get(ctx, 1)
		require.NoError(t, err)
		_, err = s.Get(ctx, 2)
		require.ErrorIs(t, err, store.ErrNotFound)
		assert.EqualValues(t, 4<<20, s.Bytes())
		require.NoError(t, s.Close())
	}
}

func TestEntryBudget(t *testing.T) {
	s := newStore(t, &memstore.Options[[]byte]{MaxEntries: 3})
	ctx := t.Context()
	for _, k := range []string{"a", "b", "c"} {
		require.NoError(t, s.Set(ctx, k, []byte(k), 0))
	}
	for _, k := range []string{"a", "b"} {
		_, err := s.Get(ctx, k)
		require.NoError(t, err)
	}
	// d is the newest: it stays, in the window. c, which d pushes out
	// of the window, was used once (when it was set) and would have to
	// push out a or b, used twice: c goes.
	require.NoError(t, s.Set(ctx, "d", []byte("d"), 0))
	assertKeys(t, s, "a", "b", "d")
	assert.Equal(t, 3, s.Len())
	// Read twice more, d has been used three times when e pushes it out
	// of the window: more than a, the main space's oldest, which goes.
	for range 2 {
		_, err := s.Get(ctx, "d")
		require.NoError(t, err)
	}
	require.NoError(t, s.Set(ctx, "e", []byte("e"), 0))
	assertKeys(t, s, "b", "d", "e")
	assert.Equal(t, 3, s.Len())
}

// A value that keeps being read is never evicted, however many others are
// set after it: each read earns it another second chance.
func TestReadEntriesStay(t *testing.T) {
	s := newStore(t, &memstore.Options[[]byte]{MaxEntries: 4})
	ctx := t.Context()
	require.NoError(t, s.Set(ctx, "hot", []byte("h"), 0))
	for i := range 100 {
		require.NoError(t, s.Set(ctx, fmt.Sprint("k", i), []byte("v"), 0))
		_, err := s.Get(ctx, "hot")
		require.NoError(t, err, "after %d sets", i+1)
	}
	assert.Equal(t, 4, s.Len())
}

func TestByteBudget(t *testing.T) {
	s := newStore(t, &memstore.Options[[]byte]{MaxBytes: 10})
	ctx := t.Context()
	require.NoError(t, s.Set(ctx, "a", []byte("aaaa"), 0))
	require.NoError(t, s.Set(ctx, "b", []byte("bbbb"), 0))
	_, err := s.Get(ctx, "a")
	require.NoError(t, err)
	// 12 > 10: c, new, would push out b, used as often (once): c is not
	// kept. (A 10-byte budget leaves no room for a window; see the
	// package documentation.)
	require.NoError(t, s.Set(ctx, "c", []byte("cccc"), 0))
	assertKeys(t, s, "a", "b")
	assert.EqualValues(t, 8, s.Bytes())
	// Asked for again, c has been used twice: more than b, which goes.
	require.NoError(t, s.Set(ctx, "c", []byte("cccc"), 0))
	assertKeys(t, s, "a", "c")
	assert.EqualValues(t, 8, s.Bytes())

	require.NoError(t, s.Set(ctx, "a", []byte("aaaaaa"), 0)) // 10: fits exactly
	assertKeys(t, s, "a", "c")
	assert.EqualValues(t, 10, s.Bytes())
	require.NoError(t, s.Set(ctx, "a", []byte("aaaaaaa"), 0)) // 7 + 4 > 10: c goes
	assertKeys(t, s, "a")
	assert.EqualValues(t, 7, s.Bytes())
}

func TestBothBudgets(t *testing.T) {
	s := newStore(t, &memstore.Options[[]byte]{MaxBytes: 100, MaxEntries: 2})
	ctx := t.Context()
	for _, k := range []string{"a", "b", "c"} {
		require.NoError(t, s.Set(ctx, k, []byte(k), 0))
	}
	assertKeys(t, s, "a", "c") // b, new, does not push out a, as often used
	for range 3 {
		require.NoError(t, s.Set(ctx, "d", bytes.Repeat([]byte("d"), 100), 0))
	}
	assertKeys(t, s, "d") // set thrice, d is worth both
}

func TestOversizeEntryIsNotKept(t *testing.T) {
	s := newStore(t, &memstore.Options[[]byte]{MaxBytes: 10})
	ctx := t.Context()
	require.NoError(t, s.Set(ctx, "a", []byte("aaaa"), 0))
	require.ErrorIs(t, s.Set(ctx, "big", make([]byte, 11), 0), store.ErrTooLarge, "an entry the budget cannot hold is refused, not silently dropped")
	assertKeys(t, s, "a") // and a was not evicted to make room
	require.ErrorIs(t, s.Set(ctx, "a", make([]byte, 11), 0), store.ErrTooLarge)
	_, err := s.Get(ctx, "a")
	require.ErrorIs(t, err, store.ErrNotFound, "an oversize Set must not leave the old value behind")
	assert.Zero(t, s.Len())
	assert.Zero(t, s.Bytes())
}

func TestExpiredEntriesAreRemovedLazily(t *testing.T) {
	clk := storetest.NewClock()
	s := newStore(t, &memstore.Options[[]byte]{Clock: clk.Now})
	ctx := t.Context()
	require.NoError(t, s.Set(ctx, "a", []byte("aaaa"), time.Second))
	require.NoError(t, s.Set(ctx, "b", []byte("bb"), time.Second))
	clk.Advance(time.Second)
	assert.Equal(t, 2, s.Len(), "expired entries stay until something reaches them")
	_, err := s.Get(ctx, "a")
	require.ErrorIs(t, err, store.ErrNotFound)
	assert.Equal(t, 1, s.Len())
	assert.EqualValues(t, 2, s.Bytes())
	assertKeys(t, s) // Keys removes what it passes
	assert.Zero(t, s.Len())
	assert.Zero(t, s.Bytes())
}

type sized struct{ n int64 }

func (s sized) Size() int64 { return s.n }

type unsized struct{ n int64 }

func TestDefaultSize(t *testing.T) {
	ctx := t.Context()
	t.Run("Response", func(t *testing.T) {
		s := newStore(t, &memstore.Options[*cached.Response]{})
		r := storetest.Response(3)
		require.NoError(t, s.Set(ctx, "r", r, 0))
		require.NoError(t, s.Set(ctx, "nil", nil, 0))
		assert.Equal(t, r.Size()+1, s.Bytes(), "Size() for a response, 1 for a nil pointer")
		got, err := s.Get(ctx, "r")
		require.NoError(t, err)
		assert.Same(t, r, got, "typed values are stored as is")
	})
	t.Run("String", func(t *testing.T) {
		s := newStore(t, &memstore.Options[string]{})
		require.NoError(t, s.Set(ctx, "k", "hello", 0))
		assert.EqualValues(t, 5, s.Bytes())
	})
	t.Run("SizeMethod", func(t *testing.T) {
		s := newStore(t, &memstore.Options[sized]{})
		require.NoError(t, s.Set(ctx, "k", sized{42}, 0))
		require.NoError(t, s.Set(ctx, "negative", sized{-7}, 0))
		assert.EqualValues(t, 42, s.Bytes())
	})
	t.Run("Other", func(t *testing.T) {
		s := newStore(t, &memstore.Options[unsized]{})
		require.NoError(t, s.Set(ctx, "k", unsized{42}, 0))
		assert.EqualValues(t, 1, s.Bytes())
	})
	t.Run("Custom", func(t *testing.T) {
		s := newStore(t, &memstore.Options[unsized]{Size: func(u unsized) int64 { return u.n * 2 }})
		require.NoError(t, s.Set(ctx, "k", unsized{21}, 0))
		assert.EqualValues(t, 42, s.Bytes())
	})
}

func TestGetDoesNotAllocate(t *testing.T) {
	ctx := t.Context()
	typed := newStore(t, &memstore.Options[*cached.Response]{})
	require.NoError(t, typed.Set(ctx, "hit", storetest.Response(1), time.Hour))
	raw := newStore(t, &memstore.Options[[]byte]{})
	require.NoError(t, raw.Set(ctx, "hit", make([]byte, 1024), 0))

	tests := []struct {
		name string
		give func()
		want float64
	}{
		{"TypedHit", func() { _, _ = typed.Get(ctx, "hit") }, 0},
		{"TypedMiss", func() { _, _ = typed.Get(ctx, "miss") }, 0},
		{"BytesMiss", func() { _, _ = raw.Get(ctx, "miss") }, 0},
		{"BytesHit", func() { _, _ = raw.Get(ctx, "hit") }, 1}, // the copy the caller owns
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, testing.AllocsPerRun(100, tt.give))
		})
	}
}

func TestErrors(t *testing.T) {
	s := newStore(t, &memstore.Options[[]byte]{})
	ctx := t.Context()
	err := s.Set(ctx, "k", nil, -time.Second)
	require.EqualError(t, err, `memstore set "k": store: negative ttl`)
	var se *store.Error
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "set", se.Op)

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	for _, err := range s.Keys(cancelled) {
		require.EqualError(t, err, "memstore keys: context canceled")
	}
	require.ErrorIs(t, s.Clear(cancelled), context.Canceled)

	require.NoError(t, s.Close())
	_, err = s.Get(ctx, "k")
	require.EqualError(t, err, `memstore get "k": store: closed`)
	assert.Zero(t, s.Len())
}

func TestConcurrentEviction(t *testing.T) {
	s := newStore(t, &memstore.Options[[]byte]{MaxEntries: 1024, MaxBytes: 64 << 10})
	ctx := t.Context()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				k := fmt.Sprint((g*131 + i*7) % 3000)
				if i%3 == 0 {
					_, _ = s.Get(ctx, k)
					continue
				}
				assert.NoError(t, s.Set(ctx, k, make([]byte, i%200), 0))
			}
		})
	}
	wg.Wait()
	assert.LessOrEqual(t, s.Len(), 1024)
	assert.LessOrEqual(t, s.Bytes(), int64(64<<10))
	var n int
	for _, err := range s.Keys(ctx) {
		require.NoError(t, err)
		n++
	}
	assert.Equal(t, s.Len(), n)
}

func newStore[V any](t *testing.T, opts *memstore.Options[V]) *memstore.Store[string, V] {
	t.Helper()
	s, err := memstore.New[string](opts)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	return s
}

func assertKeys[V any](t *testing.T, s *memstore.Store[string, V], want ...string) {
	t.Helper()
	got := []string{}
	for k, err := range s.Keys(t.Context()) {
		require.NoError(t, err)
		got = append(got, k)
	}
	assert.ElementsMatch(t, want, got)
}

func TestUseClock(t *testing.T) {
	t.Parallel()
	storetest.UseClock(t, storetest.Bytes(func(t *testing.T) store.Store[string, []byte] {
		s, err := memstore.New[string, []byte](nil)
		require.NoError(t, err)
		return s
	}))
}
