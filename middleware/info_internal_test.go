package middleware

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestInfoFromHeader covers the fallback InfoOf uses when a layer above
// the cache has replaced the response body.
func TestInfoFromHeader(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		give []string // Cache-Status lines
		age  string
		want Info
	}{
		{"none", nil, "", Info{}},
		{"miss", []string{"cachestack; fwd=uri-miss"}, "", Info{}},
		{"other cache's hit", []string{"upstream; hit"}, "", Info{}},
		{"hit never expires", []string{"cachestack; hit"}, "30", Info{FromCache: true, Created: now.Add(-30 * time.Second)}},
		{"hit with ttl", []string{"cachestack; hit; ttl=60"}, "0", Info{FromCache: true, Created: now, Expires: now.Add(time.Minute)}},
		{"stale hit", []string{"cachestack; hit; ttl=-5"}, "65", Info{FromCache: true, Created: now.Add(-65 * time.Second), Expires: now.Add(-5 * time.Second), Stale: true}},
		{"revalidated", []string{"cachestack; fwd=stale; fwd-status=304; ttl=60"}, "0", Info{FromCache: true, Revalidated: true, Created: now, Expires: now.Add(time.Minute)}},
		{"stale if error", []string{"cachestack; fwd=stale; fwd-status=503; detail=stale-if-error; ttl=-10"}, "", Info{FromCache: true, Expires: now.Add(-10 * time.Second), Stale: true}},
		{"ours after an upstream member", []string{"upstream; fwd=uri-miss, cachestack; hit"}, "", Info{FromCache: true}},
		{"forwarded after revalidation failed", []string{"cachestack; fwd=stale; fwd-status=200"}, "", Info{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			for _, v := range tt.give {
				h.Add("Cache-Status", v)
			}
			if tt.age != "" {
				h.Set("Age", tt.age)
			}
			assert.Equal(t, tt.want, infoFromHeader(h, now))
		})
	}
}
