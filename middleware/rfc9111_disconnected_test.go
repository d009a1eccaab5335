package middleware_test

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/cachestack/cachestack/middleware"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStaleWhenUnreachable is RFC 9111 §4.2.4: a cache that cannot reach
// the origin at all (a transport error, not a 5xx) may serve a stale
// stored response, unless the response forbids it (must-revalidate,
// no-cache) or the request asked for validation. It is the default,
// marked in Cache-Status, and CacheControlOptions.NoStaleWhenUnreachable
// turns it off. A 5xx is an answer, not a disconnection: it passes
// through (stale-if-error is for that).
func TestStaleWhenUnreachable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		respCC    string
		reqCC     string
		opts      *middleware.CacheControlOptions
		status    int // the origin answers with this instead of failing
		canceled  bool
		wantStale bool
	}{
		{name: "stale response served", respCC: "max-age=10", wantStale: true},
		{name: "must-revalidate forbids it", respCC: "max-age=10, must-revalidate"},
		{name: "no-cache forbids it", respCC: "no-cache"},
		{name: "the request's no-cache asks the origin", respCC: "max-age=10", reqCC: "no-cache"},
		{name: "the request's max-age asks the origin", respCC: "max-age=10", reqCC: "max-age=5"},
		{name: "turned off", respCC: "max-age=10", opts: &middleware.CacheControlOptions{NoStaleWhenUnreachable: true}},
		{name: "a 5xx passes through", respCC: "max-age=10", status: http.StatusBadGateway},
		{name: "the caller gave up", respCC: "max-age=10", canceled: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newClock()
			o := newOrigin(t, dated(c, func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("If-None-Match") != "" && tt.status != 0 {
					w.WriteHeader(tt.status)
					return
				}
				w.Header().Set("Cache-Control", tt.respCC)
				w.Header().Set("Etag", `"a"`)
				io.WriteString(w, "good")
			}))
			next := &failingTransport{next: testTransport(t)}
			rt, _ := newCCStack(t, c, ccOptions{next: next, cc: tt.opts})
			fetch(t, rt, o, o.URL, nil)
			c.Advance(time.Hour)
			if tt.status == 0 {
				next.down.Store(true)
			}
			ctx, cancel := context.WithCancel(context.Background())
			if tt.canceled {
				cancel()
			} else {
				defer cancel()
			}
			req := mustRequest(t, ctx, http.MethodGet, o.URL, nil)
			if tt.reqCC != "" {
				req.Header.Set("Cache-Control", tt.reqCC)
			}
			resp, err := rt.RoundTrip(req)
			if !tt.wantStale {
				if tt.status != 0 {
					require.NoError(t, err)
					resp.Body.Close()
					assert.Equal(t, tt.status, resp.StatusCode)
					return
				}
				assert.Error(t, err)
				assert.Nil(t, resp)
				return
			}
			require.NoError(t, err)
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			assert.Equal(t, "good", string(b))
			assert.True(t, middleware.InfoOf(resp).Stale)
			assert.Equal(t, "cachestack; fwd=stale; detail=unreachable; ttl=-3590", resp.Header.Get("Cache-Status"))
		})
	}
}
