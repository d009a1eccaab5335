package bigcachestore_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/codec"
	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/bigcachestore"
	"github.com/cachestack/cachestack/store/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestConformance(t *testing.T) {
	tests := []struct {
		name string
		give bigcachestore.Options
	}{
		{"Default", bigcachestore.Options{}},                             // 16 shards of 4 MiB
		{"OneShard", bigcachestore.Options{MaxBytes: 1}},                 // 1 MiB
		{"CleanWindow", bigcachestore.Options{CleanWindow: time.Second}}, // with bigcache's goroutine
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := storetest.NewClock()
			h := storetest.Bytes(func(t *testing.T) store.Store[string, []byte] {
				opts := tt.give
				opts.Clock = clk.Now
				s, err := bigcachestore.New(&opts)
				require.NoError(t, err)
				return s
			})
			h.Advance = clk.Advance
			storetest.Run(t, h)
		})
	}
}

// TestConformanceBound runs the suite on responses stored through
// codec.Bind, the way the cache uses a byte store.
func TestConformanceBound(t *testing.T) {
	clk := storetest.NewClock()
	h := storetest.Responses(func(t *testing.T) store.Store[string, *cached.Response] {
		s, err := bigcachestore.New(&bigcachestore.Options{Clock: clk.Now})
		require.NoError(t, err)
		return codec.Bind(s, codec.Response())
	})
	h.Advance = clk.Advance
	storetest.Run(t, h)
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name string
		give bigcachestore.Options
		want string
	}{
		{"NegativeMaxBytes", bigcachestore.Options{MaxBytes: -5}, "bigcachestore: Options.MaxBytes is -5, want >= 0"},
		{"NegativeShards", bigcachestore.Options{Shards: -1}, "bigcachestore: Options.Shards is -1, want 0 or a power of two"},
		{"ShardsNotPowerOfTwo", bigcachestore.Options{Shards: 12}, "bigcachestore: Options.Shards is 12, want 0 or a power of two"},
		{"TooManyShards", bigcachestore.Options{MaxBytes: 4 << 20, Shards: 8}, "bigcachestore: Options.Shards is 8, want at most 4 for a 4 MiB budget (1 MiB a shard)"},
		{"NegativeLifeWindow", bigcachestore.Options{LifeWindow: -time.Second}, "bigcachestore: Options.LifeWindow is -1s, want >= 0"},
		{"NegativeCleanWindow", bigcachestore.Options{CleanWindow: -1}, "bigcachestore: Options.CleanWindow is -1ns, want >= 0"},
		{"HugeMaxBytes", bigcachestore.Options{MaxBytes: 1 << 62}, "bigcachestore: Options.MaxBytes is 4611686018427387904, want at most 2251799812636672"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := bigcachestore.New(&tt.give)
			require.EqualError(t, err, tt.want)
			assert.Nil(t, s)
		})
	}
}

// TestLifeWindow: an entry is a miss from the earlier of its ttl and the
// life window.
func TestLifeWindow(t *testing.T) {
	clk := storetest.NewClock()
	s := newStore(t, &bigcachestore.Options{LifeWindow: 10 * time.Second, Clock: clk.Now})
	ctx := t.Context()
	require.NoError(t, s.Set(ctx, "none", []byte("a"), 0))
	require.NoError(t, s.Set(ctx, "5s", []byte("b"), 5*time.Second))
	require.NoError(t, s.Set(ctx, "1h", []byte("c"), time.Hour))

	clk.Advance(5*time.Second - 1)
	assertKeys(t, s, "none", "5s", "1h")
	clk.Advance(1)
	assertKeys(t, s, "none", "1h")
	clk.Advance(5*time.Second - 1)
	assertKeys(t, s, "none", "1h")
	clk.Advance(1)
	assertKeys(t, s)

	require.NoError(t, s.Set(ctx, "1h", []byte("d"), time.Hour))
	assertKeys(t, s, "1h")
}

// TestOversizeValue: a value over half a shard is not kept, is not an
// error, removes the older value under its key, and leaves the rest of its
// shard alone (bigcache itself would have emptied the shard).
func TestOversizeValue(t *testing.T) {
	s := newStore(t, &bigcachestore.Options{MaxBytes: 1 << 20}) // one 1 MiB shard
	ctx := t.Context()
	for i := range 100 {
		require.NoError(t, s.Set(ctx, fmt.Sprint("other", i), []byte("kept"), 0))
	}
	require.NoError(t, s.Set(ctx, "k", []byte("small"), 0))

	const half = 512 << 10
	maxValue := half - 23 - 8 - len("k")
	require.ErrorIs(t, s.Set(ctx, "k", make([]byte, maxValue+1), 0), store.ErrTooLarge)
	_, err := s.Get(ctx, "k")
	require.ErrorIs(t, err, store.ErrNotFound, "after overwriting with a value over half a shard")
	for i := range 100 {
		_, err := s.Get(ctx, fmt.Sprint("other", i))
		require.NoError(t, err, "an oversize Set must not empty the shard")
	}

	require.NoError(t, s.Set(ctx, "k", make([]byte, maxValue), 0))
	got, err := s.Get(ctx, "k")
	require.NoError(t, err, "the largest value kept")
	assert.Len(t, got, maxValue)
}

// TestBudgetIsFIFO: a full store drops its oldest entries, and never
// fails a Set for want of space.
func TestBudgetIsFIFO(t *testing.T) {
	s := newStore(t, &bigcachestore.Options{MaxBytes: 1}) // rounded up to 1 MiB
	ctx := t.Context()
	const n = 4096 // 4 MiB of values
	for i := range n {
		require.NoError(t, s.Set(ctx, fmt.Sprint(i), make([]byte, 1<<10), 0))
	}
	_, err := s.Get(ctx, "0")
	require.ErrorIs(t, err, store.ErrNotFound, "the oldest entry of 4 MiB written into 1 MiB")
	_, err = s.Get(ctx, fmt.Sprint(n-1))
	require.NoError(t, err, "the newest entry")
	kept := 0
	for range s.Keys(ctx) {
		kept++
	}
	assert.Greater(t, kept, 512)
	assert.Less(t, kept, 1024, "1 KiB entries in 1 MiB with their overhead")
}

func TestKeyTooLong(t *testing.T) {
	s := newStore(t, nil)
	ctx := t.Context()
	long := strings.Repeat("k", bigcachestore.MaxKeyLen+1)
	err := s.Set(ctx, long, []byte("v"), 0)
	require.ErrorContains(t, err, "key is 65518 bytes, want at most 65517")
	require.NoError(t, s.Set(ctx, long[1:], []byte("v"), 0))
	got, err := s.Get(ctx, long[1:])
	require.NoError(t, err)
	assert.Equal(t, []byte("v"), got)
}

// TestGetReturnsOwnedSlice: the slice Get returns is the caller's, and
// appending to it cannot reach the store.
func TestGetReturnsOwnedSlice(t *testing.T) {
	s := newStore(t, nil)
	ctx := t.Context()
	require.NoError(t, s.Set(ctx, "k", []byte("value"), 0))
	a, err := s.Get(ctx, "k")
	require.NoError(t, err)
	b, err := s.Get(ctx, "k")
	require.NoError(t, err)
	copy(a, "XXXXX")
	assert.Equal(t, []byte("value"), b)
	assert.Equal(t, len(b), cap(b), "no spare capacity: an append copies")
}

// TestKeysLoopMayUseStore deletes every key from inside the loop over Keys.
func TestKeysLoopMayUseStore(t *testing.T) {
	s := newStore(t, nil)
	ctx := t.Context()
	for i := range 500 {
		require.NoError(t, s.Set(ctx, fmt.Sprint(i), []byte("v"), 0))
	}
	n := 0
	for k, err := range s.Keys(ctx) {
		require.NoError(t, err)
		require.NoError(t, s.Delete(ctx, k))
		n++
	}
	assert.Equal(t, 500, n)
	assertKeys(t, s)
}

// TestCloseStopsCleaner: with a CleanWindow bigcache runs a goroutine,
// which Close stops.
func TestCloseStopsCleaner(t *testing.T) {
	s, err := bigcachestore.New(&bigcachestore.Options{LifeWindow: time.Second, CleanWindow: time.Second})
	require.NoError(t, err)
	require.NoError(t, s.Set(t.Context(), "k", []byte("v"), 0))
	require.NoError(t, s.Close())
	goleak.VerifyNone(t)
}

func assertKeys(t *testing.T, s *bigcachestore.Store, want ...string) {
	t.Helper()
	var got []string
	for k, err := range s.Keys(t.Context()) {
		require.NoError(t, err)
		got = append(got, k)
	}
	assert.ElementsMatch(t, want, got, "Keys")
	for _, k := range want {
		_, err := s.Get(t.Context(), k)
		assert.NoError(t, err, "Get(%q)", k)
	}
}

func newStore(t *testing.T, opts *bigcachestore.Options) *bigcachestore.Store {
	t.Helper()
	s, err := bigcachestore.New(opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestMissDoesNotAllocate: a miss is store.ErrNotFound itself, with no
// allocation on the way.
func TestMissDoesNotAllocate(t *testing.T) {
	s, err := bigcachestore.New(nil)
	require.NoError(t, err)
	defer s.Close()
	ctx := t.Context()
	_, err = s.Get(ctx, "missing")
	require.Same(t, store.ErrNotFound, err)
	allocs := testing.AllocsPerRun(1000, func() { _, _ = s.Get(ctx, "missing") })
	assert.Zero(t, allocs)
}
