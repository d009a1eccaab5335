package bench

import (
	"testing"
)

// TestSubjectsServeHits checks what the benchmarks rely on: every cache
// they measure answers its second request from the cache. It runs in the
// normal test run, so a store that stops caching fails here rather than
// making a benchmark measure misses.
func TestSubjectsServeHits(t *testing.T) {
	t.Parallel()
	for _, s := range subjects() {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			rt, o, url := warm(t, s, 1<<10, 0)
			before := o.hits.Load()
			for range 3 {
				if !s.hit(get(t, rt, newRequest(t, url))) {
					t.Fatal("not a hit")
				}
			}
			if o.hits.Load() != before {
				t.Fatal("a hit reached the origin")
			}
		})
	}
}
