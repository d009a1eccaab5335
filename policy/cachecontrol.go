package policy

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MaxDelta is the greatest delta-seconds value the parsers return, 2^31
// seconds (about 68 years). RFC 9111 §1.2.2: a delta-seconds value greater
// than the greatest integer a cache can represent, or a calculation that
// overflows, is taken to be 2147483648 (2^31). Larger values are capped to
// it, so every Duration this file returns fits comfortably in an int64.
const MaxDelta = 2147483648 * time.Second

// maxListBytes caps the work of one parse: list members (of Cache-Control,
// Pragma or Vary) that do not end within the first 64 KiB of the field
// lines, counting one byte per line break, are not read. Real headers are
// a few dozen bytes; the cap keeps hostile ones linear and bounded. What
// was not read may have mattered, so a truncated response Cache-Control
// is taken as no-store and a truncated Vary as "*"; a truncated request
// Cache-Control (the client's own) just loses its tail.
const maxListBytes = 64 << 10

// RequestDirectives are a request's Cache-Control directives (RFC 9111
// §5.2.1), plus RFC 5861's stale-if-error (§4). The zero value is a request
// with no directives. Durations are whole seconds within 0..MaxDelta.
//
// A directive repeated with different arguments keeps the most restrictive
// one (RFC 9111 §4.2.1: "the most restrictive directive should be
// honored"): the smallest max-age, max-stale and stale-if-error, the largest
// min-fresh. A directive whose argument is missing or not delta-seconds is
// ignored, as if it were absent (a request cannot make a stored response
// stale the way an invalid response max-age does; ignoring it leaves the
// response's own freshness in charge).
type RequestDirectives struct {
	// MaxAge is max-age (§5.2.1.1): the client does not want a response
	// older than this.
	MaxAge    time.Duration
	HasMaxAge bool
	// MaxStale is max-stale (§5.2.1.2): the client accepts a response stale
	// by up to this much. max-stale with no argument accepts any staleness:
	// MaxStale is then MaxDelta.
	MaxStale    time.Duration
	HasMaxStale bool
	// MinFresh is min-fresh (§5.2.1.3): the response must stay fresh for at
	// least this much longer.
	MinFresh    time.Duration
	HasMinFresh bool
	// NoCache is no-cache (§5.2.1.4), or "Pragma: no-cache" when the
	// request has no Cache-Control directive (§5.4).
	NoCache bool
	// NoStore is no-store (§5.2.1.5).
	NoStore bool
	// OnlyIfCached is only-if-cached (§5.2.1.7).
	OnlyIfCached bool
	// StaleIfError is RFC 5861 §4's stale-if-error: on an error, a response
	// stale by up to this much is acceptable.
	StaleIfError    time.Duration
	HasStaleIfError bool
}

// ParseRequestDirectives reads every Cache-Control field line of h as one
// comma-separated list (RFC 9110 §5.3, RFC 9111 §5.2). When h has no
// Cache-Control directive at all (no field line, or only empty ones),
// "Pragma: no-cache" means NoCache (RFC 9111 §5.4); otherwise Pragma is
// ignored.
//
// Parsing is lenient, as RFC 9111 §5.2 asks: directive names are
// case-insensitive, whitespace around members and around "=" is skipped,
// empty members are skipped, unknown directives and arguments of
// directives that take none are ignored, and an argument may be a token or
// a quoted-string ("max-age=\"60\"" is max-age=60). delta-seconds
// (§1.2.2) are digits only; more than 2^31 seconds is MaxDelta. See
// RequestDirectives for repeated and invalid directives, and maxListBytes
// for the size cap: directives past 64 KiB are ignored. It does not
// allocate.
func ParseRequestDirectives(h http.Header) RequestDirectives {
	var d RequestDirectives
	lines := h["Cache-Control"]
	sc := newListScanner()
	members := 0
	for {
		m, ok := sc.next(lines)
		if !ok {
			break
		}
		members++
		switch directive(m.name) {
		case dirMaxAge:
			if v, ok := m.delta(); ok {
				keepMin(&d.MaxAge, &d.HasMaxAge, v)
			}
		case dirMaxStale:
			v, ok := MaxDelta, true // §5.2.1.2: no argument, any staleness
			if m.hasValue {
				v, ok = m.delta()
			}
			if ok {
				keepMin(&d.MaxStale, &d.HasMaxStale, v)
			}
		case dirMinFresh:
			if v, ok := m.delta(); ok && (!d.HasMinFresh || v > d.MinFresh) {
				d.MinFresh, d.HasMinFresh = v, true
			}
		case dirStaleIfError:
			if v, ok := m.delta(); ok {
				keepMin(&d.StaleIfError, &d.HasStaleIfError, v)
			}
		case dirNoCache:
			d.NoCache = true
		case dirNoStore:
			d.NoStore = true
		case dirOnlyIfCached:
			d.OnlyIfCached = true
		}
	}
	if members == 0 {
		// §5.4: Pragma only counts when Cache-Control is absent.
		lines = h["Pragma"]
		sc = newListScanner()
		for {
			m, ok := sc.next(lines)
			if !ok {
				break
			}
			if eqFold(m.name, "no-cache") {
				d.NoCache = true
				break
			}
		}
	}
	return d
}

// String returns d in a canonical form, the directives in a fixed order
// with lower-case names and unquoted delta-seconds, for example
// "max-age=60, max-stale, no-cache"; "" when d has none. ParseRequestDirectives
// of a header carrying it returns d again, for any d it returned itself
// (max-stale of MaxDelta prints without an argument).
func (d RequestDirectives) String() string {
	var b []byte
	if d.HasMaxAge {
		b = appendDelta(b, "max-age", d.MaxAge)
	}
	if d.HasMaxStale {
		if d.MaxStale == MaxDelta {
			b = appendDirective(b, "max-stale")
		} else {
			b = appendDelta(b, "max-stale", d.MaxStale)
		}
	}
	if d.HasMinFresh {
		b = appendDelta(b, "min-fresh", d.MinFresh)
	}
	if d.NoCache {
		b = appendDirective(b, "no-cache")
	}
	if d.NoStore {
		b = appendDirective(b, "no-store")
	}
	if d.OnlyIfCached {
		b = appendDirective(b, "only-if-cached")
	}
	if d.HasStaleIfError {
		b = appendDelta(b, "stale-if-error", d.StaleIfError)
	}
	return string(b)
}

// ResponseDirectives are a response's Cache-Control directives (RFC 9111
// §5.2.2), with RFC 8246's immutable and RFC 5861's stale-while-revalidate
// and stale-if-error. The zero value is a response with no directives.
// Durations are whole seconds within 0..MaxDelta.
type ResponseDirectives struct {
	// MaxAge is max-age (§5.2.2.1). It is false/0 when Invalid because of
	// max-age.
	MaxAge    time.Duration
	HasMaxAge bool
	// SMaxAge is s-maxage (§5.2.2.10). It is parsed, but a private cache
	// ignores it: Lifetime does not use it.
	SMaxAge    time.Duration
	HasSMaxAge bool
	// NoStore is no-store (§5.2.2.5).
	NoStore bool
	// MustRevalidate is must-revalidate (§5.2.2.2): once stale, the
	// response must not be served without successful validation, whatever
	// the request's max-stale or stale-if-error.
	MustRevalidate bool
	// ProxyRevalidate is proxy-revalidate (§5.2.2.8), for shared caches.
	ProxyRevalidate bool
	// Public is public (§5.2.2.9). It also lets a cache use a heuristic
	// lifetime for any status (§4.2.2; see Lifetime).
	Public bool
	// Immutable is RFC 8246's immutable: the response will not change while
	// fresh.
	Immutable bool
	// MustUnderstand is must-understand (§5.2.2.3).
	MustUnderstand bool
	// NoTransform is no-transform (§5.2.2.6).
	NoTransform bool
	// NoCache is the unqualified no-cache (§5.2.2.4): the response must not
	// be reused without successful validation. A cache that does not
	// implement the qualified form should treat a non-empty NoCacheFields as
	// NoCache, as §5.2.2.4 notes many do.
	NoCache bool
	// NoCacheFields are the field names of the qualified form,
	// no-cache="Set-Cookie, X-Token" (§5.2.2.4.2), in
	// http.CanonicalHeaderKey form, sorted and deduplicated; nil when there
	// are none. Those fields must not be sent in a reused response without
	// validation. A qualified no-cache whose argument holds no valid field
	// name (no-cache="", an unterminated quoted-string) is taken as the
	// unqualified form, the most restrictive reading (§4.2.1).
	NoCacheFields []string
	// Private is the unqualified private (§5.2.2.7). A private cache may
	// store the response anyway.
	Private bool
	// PrivateFields are the field names of the qualified form,
	// private="Set-Cookie" (§5.2.2.7), like NoCacheFields.
	PrivateFields []string
	// StaleWhileRevalidate is RFC 5861 §3's stale-while-revalidate.
	StaleWhileRevalidate    time.Duration
	HasStaleWhileRevalidate bool
	// StaleIfError is RFC 5861 §4's stale-if-error.
	StaleIfError    time.Duration
	HasStaleIfError bool
	// Invalid reports that a freshness directive (max-age or s-maxage) had
	// an argument that is not delta-seconds (missing, negative, "1.5",
	// "60s") or appeared more than once with different values. RFC 9111
	// §4.2.1 allows either using the first occurrence or considering the
	// response stale; cachestack chooses stale: Lifetime returns 0. The
	// offending directive's Has field is false.
	Invalid bool
}

// ParseResponseDirectives reads every Cache-Control field line of h as one
// comma-separated list (RFC 9110 §5.3, RFC 9111 §5.2), with the leniency
// ParseRequestDirectives describes. Pragma is not consulted: RFC 9111 §5.4
// defines it for requests only.
//
// A repeated or invalid max-age or s-maxage sets Invalid (see
// ResponseDirectives.Invalid). A repeated stale-while-revalidate or
// stale-if-error keeps the smallest value, the most restrictive (§4.2.1);
// an invalid one is ignored. Repeated no-cache or private field lists are
// merged. Boolean directives ignore any argument.
//
// Field lines longer than 64 KiB in all are read up to that point and the
// response is taken as no-store: a directive the parser did not reach may
// have been no-store or private, so storing it is not safe.
//
// Parsing does not allocate unless a qualified no-cache or private lists
// field names.
func ParseResponseDirectives(h http.Header) ResponseDirectives {
	return ParseResponseCacheControl(h["Cache-Control"]...)
}

// ParseResponseCacheControl is ParseResponseDirectives for the field lines
// of a response's Cache-Control given on their own, such as a stored
// response's (cached.Header.Values).
func ParseResponseCacheControl(lines ...string) ResponseDirectives {
	var d ResponseDirectives
	var badMaxAge, badSMaxAge bool
	sc := newListScanner()
	for {
		m, ok := sc.next(lines)
		if !ok {
			break
		}
		switch directive(m.name) {
		case dirMaxAge:
			freshnessDirective(&d.MaxAge, &d.HasMaxAge, &badMaxAge, m)
		case dirSMaxAge:
			freshnessDirective(&d.SMaxAge, &d.HasSMaxAge, &badSMaxAge, m)
		case dirNoCache:
			d.NoCacheFields = fieldsDirective(&d.NoCache, d.NoCacheFields, m)
		case dirPrivate:
			d.PrivateFields = fieldsDirective(&d.Private, d.PrivateFields, m)
		case dirNoStore:
			d.NoStore = true
		case dirMustRevalidate:
			d.MustRevalidate = true
		case dirProxyRevalidate:
			d.ProxyRevalidate = true
		case dirPublic:
			d.Public = true
		case dirImmutable:
			d.Immutable = true
		case dirMustUnderstand:
			d.MustUnderstand = true
		case dirNoTransform:
			d.NoTransform = true
		case dirStaleWhileRevalidate:
			if v, ok := m.delta(); ok {
				keepMin(&d.StaleWhileRevalidate, &d.HasStaleWhileRevalidate, v)
			}
		case dirStaleIfError:
			if v, ok := m.delta(); ok {
				keepMin(&d.StaleIfError, &d.HasStaleIfError, v)
			}
		}
	}
	if sc.truncated(lines) {
		d.NoStore = true
	}
	if badMaxAge {
		d.MaxAge, d.HasMaxAge, d.Invalid = 0, false, true
	}
	if badSMaxAge {
		d.SMaxAge, d.HasSMaxAge, d.Invalid = 0, false, true
	}
	d.NoCacheFields = sortFields(d.NoCacheFields)
	d.PrivateFields = sortFields(d.PrivateFields)
	return d
}

// String returns d in a canonical form, the directives in a fixed order
// with lower-case names, unquoted delta-seconds and quoted field lists, for
// example `max-age=60, no-cache="Set-Cookie,X-Token", public`; "" when d
// has none. Invalid prints as "max-age=invalid" (or "s-maxage=invalid" when
// max-age is valid). ParseResponseDirectives of a header carrying it
// returns d again, for any d it returned itself.
func (d ResponseDirectives) String() string {
	var b []byte
	if d.HasMaxAge {
		b = appendDelta(b, "max-age", d.MaxAge)
	}
	if d.HasSMaxAge {
		b = appendDelta(b, "s-maxage", d.SMaxAge)
	}
	if d.Invalid {
		if !d.HasMaxAge || d.HasSMaxAge {
			b = appendDirective(b, "max-age=invalid")
		} else {
			b = appendDirective(b, "s-maxage=invalid")
		}
	}
	if d.NoCache {
		b = appendDirective(b, "no-cache")
	}
	b = appendFields(b, "no-cache", d.NoCacheFields)
	if d.NoStore {
		b = appendDirective(b, "no-store")
	}
	if d.NoTransform {
		b = appendDirective(b, "no-transform")
	}
	if d.MustRevalidate {
		b = appendDirective(b, "must-revalidate")
	}
	if d.ProxyRevalidate {
		b = appendDirective(b, "proxy-revalidate")
	}
	if d.MustUnderstand {
		b = appendDirective(b, "must-understand")
	}
	if d.Public {
		b = appendDirective(b, "public")
	}
	if d.Private {
		b = appendDirective(b, "private")
	}
	b = appendFields(b, "private", d.PrivateFields)
	if d.Immutable {
		b = appendDirective(b, "immutable")
	}
	if d.HasStaleWhileRevalidate {
		b = appendDelta(b, "stale-while-revalidate", d.StaleWhileRevalidate)
	}
	if d.HasStaleIfError {
		b = appendDelta(b, "stale-if-error", d.StaleIfError)
	}
	return string(b)
}

// freshnessDirective records max-age or s-maxage, flagging bad for an
// invalid argument or a second, different value (§4.2.1).
func freshnessDirective(dst *time.Duration, has, bad *bool, m member) {
	v, ok := m.delta()
	switch {
	case !ok:
		*bad = true
	case *has && *dst != v:
		*bad = true
	default:
		*dst, *has = v, true
	}
}

// fieldsDirective records no-cache or private: the unqualified form sets
// *flag; the qualified form appends its field names to fields, or sets
// *flag when it holds none (§5.2.2.4, §5.2.2.7).
func fieldsDirective(flag *bool, fields []string, m member) []string {
	if !m.hasValue {
		*flag = true
		return fields
	}
	n := len(fields)
	if !m.bad {
		v := m.value
		if m.quoted {
			v = unquote(v)
		}
		fields = appendFieldNames(fields, v)
	}
	if len(fields) == n {
		*flag = true
	}
	return fields
}

// appendFieldNames appends the valid field names (RFC 9110 §5.1 tokens) of
// the list v, canonicalised; invalid members are skipped.
func appendFieldNames(dst []string, v string) []string {
	for v != "" {
		var f string
		f, v, _ = strings.Cut(v, ",")
		f = trimOWS(f)
		if isToken(f) {
			dst = append(dst, http.CanonicalHeaderKey(f))
		}
	}
	return dst
}

// sortFields sorts and deduplicates field names, keeping nil for none.
func sortFields(fields []string) []string {
	if len(fields) == 0 {
		return nil
	}
	slices.Sort(fields)
	return slices.Compact(fields)
}

func keepMin(dst *time.Duration, has *bool, v time.Duration) {
	if !*has || v < *dst {
		*dst, *has = v, true
	}
}

func appendDirective(b []byte, s string) []byte {
	if len(b) > 0 {
		b = append(b, ", "...)
	}
	return append(b, s...)
}

func appendDelta(b []byte, name string, d time.Duration) []byte {
	b = appendDirective(b, name)
	b = append(b, '=')
	return strconv.AppendInt(b, int64(d/time.Second), 10)
}

// appendFields appends name="A,B" (field names are tokens: no escapes).
func appendFields(b []byte, name string, fields []string) []byte {
	if len(fields) == 0 {
		return b
	}
	b = appendDirective(b, name)
	b = append(b, `="`...)
	for i, f := range fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, f...)
	}
	return append(b, '"')
}

type directiveID uint8

const (
	dirUnknown directiveID = iota
	dirMaxAge
	dirSMaxAge
	dirMaxStale
	dirMinFresh
	dirNoCache
	dirNoStore
	dirNoTransform
	dirOnlyIfCached
	dirMustRevalidate
	dirProxyRevalidate
	dirMustUnderstand
	dirPublic
	dirPrivate
	dirImmutable
	dirStaleWhileRevalidate
	dirStaleIfError
)

// directive identifies a directive name, case-insensitively (RFC 9111
// §5.2: "Cache directives are identified by a token, to be compared
// case-insensitively").
func directive(name string) directiveID {
	switch {
	case eqFold(name, "max-age"):
		return dirMaxAge
	case eqFold(name, "s-maxage"):
		return dirSMaxAge
	case eqFold(name, "max-stale"):
		return dirMaxStale
	case eqFold(name, "min-fresh"):
		return dirMinFresh
	case eqFold(name, "no-cache"):
		return dirNoCache
	case eqFold(name, "no-store"):
		return dirNoStore
	case eqFold(name, "no-transform"):
		return dirNoTransform
	case eqFold(name, "only-if-cached"):
		return dirOnlyIfCached
	case eqFold(name, "must-revalidate"):
		return dirMustRevalidate
	case eqFold(name, "proxy-revalidate"):
		return dirProxyRevalidate
	case eqFold(name, "must-understand"):
		return dirMustUnderstand
	case eqFold(name, "public"):
		return dirPublic
	case eqFold(name, "private"):
		return dirPrivate
	case eqFold(name, "immutable"):
		return dirImmutable
	case eqFold(name, "stale-while-revalidate"):
		return dirStaleWhileRevalidate
	case eqFold(name, "stale-if-error"):
		return dirStaleIfError
	}
	return dirUnknown
}

// eqFold reports whether s equals the lower-case ASCII lower, ignoring
// ASCII case only (strings.EqualFold would also fold "ſ" to "s").
func eqFold(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if lowerASCII(s[i]) != lower[i] {
			return false
		}
	}
	return true
}

// member is one list member: name [ "=" value ].
type member struct {
	name string
	// value is the argument: a token as given, or what is between the
	// quotes of a quoted-string, escapes included.
	value    string
	hasValue bool
	quoted   bool
	// bad marks a malformed argument: an unterminated quoted-string or
	// text after one.
	bad bool
}

// delta parses the argument as delta-seconds (RFC 9111 §1.2.2: 1*DIGIT),
// unquoting a quoted-string (§5.2: recipients accept both forms). More
// than 2^31 seconds is MaxDelta; no digits, a sign or any other byte is
// not valid.
func (m member) delta() (time.Duration, bool) {
	if !m.hasValue || m.bad || m.value == "" {
		return 0, false
	}
	const limit = int64(MaxDelta / time.Second)
	var n int64
	v := m.value
	for i := 0; i < len(v); i++ {
		c := v[i]
		if m.quoted && c == '\\' && i+1 < len(v) {
			i++
			c = v[i]
		}
		if c < '0' || c > '9' {
			return 0, false
		}
		if n <= limit {
			n = n*10 + int64(c-'0')
		}
	}
	return time.Duration(min(n, limit)) * time.Second, true
}

// listScanner walks the members of a comma-separated list (RFC 9110
// §5.6.1) spread over several field lines (§5.3), skipping empty members
// and whitespace, within the maxListBytes budget. Commas inside
// quoted-strings do not separate members. It does not allocate. The lines
// are passed to every call rather than held, so that the slice holding
// them never escapes (a caller may build it on its stack).
type listScanner struct {
	read   int // how many of the lines have been read
	line   string
	budget int
	// cut reports that line was truncated to the budget: a member reaching
	// its end may be incomplete and is dropped.
	cut bool
}

func newListScanner() listScanner {
	return listScanner{budget: maxListBytes}
}

// truncated reports, once next has returned false, whether the budget ran
// out before the lines did.
func (sc *listScanner) truncated(lines []string) bool { return sc.cut || sc.read < len(lines) }

// next returns the next member of lines, which must be the same lines on
// every call.
func (sc *listScanner) next(lines []string) (member, bool) {
	for {
		i := 0
		for i < len(sc.line) && (isOWS(sc.line[i]) || sc.line[i] == ',') {
			i++
		}
		sc.line = sc.line[i:]
		if sc.line != "" {
			break
		}
		if sc.cut || sc.read >= len(lines) || sc.budget <= 0 {
			return member{}, false
		}
		sc.line = lines[sc.read]
		sc.read++
		if len(sc.line) > sc.budget {
			sc.line, sc.cut = sc.line[:sc.budget], true
		}
		sc.budget -= len(sc.line) + 1
	}
	s := sc.line
	var m member
	i := 0
	for i < len(s) && s[i] != '=' && s[i] != ',' && !isOWS(s[i]) {
		i++
	}
	m.name = s[:i]
	i = skipOWS(s, i)
	switch {
	case i < len(s) && s[i] == '=':
		m.hasValue = true
		i = skipOWS(s, i+1)
		if i < len(s) && s[i] == '"' {
			m.quoted = true
			end, closed := scanQuoted(s, i+1)
			m.value = s[i+1 : end]
			i = skipOWS(s, min(end+1, len(s)))
			if !closed || (i < len(s) && s[i] != ',') {
				m.bad = true
				i = skipMember(s, i)
			}
		} else {
			end := skipMember(s, i)
			m.value = trimOWS(s[i:end])
			i = end
		}
	case i < len(s) && s[i] != ',':
		// Text after the name ("max age=1"): not a directive.
		m.name = ""
		i = skipMember(s, i)
	}
	if i >= len(s) && sc.cut {
		return member{}, false
	}
	sc.line = s[i:]
	return m, true
}

// scanQuoted returns the index of the quote closing a quoted-string whose
// content starts at s[i] (RFC 9110 §5.6.4: quoted-pair is a backslash and
// any byte), or len(s) and false when it is unterminated.
func scanQuoted(s string, i int) (int, bool) {
	for i < len(s) {
		switch s[i] {
		case '\\':
			i += 2
			continue
		case '"':
			return i, true
		}
		i++
	}
	return len(s), false
}

// skipMember returns the index of the comma ending the member at s[i], or
// len(s), skipping over quoted-strings.
func skipMember(s string, i int) int {
	for i < len(s) {
		switch s[i] {
		case ',':
			return i
		case '"':
			end, _ := scanQuoted(s, i+1)
			i = end + 1
			continue
		}
		i++
	}
	return len(s)
}

// unquote removes the backslashes of quoted-pairs (RFC 9110 §5.6.4).
func unquote(s string) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b = append(b, s[i])
	}
	return string(b)
}

// isOWS reports whether c is optional whitespace, SP or HTAB (RFC 9110
// §5.6.3).
func isOWS(c byte) bool { return c == ' ' || c == '\t' }

func skipOWS(s string, i int) int {
	for i < len(s) && isOWS(s[i]) {
		i++
	}
	return i
}

func trimOWS(s string) string {
	i, j := 0, len(s)
	for i < j && isOWS(s[i]) {
		i++
	}
	for j > i && isOWS(s[j-1]) {
		j--
	}
	return s[i:j]
}
