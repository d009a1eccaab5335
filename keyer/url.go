package keyer

import (
	"bytes"
	"slices"
	"strings"
	"unicode/utf8"
)

const upperHex = "0123456789ABCDEF"

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// Byte classes, one bit each in classes.
const (
	// clsUnreserved is an unreserved character (RFC 3986 §2.3).
	clsUnreserved = 1 << iota
	// clsPath may appear unescaped in a normalised path: unreserved,
	// sub-delims, ':', '@' and '/' (RFC 3986 §3.3).
	clsPath
	// clsHost is kept as it is in a normalised host: the characters net/url
	// accepts unescaped in a host, except the upper-case letters, which are
	// lower-cased.
	clsHost
	// clsQuery is kept as it is in a normalised query name or value: the
	// unreserved characters and '+' (a space, encoded back to '+').
	clsQuery
)

// classes maps a byte to its class bits: one load per byte on the paths
// every request takes.
var classes = func() (t [256]uint8) {
	for c := range 256 {
		b := byte(c)
		if 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || strings.IndexByte("-._~", b) >= 0 {
			t[c] |= clsUnreserved | clsPath | clsHost | clsQuery
		}
		if b == '+' {
			t[c] |= clsQuery
		}
		if strings.IndexByte("!$&'()*+,;=:@/", b) >= 0 {
			t[c] |= clsPath
		}
		if strings.IndexByte("!$&'()*+,;=:[]<>\"", b) >= 0 {
			t[c] |= clsHost
		}
		if 'A' <= b && b <= 'Z' {
			t[c] &^= clsHost
		}
	}
	return t
}()

func unreserved(c byte) bool { return classes[c]&clsUnreserved != 0 }

// span returns the length of the longest prefix of s whose bytes are all
// in class.
func span[S ~string | ~[]byte](s S, class uint8) int {
	for i := 0; i < len(s); i++ {
		if classes[s[i]]&class == 0 {
			return i
		}
	}
	return len(s)
}

func appendEscape(dst []byte, c byte) []byte {
	return append(dst, '%', upperHex[c>>4], upperHex[c&15])
}

// appendPath appends the escaped path p normalised (RFC 3986 §6.2.2): an
// escape of an unreserved character is decoded, other escapes get upper-case
// hex digits, characters that are not allowed are escaped, and a '%' that
// does not start a valid escape is taken literally (as if written "%25").
// Reserved characters keep their form: "%2F" and "/" stay different.
func appendPath(dst []byte, p string) []byte {
	for {
		n := span(p, clsPath) // runs of allowed bytes are copied whole
		dst = append(dst, p[:n]...)
		if n == len(p) {
			return dst
		}
		c := p[n]
		p = p[n+1:]
		switch {
		case c == '%' && len(p) >= 2 && isHex(p[0]) && isHex(p[1]):
			b := unhex(p[0])<<4 | unhex(p[1])
			p = p[2:]
			if unreserved(b) {
				dst = append(dst, b)
			} else {
				dst = appendEscape(dst, b)
			}
		default:
			dst = appendEscape(dst, c)
		}
	}
}

// appendHost appends host lower-cased, without a default or empty port for
// scheme (":80" for http, ":443" for https), and with bytes net/url would
// not accept unescaped (non-ASCII outside an IPv6 zone, the '%' that starts
// one) escaped.
func appendHost(dst []byte, host, scheme string) []byte {
	if i := strings.LastIndexByte(host, ':'); i >= 0 && strings.IndexByte(host[i:], ']') < 0 {
		name, port := host[:i], host[i+1:]
		// "a:b:80" is not host a:b with port 80 once rewritten; leave it.
		if (port == "" || port == defaultPort(scheme)) &&
			(strings.HasPrefix(name, "[") || strings.IndexByte(name, ':') < 0) {
			host = name
		}
	}
	// In an IPv6 zone ("[fe80::1%en0]") net/url accepts a non-ASCII byte
	// only as it is: an escape of one does not parse back.
	zone := len(host)
	if strings.HasPrefix(host, "[") {
		if i := strings.IndexByte(host, '%'); i >= 0 {
			zone = i
		}
	}
	for i := 0; ; {
		n := i + span(host[i:], clsHost)
		dst = append(dst, host[i:n]...)
		if n == len(host) {
			return dst
		}
		switch c := host[n]; {
		case 'A' <= c && c <= 'Z':
			dst = append(dst, c+'a'-'A')
		case c >= utf8.RuneSelf && n > zone:
			dst = append(dst, c)
		default:
			dst = appendEscape(dst, c)
		}
		i = n + 1
	}
}

func defaultPort(scheme string) string {
	switch {
	case strings.EqualFold(scheme, "http"):
		return "80"
	case strings.EqualFold(scheme, "https"):
		return "443"
	}
	return "\x00" // matches no port
}

// pair locates one encoded name=value pair in scratch.q: the name is
// q[start:eq], the value q[eq:end].
type pair struct{ start, eq, end int }

// parsePairs splits raw (a query or a form body) on '&', re-encodes every
// name and value with appendQueryEscaped into s.q, drops empty segments and
// ignored names (compared in encoded form), and sorts the pairs by encoded
// name, then encoded value. A segment without '=' is a name with an empty
// value, as in url.ParseQuery.
func parsePairs[S ~string | ~[]byte](s *scratch, raw S, ignored map[string]struct{}) {
	s.q = s.q[:0]
	s.pairs = s.pairs[:0]
	for len(raw) > 0 {
		seg := raw
		raw = raw[:0]
		for i := 0; i < len(seg); i++ {
			if seg[i] == '&' {
				seg, raw = seg[:i], seg[i+1:]
				break
			}
		}
		if len(seg) == 0 {
			continue
		}
		name, value := seg, seg[:0]
		for i := 0; i < len(seg); i++ {
			if seg[i] == '=' {
				name, value = seg[:i], seg[i+1:]
				break
			}
		}
		start := len(s.q)
		s.q = appendQueryEscaped(s.q, name)
		eq := len(s.q)
		if _, ok := ignored[string(s.q[start:eq])]; ok {
			s.q = s.q[:start]
			continue
		}
		s.q = appendQueryEscaped(s.q, value)
		s.pairs = append(s.pairs, pair{start, eq, len(s.q)})
	}
	if len(s.pairs) > 1 {
		q := s.q
		slices.SortFunc(s.pairs, func(a, b pair) int {
			if c := bytes.Compare(q[a.start:a.eq], q[b.start:b.eq]); c != 0 {
				return c
			}
			return bytes.Compare(q[a.eq:a.end], q[b.eq:b.end])
		})
	}
}

func (s *scratch) parsePairs(raw string, ignored map[string]struct{}) {
	parsePairs(s, raw, ignored)
}

// appendPairs appends the sorted pairs as name=value joined by '&'.
func (s *scratch) appendPairs(dst []byte) []byte {
	for i, p := range s.pairs {
		if i > 0 {
			dst = append(dst, '&')
		}
		dst = append(dst, s.q[p.start:p.eq]...)
		dst = append(dst, '=')
		dst = append(dst, s.q[p.eq:p.end]...)
	}
	return dst
}

// appendQueryEscaped decodes v as url.QueryUnescape does ('+' is a space,
// "%XX" a byte), except that a '%' not starting a valid escape is taken
// literally, then encodes the bytes as url.QueryEscape does. The result is
// the same for every spelling of the same decoded bytes.
func appendQueryEscaped[S ~string | ~[]byte](dst []byte, v S) []byte {
	for {
		n := span(v, clsQuery)
		dst = append(dst, v[:n]...)
		if n == len(v) {
			return dst
		}
		c := v[n]
		v = v[n+1:]
		if c == '%' && len(v) >= 2 && isHex(v[0]) && isHex(v[1]) {
			c = unhex(v[0])<<4 | unhex(v[1])
			v = v[2:]
		}
		dst = appendQueryByte(dst, c)
	}
}

// appendQueryEncode encodes the decoded string v as url.QueryEscape does.
func appendQueryEncode(dst []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		dst = appendQueryByte(dst, v[i])
	}
	return dst
}

func appendQueryByte(dst []byte, c byte) []byte {
	switch {
	case unreserved(c):
		return append(dst, c)
	case c == ' ':
		return append(dst, '+')
	default:
		return appendEscape(dst, c)
	}
}
