package middleware_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachestack/cachestack/middleware"
	"github.com/cachestack/cachestack/policy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pad is a Cache-Control line longer than the parsers read (64 KiB).
var pad = strings.Repeat("x-pad=1, ", 8000)

// TestMalformedResponseFields sends malformed, duplicated and oversize
// caching fields from a real origin through CacheControl: the caller always
// gets the origin's response intact, and the cache stores it only when
// what it could read makes that safe (RFC 9111 §4.2.1: invalid or
// conflicting freshness means stale; §5.3: an invalid Expires means
// expired; a Cache-Control too long to read in full may hide a no-store).
func TestMalformedResponseFields(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		give http.Header
		want bool // the second request, a second later, is a fresh hit
	}{
		{"empty members and odd spacing", header("Cache-Control", " , max-age = 60 ,, ,"), true},
		{"tab around members", header("Cache-Control", "\tmax-age=60\t,\tpublic"), true},
		{"trailing garbage in the value", header("Cache-Control", "max-age=60;"), false},
		{"unterminated quoted value", header("Cache-Control", `max-age="60`), false},
		{"quoted value with escapes", header("Cache-Control", `max-age="6\0"`), true},
		{"negative max-age", header("Cache-Control", "max-age=-1"), false},
		{"max-age without a value", header("Cache-Control", "max-age"), false},
		{"max-age with an empty value", header("Cache-Control", "max-age="), false},
		{"text after a name is no directive", header("Cache-Control", "max age=60, no store"), false},
		{"unknown directives are ignored", header("Cache-Control", `foo, bar="a,b,no-store", max-age=60`), true},
		{"no-store with a quoted argument", header("Cache-Control", `no-store="x, y", max-age=60`), false},
		{"duplicated, equal", header("Cache-Control", "max-age=60", "Cache-Control", "MAX-AGE=60"), true},
		{"duplicated, conflicting over lines", header("Cache-Control", "max-age=60", "Cache-Control", "max-age=30"), false},
		{"oversize Cache-Control is taken as no-store", header("Cache-Control", "max-age=60, "+pad), false},
		{"no-store past the oversize cut", header("Cache-Control", "max-age=60, "+pad+", no-store"), false},
		{"many equal directives within 64 KiB", header("Cache-Control", strings.Repeat("max-age=60,", 5000)), true},
		{"many equal directives past 64 KiB", header("Cache-Control", strings.Repeat("max-age=60,", 7000)), false},
		{"oversize qualified no-cache", header("Cache-Control", `max-age=60, no-cache="`+strings.Repeat("a,", 40000)+`"`), false},
		{"Date that does not parse", header("Cache-Control", "max-age=60", "Date", "Sun, 99 Nov 2026 99:99:99 GMT"), true},
		{"Date in an unknown format", header("Cache-Control", "max-age=60", "Date", "2026-11-22T12:00:00Z"), true},
		{"Expires -1", header("Expires", "-1"), false},
		{"Expires in 1994", header("Expires", "Sun, 06 Nov 1994 08:49:37 GMT"), false},
		{"Expires with a numeric zone", header("Expires", "Sun, 22 Nov 2026 13:00:00 +0000"), false},
		{"Expires far in the future", header("Expires", "Fri, 31 Dec 9999 23:59:59 GMT"), true},
		{"Age list takes the first valid value", header("Cache-Control", "max-age=60", "Age", "x, 12, 40"), true},
		{"Age garbage", header("Cache-Control", "max-age=60", "Age", "abc"), true},
		{"Age beyond 2^31 s", header("Cache-Control", "max-age=60", "Age", "2147483649"), false},
		{"Age of 400 digits", header("Cache-Control", "max-age=60", "Age", strings.Repeat("9", 400)), false},
		{"max-age of 400 digits", header("Cache-Control", "max-age="+strings.Repeat("9", 400)), true},
		{"Vary with odd spacing and case", header("Cache-Control", "max-age=60", "Vary", " ,ACCEPT-language ,,\t"), true},
		{"Vary with an invalid member", header("Cache-Control", "max-age=60", "Vary", "Accept Language"), false},
		{"oversize Vary is taken as *", header("Cache-Control", "max-age=60", "Vary", strings.Repeat("X-A, ", 20000)), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newClock()
			var n atomic.Int64
			o := newOrigin(t, dated(c, func(w http.ResponseWriter, r *http.Request) {
				for k, vs := range tt.give {
					w.Header()[k] = vs
				}
				fmt.Fprint(w, "v", n.Add(1))
			}))
			rt, _ := newCCStack(t, c, ccOptions{cc: &middleware.CacheControlOptions{Heuristic: &policy.Heuristic{}}})
			resp, body, _ := fetch(t, rt, o, o.URL, header("Accept-Language", "en"))
			require.Equal(t, "v1", body, "the origin's response reaches the caller")
			require.Equal(t, http.StatusOK, resp.StatusCode)
			c.Advance(time.Second)
			_, body, contacted := fetch(t, rt, o, o.URL, header("Accept-Language", "en"))
			assert.Equal(t, tt.want, !contacted)
			if tt.want {
				assert.Equal(t, "v1", body)
			}
		})
	}
}

// TestMalformedRequestFields sends malformed, duplicated and oversize
// request directives at a response stored fresh for 100s and stale after;
// they never fail the request.
func TestMalformedRequestFields(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		give http.Header
		at   time.Duration
		want outcome
	}{
		{"max-stale beyond 2^31 s accepts any staleness", header("Cache-Control", "max-stale="+strings.Repeat("9", 40)), 1000 * time.Second, staleHit},
		{"negative min-fresh is ignored", header("Cache-Control", "min-fresh=-5"), 99 * time.Second, hit},
		{"min-fresh without a value is ignored", header("Cache-Control", "min-fresh"), 99 * time.Second, hit},
		{"quoted max-age", header("Cache-Control", `max-age="10"`), 11 * time.Second, fetched},
		{"oversize request Cache-Control loses its tail", header("Cache-Control", pad+", no-cache"), time.Second, hit},
		{"directives before the cut still count", header("Cache-Control", "no-cache, "+pad), time.Second, fetched},
		{"Pragma garbage", header("Pragma", "no-cachex, =, ,"), time.Second, hit},
		{"Pragma with odd case and spacing", header("Pragma", "  NO-CACHE  "), time.Second, fetched},
		{"empty Cache-Control lines leave Pragma in charge", header("Cache-Control", "", "Cache-Control", " , ", "Pragma", "no-cache"), time.Second, fetched},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			runDirectiveCase(t, directiveCase{name: tt.name, req: tt.give, at: tt.at, want: tt.want})
		})
	}
}

// FuzzCacheControlEngine feeds arbitrary caching fields through a
// CacheControl stack (over an in-process origin) and checks that it never
// panics and always honours the RoundTripper contract: a response with a
// body, the origin's or the stored one, never both a response and an
// error.
func FuzzCacheControlEngine(f *testing.F) {
	f.Add("max-age=60", "", "", "", "", "", "", int64(30))
	f.Add("max-age=60, stale-while-revalidate=30, stale-if-error=60", `"e"`, "Sun, 06 Nov 1994 08:49:37 GMT", "", "Accept", "max-stale", "5", int64(90))
	f.Add(`no-cache="Set-Cookie", private, must-revalidate`, "", "0", "Sun, 06 Nov 1994 08:49:37 GMT", "*", "only-if-cached", "99999999999999999999", int64(1))
	f.Add("max-age=1, max-age=2", `W/"x"`, "garbage", "garbage", " ,, accept-Encoding", "no-cache, no-store", "-1", int64(-5))
	f.Fuzz(func(t *testing.T, respCC, etag, expires, lastModified, vary, reqCC, age string, advance int64) {
		c := newClock()
		var n atomic.Int64
		next := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			v := n.Add(1)
			h := http.Header{"Date": {httpDate(c.Now())}}
			for k, val := range map[string]string{"Cache-Control": respCC, "Etag": etag, "Expires": expires, "Last-Modified": lastModified, "Vary": vary, "Age": age} {
				if val != "" {
					h[k] = []string{val}
				}
			}
			status := http.StatusOK
			body := fmt.Sprint("v", v)
			if r.Header.Get("If-None-Match") != "" && v%2 == 0 {
				status, body = http.StatusNotModified, ""
			}
			if v%3 == 0 {
				status = http.StatusServiceUnavailable
			}
			return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
		})
		w, err := middleware.NewWorkers(2)
		require.NoError(t, err)
		defer w.Close()
		rt, _ := newCCStack(t, c, ccOptions{next: next, redirect: true,
			cc:       &middleware.CacheControlOptions{Heuristic: &policy.Heuristic{}, Workers: w},
			coalesce: &middleware.CoalesceOptions{Workers: w},
			store:    &middleware.StoreOptions{StaleIfError: time.Minute}})
		for i := range 4 {
			req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://origin.test/f", nil)
			require.NoError(t, err)
			if i%2 == 1 {
				req.Header["Cache-Control"] = []string{reqCC}
			}
			req.Header.Set("Accept", fmt.Sprint(i%2))
			resp, err := rt.RoundTrip(req)
			if err != nil {
				require.Nil(t, resp)
				continue
			}
			require.NotNil(t, resp.Body)
			b, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				require.True(t, bytes.HasPrefix(b, []byte("v")), "body %q", b)
			}
			c.Advance(time.Duration(advance%100000) * time.Second)
		}
	})
}
