package policy

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGlobMatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern string
		url     string
		want    bool
	}{
		// The seed's examples.
		{"*.site_1.com", "https://api.site_1.com/v1/items", true},
		{"*.site_1.com", "http://www.site_1.com", true},
		{"*.site_1.com", "https://site_1.com/", false},
		{"*.site_1.com", "https://other.com/", false},
		{"site_2.com/resource_1", "https://site_2.com/resource_1", true},
		{"site_2.com/resource_1", "http://site_2.com/resource_1/sub?x=1", true},
		{"site_2.com/resource_1", "https://site_2.com/resource_2", false},
		{"site_2.com/resource_1", "https://www.site_2.com/resource_1", false},
		{"site_2.com/static", "https://site_2.com/static/logo.png", true},
		{"site_2.com/static", "https://site_2.com/", false},
		// Prefix: anything may follow.
		{"site.com/resource/", "https://site.com/resource/a/b", true},
		{"site.com/resource/", "https://site.com/resource", false},
		{"site.com/resource_1", "https://site.com/resource_10", true},
		{"site.com", "https://site.com.evil.org/", true},
		// Scheme-less patterns ignore the scheme; scheme-ful match the whole URL.
		{"site.com/x", "ftp://site.com/x", true},
		{"site.com/x", "site.com/x", true},
		{"https://site.com/x", "https://site.com/x/y", true},
		{"https://site.com/x", "http://site.com/x", false},
		{"http://site.com/x", "https://site.com/x", false},
		{"http*://site.com/resource/**", "https://site.com/resource/1", true},
		{"http*://site.com/resource/**", "http://site.com/resource/1", true},
		{"http*://site.com/resource/**", "ws://site.com/resource/1", false},
		{"http*://site.com", "site.com/", false},
		{"https://site.com", "https://site.com:8443/", true},
		// The scheme-less pattern does not see "https://".
		{"https*", "https://site.com/", false},
		{"*://site.com", "https://site.com/", true},
		// Star crosses slashes.
		{"site.com/*/edit", "https://site.com/a/b/c/edit", true},
		{"site.com/*/edit", "https://site.com/edit", false},
		{"site.com/*.json", "https://site.com/a/b.json?x", true},
		{"*", "https://anything/", true},
		{"**", "https://anything/", true},
		{"*a*b*c", "https://xaxbxc/", true},
		{"*a*b*c", "https://xcxbxa/", false},
		{"s*e*.com/p", "https://site.example.com/p", true},
		// Question mark: one character.
		{"site.com/v?/x", "https://site.com/v1/x", true},
		{"site.com/v?/x", "https://site.com/v10/x", false},
		{"site.com/v?", "https://site.com/v", false},
		{"site.com/caf?/x", "https://site.com/café/x", true},
		// Classes.
		{"site.com/v[12]/", "https://site.com/v2/a", true},
		{"site.com/v[12]/", "https://site.com/v3/a", false},
		{"site.com/v[0-9]/", "https://site.com/v7/a", true},
		{"site.com/v[!0-9]/", "https://site.com/v7/a", false},
		{"site.com/v[!0-9]/", "https://site.com/vx/a", true},
		{"site.com/[]]", "https://site.com/]", true},
		{"site.com/[!]]", "https://site.com/]", false},
		{"site.com/[!]]", "https://site.com/a", true},
		{"site.com/[a-]", "https://site.com/-", true},
		{"site.com/[-a]", "https://site.com/-", true},
		{"site.com/[\\]]x", "https://site.com/]x", true},
		{"site.com/[é-ë]", "https://site.com/ê", true},
		{"site.com/[!é]", "https://site.com/é", false},
		// Escapes.
		{`site.com/a\*b`, "https://site.com/a*b", true},
		{`site.com/a\*b`, "https://site.com/axxb", false},
		{`site.com/a\?b`, "https://site.com/a?b", true},
		{`site.com/a\?b`, "https://site.com/axb", false},
		{`site.com/\[x]`, "https://site.com/[x]", true},
		{`site.com/a\\b`, `https://site.com/a\b`, true},
		// Case: scheme and host fold, path does not.
		{"Site.COM/x", "https://site.com/x", true},
		{"site.com/x", "https://SITE.com/x", true},
		{"HTTPS://site.com/x", "https://site.com/x", true},
		{"*.SITE.com", "https://api.site.com/", true},
		{"[S]ite.com", "https://site.com/", true},
		{"[!S]ite.com", "https://site.com/", false},
		{"site.com/Path", "https://site.com/path", false},
		{"site.com/path", "https://site.com/PATH", false},
		{"*/Path", "https://site.com/Path", true},
		{"*/Path", "https://site.com/path", false},
		// Query strings.
		{"site.com/search", "https://site.com/search?q=go", true},
		{`site.com/search\?q=`, "https://site.com/search?q=go", true},
		{`site.com/search[?]q=go`, "https://site.com/search?q=go", true},
		{`site.com/search\?q=go`, "https://site.com/search?q=rust", false},
		{"*q=go", "https://site.com/search?q=go", true},
		{"*Q=go", "https://site.com/search?q=go", false},
		{"site.com?*", "https://site.com?a=1", true},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+" "+tt.url, func(t *testing.T) {
			t.Parallel()
			g, err := CompileGlob(tt.pattern)
			require.NoError(t, err)
			assert.Equal(t, tt.want, g.Match(tt.url))
			assert.Equal(t, tt.want, referenceMatch(g, tt.url), "reference matcher")
			assert.Equal(t, tt.pattern, g.String())
		})
	}
}

func TestCompileGlobErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give    string
		wantErr string
	}{
		{"", `policy: glob "": empty pattern`},
		{"site.com/[a", `policy: glob "site.com/[a": missing ]`},
		{"site.com/[", `missing ]`},
		{"site.com/[]", `missing ]`},
		{"site.com/[!]", `missing ]`},
		{`site.com/\`, `policy: glob "site.com/\\": trailing backslash`},
		{`site.com/[a\`, `trailing backslash`},
		{"site.com/[z-a]", `policy: glob "site.com/[z-a]": bad range 'z'-'a'`},
		// Regular expressions given where a glob is expected would
		// silently match nothing the user meant.
		{`^https://api\.example\.com/.*`, `looks like a regular expression (a leading "^")`},
		{`api.example.com/v1/.*$`, `(a trailing "$")`},
		{`api\.example\.com/items`, `("\.")`},
		{`api.example.com/items/\d/`, `("\d")`},
		{`api.example.com/(users|groups)/`, `(a group)`},
		{`api.example.com/.+/items`, `(".+")`},
		{`api.example.com/[0-9]{3}`, `(a {n,m} repetition)`},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			t.Parallel()
			g, err := CompileGlob(tt.give)
			assert.Nil(t, g)
			require.ErrorIs(t, err, ErrBadPattern)
			assert.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestPatterns(t *testing.T) {
	t.Parallel()
	p, err := CompilePatterns([]URLExpiry{
		{Pattern: "*.site_1.com", Expiry: After(30 * time.Second)},
		{Pattern: "site_2.com/resource_1", Expiry: After(2 * time.Minute)},
		{Pattern: "site_2.com/resource_2", Expiry: After(24 * time.Hour)},
		{Pattern: "site_2.com/static", Expiry: Never()},
		{Pattern: "site_2.com/static/private", Expiry: DoNotStore()}, // shadowed: first match wins
		{Pattern: "site_2.com", Expiry: After(time.Hour)},
	})
	require.NoError(t, err)
	tests := []struct {
		give   string
		want   Expiry
		wantOK bool
	}{
		{"https://api.site_1.com/x", After(30 * time.Second), true},
		{"https://site_2.com/resource_1?page=2", After(2 * time.Minute), true},
		{"https://site_2.com/resource_2", After(24 * time.Hour), true},
		{"http://site_2.com/static/private/a", Never(), true},
		{"https://site_2.com/other", After(time.Hour), true},
		{"https://site_3.com/", Expiry{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			t.Parallel()
			got, ok := p.Match(tt.give)
			assert.Equal(t, tt.wantOK, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestPatternsEmptyAndNil(t *testing.T) {
	t.Parallel()
	var nilP *Patterns
	e, ok := nilP.Match("https://site.com/")
	assert.False(t, ok)
	assert.False(t, e.IsSet())

	p, err := CompilePatterns(nil)
	require.NoError(t, err)
	_, ok = p.Match("https://site.com/")
	assert.False(t, ok)
}

func TestCompilePatternsErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		give      []URLExpiry
		wantErr   string
		wantIsPat bool
	}{
		{
			name: "bad glob",
			give: []URLExpiry{
				{Pattern: "a.com", Expiry: Never()},
				{Pattern: "b.com", Expiry: Never()},
				{Pattern: "site.com/[a", Expiry: Never()},
			},
			wantErr:   `policy: URL pattern 2 "site.com/[a": missing ]`,
			wantIsPat: true,
		},
		{
			name:      "empty",
			give:      []URLExpiry{{Pattern: "", Expiry: Never()}},
			wantErr:   `policy: URL pattern 0 "": empty pattern`,
			wantIsPat: true,
		},
		{
			name:    "negative after",
			give:    []URLExpiry{{Pattern: "a.com", Expiry: Never()}, {Pattern: "site.com", Expiry: After(-time.Second)}},
			wantErr: `policy: URL pattern 1 "site.com": invalid expiry: after -1s: negative duration`,
		},
		{
			name:    "unset",
			give:    []URLExpiry{{Pattern: "site.com"}},
			wantErr: `policy: URL pattern 0 "site.com": invalid expiry: unset (use policy.Never to store without expiry)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := CompilePatterns(tt.give)
			assert.Nil(t, p)
			require.EqualError(t, err, tt.wantErr)
			if tt.wantIsPat {
				assert.ErrorIs(t, err, ErrBadPattern)
			} else {
				assert.ErrorIs(t, err, ErrInvalidExpiry)
			}
		})
	}
}

func TestSplitURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give          string
		wantAuthStart int
		wantHostEnd   int
	}{
		{"https://site.com/x", 8, 16},
		{"https://site.com", 8, 16},
		{"https://site.com?q", 8, 16},
		{"http://site.com#f", 7, 15},
		{"site.com/x", 0, 8},
		{"svn+ssh://h/", 10, 11},
		{"1http://h/", 0, 6},
		{"://h/", 0, 1},
		{"", 0, 0},
		{"a:b//c", 0, 3},
	}
	for _, tt := range tests {
		a, h := splitURL(tt.give)
		assert.Equal(t, tt.wantAuthStart, a, tt.give)
		assert.Equal(t, tt.wantHostEnd, h, tt.give)
	}
}

func TestPatternsMatchNoAlloc(t *testing.T) {
	p := benchPatterns(t)
	for _, u := range []string{benchURLHit, benchURLMiss} {
		allocs := testing.AllocsPerRun(100, func() { _, _ = p.Match(u) })
		assert.Zero(t, allocs, u)
	}
}

// referenceMatch is a slow, obviously correct backtracking matcher over the
// compiled atoms (an implicit star between segments and at the end), to
// check the leftmost-first search of Glob.match.
func referenceMatch(g *Glob, url string) bool {
	authStart, hostEnd := splitURL(url)
	s := url
	if !g.scheme {
		s, hostEnd = url[authStart:], hostEnd-authStart
	}
	type tok struct {
		star bool
		a    *atom
		b    byte // for a literal, one byte
	}
	var toks []tok
	for k := range g.segs {
		if k > 0 {
			toks = append(toks, tok{star: true})
		}
		for j := range g.segs[k].atoms {
			a := &g.segs[k].atoms[j]
			if a.kind == atomLit {
				for i := 0; i < len(a.lit); i++ {
					toks = append(toks, tok{a: a, b: a.lit[i]})
				}
				continue
			}
			toks = append(toks, tok{a: a})
		}
	}
	memo := map[[2]int]bool{}
	var m func(ti, i int) bool
	m = func(ti, i int) bool {
		if ti == len(toks) {
			return true // prefix match
		}
		key := [2]int{ti, i}
		if v, ok := memo[key]; ok {
			return v
		}
		var res bool
		t := toks[ti]
		switch {
		case t.star:
			for j := i; j <= len(s); {
				if m(ti+1, j) {
					res = true
					break
				}
				if j == len(s) {
					break
				}
				_, w := utf8.DecodeRuneInString(s[j:])
				j += w
			}
		case i >= len(s):
		case t.a.kind == atomLit:
			c := s[i]
			if i < hostEnd {
				res = strings.EqualFold(string(c), string(t.b)) && c < utf8.RuneSelf || c == t.b
			} else {
				res = c == t.b
			}
			res = res && m(ti+1, i+1)
		default:
			r, w := utf8.DecodeRuneInString(s[i:])
			ok := true
			if t.a.kind == atomClass {
				ok = t.a.matchRune(r, i < hostEnd)
			}
			res = ok && m(ti+1, i+w)
		}
		memo[key] = res
		return res
	}
	return m(0, 0)
}

func FuzzGlob(f *testing.F) {
	seeds := [][2]string{
		{"*.site_1.com", "https://api.site_1.com/x"},
		{"site_2.com/resource_1", "https://site_2.com/resource_1?x=1"},
		{"site_2.com/static", "http://site_2.com/static/a.png"},
		{"http*://site.com/resource/**", "https://site.com/resource/1"},
		{"site.com/v[!0-9]?/[a-z]*x", "https://SITE.com/vxy/abcx"},
		{`a\*[\]]`, "a*]"},
		{"[é-ë]*?", "https://ê.com/é"},
		{"site.com/[a", "https://site.com/[a"},
		{"*a*b*", "https://xAxbx/ab"},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, url string) {
		g, err := CompileGlob(pattern)
		if err != nil {
			if !strings.Contains(err.Error(), "policy: glob ") {
				t.Fatalf("error %q does not name the glob", err)
			}
			return
		}
		got := g.Match(url)
		if len(pattern) <= 64 && len(url) <= 256 {
			if want := referenceMatch(g, url); got != want {
				t.Fatalf("Match(%q, %q) = %v, reference %v", pattern, url, got, want)
			}
		}
		p, err := CompilePatterns([]URLExpiry{{Pattern: pattern, Expiry: Never()}})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := p.Match(url); ok != got {
			t.Fatalf("Patterns.Match(%q) = %v, Glob.Match %v", url, ok, got)
		}
	})
}

const (
	benchURLHit  = "https://cdn.site_5.com/static/img/logo.png?v=3"
	benchURLMiss = "https://www.example.org/api/v2/items?page=7&sort=name"
)

func benchPatterns(tb testing.TB) *Patterns {
	tb.Helper()
	p, err := CompilePatterns([]URLExpiry{
		{Pattern: "*.site_1.com", Expiry: After(30 * time.Second)},
		{Pattern: "site_2.com/resource_1", Expiry: After(2 * time.Minute)},
		{Pattern: "site_2.com/resource_[0-9]", Expiry: After(24 * time.Hour)},
		{Pattern: "https://api.site_4.com/v?/items/*.json", Expiry: Never()},
		{Pattern: "*.site_5.com/static/", Expiry: Never()},
	})
	require.NoError(tb, err)
	return p
}

func BenchmarkPatternsMatch(b *testing.B) {
	p := benchPatterns(b)
	for _, bb := range []struct{ name, url string }{{"hit5th", benchURLHit}, {"miss", benchURLMiss}} {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = p.Match(bb.url)
			}
		})
	}
}
