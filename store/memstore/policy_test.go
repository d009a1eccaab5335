package memstore_test

import (
	"container/list"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/memstore"
)

// cache is what the policy tests replay requests through: memstore, or a
// reference policy that the same test must fail with.
type cache interface {
	// request looks key up and, on a miss, stores it; it reports a hit.
	request(key string) bool
}

type memCache struct {
	t *testing.T
	s *memstore.Store[string, []byte]
}

func (c memCache) request(key string) bool {
	_, err := c.s.Get(c.t.Context(), key)
	if err == nil {
		return true
	}
	require.ErrorIs(c.t, err, store.ErrNotFound)
	require.NoError(c.t, c.s.Set(c.t.Context(), key, []byte("v"), 0))
	return false
}

// lruCache is exact least-recently-used over n entries.
type lruCache struct {
	n     int
	order *list.List
	m     map[string]*list.Element
}

func newLRU(n int) *lruCache {
	return &lruCache{n: n, order: list.New(), m: map[string]*list.Element{}}
}

func (c *lruCache) request(key string) bool {
	if e, ok := c.m[key]; ok {
		c.order.MoveToFront(e)
		return true
	}
	c.m[key] = c.order.PushFront(key)
	if c.order.Len() > c.n {
		delete(c.m, c.order.Remove(c.order.Back()).(string))
	}
	return false
}

// clockCache is CLOCK (second chance) over n entries, memstore's policy
// before frequency counts.
type clockCache struct {
	n     int
	order *list.List // front: newest; values *clockEntry
	m     map[string]*list.Element
}

type clockEntry struct {
	key     string
	visited bool
}

func newCLOCK(n int) *clockCache {
	return &clockCache{n: n, order: list.New(), m: map[string]*list.Element{}}
}

func (c *clockCache) request(key string) bool {
	if e, ok := c.m[key]; ok {
		e.Value.(*clockEntry).visited = true
		return true
	}
	c.m[key] = c.order.PushFront(&clockEntry{key: key})
	for c.order.Len() > c.n {
		back := c.order.Back()
		if ce := back.Value.(*clockEntry); ce.visited {
			ce.visited = false
			c.order.MoveToFront(back)
			continue
		}
		delete(c.m, c.order.Remove(back).(*clockEntry).key)
	}
	return false
}

// zipfKeys returns n keys drawn from keys "k0" to "k<urls-1>" with
// P(i) ∝ 1/(i+1)^s, the same on every run.
func zipfKeys(urls int, s float64, n int) []string {
	cdf := make([]float64, urls)
	var sum float64
	for i := range cdf {
		sum += math.Pow(float64(i+1), -s)
		cdf[i] = sum
	}
	r := rand.New(rand.NewPCG(1, 2))
	keys := make([]string, n)
	for i := range keys {
		j, _ := slices.BinarySearch(cdf, r.Float64()*sum)
		keys[i] = fmt.Sprint("k", min(j, urls-1))
	}
	return keys
}

func missRatio(c cache, keys []string, warmup int) float64 {
	misses := 0
	for i, k := range keys {
		if !c.request(k) && i >= warmup {
			misses++
		}
	}
	return float64(misses) / float64(len(keys)-warmup)
}

// On a Zipf workload (s=0.9: a long tail, the harder case) the store
// misses well below what a recency policy of the same size misses: it
// keeps what is requested most rather than what was requested last. The
// bound sits between the two, so the test fails with LRU or CLOCK.
func TestZipfMissRatio(t *testing.T) {
	t.Parallel()
	const (
		entries = 500 // one shard
		bound   = 0.40
	)
	keys := zipfKeys(5000, 0.9, 150_000)
	warmup := 20_000

	lru := missRatio(newLRU(entries), keys, warmup)
	clock := missRatio(newCLOCK(entries), keys, warmup)
	s := newStore(t, &memstore.Options[[]byte]{MaxEntries: entries})
	got := missRatio(memCache{t, s}, keys, warmup)
	t.Logf("miss ratio: memstore %.4f, LRU %.4f, CLOCK %.4f", got, lru, clock)
	require.Greater(t, lru, bound, "the bound does not tell LRU apart")
	require.Greater(t, clock, bound, "the bound does not tell CLOCK apart")
	assert.Less(t, got, bound)
	assert.LessOrEqual(t, s.Len(), entries)
}

// A one-off sweep through cold keys does not flush the hot set: each swept
// key is seen once, and an entry seen once does not push out entries read
// since they were set. Two sweeps: one of three times as many keys as the
// store holds with no read of the hot set while it runs, and one of twenty
// times as many while the hot keys are read now and then, each after more
// than the store holds of other keys. A recency policy loses every hot key
// to either.
func TestScanResistance(t *testing.T) {
	t.Parallel()
	const (
		entries = 1024 // four shards
		hot     = 100
	)
	tests := []struct {
		name  string
		sweep int // cold keys
		every int // a hot read after every this many cold ones; 0: none
	}{
		{"Alone", 3 * entries, 0},
		{"WithHotReads", 20 * entries, 20}, // a hot key comes back after 2000 cold ones
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t, &memstore.Options[[]byte]{MaxEntries: entries})
			lru := newLRU(entries)
			var misses [2]int // hot reads that missed during the sweep
			for ci, c := range []cache{memCache{t, s}, lru} {
				for range 3 {
					for i := range hot {
						c.request(fmt.Sprint("hot", i))
					}
				}
				for i := range tt.sweep {
					require.False(t, c.request(fmt.Sprint("cold", i)), "a cold key hit")
					if tt.every > 0 && i%tt.every == tt.every-1 {
						if !c.request(fmt.Sprint("hot", i/tt.every%hot)) {
							misses[ci]++
						}
					}
				}
			}
			lost, lruLost := 0, 0
			for i := range hot {
				if _, err := s.Get(t.Context(), fmt.Sprint("hot", i)); err != nil {
					lost++
				}
				if _, ok := lru.m[fmt.Sprint("hot", i)]; !ok {
					lruLost++
				}
			}
			assert.Zero(t, lost, "hot keys lost to the sweep")
			assert.Zero(t, misses[0], "hot reads that missed during the sweep")
			assert.LessOrEqual(t, s.Len(), entries)
			// The test can fail: LRU fails it.
			if tt.every == 0 {
				assert.Equal(t, hot, lruLost, "LRU kept hot keys: the sweep is too short to test anything")
			} else {
				reads := tt.sweep / tt.every
				assert.Greater(t, misses[1], reads*9/10, "LRU hit most hot reads: they come back too soon to test anything")
			}
		})
	}
}
