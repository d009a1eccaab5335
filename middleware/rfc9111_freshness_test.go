package middleware_test

import (
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

// TestFreshness is RFC 9111 §4.2: a stored response is served without
// contacting the origin while its current age (§4.2.3) is below its
// freshness lifetime (§4.2.1: max-age, then Expires − Date, then a
// heuristic, §4.2.2, when enabled), and not once it is stale.
func TestFreshness(t *testing.T) {
	t.Parallel()
	const rfc850 = "Monday, 02-Jan-06 15:04:05 GMT"
	tests := []struct {
		name      string
		give      func(now time.Time) http.Header // response fields; Date is now unless given
		heuristic *policy.Heuristic
		delay     time.Duration // the origin takes this long to answer (the fake clock moves)
		at        time.Duration // the second request, this long after the first returned
		want      bool          // the second request is answered from the cache
		wantAge   string        // its Age, when want
	}{
		{name: "max-age fresh", give: cc("max-age=60"), at: 59 * time.Second, want: true, wantAge: "59"},
		{name: "max-age stale at the lifetime", give: cc("max-age=60"), at: 60 * time.Second},
		{name: "directive names are case-insensitive", give: cc("MAX-AGE=60"), at: 59 * time.Second, want: true},
		{name: "quoted max-age", give: cc(`max-age="60"`), at: 59 * time.Second, want: true},
		{name: "max-age=0 is stale at once", give: cc("max-age=0"), at: 0},
		{name: "Expires fresh", give: expiresIn(60 * time.Second), at: 59 * time.Second, want: true},
		{name: "Expires stale at Expires", give: expiresIn(60 * time.Second), at: 60 * time.Second},
		{name: "Expires in the past", give: expiresIn(-time.Hour), at: 0},
		{name: "Expires equal to Date", give: expiresIn(0), at: 0},
		{name: "Expires 0 is already expired", give: fields("Expires", "0"), at: 0},
		{name: "Expires garbage is already expired", give: fields("Expires", "next tuesday"), at: 0},
		{name: "Expires rfc850 date", give: func(now time.Time) http.Header {
			return header("Expires", now.Add(time.Minute).Format(rfc850))
		}, at: 59 * time.Second, want: true},
		{name: "Expires asctime date", give: func(now time.Time) http.Header {
			return header("Expires", now.Add(time.Minute).Format(time.ANSIC))
		}, at: 59 * time.Second, want: true},
		{name: "Expires zone in any case (§5.3)", give: func(now time.Time) http.Header {
			v := httpDate(now.Add(time.Minute))
			return header("Expires", v[:len(v)-3]+"gMT")
		}, at: 59 * time.Second, want: true},
		{name: "Expires names in any case (§5.3)", give: func(now time.Time) http.Header {
			return header("Expires", strings.ToUpper(httpDate(now.Add(time.Minute))))
		}, at: 59 * time.Second, want: true},
		{name: "Date in any case (§4.2)", give: func(now time.Time) http.Header {
			// Expires - Date is 60s; with Date unread it would be 90s.
			return header("Date", strings.ToLower(httpDate(now.Add(30*time.Second))), "Expires", httpDate(now.Add(90*time.Second)))
		}, at: 60 * time.Second},
		{name: "two different Expires are invalid", give: func(now time.Time) http.Header {
			return header("Expires", httpDate(now.Add(time.Hour)), "Expires", httpDate(now.Add(2*time.Hour)))
		}, at: 0},
		{name: "max-age beats Expires (§5.3)", give: func(now time.Time) http.Header {
			return header("Cache-Control", "max-age=10", "Expires", httpDate(now.Add(time.Hour)))
		}, at: 10 * time.Second},
		{name: "max-age beats a past Expires", give: func(now time.Time) http.Header {
			return header("Cache-Control", "max-age=60", "Expires", httpDate(now.Add(-time.Hour)))
		}, at: 59 * time.Second, want: true},
		{name: "Expires is relative to Date", give: func(now time.Time) http.Header {
			// lifetime 60s, apparent age 30s: fresh for 30s more.
			return header("Date", httpDate(now.Add(-30*time.Second)), "Expires", httpDate(now.Add(30*time.Second)))
		}, at: 29 * time.Second, want: true, wantAge: "59"},
		{name: "Expires relative to Date, stale", give: func(now time.Time) http.Header {
			return header("Date", httpDate(now.Add(-30*time.Second)), "Expires", httpDate(now.Add(30*time.Second)))
		}, at: 30 * time.Second},
		{name: "Age counts against max-age", give: fields("Cache-Control", "max-age=60", "Age", "50"), at: 9 * time.Second, want: true, wantAge: "59"},
		{name: "Age counts against max-age, stale", give: fields("Cache-Control", "max-age=60", "Age", "50"), at: 10 * time.Second},
		{name: "Age above max-age is stale at once", give: fields("Cache-Control", "max-age=60", "Age", "61"), at: 0},
		{name: "old Date gives an apparent age", give: func(now time.Time) http.Header {
			return header("Date", httpDate(now.Add(-30*time.Second)), "Cache-Control", "max-age=60")
		}, at: 29 * time.Second, want: true, wantAge: "59"},
		{name: "old Date, stale", give: func(now time.Time) http.Header {
			return header("Date", httpDate(now.Add(-30*time.Second)), "Cache-Control", "max-age=60")
		}, at: 30 * time.Second},
		{name: "Date in the future gives no negative age", give: func(now time.Time) http.Header {
			return header("Date", httpDate(now.Add(time.Hour)), "Cache-Control", "max-age=60")
		}, at: 59 * time.Second, want: true, wantAge: "59"},
		{name: "the larger of apparent age and Age wins", give: func(now time.Time) http.Header {
			return header("Date", httpDate(now.Add(-10*time.Second)), "Age", "40", "Cache-Control", "max-age=60")
		}, at: 19 * time.Second, want: true, wantAge: "59"},
		{name: "response delay is added to Age (corrected_age_value)", give: fields("Cache-Control", "max-age=60", "Age", "10"),
			delay: 5 * time.Second, at: 44 * time.Second, want: true, wantAge: "59"},
		{name: "response delay is added to Age, stale", give: fields("Cache-Control", "max-age=60", "Age", "10"),
			delay: 5 * time.Second, at: 45 * time.Second},
		{name: "invalid Date stands for the time received", give: fields("Date", "yesterday", "Cache-Control", "max-age=60"), at: 59 * time.Second, want: true},
		{name: "huge Age saturates and is stale", give: fields("Cache-Control", "max-age=60", "Age", "99999999999999999999999"), at: 0},
		{name: "negative Age is ignored", give: fields("Cache-Control", "max-age=60", "Age", "-5"), at: 59 * time.Second, want: true, wantAge: "59"},
		{name: "fractional Age is ignored", give: fields("Cache-Control", "max-age=60", "Age", "1.5"), at: 59 * time.Second, want: true},
		{name: "huge max-age saturates at 2^31 s", give: cc("max-age=99999999999999999999999"), at: 24 * 365 * time.Hour, want: true},
		{name: "the same max-age twice", give: fields("Cache-Control", "max-age=60", "Cache-Control", "max-age=60"), at: 59 * time.Second, want: true},
		{name: "conflicting max-age is stale (§4.2.1)", give: cc("max-age=60, max-age=120"), at: 0},
		{name: "invalid max-age is stale, Expires notwithstanding", give: func(now time.Time) http.Header {
			return header("Cache-Control", "max-age=1h", "Expires", httpDate(now.Add(time.Hour)))
		}, at: 0},
		{name: "s-maxage is for shared caches", give: cc("s-maxage=60"), at: 0},
		{name: "no explicit freshness and no heuristic", give: lastModified(10 * time.Hour), at: 0},
		{name: "heuristic: 10% of the time since Last-Modified", give: lastModified(10 * time.Hour), heuristic: &policy.Heuristic{},
			at: 59 * time.Minute, want: true},
		{name: "heuristic, stale", give: lastModified(10 * time.Hour), heuristic: &policy.Heuristic{}, at: time.Hour},
		{name: "heuristic fraction and cap", give: lastModified(1000 * time.Hour), heuristic: &policy.Heuristic{Fraction: 0.5, Max: 2 * time.Hour},
			at: 2*time.Hour - time.Second, want: true},
		{name: "heuristic cap, stale", give: lastModified(1000 * time.Hour), heuristic: &policy.Heuristic{Fraction: 0.5, Max: 2 * time.Hour},
			at: 2 * time.Hour},
		{name: "explicit freshness beats the heuristic", give: func(now time.Time) http.Header {
			h := lastModified(10 * time.Hour)(now)
			h.Set("Cache-Control", "max-age=5")
			return h
		}, heuristic: &policy.Heuristic{}, at: 5 * time.Second},
		{name: "Last-Modified after Date gives no heuristic lifetime", give: lastModified(-time.Hour), heuristic: &policy.Heuristic{}, at: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newClock()
			var n atomic.Int64
			o := newOrigin(t, dated(c, func(w http.ResponseWriter, r *http.Request) {
				if tt.delay > 0 {
					c.Advance(tt.delay)
					w.Header().Set("Date", httpDate(c.Now()))
				}
				for k, vs := range tt.give(c.Now()) {
					w.Header()[k] = vs
				}
				fmt.Fprint(w, "v", n.Add(1))
			}))
			rt, _ := newCCStack(t, c, ccOptions{cc: &middleware.CacheControlOptions{Heuristic: tt.heuristic}})
			_, body, contacted := fetch(t, rt, o, o.URL, nil)
			require.True(t, contacted)
			require.Equal(t, "v1", body)
			c.Advance(tt.at)
			resp, body, contacted := fetch(t, rt, o, o.URL, nil)
			assert.Equal(t, tt.want, !contacted, "answered from the cache")
			assert.Equal(t, tt.want, middleware.InfoOf(resp).FromCache)
			if !tt.want {
				assert.Equal(t, "v2", body)
				return
			}
			assert.Equal(t, "v1", body)
			assert.False(t, middleware.InfoOf(resp).Stale)
			if tt.wantAge != "" {
				assert.Equal(t, tt.wantAge, resp.Header.Get("Age"))
			}
		})
	}
}

// TestFreshnessBeatsUserExpiry checks that explicit freshness (§4.2.1)
// takes precedence over the user's expiry settings, and that those fill in
// when the response has none.
func TestFreshnessBeatsUserExpiry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		give string // Cache-Control
		at   time.Duration
		want bool
	}{
		{"max-age shorter than the session expiry", "max-age=10", 10 * time.Second, false},
		{"max-age longer than the session expiry", "max-age=7200", 2 * time.Hour, false},
		{"max-age longer than the session expiry, fresh", "max-age=7200", 2*time.Hour - time.Second, true},
		{"no freshness: the session expiry applies", "", 59 * time.Minute, true},
		{"no freshness: the session expiry applies, stale", "", time.Hour, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newClock()
			o := newOrigin(t, dated(c, func(w http.ResponseWriter, r *http.Request) {
				if tt.give != "" {
					w.Header().Set("Cache-Control", tt.give)
				}
				io.WriteString(w, "x")
			}))
			rt, _ := newCCStack(t, c, ccOptions{expiry: &middleware.ExpiryOptions{ExpireAfter: policy.After(time.Hour)}})
			fetch(t, rt, o, o.URL, nil)
			c.Advance(tt.at)
			_, _, contacted := fetch(t, rt, o, o.URL, nil)
			assert.Equal(t, tt.want, !contacted)
		})
	}
}

func cc(v string) func(time.Time) http.Header {
	return func(time.Time) http.Header { return header("Cache-Control", v) }
}

func fields(kv ...string) func(time.Time) http.Header {
	return func(time.Time) http.Header { return header(kv...) }
}

func expiresIn(d time.Duration) func(time.Time) http.Header {
	return func(now time.Time) http.Header { return header("Expires", httpDate(now.Add(d))) }
}

func lastModified(ago time.Duration) func(time.Time) http.Header {
	return func(now time.Time) http.Header { return header("Last-Modified", httpDate(now.Add(-ago))) }
}
