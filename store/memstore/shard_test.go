package memstore

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/store"
)

func TestShardCount(t *testing.T) {
	tests := []struct {
		name        string
		giveBytes   int64
		giveEntries int
		want        int
	}{
		{"Default", DefaultMaxBytes, 0, 16},
		{"Huge", 1 << 40, 0, 16},
		{"8MiB", 8 << 20, 0, 2},
		{"JustUnder8MiB", 8<<20 - 1, 0, 1},
		{"Tiny", 10, 0, 1},
		{"Entries", 0, 4096, 16},
		{"512Entries", 0, 512, 2},
		{"FewEntries", 0, 511, 1},
		{"SmallerBudgetWins", 1 << 30, 1024, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, shardCount(tt.giveBytes, tt.giveEntries))
		})
	}
}

func TestBudgetIsShared(t *testing.T) {
	s, err := New[string, []byte](&Options[[]byte]{MaxBytes: 1<<24 + 3, MaxEntries: 4096 + 1})
	assert.NoError(t, err)
	var bytes, entries int64
	for i := range s.shards {
		bytes += s.shards[i].maxBytes
		entries += int64(s.shards[i].maxEntries)
	}
	assert.Len(t, s.shards, 4)
	assert.EqualValues(t, 1<<24+3, bytes)
	assert.EqualValues(t, 4096+1, entries)
}

// checkShard fails t unless every entry of sh's map is in exactly one
// segment, the segments' counts and costs add up to the shard's, and the
// shard is within its budgets.
func checkShard[K comparable, V any](t *testing.T, sh *shard[K, V]) {
	t.Helper()
	seen := map[*entry[K, V]]bool{}
	var bytes int64
	for _, g := range []*segment[K, V]{&sh.window, &sh.probation, &sh.protected} {
		var n int
		var gb int64
		for e := g.head.next; e != &g.head; e = e.next {
			require.Equal(t, g.id, e.seg, "entry in the wrong segment")
			require.False(t, seen[e], "entry in two segments")
			require.Same(t, e, sh.entries[e.key], "listed entry not in the map")
			require.Same(t, e, e.next.prev)
			seen[e] = true
			n++
			gb += e.cost
		}
		require.Equal(t, g.n, n, "segment %d count", g.id)
		require.Equal(t, g.bytes, gb, "segment %d bytes", g.id)
		bytes += gb
	}
	require.Zero(t, sh.pending.n, "victims left pending")
	require.Len(t, sh.entries, len(seen), "entries in the map but in no segment")
	require.Equal(t, sh.bytes, bytes)
	if sh.maxBytes > 0 {
		require.LessOrEqual(t, sh.bytes, sh.maxBytes)
	}
	if sh.maxEntries > 0 {
		require.LessOrEqual(t, len(sh.entries), sh.maxEntries)
	}
}

// Random Sets (new keys and overwrites, of random sizes), Gets and Deletes
// keep the segments consistent with the map and within the budgets.
func TestSegmentsStayConsistent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		maxBytes   int64
		maxEntries int
	}{
		{"Bytes", 64 << 10, 0},
		{"Entries", 0, 200},
		{"Both", 32 << 10, 150},
		{"Tiny", 50, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := New[int, []byte](&Options[[]byte]{MaxBytes: tt.maxBytes, MaxEntries: tt.maxEntries})
			require.NoError(t, err)
			defer s.Close()
			ctx := t.Context()
			r := rand.New(rand.NewPCG(7, 8))
			for i := range 50_000 {
				k := int(r.ExpFloat64() * 300)
				switch op := r.IntN(10); {
				case op < 5:
					_, _ = s.Get(ctx, k)
				case op < 9:
					size := r.IntN(2 << 10)
					if tt.maxBytes > 0 && tt.maxBytes < 1<<10 {
						size = r.IntN(int(tt.maxBytes) + 1)
					}
					require.NoError(t, s.Set(ctx, k, make([]byte, size), 0))
				default:
					require.NoError(t, s.Delete(ctx, k))
				}
				if i%1000 == 0 {
					checkShard(t, &s.shards[0])
				}
			}
			checkShard(t, &s.shards[0])
		})
	}
}

func TestSketch(t *testing.T) {
	t.Parallel()
	var s sketch
	s.init(1000)
	assert.Len(t, s.table, 1024)
	const a, b = 0x1234_5678_9abc_def0, 0x0fed_cba9_8765_4321
	for i := range 20 {
		assert.EqualValues(t, min(i+1, 15), s.add(a), "add %d", i+1)
	}
	assert.EqualValues(t, 15, s.estimate(a), "counters saturate")
	assert.Zero(t, s.estimate(b))
	s.raise(b, 6)
	assert.EqualValues(t, 6, s.estimate(b))
	s.raise(b, 2)
	assert.EqualValues(t, 6, s.estimate(b), "raise never lowers")
	s.halve()
	assert.EqualValues(t, 7, s.estimate(a))
	assert.EqualValues(t, 3, s.estimate(b))
	assert.Equal(t, 7, s.additions, "15 adds counted (not those at 15), then halved")
}

// A hot entry's state stops changing: once it is marked and its count is
// at the top, a Get writes nothing.
func TestHotEntryIsNotWritten(t *testing.T) {
	t.Parallel()
	s, err := New[string, []byte](&Options[[]byte]{MaxEntries: 10})
	require.NoError(t, err)
	defer s.Close()
	ctx := t.Context()
	require.NoError(t, s.Set(ctx, "k", []byte("v"), 0))
	e := s.shards[0].entries["k"]
	for range 20 {
		_, err := s.Get(ctx, "k")
		require.NoError(t, err)
	}
	assert.EqualValues(t, hot, e.state.Load())
}

// A candidate that loses leaves the victims it was weighed against where
// they were, in their order.
func TestLostAdmissionKeepsOrder(t *testing.T) {
	t.Parallel()
	s, err := New[int, []byte](&Options[[]byte]{MaxBytes: 1000}) // window 10 bytes, main 990
	require.NoError(t, err)
	defer s.Close()
	ctx := t.Context()
	for k := range 9 {
		require.NoError(t, s.Set(ctx, k, make([]byte, 100), 0))
	}
	order := func() []int {
		var keys []int
		for e := s.shards[0].probation.oldest(); e != &s.shards[0].probation.head; e = e.prev {
			keys = append(keys, e.key)
		}
		return keys
	}
	want := []int{0, 1, 2, 3, 4, 5, 6, 7, 8}
	require.Equal(t, want, order())
	// 100 needs 300 - 90 bytes: three entries, used once each. Set the
	// n-th time, it has been used n times, and loses once n are weighed.
	for range 3 {
		require.NoError(t, s.Set(ctx, 100, make([]byte, 300), 0))
		_, err := s.Get(ctx, 100)
		require.ErrorIs(t, err, store.ErrNotFound)
		assert.Equal(t, want, order())
		checkShard(t, &s.shards[0])
	}
	// A fourth time, it beats the three.
	require.NoError(t, s.Set(ctx, 100, make([]byte, 300), 0))
	assert.Equal(t, []int{3, 4, 5, 6, 7, 8, 100}, order())
	checkShard(t, &s.shards[0])
}
