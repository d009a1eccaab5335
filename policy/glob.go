package policy

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrBadPattern is matched (with errors.Is) by every error CompileGlob and
// CompilePatterns return for a malformed pattern.
var ErrBadPattern = errors.New("policy: bad URL pattern")

// patternError names a malformed pattern, its index among the rules (or -1
// for CompileGlob) and what is wrong with it.
type patternError struct {
	index   int
	pattern string
	reason  string
}

func (e *patternError) Error() string {
	if e.index < 0 {
		return "policy: glob " + strconv.Quote(e.pattern) + ": " + e.reason
	}
	return "policy: URL pattern " + strconv.Itoa(e.index) + " " + strconv.Quote(e.pattern) + ": " + e.reason
}

func (e *patternError) Unwrap() error { return ErrBadPattern }

// Glob is one compiled URL pattern (the seed's urls_expire_after keys).
//
// Patterns match request base URLs, so that, as the seed puts it, the
// pattern "site.com/resource/" is equivalent to "http*://site.com/resource/**":
//
//   - A pattern without "://" is matched against the URL with its scheme and
//     "://" removed; a pattern with "://" is matched against the whole URL.
//   - A pattern matches a prefix of the URL: anything may follow, including
//     a query string. "site.com/resource_1" also matches
//     "site.com/resource_10" and "site.com/resource_1?page=2"; end the
//     pattern with "/" to match only below a path.
//   - "*" matches any run of characters, "/" included, so "*.site.com"
//     matches "api.site.com/x" but also "site.com.evil/x.site.com" (as in the
//     seed, whose patterns are fnmatch globs).
//   - "?" matches one character (not a literal question mark: write "\?" or
//     "[?]" to match the start of a query string).
//   - "[abc]", "[a-z]" and "[!a]" match one character in, or with "!" not
//     in, the class; a "]" right after "[" or "[!" is a member, and "-"
//     first or last is literal.
//   - "\" makes the next character literal, inside a class too.
//
// The scheme and host (the URL up to the first "/", "?" or "#" after "://")
// compare case-insensitively for ASCII letters; the rest of the URL, path
// and query, is case-sensitive. Characters are UTF-8 runes.
//
// A Glob is immutable and safe for concurrent use; Match does not allocate.
type Glob struct {
	pattern string
	// scheme reports whether the pattern contains "://" and so is
	// matched against the whole URL.
	scheme bool
	// segs are the pattern's runs between stars: segs[0] is anchored at
	// the start of the URL (and is empty when the pattern starts with
	// "*"); each later one is found at its leftmost position after the
	// previous match. Leftmost is always right because the match is a
	// prefix match: an implicit "*" ends every pattern.
	segs []segment
}

type segment struct {
	atoms []atom
	// lit is the whole segment when it is a single literal run, for the
	// strings.Index fast path; otherwise "".
	lit string
	// first is the lower-cased first byte of a segment that starts with
	// a literal, to skip hopeless positions quickly; hasFirst says so.
	first    byte
	hasFirst bool
}

type atomKind uint8

const (
	atomLit   atomKind = iota // lit, byte for byte
	atomAny                   // "?": one rune
	atomClass                 // "[...]": one rune in (or not in) ranges
)

type atom struct {
	kind   atomKind
	negate bool
	lit    string
	ranges []runeRange
}

type runeRange struct{ lo, hi rune }

// CompileGlob compiles one URL pattern (see Glob for the syntax). An empty
// pattern, an unterminated class ("[a"), a reversed range ("[z-a]") and a
// trailing backslash are errors that name the pattern and wrap
// ErrBadPattern.
func CompileGlob(pattern string) (*Glob, error) {
	g, reason := compileGlob(pattern)
	if reason != "" {
		return nil, &patternError{index: -1, pattern: pattern, reason: reason}
	}
	return g, nil
}

func compileGlob(pattern string) (*Glob, string) {
	if pattern == "" {
		return nil, "empty pattern"
	}
	if hint := regexpHint(pattern); hint != "" {
		return nil, "looks like a regular expression (" + hint + "); patterns are globs: * for any run of characters, ? for one"
	}
	g := &Glob{pattern: pattern, scheme: strings.Contains(pattern, "://")}
	var (
		cur []atom
		lit []byte
	)
	flushLit := func() {
		if len(lit) > 0 {
			cur = append(cur, atom{kind: atomLit, lit: string(lit)})
			lit = lit[:0]
		}
	}
	flushSeg := func() {
		flushLit()
		sg := segment{atoms: cur}
		if len(cur) == 1 && cur[0].kind == atomLit {
			sg.lit = cur[0].lit
		}
		if len(cur) > 0 && cur[0].kind == atomLit {
			sg.first, sg.hasFirst = lowerASCII(cur[0].lit[0]), true
		}
		g.segs = append(g.segs, sg)
		cur = nil
	}
	for i := 0; i < len(pattern); {
		switch c := pattern[i]; c {
		case '*':
			flushSeg()
			for i < len(pattern) && pattern[i] == '*' {
				i++
			}
		case '?':
			flushLit()
			cur = append(cur, atom{kind: atomAny})
			i++
		case '[':
			flushLit()
			a, n, reason := parseClass(pattern[i+1:])
			if reason != "" {
				return nil, reason
			}
			cur = append(cur, a)
			i += 1 + n
		case '\\':
			if i+1 >= len(pattern) {
				return nil, "trailing backslash"
			}
			_, w := utf8.DecodeRuneInString(pattern[i+1:])
			lit = append(lit, pattern[i+1:i+1+w]...)
			i += 1 + w
		default:
			lit = append(lit, c)
			i++
		}
	}
	flushSeg()
	// A trailing star adds nothing to a prefix match.
	for len(g.segs) > 1 && len(g.segs[len(g.segs)-1].atoms) == 0 {
		g.segs = g.segs[:len(g.segs)-1]
	}
	return g, ""
}

// parseClass parses a class whose "[" has been consumed and returns it with
// the bytes it used, "]" included.
func parseClass(s string) (atom, int, string) {
	a := atom{kind: atomClass}
	i := 0
	if i < len(s) && s[i] == '!' {
		a.negate = true
		i++
	}
	for first := true; ; first = false {
		if i >= len(s) {
			return atom{}, 0, "missing ]"
		}
		if s[i] == ']' && !first {
			return a, i + 1, ""
		}
		lo, n, reason := classRune(s[i:])
		if reason != "" {
			return atom{}, 0, reason
		}
		i += n
		hi := lo
		if i+1 < len(s) && s[i] == '-' && s[i+1] != ']' {
			hi, n, reason = classRune(s[i+1:])
			if reason != "" {
				return atom{}, 0, reason
			}
			if hi < lo {
				return atom{}, 0, "bad range " + strconv.QuoteRune(lo) + "-" + strconv.QuoteRune(hi)
			}
			i += 1 + n
		}
		a.ranges = append(a.ranges, runeRange{lo, hi})
	}
}

// classRune reads one class member, honouring a backslash escape.
func classRune(s string) (rune, int, string) {
	if s[0] != '\\' {
		r, w := utf8.DecodeRuneInString(s)
		return r, w, ""
	}
	if len(s) < 2 {
		return 0, 0, "trailing backslash"
	}
	r, w := utf8.DecodeRuneInString(s[1:])
	return r, 1 + w, ""
}

// String returns the pattern g was compiled from.
func (g *Glob) String() string { return g.pattern }

// Match reports whether g matches url, an absolute request URL with its
// scheme and host in lower case (as the keyer normalises them; the host
// comparison folds ASCII case anyway).
func (g *Glob) Match(url string) bool {
	authStart, hostEnd := splitURL(url)
	return g.matchSplit(url, authStart, hostEnd)
}

func (g *Glob) matchSplit(url string, authStart, hostEnd int) bool {
	if g.scheme {
		return g.match(url, hostEnd)
	}
	return g.match(url[authStart:], hostEnd-authStart)
}

// splitURL returns where url's authority starts (after "scheme://", or 0
// when url has no scheme) and where its host ends (the first "/", "?" or
// "#" after that, or len(url)).
func splitURL(url string) (authStart, hostEnd int) {
	for i := 0; i < len(url); i++ {
		c := url[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' ||
			i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.') {
			continue
		}
		if c == ':' && i > 0 && strings.HasPrefix(url[i+1:], "//") {
			authStart = i + 3
		}
		break
	}
	if n := strings.IndexAny(url[authStart:], "/?#"); n >= 0 {
		return authStart, authStart + n
	}
	return authStart, len(url)
}

// match matches s, whose bytes before hostEnd compare case-insensitively.
func (g *Glob) match(s string, hostEnd int) bool {
	end, ok := g.segs[0].matchAt(s, 0, hostEnd)
	if !ok {
		return false
	}
	for k := 1; k < len(g.segs); k++ {
		if end, ok = g.segs[k].find(s, end, hostEnd); !ok {
			return false
		}
	}
	return true
}

// matchAt matches the segment at s[i:] and returns where the match ends.
func (sg *segment) matchAt(s string, i, hostEnd int) (int, bool) {
	for k := range sg.atoms {
		a := &sg.atoms[k]
		switch a.kind {
		case atomLit:
			if !hasLitAt(s, i, a.lit, hostEnd) {
				return 0, false
			}
			i += len(a.lit)
		case atomAny:
			if i >= len(s) {
				return 0, false
			}
			i += runeLen(s, i)
		case atomClass:
			if i >= len(s) {
				return 0, false
			}
			r, w := rune(s[i]), 1
			if r >= utf8.RuneSelf {
				r, w = utf8.DecodeRuneInString(s[i:])
			}
			if !a.matchRune(r, i < hostEnd) {
				return 0, false
			}
			i += w
		}
	}
	return i, true
}

// find returns the end of the leftmost match of the segment at or after
// from.
func (sg *segment) find(s string, from, hostEnd int) (int, bool) {
	i := from
	// Positions in the host compare case-insensitively: try them one by
	// one (a host is short).
	for i < hostEnd {
		if !sg.hasFirst || lowerASCII(s[i]) == sg.first {
			if end, ok := sg.matchAt(s, i, hostEnd); ok {
				return end, true
			}
		}
		i += runeLen(s, i)
	}
	if i > len(s) {
		return 0, false
	}
	if sg.lit != "" {
		n := strings.Index(s[i:], sg.lit)
		if n < 0 {
			return 0, false
		}
		return i + n + len(sg.lit), true
	}
	for {
		if end, ok := sg.matchAt(s, i, hostEnd); ok {
			return end, true
		}
		if i >= len(s) {
			return 0, false
		}
		i += runeLen(s, i)
	}
}

// hasLitAt reports whether lit occurs at s[i:], folding ASCII case before
// hostEnd.
func hasLitAt(s string, i int, lit string, hostEnd int) bool {
	if len(s)-i < len(lit) {
		return false
	}
	if i >= hostEnd {
		return s[i:i+len(lit)] == lit
	}
	n := min(hostEnd-i, len(lit))
	for j := range n {
		if lowerASCII(s[i+j]) != lowerASCII(lit[j]) {
			return false
		}
	}
	return s[i+n:i+len(lit)] == lit[n:]
}

func (a *atom) matchRune(r rune, fold bool) bool {
	in := a.has(r)
	if !in && fold {
		if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' {
			in = a.has(r ^ 0x20)
		}
	}
	return in != a.negate
}

func (a *atom) has(r rune) bool {
	for _, rg := range a.ranges {
		if rg.lo <= r && r <= rg.hi {
			return true
		}
	}
	return false
}

func runeLen(s string, i int) int {
	if s[i] < utf8.RuneSelf {
		return 1
	}
	_, w := utf8.DecodeRuneInString(s[i:])
	return w
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// URLExpiry is one rule of urls_expire_after: URLs that Pattern (a Glob)
// matches get Expiry.
type URLExpiry struct {
	Pattern string
	Expiry  Expiry
}

// Patterns is a compiled, ordered list of URL rules (the seed's
// urls_expire_after). It is immutable and safe for concurrent use.
type Patterns struct {
	rules []compiledRule
}

type compiledRule struct {
	glob   *Glob
	expiry Expiry
}

// CompilePatterns compiles rules, keeping their order. An error names the
// offending pattern and its index in rules (counting from 0), as in
//
//	policy: URL pattern 2 "site.com/[a": missing ]
//
// A malformed pattern wraps ErrBadPattern; an invalid or unset Expiry (use
// Never for "store, never expires") wraps ErrInvalidExpiry. Empty rules
// give Patterns that match nothing.
func CompilePatterns(rules []URLExpiry) (*Patterns, error) {
	p := &Patterns{rules: make([]compiledRule, 0, len(rules))}
	for i, r := range rules {
		g, reason := compileGlob(r.Pattern)
		if reason != "" {
			return nil, &patternError{index: i, pattern: r.Pattern, reason: reason}
		}
		if !r.Expiry.IsSet() {
			return nil, &expiryRuleError{index: i, pattern: r.Pattern,
				err: fmt.Errorf("%w: unset (use policy.Never to store without expiry)", ErrInvalidExpiry)}
		}
		if err := r.Expiry.Validate(); err != nil {
			return nil, &expiryRuleError{index: i, pattern: r.Pattern, err: err}
		}
		p.rules = append(p.rules, compiledRule{glob: g, expiry: r.Expiry})
	}
	return p, nil
}

// expiryRuleError names the pattern whose expiry is invalid.
type expiryRuleError struct {
	index   int
	pattern string
	err     error
}

func (e *expiryRuleError) Error() string {
	return "policy: URL pattern " + strconv.Itoa(e.index) + " " + strconv.Quote(e.pattern) + ": " +
		strings.TrimPrefix(e.err.Error(), "policy: ")
}

func (e *expiryRuleError) Unwrap() error { return e.err }

// Match returns the Expiry of the first rule, in the order given to
// CompilePatterns, whose pattern matches url (seed: "if there is more than
// one match, the first match will be used"). ok is false when no pattern
// matches, and the caller falls back to the session's expiry. A nil
// *Patterns matches nothing. Match does not allocate.
func (p *Patterns) Match(url string) (e Expiry, ok bool) {
	if p == nil {
		return Expiry{}, false
	}
	authStart, hostEnd := splitURL(url)
	for i := range p.rules {
		if p.rules[i].glob.matchSplit(url, authStart, hostEnd) {
			return p.rules[i].expiry, true
		}
	}
	return Expiry{}, false
}

// regexpHint returns what makes pattern read as a regular expression rather
// than a glob, or "" when nothing does. Only constructs that a URL glob has
// no use for count, so that such a pattern, which would silently match
// nothing the user meant, fails at construction instead: an anchor at
// either end, a backslash class or escaped dot (\d, \w, \s, \.), ".+", a
// group with alternatives, and a {n,m} repetition after a class or group.
func regexpHint(p string) string {
	switch {
	case p[0] == '^':
		return `a leading "^"`
	case len(p) > 1 && p[len(p)-1] == '$' && p[len(p)-2] != '\\':
		return `a trailing "$"`
	case strings.Contains(p, ".+"):
		return `".+"`
	case strings.Contains(p, "(?"), strings.Contains(p, "(") && strings.Contains(p, "|") && strings.Contains(p, ")"):
		return "a group"
	case strings.Contains(p, "]{") || strings.Contains(p, "){"):
		return "a {n,m} repetition"
	}
	for i := 0; i+1 < len(p); i++ {
		if p[i] == '\\' {
			switch p[i+1] {
			case 'd', 'D', 'w', 'W', 's', 'S', '.':
				return `"\` + string(p[i+1]) + `"`
			}
			i++
		}
	}
	return ""
}
