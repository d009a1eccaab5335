package keyer

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// DefaultMaxBodyBytes is the body size limit used when Options.MaxBodyBytes
// is zero.
const DefaultMaxBodyBytes = 1 << 20

// materialVersion starts every key material. Changing the material format
// means changing this string, so old and new keys can never coincide.
const materialVersion = "cachestack/keyer/v2"

// Record tags of the key material; see the package documentation.
const (
	tagMethod   = 'M'
	tagURL      = 'U'
	tagUserinfo = 'A'
	tagHost     = 'O'
	tagHeader   = 'H'
	tagValue    = 'V'
	tagJSON     = 'J'
	tagForm     = 'F'
	tagRaw      = 'R'
	tagFunc     = 'X'
)

// ErrBodyTooLarge is returned by Keyer.Key when a request body is larger than
// Options.MaxBodyBytes. The request Key returns with it still carries the
// whole body, so the caller can send it without caching.
var ErrBodyTooLarge = errors.New("keyer: request body too large to key")

// Options configure a Keyer. The zero value (or a nil *Options) keys on
// method, URL and body only, with a 1 MiB body limit.
type Options struct {
	// IgnoredParams are names left out of the key wherever they appear:
	// URL query parameters, top-level fields of a JSON request body, fields
	// of a form (application/x-www-form-urlencoded) body, and request
	// headers (matched case-insensitively for headers; exactly, after
	// percent-decoding, elsewhere). Like aiohttp-client-cache's ignored_parameters:
	// use it for credentials and tokens that do not change the response.
	// Ignored values never appear in Result: the Key is a digest and the
	// URL drops them.
	IgnoredParams []string
	// Headers lists request header fields that become part of the key
	// (aiohttp-client-cache's include_headers). Authorization and Cookie
	// are keyed whether listed or not, so requests made with different
	// credentials or cookies never share an entry; name them in
	// IgnoredParams to share entries across callers. A listed field that
	// is absent from a request adds nothing, so a request without it keys
	// like KeyOf. A name may not also be in IgnoredParams.
	Headers []string
	// AllHeaders keys on every request header except those in
	// IgnoredParams and those that describe the connection, the transfer
	// or the cache exchange rather than the resource:
	//
	//   - hop-by-hop and transport fields: Connection, Keep-Alive, TE,
	//     Trailer, Transfer-Encoding, Upgrade, Expect, Host, Content-Length
	//     (the body is keyed instead) and every Proxy-* field;
	//   - User-Agent, which usually carries a version number and would
	//     empty the cache on every upgrade;
	//   - request cache directives and validators: Cache-Control, Pragma,
	//     If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since,
	//     If-Range (RFC 9111 §4 keeps them out of the cache key; the cache
	//     itself adds validators when it revalidates).
	//
	// Accept-Encoding is keyed when the request carries it: Go's transport
	// adds its own "gzip" after the keyer has run, so only an explicit
	// one is ever seen. A field named in Headers is keyed even when it is
	// in the excluded list above (Headers: []string{"User-Agent"}).
	AllHeaders bool
	// MaxBodyBytes bounds how much of a request body is read to digest it;
	// 0 means DefaultMaxBodyBytes (1 MiB). A larger body makes Key return
	// ErrBodyTooLarge. Negative is an error.
	MaxBodyBytes int64
	// Func, if set, says what identifies a request beyond its method and
	// URL, in place of its body: the key is then made of the method, the
	// normalised URL (IgnoredParams removed), the userinfo, the Host
	// field, the keyed header fields (Authorization and Cookie unless
	// IgnoredParams names them, Headers, or every field with AllHeaders)
	// and the string Func returns. It is the counterpart of the key_fn
	// of requests-cache, aiohttp-client-cache's sibling, with the
	// credentials kept in: requests made with different credentials or
	// cookies never share a key, whatever Func returns. Requests for
	// different URLs or with different methods never share a key either.
	//
	// Func sees the request as the cache received it, with a body it may
	// read: Key reads the body first (within MaxBodyBytes; a larger one is
	// ErrBodyTooLarge, and the request is sent uncached) and hands Func a
	// copy. Func must be safe for concurrent use and give the same answer
	// for the same request. An error from Func is returned by Key, and
	// the cache sends the request on uncached. For KeyOf, Func receives a
	// GET (or the method given) for the URL, without header fields or
	// body.
	Func func(req *http.Request) (string, error)
}

// Keyer computes cache keys. It is safe for concurrent use.
type Keyer struct {
	ignoredQuery  map[string]struct{} // query/form names, query-encoded
	ignoredJSON   map[string]struct{} // JSON field names, as given
	ignoredHeader map[string]struct{} // canonical header names
	selected      map[string]struct{} // canonical names from Options.Headers
	allHeaders    bool
	maxBody       int64
	fn            func(*http.Request) (string, error)
	pool          sync.Pool // *scratch
}

// New returns a Keyer configured by opts; nil opts means the defaults.
// It reports which field is invalid: a negative MaxBodyBytes, an empty
// IgnoredParams entry, or a Headers entry that is empty, not a valid field
// name (RFC 9110 §5.1) or also ignored.
func New(opts *Options) (*Keyer, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.MaxBodyBytes < 0 {
		return nil, &OptionError{Field: "MaxBodyBytes", Index: -1, Value: fmt.Sprint(o.MaxBodyBytes), Problem: "want >= 0"}
	}
	k := &Keyer{
		allHeaders: o.AllHeaders,
		maxBody:    o.MaxBodyBytes,
		fn:         o.Func,
	}
	if k.maxBody == 0 {
		k.maxBody = DefaultMaxBodyBytes
	}
	if len(o.IgnoredParams) > 0 {
		k.ignoredQuery = make(map[string]struct{}, len(o.IgnoredParams))
		k.ignoredJSON = make(map[string]struct{}, len(o.IgnoredParams))
		k.ignoredHeader = make(map[string]struct{}, len(o.IgnoredParams))
	}
	for i, p := range o.IgnoredParams {
		if p == "" {
			return nil, &OptionError{Field: "IgnoredParams", Index: i, Problem: "empty"}
		}
		k.ignoredQuery[string(appendQueryEncode(nil, p))] = struct{}{}
		k.ignoredJSON[p] = struct{}{}
		k.ignoredHeader[textproto.CanonicalMIMEHeaderKey(p)] = struct{}{}
	}
	k.selected = make(map[string]struct{}, len(o.Headers)+len(credentialFields))
	for _, f := range credentialFields {
		if _, ok := k.ignoredHeader[f]; !ok {
			k.selected[f] = struct{}{}
		}
	}
	for i, h := range o.Headers {
		if h == "" {
			return nil, &OptionError{Field: "Headers", Index: i, Problem: "empty"}
		}
		if !validFieldName(h) {
			return nil, &OptionError{Field: "Headers", Index: i, Value: strconv.Quote(h), Problem: "not a valid header field name"}
		}
		c := textproto.CanonicalMIMEHeaderKey(h)
		if _, ok := k.ignoredHeader[c]; ok {
			return nil, &OptionError{Field: "Headers", Index: i, Value: strconv.Quote(h), Problem: "which is also in Options.IgnoredParams"}
		}
		k.selected[c] = struct{}{}
	}
	k.pool.New = func() any { return new(scratch) }
	return k, nil
}

// OptionError reports an invalid field of Options: which one, its index
// for a list (-1 otherwise), the value (quoted, empty when there is none)
// and what is wrong with it. Callers that take the same settings under
// other names (cachestack.Options.IncludeHeaders) rename Field.
type OptionError struct {
	Field   string
	Index   int
	Value   string
	Problem string
}

func (e *OptionError) Error() string {
	name := "keyer: Options." + e.Field
	if e.Index >= 0 {
		name += "[" + strconv.Itoa(e.Index) + "]"
	}
	if e.Value == "" {
		return name + " is " + e.Problem
	}
	return name + " is " + e.Value + ", " + e.Problem
}

// credentialFields are the request fields keyed whether Options.Headers
// lists them or not, unless Options.IgnoredParams names them: responses to
// requests made with different credentials or cookies never share an entry.
var credentialFields = [...]string{"Authorization", "Cookie"}

// Result is a request's cache identity.
type Result struct {
	// Key is the hex encoding of the first 16 bytes (128 bits) of the
	// SHA-256 digest of the key material: 32 lower-case hex characters.
	Key string
	// URL is the normalised URL, without userinfo and with ignored query
	// parameters removed: safe to store and list.
	URL string
}

// Key computes the cache key of req.
//
// When req has a body (Body is neither nil nor http.NoBody) Key reads it,
// at most MaxBodyBytes+1 bytes, and digests it. It then returns in out a
// shallow clone of req (sharing Header and the rest) whose Body replays the
// same bytes, with GetBody set and ContentLength set to the number of bytes
// read; the original body is closed. When there is no body to read, out is
// req itself. Key never modifies req, though reading consumes its body.
//
// If the body is larger than MaxBodyBytes Key returns ErrBodyTooLarge, and
// out's body yields the complete original bytes (what was read, then the
// rest of the original body, which out's Body.Close closes), so the caller
// can send out uncached. A request whose ContentLength already exceeds the
// limit is not read at all: out is req. A body read error is returned
// wrapped, with out built the same way. Any other error (a nil URL or one
// without a scheme) is returned with out == req.
func (k *Keyer) Key(req *http.Request) (r Result, out *http.Request, err error) {
	if req == nil {
		return Result{}, nil, errors.New("keyer: nil request")
	}
	if req.URL == nil {
		return Result{}, req, errors.New("keyer: request has no URL")
	}
	s := k.pool.Get().(*scratch)
	defer k.put(s)

	if err := s.buildURL(req.URL, k.ignoredQuery); err != nil {
		return Result{}, req, err
	}
	s.mat = s.appendHead(s.mat[:0], req.Method, req.URL)
	if req.Host != "" && req.Host != req.URL.Host { // the same host normalises the same: skip the work
		s.h2 = appendHost(s.h2[:0], req.Host, req.URL.Scheme)
		if string(s.h2) != string(s.u[s.hostStart:s.hostEnd]) {
			s.mat = appendRecord(s.mat, tagHost, s.h2)
		}
	}
	if len(req.Header) > 0 && (k.allHeaders || len(k.selected) > 0) {
		s.mat = k.appendHeaders(s, s.mat, req.Header)
	}

	out = req
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		body, out, err = k.readBody(req)
		if err != nil {
			return Result{}, out, err
		}
		if k.fn == nil {
			s.mat = k.appendBody(s, s.mat, body, req.Header)
		}
	}
	if k.fn != nil {
		if s.mat, err = k.appendFunc(s.mat, out, body); err != nil {
			return Result{}, out, err
		}
	}
	return s.result(""), out, nil
}

// appendFunc appends the record of what Options.Func says of req, whose
// body (read by Key) is body. Func gets a copy of req with a body of its
// own to read, so that req's stays whole for the transport.
func (k *Keyer) appendFunc(dst []byte, req *http.Request, body []byte) ([]byte, error) {
	r := req
	if len(body) > 0 {
		r = new(http.Request)
		*r = *req
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	v, err := k.fn(r)
	if err != nil {
		return dst, fmt.Errorf("keyer: Options.Func: %w", err)
	}
	return appendRecord(dst, tagFunc, v), nil
}

// KeyOf returns the key of a request with the given method and URL, no
// headers and no body: the key under which such a GET is stored, used to
// find entries by URL. An empty method means GET. rawURL must be absolute.
func (k *Keyer) KeyOf(method, rawURL string) (Result, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// Not the *url.Error itself: its message quotes the whole URL,
		// ignored parameters included.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return Result{}, fmt.Errorf("keyer: invalid URL: %w", err)
	}
	s := k.pool.Get().(*scratch)
	defer k.put(s)
	if err := s.buildURL(u, k.ignoredQuery); err != nil {
		return Result{}, err
	}
	s.mat = s.appendHead(s.mat[:0], method, u)
	if k.fn != nil {
		if method == "" {
			method = http.MethodGet
		}
		req := &http.Request{Method: method, URL: u, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{}, Body: http.NoBody, Host: u.Host}
		if s.mat, err = k.appendFunc(s.mat, req, nil); err != nil {
			return Result{}, err
		}
	}
	return s.result(rawURL), nil
}

// maxPooled is the largest buffer kept in the pool, so one big body does
// not pin memory for the life of the Keyer.
const maxPooled = 64 << 10

func (k *Keyer) put(s *scratch) {
	if cap(s.mat) > maxPooled || cap(s.b) > maxPooled || cap(s.q) > maxPooled {
		return
	}
	clear(s.hdrs) // drop references to request headers
	s.hdrs = s.hdrs[:0]
	k.pool.Put(s)
}

// scratch holds the per-call buffers, reused through the Keyer's pool.
type scratch struct {
	mat   []byte // key material
	u     []byte // normalised URL
	q     []byte // query-encoded name/value pairs
	b     []byte // other temporary output (form bodies)
	h2    []byte // normalised Host field
	pairs []pair
	hdrs  []hdrEntry

	hostStart, hostEnd int // host within u
}

// buildURL writes the normalised form of u into s.u.
func (s *scratch) buildURL(u *url.URL, ignored map[string]struct{}) error {
	if u.Scheme == "" {
		return errors.New("keyer: URL is not absolute")
	}
	s.u = appendLower(s.u[:0], u.Scheme)
	s.hostStart, s.hostEnd = 0, 0
	if u.Opaque != "" && u.Opaque[0] != '/' {
		// scheme:opaque, e.g. "http:foo"; the host is not part of it.
		s.u = append(s.u, ':')
		s.u = appendPath(s.u, u.Opaque)
	} else {
		s.u = append(s.u, "://"...)
		s.hostStart = len(s.u)
		s.u = appendHost(s.u, u.Host, u.Scheme)
		s.hostEnd = len(s.u)
		p := u.Opaque // a request-URI override ("/path" or "//host/path")
		if p == "" {
			p = u.EscapedPath()
		}
		if p == "" || p[0] != '/' {
			s.u = append(s.u, '/')
		}
		s.u = appendPath(s.u, p)
	}
	if u.RawQuery != "" {
		s.parsePairs(u.RawQuery, ignored)
		if len(s.pairs) > 0 {
			s.u = append(s.u, '?')
			s.u = s.appendPairs(s.u)
		}
	}
	return nil
}

// appendHead appends the version, method, URL and userinfo records.
func (s *scratch) appendHead(dst []byte, method string, u *url.URL) []byte {
	dst = append(dst, materialVersion...)
	if method == "" {
		method = http.MethodGet
	}
	dst = append(dst, tagMethod)
	dst = binary.AppendUvarint(dst, uint64(len(method)))
	dst = appendUpper(dst, method)
	dst = appendRecord(dst, tagURL, s.u)
	if u.User != nil {
		dst = appendRecord(dst, tagUserinfo, u.User.String())
	}
	return dst
}

// result digests s.mat. If the normalised URL equals orig, orig is reused
// rather than allocating a copy; otherwise the key and the URL are two
// windows on one string, one allocation for both.
func (s *scratch) result(orig string) Result {
	sum := sha256.Sum256(s.mat)
	var hx [32]byte
	hex.Encode(hx[:], sum[:16])
	if orig != "" && string(s.u) == orig {
		return Result{Key: string(hx[:]), URL: orig}
	}
	var b strings.Builder
	b.Grow(len(hx) + len(s.u))
	b.Write(hx[:])
	b.Write(s.u)
	both := b.String()
	return Result{Key: both[:len(hx)], URL: both[len(hx):]}
}

// appendRecord appends tag, the uvarint length of data, then data.
func appendRecord[S ~string | ~[]byte](dst []byte, tag byte, data S) []byte {
	dst = append(dst, tag)
	dst = binary.AppendUvarint(dst, uint64(len(data)))
	return append(dst, data...)
}

type hdrEntry struct {
	name string // canonical
	key  string // as in the map, to order duplicates of name
	vals []string
}

// appendHeaders appends the records of the keyed header fields of h.
func (k *Keyer) appendHeaders(s *scratch, dst []byte, h http.Header) []byte {
	s.hdrs = s.hdrs[:0]
	for key, vals := range h {
		name := textproto.CanonicalMIMEHeaderKey(key) // no allocation if canonical
		if _, ok := k.selected[name]; !ok {
			if !k.allHeaders || excludedHeader(name) {
				continue
			}
			if _, ok := k.ignoredHeader[name]; ok {
				continue
			}
		}
		s.hdrs = append(s.hdrs, hdrEntry{name: name, key: key, vals: vals})
	}
	if len(s.hdrs) > 1 {
		slices.SortFunc(s.hdrs, func(a, b hdrEntry) int {
			if c := strings.Compare(a.name, b.name); c != 0 {
				return c
			}
			return strings.Compare(a.key, b.key)
		})
	}
	for _, e := range s.hdrs {
		if len(e.vals) == 0 {
			continue
		}
		dst = appendRecord(dst, tagHeader, e.name)
		for _, v := range e.vals {
			dst = appendRecord(dst, tagValue, textproto.TrimString(v))
		}
	}
	return dst
}

// excludedHeader reports whether AllHeaders leaves the canonical field name
// out of the key.
func excludedHeader(name string) bool {
	switch name {
	case "Connection", "Keep-Alive", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
		"Expect", "Host", "Content-Length", "User-Agent",
		"Cache-Control", "Pragma",
		"If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since", "If-Range":
		return true
	}
	return strings.HasPrefix(name, "Proxy-")
}

// validFieldName reports whether s is a token (RFC 9110 §5.6.2).
func validFieldName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

func appendLower(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

func appendUpper(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}
