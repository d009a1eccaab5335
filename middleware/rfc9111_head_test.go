package middleware_test

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachestack/cachestack/middleware"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHeadFreshensGet is RFC 9111 §4.3.5: a 200 response to HEAD updates
// the stored GET response for the same URL (its fields and its freshness)
// when the validators it carries match the stored ones and its
// Content-Length, if any, is the stored one's (a HEAD response without
// validators must carry one); otherwise the stored GET response is no
// longer used.
func TestHeadFreshensGet(t *testing.T) {
	t.Parallel()
	lm := httpDate(newClock().Now().Add(-time.Hour))
	tests := []struct {
		name    string
		stored  http.Header // the GET response's validators
		head    http.Header // the HEAD response's validators
		headLen string      // Content-Length of the HEAD response ("" for the body's length)
		want    bool        // the stored GET response was freshened (else invalidated)
	}{
		{name: "same ETag", stored: header("Etag", `"a"`), head: header("Etag", `"a"`), want: true},
		{name: "same Last-Modified", stored: header("Last-Modified", lm), head: header("Last-Modified", lm), want: true},
		{name: "no validators, same length", want: true},
		{name: "other ETag", stored: header("Etag", `"a"`), head: header("Etag", `"b"`)},
		{name: "no validator received, same length", stored: header("Etag", `"a"`), want: true},
		{name: "no validator received, other length", stored: header("Etag", `"a"`), headLen: "5"},
		{name: "Last-Modified received, ETag not", stored: header("Etag", `"a"`, "Last-Modified", lm), head: header("Last-Modified", lm), want: true},
		{name: "ETag appeared", head: header("Etag", `"a"`)},
		{name: "other Last-Modified", stored: header("Last-Modified", lm), head: header("Last-Modified", httpDate(newClock().Now()))},
		{name: "same ETag, other Content-Length", stored: header("Etag", `"a"`), head: header("Etag", `"a"`), headLen: "99"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newClock()
			var gets atomic.Int64
			o := newOrigin(t, dated(c, func(w http.ResponseWriter, r *http.Request) {
				h := tt.stored
				if r.Method == http.MethodHead {
					h = tt.head
					w.Header().Set("Cache-Control", "max-age=100")
					w.Header().Set("X-Version", "head")
					cl := tt.headLen
					if cl == "" {
						cl = strconv.Itoa(len("body"))
					}
					w.Header().Set("Content-Length", cl)
				} else {
					gets.Add(1)
					w.Header().Set("Cache-Control", "max-age=10")
					w.Header().Set("X-Version", "get")
				}
				for k, vs := range h {
					w.Header()[k] = vs
				}
				if r.Method != http.MethodHead {
					io.WriteString(w, "body")
				}
			}))
			// KeepStale: a stale response without validators stays stored too.
			rt, _ := newCCStack(t, c, ccOptions{store: &middleware.StoreOptions{KeepStale: time.Hour}})
			fetch(t, rt, o, o.URL, nil)
			c.Advance(20 * time.Second) // the GET response is stale
			resp, _ := do(t, rt, mustRequest(t, context.Background(), http.MethodHead, o.URL, nil))
			require.Equal(t, http.StatusOK, resp.StatusCode)

			resp, body, contacted := fetch(t, rt, o, o.URL, nil)
			assert.Equal(t, "body", body)
			if tt.want {
				assert.False(t, contacted, "the HEAD response freshened the stored GET response")
				assert.Equal(t, "head", resp.Header.Get("X-Version"), "and updated its fields")
				assert.Equal(t, int64(1), gets.Load())
				return
			}
			assert.True(t, contacted)
			assert.Equal(t, "get", resp.Header.Get("X-Version"))
		})
	}
}

// TestHeadInvalidatesFreshGet: a HEAD response that disagrees with a
// fresh stored GET response makes it unusable at once (§4.3.5: the cache
// considers it stale).
func TestHeadInvalidatesFreshGet(t *testing.T) {
	t.Parallel()
	c := newClock()
	var version atomic.Int64
	version.Store(1)
	o := newOrigin(t, dated(c, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Header().Set("Etag", `"`+strconv.FormatInt(version.Load(), 10)+`"`)
		io.WriteString(w, "v"+strconv.FormatInt(version.Load(), 10))
	}))
	rt, _ := newCCStack(t, c, ccOptions{})
	fetch(t, rt, o, o.URL, nil)
	version.Store(2)
	_, body, contacted := fetch(t, rt, o, o.URL, nil)
	require.False(t, contacted)
	require.Equal(t, "v1", body)
	do(t, rt, mustRequest(t, context.Background(), http.MethodHead, o.URL, nil))
	_, body, contacted = fetch(t, rt, o, o.URL, nil)
	assert.True(t, contacted)
	assert.Equal(t, "v2", body)
}
