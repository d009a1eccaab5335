package policy

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/cachestack/cachestack/cached"
)

// Methods is the set of request methods whose responses may be stored (the
// seed's allowed_methods, section "HTTP Methods"). The default, and the zero
// Methods, is GET and HEAD. Methods compare case-sensitively (RFC 9110
// §9.1): "get" is not GET. A Methods is immutable and safe to copy.
type Methods struct {
	// list is nil for the default.
	list []string
}

// NewMethods returns the set of methods. Each must be a non-empty RFC 9110
// token (§5.6.2) and is kept exactly as given: methods are case-sensitive
// (§9.1). A standard method in another case ("get", "Post") is an error
// rather than a set that would never match. With no methods it returns
// DefaultMethods. An error names the invalid method.
func NewMethods(methods ...string) (Methods, error) {
	if len(methods) == 0 {
		return DefaultMethods(), nil
	}
	list := make([]string, 0, len(methods))
	for _, m := range methods {
		if !isToken(m) {
			return Methods{}, fmt.Errorf("policy: invalid HTTP method %q: not an RFC 9110 token", m)
		}
		if up := strings.ToUpper(m); up != m && standardMethod(up) {
			return Methods{}, fmt.Errorf("policy: HTTP method %q would never match: methods are case-sensitive (RFC 9110 §9.1), write %q", m, up)
		}
		if !contains(list, m) {
			list = append(list, m)
		}
	}
	return Methods{list: list}, nil
}

// DefaultMethods returns the seed's default: GET and HEAD.
func DefaultMethods() Methods { return Methods{} }

// Allows reports whether responses to method may be stored. It does not
// allocate.
func (m Methods) Allows(method string) bool {
	if m.list == nil {
		return method == http.MethodGet || method == http.MethodHead
	}
	return contains(m.list, method)
}

// standardMethod reports whether m is a method RFC 9110 §9 or RFC 5789
// defines.
func standardMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// isToken reports whether s is an RFC 9110 §5.6.2 token:
// 1*tchar, tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" /
// "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '!', c == '#', c == '$', c == '%', c == '&', c == '\'', c == '*',
			c == '+', c == '-', c == '.', c == '^', c == '_', c == '`', c == '|', c == '~':
		default:
			return false
		}
	}
	return true
}

const (
	minCode = 100
	maxCode = 599
)

// Codes is the set of response status codes that may be stored (the seed's
// allowed_codes, section "Status Codes"). The default, and the zero Codes,
// is 200 alone. A Codes is a small value, safe to copy.
type Codes struct {
	set  bool
	bits [(maxCode - minCode + 64) / 64]uint64
}

// NewCodes returns the set of codes. Each must be within 100..599; an error
// names the first that is not. With no codes it returns DefaultCodes.
func NewCodes(codes ...int) (Codes, error) {
	if len(codes) == 0 {
		return DefaultCodes(), nil
	}
	c := Codes{set: true}
	for _, code := range codes {
		if code < minCode || code > maxCode {
			return Codes{}, fmt.Errorf("policy: invalid status code %d: want 100..599", code)
		}
		n := code - minCode
		c.bits[n/64] |= 1 << (n % 64)
	}
	return c, nil
}

// DefaultCodes returns aiohttp-client-cache's default: 200 alone. The
// cache uses it in its header-blind mode.
func DefaultCodes() Codes { return Codes{} }

// StorableCodes returns the codes the cache stores by default in its RFC
// 9111 mode: every final status, 200 to 599, but 206 Partial Content (a
// partial response is never stored as the response to a request; the
// middleware keeps it as a part to combine, RFC 9111 §3.3) and 304 Not
// Modified (which only updates a stored response, §4.3.4). RFC 9111 §3
// then decides per response: a status that is not heuristically cacheable
// is stored only with explicit freshness or public/private.
func StorableCodes() Codes {
	c := Codes{set: true}
	for code := 200; code <= maxCode; code++ {
		if code != http.StatusPartialContent && code != http.StatusNotModified {
			n := code - minCode
			c.bits[n/64] |= 1 << (n % 64)
		}
	}
	return c
}

// Allows reports whether a response with status code may be stored.
func (c Codes) Allows(code int) bool {
	if !c.set {
		return code == http.StatusOK
	}
	if code < minCode || code > maxCode {
		return false
	}
	n := code - minCode
	return c.bits[n/64]&(1<<(n%64)) != 0
}

// Filter is the user's filter (the seed's filter_fn, section "Custom
// Response Filtering"). The cache applies it on write, to the complete
// response about to be stored, and on read, to a stored response before it
// is served: false means the response is not written to, or not served
// from, the cache. It must treat the response as read-only (see
// cached.Response) and be safe for concurrent use.
type Filter func(*cached.Response) bool

// Allows reports f(r), or true for a nil Filter.
func (f Filter) Allows(r *cached.Response) bool { return f == nil || f(r) }
