package policy

import (
	"fmt"
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func httpDate(t time.Time) string { return t.UTC().Format(http.TimeFormat) }

// TestLifetime covers RFC 9111 §4.2.1 (explicit), §5.3 (Expires) and
// §4.2.2 (heuristic).
func TestLifetime(t *testing.T) {
	t.Parallel()
	now := testNow
	date := now.Add(-10 * time.Second)
	def := &Heuristic{}
	tests := []struct {
		name         string
		status       int
		give         http.Header
		heur         *Heuristic
		want         time.Duration
		wantExplicit bool
	}{
		{name: "nothing", give: http.Header{}, heur: def},
		{name: "max-age", give: http.Header{"Cache-Control": {"max-age=60"}}, want: time.Minute, wantExplicit: true},
		{name: "max-age 0", give: http.Header{"Cache-Control": {"max-age=0"}, "Expires": {httpDate(now.Add(time.Hour))}}, wantExplicit: true},
		// §5.3: max-age wins over Expires.
		{name: "max-age over Expires", give: http.Header{"Cache-Control": {"max-age=60"}, "Date": {httpDate(date)}, "Expires": {httpDate(date.Add(time.Hour))}},
			want: time.Minute, wantExplicit: true},
		{name: "max-age over invalid Expires", give: http.Header{"Cache-Control": {"max-age=60"}, "Expires": {"0"}}, want: time.Minute, wantExplicit: true},
		// §4.2.1: Expires − Date.
		{name: "Expires minus Date", give: http.Header{"Date": {httpDate(date)}, "Expires": {httpDate(date.Add(time.Hour))}},
			want: time.Hour, wantExplicit: true},
		{name: "Expires rfc850 and asctime", give: http.Header{"Date": {"Sun Nov  6 08:49:37 1994"}, "Expires": {"Sunday, 06-Nov-94 09:49:37 GMT"}},
			want: time.Hour, wantExplicit: true},
		// RFC 9110 §6.6.1: no Date, the response time stands in.
		{name: "Expires without Date", give: http.Header{"Expires": {httpDate(now.Add(time.Hour))}}, want: time.Hour, wantExplicit: true},
		{name: "Expires with invalid Date", give: http.Header{"Date": {"yesterday"}, "Expires": {httpDate(now.Add(time.Hour))}}, want: time.Hour, wantExplicit: true},
		// §5.3: invalid Expires, "0" especially, is already expired.
		{name: "Expires 0", give: http.Header{"Expires": {"0"}, "Last-Modified": {httpDate(date.Add(-time.Hour))}}, heur: def, wantExplicit: true},
		{name: "Expires -1", give: http.Header{"Expires": {"-1"}}, wantExplicit: true},
		{name: "Expires empty", give: http.Header{"Expires": {""}}, wantExplicit: true},
		{name: "Expires garbage", give: http.Header{"Expires": {"tomorrow"}}, wantExplicit: true},
		{name: "Expires past", give: http.Header{"Date": {httpDate(date)}, "Expires": {httpDate(date.Add(-time.Hour))}}, wantExplicit: true},
		{name: "Expires equals Date", give: http.Header{"Date": {httpDate(date)}, "Expires": {httpDate(date)}}, wantExplicit: true},
		{name: "Expires far future capped", give: http.Header{"Expires": {"Fri, 31 Dec 9999 23:59:59 GMT"}}, want: MaxDelta, wantExplicit: true},
		// §4.2.1: several values: stale.
		{name: "Expires twice equal", give: http.Header{"Expires": {httpDate(now.Add(time.Hour)), "Sunday, 02-Jan-26 16:04:05 GMT"}}, want: time.Hour, wantExplicit: true},
		{name: "Expires twice different", give: http.Header{"Expires": {httpDate(now.Add(time.Hour)), httpDate(now.Add(2 * time.Hour))}}, wantExplicit: true},
		// §4.2.1: invalid freshness directives: stale.
		{name: "invalid max-age", give: http.Header{"Cache-Control": {"max-age=ten"}, "Expires": {httpDate(now.Add(time.Hour))}}, wantExplicit: true},
		{name: "conflicting max-age", give: http.Header{"Cache-Control": {"max-age=1, max-age=2"}}, wantExplicit: true},
		// §5.2.2.10: a private cache ignores s-maxage.
		{name: "s-maxage ignored", give: http.Header{"Cache-Control": {"s-maxage=60"}, "Expires": {httpDate(now.Add(time.Hour))}}, want: time.Hour, wantExplicit: true},
		{name: "s-maxage alone", give: http.Header{"Cache-Control": {"s-maxage=60"}}},
		// §4.2.2: heuristic freshness.
		{name: "heuristic 10%", status: 200, give: http.Header{"Date": {httpDate(date)}, "Last-Modified": {httpDate(date.Add(-10 * time.Hour))}},
			heur: def, want: time.Hour},
		{name: "heuristic without Date", status: 404, give: http.Header{"Last-Modified": {httpDate(now.Add(-10 * time.Hour))}}, heur: def, want: time.Hour},
		{name: "heuristic capped at 24h", status: 200, give: http.Header{"Last-Modified": {httpDate(now.Add(-100 * 24 * time.Hour))}}, heur: def, want: 24 * time.Hour},
		{name: "heuristic fraction and cap", status: 301, give: http.Header{"Last-Modified": {httpDate(now.Add(-time.Hour))}},
			heur: &Heuristic{Fraction: 0.5, Max: 2 * time.Hour}, want: 30 * time.Minute},
		{name: "heuristic custom cap", status: 301, give: http.Header{"Last-Modified": {httpDate(now.Add(-10 * time.Hour))}},
			heur: &Heuristic{Fraction: 0.5, Max: 2 * time.Hour}, want: 2 * time.Hour},
		{name: "heuristic NaN fraction", status: 200, give: http.Header{"Last-Modified": {httpDate(now.Add(-10 * time.Hour))}},
			heur: &Heuristic{Fraction: math.NaN()}, want: time.Hour},
		{name: "heuristic infinite fraction", status: 200, give: http.Header{"Last-Modified": {httpDate(now.Add(-10 * time.Hour))}},
			heur: &Heuristic{Fraction: math.Inf(1), Max: MaxDelta * 4}, want: MaxDelta},
		{name: "heuristic nil", status: 200, give: http.Header{"Last-Modified": {httpDate(now.Add(-10 * time.Hour))}}},
		{name: "heuristic status not cacheable", status: 500, give: http.Header{"Last-Modified": {httpDate(now.Add(-10 * time.Hour))}}, heur: def},
		{name: "heuristic 302 not cacheable", status: 302, give: http.Header{"Last-Modified": {httpDate(now.Add(-10 * time.Hour))}}, heur: def},
		{name: "heuristic public any status", status: 500, give: http.Header{"Cache-Control": {"public"}, "Last-Modified": {httpDate(now.Add(-10 * time.Hour))}},
			heur: def, want: time.Hour},
		{name: "heuristic Last-Modified after Date", status: 200, give: http.Header{"Date": {httpDate(date)}, "Last-Modified": {httpDate(date.Add(time.Hour))}}, heur: def},
		{name: "heuristic invalid Last-Modified", status: 200, give: http.Header{"Last-Modified": {"0"}}, heur: def},
		{name: "heuristic no Last-Modified", status: 200, give: http.Header{"Date": {httpDate(date)}}, heur: def},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, explicit := Lifetime(tt.status, tt.give, ParseResponseDirectives(tt.give), now, tt.heur)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.wantExplicit, explicit)
		})
	}
}

// TestCorrectedInitialAge covers RFC 9111 §4.2.3 and §5.1.
func TestCorrectedInitialAge(t *testing.T) {
	t.Parallel()
	resp := testNow
	req := resp.Add(-2 * time.Second)
	tests := []struct {
		name string
		give http.Header
		req  time.Time
		want time.Duration
	}{
		{name: "nothing: response delay", give: http.Header{}, req: req, want: 2 * time.Second},
		{name: "no delay", give: http.Header{}, req: resp},
		{name: "apparent age wins", give: http.Header{"Date": {httpDate(resp.Add(-10 * time.Second))}}, req: req, want: 10 * time.Second},
		{name: "age plus delay", give: http.Header{"Date": {httpDate(resp)}, "Age": {"100"}}, req: req, want: 102 * time.Second},
		{name: "age plus delay beats apparent", give: http.Header{"Date": {httpDate(resp.Add(-50 * time.Second))}, "Age": {"100"}}, req: req, want: 102 * time.Second},
		{name: "apparent beats age", give: http.Header{"Date": {httpDate(resp.Add(-200 * time.Second))}, "Age": {"100"}}, req: req, want: 200 * time.Second},
		{name: "date in future", give: http.Header{"Date": {httpDate(resp.Add(time.Hour))}, "Age": {"5"}}, req: req, want: 7 * time.Second},
		{name: "invalid Date", give: http.Header{"Date": {"now"}, "Age": {"5"}}, req: req, want: 7 * time.Second},
		{name: "request after response", give: http.Header{"Age": {"5"}}, req: resp.Add(time.Second), want: 5 * time.Second},
		// Age: first valid value, invalid ones count as 0 (documented).
		{name: "negative Age", give: http.Header{"Age": {"-5"}}, req: req, want: 2 * time.Second},
		{name: "fractional Age", give: http.Header{"Age": {"1.5"}}, req: req, want: 2 * time.Second},
		{name: "Age list first valid", give: http.Header{"Age": {"x, 30 ,40"}}, req: req, want: 32 * time.Second},
		{name: "Age lines first valid", give: http.Header{"Age": {"", "7", "9"}}, req: resp, want: 7 * time.Second},
		{name: "Age zero", give: http.Header{"Age": {"0", "9"}}, req: resp},
		// §1.2.2: huge values saturate at 2^31 seconds.
		{name: "huge Age", give: http.Header{"Age": {"999999999999999999999999"}}, req: req, want: MaxDelta},
		{name: "huge Age and delay", give: http.Header{"Age": {"2147483648"}}, req: time.Time{}, want: MaxDelta},
		{name: "ancient Date", give: http.Header{"Date": {"Mon, 01 Jan 1900 00:00:00 GMT"}}, req: req, want: MaxDelta},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, CorrectedInitialAge(tt.give, tt.req, resp))
		})
	}
}

func TestCurrentAge(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		initial time.Duration
		now     time.Time
		want    time.Duration
	}{
		{name: "resident time added", initial: 10 * time.Second, now: testNow.Add(time.Minute), want: 70 * time.Second},
		{name: "clock behind", initial: 10 * time.Second, now: testNow.Add(-time.Minute), want: 10 * time.Second},
		{name: "saturates", initial: MaxDelta, now: testNow.Add(time.Hour), want: MaxDelta},
		{name: "far future", initial: 0, now: testNow.AddDate(200, 0, 0), want: MaxDelta},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, CurrentAge(tt.initial, testNow, tt.now))
		})
	}
}

// TestParseHTTPDate covers RFC 9110 §5.6.7.
func TestParseHTTPDate(t *testing.T) {
	t.Parallel()
	want := time.Date(1994, 11, 6, 8, 49, 37, 0, time.UTC)
	tests := []struct {
		name   string
		give   string
		want   time.Time
		wantOK bool
	}{
		{name: "IMF-fixdate", give: "Sun, 06 Nov 1994 08:49:37 GMT", want: want, wantOK: true},
		{name: "rfc850", give: "Sunday, 06-Nov-94 08:49:37 GMT", want: want, wantOK: true},
		{name: "asctime", give: "Sun Nov  6 08:49:37 1994", want: want, wantOK: true},
		{name: "asctime two-digit day", give: "Wed Nov 16 08:49:37 1994", want: want.AddDate(0, 0, 10), wantOK: true},
		{name: "surrounding whitespace", give: " \tSun, 06 Nov 1994 08:49:37 GMT ", want: want, wantOK: true},
		{name: "zone in any case (RFC 9111 §5.3)", give: "Sun, 06 Nov 1994 08:49:37 gMT", want: want, wantOK: true},
		{name: "names in any case", give: "SUN, 06 nOV 1994 08:49:37 gmt", want: want, wantOK: true},
		{name: "rfc850 in any case", give: "sUNDAY, 06-nov-94 08:49:37 Gmt", want: want, wantOK: true},
		{name: "asctime in any case", give: "sun NOV  6 08:49:37 1994", want: want, wantOK: true},
		{name: "another zone", give: "Sun, 06 Nov 1994 08:49:37 UTC", wantOK: false},
		{name: "rfc850 year 68", give: "Monday, 02-Jan-68 00:00:00 GMT", want: time.Date(2068, 1, 2, 0, 0, 0, 0, time.UTC), wantOK: true},
		{name: "rfc850 year 69", give: "Thursday, 02-Jan-69 00:00:00 GMT", want: time.Date(1969, 1, 2, 0, 0, 0, 0, time.UTC), wantOK: true},
		{name: "zero", give: "0"},
		{name: "minus one", give: "-1"},
		{name: "empty", give: ""},
		{name: "other zone", give: "Sun, 06 Nov 1994 08:49:37 PST"},
		{name: "rfc850 other zone", give: "Sunday, 06-Nov-94 08:49:37 PST"},
		{name: "rfc850 short", give: "Sun, 06-Nov-94 08:49:37 GMT"},
		{name: "fraction", give: "Sun, 06 Nov 1994 08:49:37.5 GMT"},
		{name: "one-digit day", give: "Sun, 6 Nov 1994 08:49:37 GMT"},
		{name: "numeric offset", give: "Sun, 06 Nov 1994 08:49:37 +0000"},
		{name: "RFC 3339", give: "1994-11-06T08:49:37Z"},
		{name: "day out of range", give: "Sun, 31 Nov 1994 08:49:37 GMT"},
		{name: "hour out of range", give: "Sun, 06 Nov 1994 25:49:37 GMT"},
		{name: "trailing text", give: "Sun, 06 Nov 1994 08:49:37 GMTx"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := ParseHTTPDate(tt.give)
			assert.Equal(t, tt.wantOK, ok)
			assert.True(t, tt.want.Equal(got), "got %v", got)
			if ok {
				assert.Equal(t, time.UTC, got.Location())
			}
		})
	}
}

func TestCacheableStatus(t *testing.T) {
	t.Parallel()
	yes := map[int]bool{200: true, 203: true, 204: true, 206: true, 300: true, 301: true, 308: true,
		404: true, 405: true, 410: true, 414: true, 501: true}
	for code := -1; code < 1000; code++ {
		assert.Equal(t, yes[code], CacheableStatus(code), code)
	}
}

func FuzzParseHTTPDate(f *testing.F) {
	for _, s := range []string{"Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := ParseHTTPDate(s)
		if !ok {
			return
		}
		again, ok := ParseHTTPDate(got.Format(http.TimeFormat))
		if !ok || !again.Equal(got) {
			t.Fatalf("%q: %v does not round-trip as an IMF-fixdate", s, got)
		}
	})
}

func BenchmarkLifetime(b *testing.B) {
	h := http.Header{
		"Cache-Control": {"public"},
		"Date":          {"Fri, 02 Jan 2026 15:04:05 GMT"},
		"Expires":       {"Fri, 02 Jan 2026 16:04:05 GMT"},
		"Age":           {"12"},
	}
	b.ReportAllocs()
	for b.Loop() {
		d := ParseResponseDirectives(h)
		_, _ = Lifetime(200, h, d, testNow, nil)
		_ = CorrectedInitialAge(h, testNow, testNow)
	}
}

func ExampleLifetime() {
	requested := time.Date(2026, 1, 2, 15, 4, 3, 0, time.UTC)
	received := requested.Add(2 * time.Second)
	h := http.Header{
		"Date":          {"Fri, 02 Jan 2026 15:04:00 GMT"},
		"Expires":       {"Fri, 02 Jan 2026 16:04:00 GMT"},
		"Age":           {"30"},
		"Last-Modified": {"Thu, 01 Jan 2026 15:04:00 GMT"},
	}
	d := ParseResponseDirectives(h)
	lifetime, explicit := Lifetime(http.StatusOK, h, d, received, &Heuristic{})
	initial := CorrectedInitialAge(h, requested, received)
	fmt.Println(lifetime, explicit, initial)
	age := CurrentAge(initial, received, received.Add(time.Hour))
	fmt.Println(age, "fresh:", age < lifetime)

	h.Del("Expires") // no explicit expiration: 10% of a day since Last-Modified
	fmt.Println(Lifetime(http.StatusOK, h, d, received, &Heuristic{}))
	// Output:
	// 1h0m0s true 32s
	// 1h0m32s fresh: false
	// 2h24m0s false
}
