package middleware_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cachestack/cachestack/middleware"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReusePOSTResponse is RFC 9110 §9.3.3 with
// CacheControlOptions.ReusePOSTResponses: a response to POST with explicit
// freshness and a Content-Location equal to the target URI answers a later
// GET of that URI from the cache. Without the option, without explicit
// freshness, with another Content-Location or another status, it does
// not.
func TestReusePOSTResponse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		off      bool
		cc       string
		location string // "" for the target path; "-" for none
		status   int
		want     bool
	}{
		{name: "reused", cc: "max-age=60", want: true},
		{name: "absolute Content-Location", cc: "max-age=60", location: "absolute", want: true},
		{name: "option off", off: true, cc: "max-age=60"},
		{name: "no explicit freshness", cc: ""},
		{name: "max-age=0", cc: "max-age=0"},
		{name: "no-store", cc: "max-age=60, no-store"},
		{name: "other Content-Location", cc: "max-age=60", location: "/elsewhere"},
		{name: "no Content-Location", cc: "max-age=60", location: "-"},
		{name: "201 Created", cc: "max-age=60", status: http.StatusCreated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newClock()
			var gets atomic.Int64
			var o *origin
			o = newOrigin(t, dated(c, func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodGet {
					gets.Add(1)
					w.Header().Set("Cache-Control", "max-age=60")
					io.WriteString(w, "from GET")
					return
				}
				switch tt.location {
				case "":
					w.Header().Set("Content-Location", r.URL.Path)
				case "absolute":
					w.Header().Set("Content-Location", o.URL+r.URL.Path)
				case "-":
				default:
					w.Header().Set("Content-Location", tt.location)
				}
				if tt.cc != "" {
					w.Header().Set("Cache-Control", tt.cc)
				}
				if tt.status != 0 {
					w.WriteHeader(tt.status)
				}
				io.WriteString(w, "from POST")
			}))
			rt, _ := newCCStack(t, c, ccOptions{cc: &middleware.CacheControlOptions{ReusePOSTResponses: !tt.off}})
			resp, body := do(t, rt, mustRequest(t, context.Background(), http.MethodPost, o.URL+"/doc", strings.NewReader("x")))
			require.Equal(t, "from POST", body)
			assert.False(t, middleware.InfoOf(resp).FromCache)

			resp, body, contacted := fetch(t, rt, o, o.URL+"/doc", nil)
			if tt.want {
				assert.False(t, contacted)
				assert.Equal(t, "from POST", body)
				assert.True(t, middleware.InfoOf(resp).FromCache)
				return
			}
			assert.True(t, contacted)
			assert.Equal(t, "from GET", body)
		})
	}
}
