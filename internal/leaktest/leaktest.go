// Package leaktest sends requests that carry secrets through a cache and
// checks that none of them reaches the bytes a store keeps. The tests of
// every byte store run it: memory, disk and Redis.
package leaktest

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachestack/cachestack"
	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/store"
)

// Secret values Plant sends, one per way a secret could reach a store.
const (
	QueryToken   = "SECRET-query-token-1f3a"    // an ignored query parameter
	HeaderToken  = "SECRET-header-token-77c2"   // an ignored parameter sent as a header the response varies on
	Bearer       = "SECRET-bearer-9d0e"         // Authorization, which the response varies on
	Cookie       = "SECRET-cookie-4b8b"         // Cookie, which the response varies on
	SetCookie    = "SECRET-set-cookie-c6d1"     // a Set-Cookie the origin sends
	RedirectHint = "SECRET-redirect-token-5e90" // an ignored parameter the origin echoes into a redirect
)

// Secrets lists every value Plant sends.
func Secrets() []string {
	return []string{QueryToken, HeaderToken, Bearer, Cookie, SetCookie, RedirectHint}
}

// Options returns the cache options Plant expects, over s.
func Options(s store.Store[string, *cached.Response]) *cachestack.Options {
	// A generous lookup deadline: the check needs every second-round
	// request to be a hit, even on a loaded machine.
	return &cachestack.Options{Store: s, IgnoredParams: []string{"token", "X-Api-Token"}, GetTimeout: 5 * time.Second}
}

// Plant starts an origin, sends requests that carry every secret through
// client twice, and fails t unless the second round was answered from the
// cache (so that a store that keeps nothing cannot pass Check).
func Plant(t *testing.T, client *http.Client) {
	t.Helper()
	var origin atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin.Add(1)
		w.Header().Set("Cache-Control", "max-age=3600")
		switch r.URL.Path {
		case "/login":
			http.Redirect(w, r, "/home?token="+r.URL.Query().Get("token")+"&x=1", http.StatusMovedPermanently)
			return
		case "/vary":
			w.Header().Set("Vary", "Authorization, Cookie, X-Api-Token")
		case "/set-cookie":
			http.SetCookie(w, &http.Cookie{Name: "session", Value: SetCookie})
		}
		io.WriteString(w, "body of "+r.URL.Path)
	}))
	t.Cleanup(srv.Close)

	requests := func() []*http.Request {
		var out []*http.Request
		add := func(path string, h http.Header) {
			req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
			if err != nil {
				t.Fatal(err)
			}
			for k, vs := range h {
				req.Header[k] = vs
			}
			out = append(out, req)
		}
		add("/query?token="+QueryToken+"&page=2", nil)
		add("/vary", http.Header{
			"Authorization": {"Bearer " + Bearer},
			"Cookie":        {"session=" + Cookie},
			"X-Api-Token":   {HeaderToken},
		})
		add("/set-cookie", nil)
		add("/login?token="+RedirectHint, nil)
		return out
	}
	for round := range 2 {
		before := origin.Load()
		for _, req := range requests() {
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(io.Discard, resp.Body); err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if round == 1 && !cachestack.InfoOf(resp).FromCache {
				t.Errorf("%s: the second request was not answered from the cache", req.URL.Path)
			}
		}
		if round == 1 && origin.Load() != before {
			t.Errorf("the origin was asked %d times in the second round, want 0", origin.Load()-before)
		}
	}
}

// Check fails t if any secret, or its URL-encoded form, appears in raw,
// the bytes a store keeps; where names them in the message.
func Check(t *testing.T, where string, raw []byte) {
	t.Helper()
	if len(raw) == 0 {
		t.Errorf("%s: no bytes to check", where)
	}
	for _, s := range Secrets() {
		for _, form := range []string{s, strings.ToLower(s), fmt.Sprintf("%x", s)} {
			if i := bytes.Index(raw, []byte(form)); i >= 0 {
				lo, hi := max(i-40, 0), min(i+len(form)+40, len(raw))
				t.Errorf("%s: secret %q is stored: ...%q...", where, s, raw[lo:hi])
			}
		}
	}
}
