package middleware_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cachestack/cachestack/keyer"
	"github.com/cachestack/cachestack/middleware"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStoredHeaderFields is RFC 9111 §3.1: hop-by-hop fields and the fields
// named in Connection are not stored; the rest are. The origin's response
// comes through a raw transport so that the fields are exactly what it
// sent.
func TestStoredHeaderFields(t *testing.T) {
	t.Parallel()
	c := newClock()
	var n atomic.Int64
	next := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		n.Add(1)
		h := header(
			"Date", httpDate(c.Now()),
			"Cache-Control", "max-age=60",
			"Connection", "X-Conn-A, x-conn-b",
			"Connection", "keep-alive",
			"X-Conn-A", "a", "X-Conn-B", "b",
			"Keep-Alive", "timeout=5",
			"Proxy-Connection", "keep-alive",
			"Proxy-Authenticate", "Basic",
			"Proxy-Authentication-Info", `nextnonce="abc"`,
			"Te", "trailers", "Trailer", "X-T", "Upgrade", "h2c",
			"Transfer-Encoding", "chunked",
			"Set-Cookie", "a=b",
			"X-End-To-End", "kept",
		)
		return &http.Response{StatusCode: 200, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: h,
			Body: io.NopCloser(strings.NewReader("ok")), ContentLength: 2, Request: r}, nil
	})
	rt, _ := newCCStack(t, c, ccOptions{next: next})
	first, _ := get(t, rt, "http://origin.test/h")
	assert.Equal(t, "a", first.Header.Get("X-Conn-A"), "the caller of the miss gets the origin's fields untouched")
	resp, body := get(t, rt, "http://origin.test/h")
	require.Equal(t, int64(1), n.Load())
	assert.Equal(t, "ok", body)
	for _, f := range []string{"Connection", "X-Conn-A", "X-Conn-B", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authentication-Info", "Te", "Trailer", "Upgrade", "Transfer-Encoding"} {
		assert.Empty(t, resp.Header.Values(f), f)
	}
	assert.Equal(t, "kept", resp.Header.Get("X-End-To-End"))
	assert.Empty(t, resp.Header.Values("Set-Cookie"), "a hit never sets another caller's cookie")
	assert.Equal(t, "a=b", first.Header.Get("Set-Cookie"), "the caller whose request fetched it gets it")

	single, _ := newCCStack(t, c, ccOptions{next: next, store: &middleware.StoreOptions{ReplaySetCookie: true}})
	get(t, single, "http://origin.test/h")
	resp, _ = get(t, single, "http://origin.test/h")
	assert.True(t, middleware.InfoOf(resp).FromCache)
	assert.Equal(t, "a=b", resp.Header.Get("Set-Cookie"), "ReplaySetCookie: a single-user client gets it on hits")
}

// TestStorable is RFC 9111 §3: what CacheControl lets the store keep.
func TestStorable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		give http.Header
		want bool // a second request is a hit
	}{
		{"explicit freshness", header("Cache-Control", "max-age=60"), true},
		{"no freshness, no validator", http.Header{}, false},
		{"no freshness, a validator: stored to be revalidated", header("Etag", `"x"`), false},
		{"no-store", header("Cache-Control", "no-store, max-age=60"), false},
		{"Vary: *", header("Cache-Control", "max-age=60", "Vary", "*"), false},
		{"Set-Cookie in a private cache", header("Cache-Control", "max-age=60", "Set-Cookie", "id=1"), true},
		{"private", header("Cache-Control", "private, max-age=60"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newClock()
			o := newOrigin(t, dated(c, func(w http.ResponseWriter, r *http.Request) {
				for k, vs := range tt.give {
					w.Header()[k] = vs
				}
				io.WriteString(w, "x")
			}))
			rt, counters := newCCStack(t, c, ccOptions{})
			fetch(t, rt, o, o.URL, nil)
			if tt.give.Get("Etag") != "" {
				assert.Equal(t, int64(1), counters.Stored.Load(), "a response with a validator is kept for revalidation")
			}
			_, _, contacted := fetch(t, rt, o, o.URL, nil)
			assert.Equal(t, tt.want, !contacted)
		})
	}
}

// TestCredentialsAreNotShared is the safe default: a request carrying
// Authorization is never answered with a response stored for other
// credentials (or none), because the keyer keys Authorization; naming it in
// IgnoredParams shares entries on purpose.
func TestCredentialsAreNotShared(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		ignored []string
		want    map[string]bool // credentials of the second round -> served from the cache
	}{
		{"keyed by default", nil, map[string]bool{"Bearer alice": true, "Bearer bob": true, "": true, "Bearer carol": false}},
		{"shared when ignored", []string{"Authorization"}, map[string]bool{"Bearer alice": true, "Bearer bob": true, "": true, "Bearer carol": true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newClock()
			o := newOrigin(t, dated(c, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "private, max-age=600")
				fmt.Fprintf(w, "secret of %q", r.Header.Get("Authorization"))
			}))
			rt, _ := newCCStack(t, c, ccOptions{keyer: &keyer.Options{IgnoredParams: tt.ignored}})
			auth := func(v string) http.Header {
				if v == "" {
					return nil
				}
				return header("Authorization", v)
			}
			first := map[string]string{}
			for _, who := range []string{"Bearer alice", "Bearer bob", ""} {
				_, body, _ := fetch(t, rt, o, o.URL, auth(who))
				first[who] = body
			}
			for who, want := range tt.want {
				_, body, contacted := fetch(t, rt, o, o.URL, auth(who))
				assert.Equal(t, want, !contacted, who)
				if tt.ignored == nil {
					assert.Equal(t, fmt.Sprintf("secret of %q", who), body, "each caller sees only its own response")
				}
			}
		})
	}
}

// TestEndToEndWithClient runs a CacheControl stack under http.Client
// against a real server that stamps real Dates, to check that nothing in
// the fake-clock tests hides a clock mismatch.
func TestEndToEndWithClient(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "real")
	}))
	t.Cleanup(srv.Close)
	k, err := keyer.New(nil)
	require.NoError(t, err)
	m := mustMW(t)
	client := &http.Client{Transport: middleware.Chain(
		middleware.Key(k),
		m(middleware.CacheControl(nil)),
		m(middleware.Store(newMemstoreReal(t), &middleware.StoreOptions{Logger: quiet})),
	)(testTransport(t))}
	for range 3 {
		resp, err := client.Get(srv.URL)
		require.NoError(t, err)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	assert.Equal(t, int64(1), n.Load())
}
