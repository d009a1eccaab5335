package policy

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func ccHeader(lines ...string) http.Header { return http.Header{"Cache-Control": lines} }

// TestParseResponseDirectives covers RFC 9111 §5.2 and §5.2.2.
func TestParseResponseDirectives(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		give []string
		want ResponseDirectives
	}{
		{name: "none", give: nil, want: ResponseDirectives{}},
		{name: "empty line", give: []string{""}, want: ResponseDirectives{}},
		{name: "typical", give: []string{"max-age=60, public"},
			want: ResponseDirectives{MaxAge: 60 * time.Second, HasMaxAge: true, Public: true}},
		// §5.2: names are case-insensitive.
		{name: "case", give: []string{"Max-Age=60, PUBLIC, No-Store, MUST-revalidate"},
			want: ResponseDirectives{MaxAge: time.Minute, HasMaxAge: true, Public: true, NoStore: true, MustRevalidate: true}},
		// RFC 9110 §5.3: several lines are one list.
		{name: "several lines", give: []string{"max-age=60", "no-transform", "s-maxage=120"},
			want: ResponseDirectives{MaxAge: time.Minute, HasMaxAge: true, NoTransform: true, SMaxAge: 2 * time.Minute, HasSMaxAge: true}},
		// RFC 9110 §5.6.1: empty members and odd whitespace are tolerated.
		{name: "odd whitespace and empty members", give: []string{" ,, \tmax-age = 60 ,\t, immutable ,", ",", "  "},
			want: ResponseDirectives{MaxAge: time.Minute, HasMaxAge: true, Immutable: true}},
		{name: "all booleans", give: []string{"no-store, must-revalidate, proxy-revalidate, public, immutable, must-understand, no-transform, no-cache, private"},
			want: ResponseDirectives{NoStore: true, MustRevalidate: true, ProxyRevalidate: true, Public: true, Immutable: true,
				MustUnderstand: true, NoTransform: true, NoCache: true, Private: true}},
		{name: "boolean with argument", give: []string{`no-store=1, public="x"`},
			want: ResponseDirectives{NoStore: true, Public: true}},
		{name: "unknown ignored", give: []string{`foo, bar=baz, qux="a,max-age=1", max-age=5, ext=`},
			want: ResponseDirectives{MaxAge: 5 * time.Second, HasMaxAge: true}},
		// §5.2: recipients accept the quoted form of a token argument.
		{name: "quoted max-age", give: []string{`max-age="60"`},
			want: ResponseDirectives{MaxAge: time.Minute, HasMaxAge: true}},
		{name: "quoted max-age with escapes", give: []string{`max-age="6\0"`},
			want: ResponseDirectives{MaxAge: time.Minute, HasMaxAge: true}},
		{name: "zero", give: []string{"max-age=0"}, want: ResponseDirectives{HasMaxAge: true}},
		{name: "leading zeros", give: []string{"max-age=0060"}, want: ResponseDirectives{MaxAge: time.Minute, HasMaxAge: true}},
		// §1.2.2: beyond 2^31 is 2^31.
		{name: "2^31", give: []string{"max-age=2147483648"}, want: ResponseDirectives{MaxAge: MaxDelta, HasMaxAge: true}},
		{name: "2^31-1", give: []string{"max-age=2147483647"}, want: ResponseDirectives{MaxAge: MaxDelta - time.Second, HasMaxAge: true}},
		{name: "huge", give: []string{"max-age=99999999999999999999999999999999, stale-if-error=18446744073709551616"},
			want: ResponseDirectives{MaxAge: MaxDelta, HasMaxAge: true, StaleIfError: MaxDelta, HasStaleIfError: true}},
		// §4.2.1: invalid freshness information: stale.
		{name: "negative max-age", give: []string{"max-age=-1, public"}, want: ResponseDirectives{Invalid: true, Public: true}},
		{name: "non-numeric max-age", give: []string{"max-age=1.5"}, want: ResponseDirectives{Invalid: true}},
		{name: "unit max-age", give: []string{"max-age=60s"}, want: ResponseDirectives{Invalid: true}},
		{name: "plus max-age", give: []string{"max-age=+60"}, want: ResponseDirectives{Invalid: true}},
		{name: "spaced digits", give: []string{"max-age=6 0"}, want: ResponseDirectives{Invalid: true}},
		{name: "max-age without value", give: []string{"max-age"}, want: ResponseDirectives{Invalid: true}},
		{name: "max-age empty", give: []string{"max-age="}, want: ResponseDirectives{Invalid: true}},
		{name: "max-age empty quoted", give: []string{`max-age=""`}, want: ResponseDirectives{Invalid: true}},
		{name: "max-age unterminated quote", give: []string{`max-age="60`}, want: ResponseDirectives{Invalid: true}},
		{name: "max-age junk after quote", give: []string{`max-age="60"x, public`}, want: ResponseDirectives{Invalid: true, Public: true}},
		{name: "invalid s-maxage", give: []string{"max-age=60, s-maxage=x"},
			want: ResponseDirectives{MaxAge: time.Minute, HasMaxAge: true, Invalid: true}},
		{name: "duplicate equal", give: []string{"max-age=60", "max-age=060"},
			want: ResponseDirectives{MaxAge: time.Minute, HasMaxAge: true}},
		{name: "duplicate huge equal", give: []string{"max-age=3000000000, max-age=4000000000"},
			want: ResponseDirectives{MaxAge: MaxDelta, HasMaxAge: true}},
		{name: "duplicate conflicting", give: []string{"max-age=60", "max-age=30"}, want: ResponseDirectives{Invalid: true}},
		{name: "conflict then repeat", give: []string{"max-age=60, max-age=30, max-age=60"}, want: ResponseDirectives{Invalid: true}},
		{name: "valid then invalid", give: []string{"max-age=60, max-age=x"}, want: ResponseDirectives{Invalid: true}},
		{name: "name with space", give: []string{"max age=60, public"}, want: ResponseDirectives{Public: true}},
		// RFC 5861.
		{name: "stale extensions", give: []string{"max-age=1, stale-while-revalidate=30, stale-if-error=86400"},
			want: ResponseDirectives{MaxAge: time.Second, HasMaxAge: true, StaleWhileRevalidate: 30 * time.Second,
				HasStaleWhileRevalidate: true, StaleIfError: 24 * time.Hour, HasStaleIfError: true}},
		{name: "stale extensions repeated keep smallest", give: []string{"stale-while-revalidate=30, stale-while-revalidate=10, stale-if-error=5", "stale-if-error=9"},
			want: ResponseDirectives{StaleWhileRevalidate: 10 * time.Second, HasStaleWhileRevalidate: true, StaleIfError: 5 * time.Second, HasStaleIfError: true}},
		{name: "stale extensions invalid ignored", give: []string{"stale-while-revalidate, stale-if-error=-1"}, want: ResponseDirectives{}},
		// §5.2.2.4.2 and §5.2.2.7: qualified forms.
		{name: "qualified no-cache", give: []string{`no-cache="set-cookie"`},
			want: ResponseDirectives{NoCacheFields: []string{"Set-Cookie"}}},
		{name: "qualified no-cache list", give: []string{"no-cache=\"Set-Cookie, x-token ,\tX-TOKEN,, set-cookie\""},
			want: ResponseDirectives{NoCacheFields: []string{"Set-Cookie", "X-Token"}}},
		{name: "qualified no-cache escapes", give: []string{`no-cache="Set-\Cookie"`},
			want: ResponseDirectives{NoCacheFields: []string{"Set-Cookie"}}},
		{name: "qualified no-cache token form", give: []string{`no-cache=set-cookie, foo`},
			want: ResponseDirectives{NoCacheFields: []string{"Set-Cookie"}}},
		{name: "qualified no-cache merged", give: []string{`no-cache="B", no-cache="A"`, `no-cache="b"`},
			want: ResponseDirectives{NoCacheFields: []string{"A", "B"}}},
		{name: "qualified and unqualified no-cache", give: []string{`no-cache, no-cache="A"`},
			want: ResponseDirectives{NoCache: true, NoCacheFields: []string{"A"}}},
		{name: "qualified no-cache invalid names skipped", give: []string{`no-cache="a b, c"`},
			want: ResponseDirectives{NoCacheFields: []string{"C"}}},
		{name: "qualified no-cache empty is unqualified", give: []string{`no-cache=""`}, want: ResponseDirectives{NoCache: true}},
		{name: "qualified no-cache no valid name is unqualified", give: []string{`no-cache="a b, ,"`}, want: ResponseDirectives{NoCache: true}},
		{name: "qualified no-cache unterminated is unqualified", give: []string{`no-cache="Set-Cookie, max-age=60`}, want: ResponseDirectives{NoCache: true}},
		{name: "qualified private", give: []string{`private="Set-Cookie, Authorization", max-age=60`},
			want: ResponseDirectives{PrivateFields: []string{"Authorization", "Set-Cookie"}, MaxAge: time.Minute, HasMaxAge: true}},
		{name: "comma inside quotes does not split", give: []string{`private="a,max-age=1", max-age=9`},
			want: ResponseDirectives{PrivateFields: []string{"A"}, MaxAge: 9 * time.Second, HasMaxAge: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := ParseResponseDirectives(ccHeader(tt.give...))
			assert.Equal(t, tt.want, got)
			assert.Equal(t, got, ParseResponseCacheControl(tt.give...), "the field lines on their own")
			again := ParseResponseDirectives(ccHeader(got.String()))
			assert.Equal(t, got, again, "round trip through %q", got.String())
		})
	}
}

func TestParseResponseDirectivesIgnoresPragma(t *testing.T) {
	t.Parallel()
	// RFC 9111 §5.4 defines Pragma for requests only.
	got := ParseResponseDirectives(http.Header{"Pragma": {"no-cache"}})
	assert.Equal(t, ResponseDirectives{}, got)
}

// TestParseRequestDirectives covers RFC 9111 §5.2.1 and §5.4.
func TestParseRequestDirectives(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		give   []string
		pragma []string
		want   RequestDirectives
	}{
		{name: "none", want: RequestDirectives{}},
		{name: "all", give: []string{"max-age=10, max-stale=20, min-fresh=30, no-cache, no-store, only-if-cached, stale-if-error=40"},
			want: RequestDirectives{MaxAge: 10 * time.Second, HasMaxAge: true, MaxStale: 20 * time.Second, HasMaxStale: true,
				MinFresh: 30 * time.Second, HasMinFresh: true, NoCache: true, NoStore: true, OnlyIfCached: true,
				StaleIfError: 40 * time.Second, HasStaleIfError: true}},
		{name: "case and lines", give: []string{"MAX-AGE=0", " Only-If-Cached "},
			want: RequestDirectives{HasMaxAge: true, OnlyIfCached: true}},
		// §5.2.1.2: max-stale without a value accepts any staleness.
		{name: "max-stale bare", give: []string{"max-stale"}, want: RequestDirectives{MaxStale: MaxDelta, HasMaxStale: true}},
		{name: "max-stale bare and valued", give: []string{"max-stale, max-stale=5"}, want: RequestDirectives{MaxStale: 5 * time.Second, HasMaxStale: true}},
		{name: "max-stale invalid ignored", give: []string{"max-stale=-5"}, want: RequestDirectives{}},
		{name: "quoted", give: []string{`max-age="5", min-fresh="7"`},
			want: RequestDirectives{MaxAge: 5 * time.Second, HasMaxAge: true, MinFresh: 7 * time.Second, HasMinFresh: true}},
		// Invalid request max-age is ignored (documented choice).
		{name: "invalid max-age ignored", give: []string{"max-age=abc, no-store"}, want: RequestDirectives{NoStore: true}},
		{name: "invalid max-age after valid", give: []string{"max-age=5, max-age=-1"}, want: RequestDirectives{MaxAge: 5 * time.Second, HasMaxAge: true}},
		// §4.2.1: the most restrictive value of a repeated directive.
		{name: "repeated most restrictive", give: []string{"max-age=50, min-fresh=1, stale-if-error=9", "max-age=5, min-fresh=10, stale-if-error=3, max-stale=4, max-stale=8"},
			want: RequestDirectives{MaxAge: 5 * time.Second, HasMaxAge: true, MinFresh: 10 * time.Second, HasMinFresh: true,
				StaleIfError: 3 * time.Second, HasStaleIfError: true, MaxStale: 4 * time.Second, HasMaxStale: true}},
		{name: "huge", give: []string{"max-age=1" + strings.Repeat("0", 400)}, want: RequestDirectives{MaxAge: MaxDelta, HasMaxAge: true}},
		{name: "no-cache with argument", give: []string{`no-cache="x"`}, want: RequestDirectives{NoCache: true}},
		// §5.4: Pragma: no-cache when there is no Cache-Control.
		{name: "pragma", pragma: []string{"no-cache"}, want: RequestDirectives{NoCache: true}},
		{name: "pragma case and list", pragma: []string{"foo=bar, No-Cache"}, want: RequestDirectives{NoCache: true}},
		{name: "pragma other", pragma: []string{"x-no-cache"}, want: RequestDirectives{}},
		{name: "pragma with empty cache-control", give: []string{" ", ","}, pragma: []string{"no-cache"}, want: RequestDirectives{NoCache: true}},
		{name: "pragma ignored with cache-control", give: []string{"max-age=5"}, pragma: []string{"no-cache"},
			want: RequestDirectives{MaxAge: 5 * time.Second, HasMaxAge: true}},
		{name: "pragma ignored with unknown cache-control", give: []string{"foo"}, pragma: []string{"no-cache"}, want: RequestDirectives{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			if tt.give != nil {
				h["Cache-Control"] = tt.give
			}
			if tt.pragma != nil {
				h["Pragma"] = tt.pragma
			}
			got := ParseRequestDirectives(h)
			assert.Equal(t, tt.want, got)
			again := ParseRequestDirectives(ccHeader(got.String()))
			assert.Equal(t, got, again, "round trip through %q", got.String())
		})
	}
}

func TestDirectivesString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		give string
		want string
	}{
		{name: "empty", give: "", want: ""},
		{name: "canonical order", give: `Public, max-age="60", no-cache="x-b,x-a", stale-if-error=5, private, immutable`,
			want: `max-age=60, no-cache="X-A,X-B", public, private, immutable, stale-if-error=5`},
		{name: "invalid max-age", give: "max-age=x, public", want: "max-age=invalid, public"},
		{name: "invalid s-maxage", give: "max-age=5, s-maxage=-1", want: "max-age=5, s-maxage=invalid"},
		{name: "invalid both", give: "max-age=5, max-age=6, s-maxage=-1", want: "max-age=invalid"},
		{name: "invalid max-age valid s-maxage", give: "max-age=5, max-age=6, s-maxage=1", want: "s-maxage=1, max-age=invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, ParseResponseDirectives(ccHeader(tt.give)).String())
		})
	}
	req := ParseRequestDirectives(ccHeader("Only-If-Cached, max-stale, max-age=3, min-fresh=2, no-store, stale-if-error=1, no-cache"))
	assert.Equal(t, "max-age=3, max-stale, min-fresh=2, no-cache, no-store, only-if-cached, stale-if-error=1", req.String())
}

// TestParseDirectivesOversize checks the 64 KiB cap: members past it are
// not read, one cut at the boundary is dropped, the work stays linear, and a
// truncated response is no-store.
func TestParseDirectivesOversize(t *testing.T) {
	t.Parallel()
	pad := strings.Repeat(" ", maxListBytes-len("max-age=1, "))
	tests := []struct {
		name string
		give []string
		want ResponseDirectives
	}{
		{name: "member within", give: []string{pad + "max-age=1, "}, want: ResponseDirectives{MaxAge: time.Second, HasMaxAge: true}},
		{name: "member within, then an empty line", give: []string{pad + "max-age=1, ", ""}, want: ResponseDirectives{MaxAge: time.Second, HasMaxAge: true, NoStore: true}},
		{name: "member cut", give: []string{pad + "  max-age=12345"}, want: ResponseDirectives{NoStore: true}},
		{name: "member after", give: []string{pad + "  max-age=1, public"}, want: ResponseDirectives{NoStore: true}},
		{name: "lines after", give: []string{strings.Repeat(",", maxListBytes), "public"}, want: ResponseDirectives{NoStore: true}},
		{name: "many empty lines", give: append(make([]string, maxListBytes), "public"), want: ResponseDirectives{NoStore: true}},
		{name: "many directives", give: []string{strings.Repeat("max-age=1,", 1<<20)}, want: ResponseDirectives{MaxAge: time.Second, HasMaxAge: true, NoStore: true}},
		{name: "huge field list", give: []string{`no-cache="` + strings.Repeat("a,", 1<<20) + `"`}, want: ResponseDirectives{NoStore: true}},
		{name: "unterminated quote", give: []string{`foo="` + strings.Repeat(`\"`, 1<<20), "public"}, want: ResponseDirectives{NoStore: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, ParseResponseDirectives(ccHeader(tt.give...)))
		})
	}
	// A request's own directives past the cap are just ignored.
	req := ParseRequestDirectives(ccHeader(pad+"max-age=1, ", "no-store"))
	assert.Equal(t, RequestDirectives{MaxAge: time.Second, HasMaxAge: true}, req)
}

func TestParseResponseDirectivesNoAlloc(t *testing.T) {
	for _, v := range []string{"max-age=60, public", "no-cache, no-store, must-revalidate", `max-age="3600", stale-while-revalidate=60, immutable`} {
		h := ccHeader(v)
		allocs := testing.AllocsPerRun(100, func() { _ = ParseResponseDirectives(h) })
		assert.Zero(t, allocs, v)
	}
	h := http.Header{"Cache-Control": {"max-age=0, max-stale"}, "Pragma": {"no-cache"}}
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = ParseRequestDirectives(h) }))
	// The lines may live on the caller's stack: the scanner does not let
	// the slice escape.
	line := "max-age=60, public"
	assert.Zero(t, testing.AllocsPerRun(100, func() {
		var buf [2]string
		lines := append(buf[:0], line)
		_ = ParseResponseCacheControl(lines...)
	}))
}

func FuzzParseCacheControl(f *testing.F) {
	for _, s := range []string{
		"max-age=60, public",
		"no-cache, no-store, must-revalidate\nPragma",
		`private="Set-Cookie, X-A", no-cache="b\"c", max-age="6\0"`,
		"max-age=-1, s-maxage=99999999999999999999, max-stale, min-fresh=1, only-if-cached",
		"MAX-AGE = 1 ,, \tstale-while-revalidate=5\nstale-if-error=3, immutable",
		`no-cache="unterminated, max-age=1`,
		"max-age=1, max-age=2, proxy-revalidate, must-understand, no-transform",
	} {
		f.Add(s, "no-cache")
	}
	f.Fuzz(func(t *testing.T, cc, pragma string) {
		h := http.Header{"Cache-Control": strings.Split(cc, "\n"), "Pragma": {pragma}}
		resp := ParseResponseDirectives(h)
		if s := resp.String(); len(s) <= maxListBytes {
			again := ParseResponseDirectives(ccHeader(s))
			require.Equal(t, resp, again, "response %q -> %q", cc, s)
		}
		if resp.HasMaxAge && (resp.MaxAge < 0 || resp.MaxAge > MaxDelta) {
			t.Fatalf("max-age %v out of range", resp.MaxAge)
		}
		req := ParseRequestDirectives(h)
		s := req.String()
		again := ParseRequestDirectives(ccHeader(s))
		require.Equal(t, req, again, "request %q -> %q", cc, s)
	})
}

func BenchmarkParseResponseDirectives(b *testing.B) {
	for _, bb := range []struct{ name, give string }{
		{"typical", "max-age=60, public"},
		{"long", `public, max-age=31536000, s-maxage=600, stale-while-revalidate=60, stale-if-error=86400, immutable, must-revalidate`},
		{"qualified", `private="Set-Cookie", no-cache="Authorization, X-Token", max-age=0`},
	} {
		h := ccHeader(bb.give)
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = ParseResponseDirectives(h)
			}
		})
	}
}

func BenchmarkParseRequestDirectives(b *testing.B) {
	h := http.Header{"Cache-Control": {"max-age=0, max-stale=30"}}
	b.ReportAllocs()
	for b.Loop() {
		_ = ParseRequestDirectives(h)
	}
}

func ExampleParseResponseDirectives() {
	h := http.Header{"Cache-Control": {`Max-Age=600, no-cache="Set-Cookie"`, "stale-while-revalidate=30, foo=bar"}}
	d := ParseResponseDirectives(h)
	fmt.Println(d.MaxAge, d.NoCache, d.NoCacheFields, d.StaleWhileRevalidate)
	fmt.Println(d)

	d = ParseResponseDirectives(http.Header{"Cache-Control": {"max-age=60, max-age=3600"}})
	fmt.Println(d.Invalid, d)
	// Output:
	// 10m0s false [Set-Cookie] 30s
	// max-age=600, no-cache="Set-Cookie", stale-while-revalidate=30
	// true max-age=invalid
}

func ExampleParseRequestDirectives() {
	d := ParseRequestDirectives(http.Header{"Cache-Control": {"max-stale, min-fresh=10"}})
	fmt.Println(d.MaxStale == MaxDelta, d.MinFresh, d)

	d = ParseRequestDirectives(http.Header{"Pragma": {"no-cache"}})
	fmt.Println(d.NoCache)
	// Output:
	// true 10s max-stale, min-fresh=10
	// true
}
