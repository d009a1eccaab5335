package bench

import (
	"slices"
	"testing"
)

// TestSubjectsServeHits checks what the benchmarks rely on: every cache
// they measure answers its second request from the cache, with the
// origin's header fields, apiFields included. It runs in the normal test
// run, so a store that stops caching fails here rather than making a
// benchmark measure misses.
func TestSubjectsServeHits(t *testing.T) {
	t.Parallel()
	for _, s := range subjects() {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			o := newOrigin(t, 1<<10, apiFields)
			rt, url := warm(t, s, o, 0)
			before := o.hits.Load()
			for range 3 {
				resp := get(t, rt, newRequest(t, url))
				if !s.hit(resp) {
					t.Fatal("not a hit")
				}
				for k, vs := range apiFields {
					if got := resp.Header.Values(k); !slices.Equal(got, vs) {
						t.Errorf("hit's %s = %q, want %q", k, got, vs)
					}
				}
			}
			if o.hits.Load() != before {
				t.Fatal("a hit reached the origin")
			}
		})
	}
}
