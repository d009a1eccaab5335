package middleware

import (
	"bytes"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/cachestack/cachestack/cached"
)

// cacheName is this cache's identifier in Cache-Status (RFC 9211 §2).
const cacheName = "cachestack"

// hitResponse builds a new response for one caller from a stored entry. The
// header is a fresh copy carrying Age, the entry's current age (RFC 9111
// §4.2.3, §5.1), and this cache's Cache-Status member (RFC 9211): "cachestack;
// " then status, then the remaining freshness as ttl (negative when stale).
// The body reads the stored bytes, which are shared and never written.
func hitResponse(req *http.Request, e *cached.Response, now time.Time, stale bool, status string) *http.Response {
	// The response, its body, the backing array of its header's values
	// and the text of Age and Cache-Status are one allocation for the
	// usual headers (hitSmall, hitLarge); only the header's map is
	// another.
	n := e.Header.NumValues() + 2 // Age and this cache's Cache-Status member at most
	var (
		resp   *http.Response
		body   *hitBody
		values []string
		text   *[96]byte
	)
	switch {
	case n <= len(hitSmall{}.values):
		a := new(hitSmall)
		resp, body, values, text = &a.resp, &a.body, a.values[:n], &a.text
	case n <= len(hitLarge{}.values):
		a := new(hitLarge)
		resp, body, values, text = &a.resp, &a.body, a.values[:n], &a.text
	default:
		a := new(hitAny)
		resp, body, values, text = &a.resp, &a.body, make([]string, n), &a.text
	}
	b := strconv.AppendInt(text[:0], int64(e.Age(now)/time.Second), 10)
	ageEnd := len(b)
	b = append(b, cacheName+"; "...)
	b = append(b, status...)
	if !e.Expires.IsZero() {
		b = append(b, "; ttl="...)
		b = strconv.AppendInt(b, int64(e.Expires.Sub(now).Round(time.Second)/time.Second), 10)
	}
	var both string
	if len(b) <= len(text) && &b[0] == &text[0] {
		// Still in text, which nothing writes to again: the strings
		// share the response's allocation.
		both = unsafe.String(&text[0], len(b))
	} else {
		both = string(b) // a status too long for text
	}
	*body = hitBody{entry: e, stale: stale}
	cl := int64(len(e.Body))
	if req.Method == http.MethodHead {
		cl = -1
		values, v := 0, ""
		for k, x := range e.Header.All() {
			if k == "Content-Length" {
				values, v = values+1, x
			}
		}
		if values == 1 {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				cl = n
			}
		}
	} else {
		body.Reset(e.Body)
	}
	proto, major, minor := "HTTP/1.1", 1, 1
	if m, n, ok := http.ParseHTTPVersion(e.Proto); ok {
		proto, major, minor = e.Proto, m, n
	}
	*resp = http.Response{
		Status:        statusLine(e.StatusCode),
		StatusCode:    e.StatusCode,
		Proto:         proto,
		ProtoMajor:    major,
		ProtoMinor:    minor,
		Header:        hitHeader(e.Header, values, both[:ageEnd], both[ageEnd:]),
		Body:          body,
		ContentLength: cl,
		Request:       req,
	}
	return resp
}

// hitSmall, hitLarge and hitAny are a hit's response with its body, the
// backing array of its header's values (but for hitAny) and the bytes of
// its Age and Cache-Status values, allocated together.
type (
	hitSmall struct {
		resp   http.Response
		body   hitBody
		values [12]string
		text   [96]byte
	}
	hitLarge struct {
		resp   http.Response
		body   hitBody
		values [24]string
		text   [96]byte
	}
	hitAny struct {
		resp http.Response
		body hitBody
		text [96]byte
	}
)

func itoa(n int) string { return strconv.Itoa(n) }

// hitHeader expands h for one caller with Age set to age and status
// appended to Cache-Status: a new map, and values (of length
// h.NumValues()+2) as the backing array of every value, each field's
// slice capped at its own length so that the caller's appends never write
// over another field.
func hitHeader(h cached.Header, values []string, age, status string) http.Header {
	// Age's stored values are dropped; Age and this cache's Cache-Status
	// member take at most two more.
	out := make(http.Header, h.Len()+2)
	i, hasStatus := 0, false
	f := h.Fields()
	for k, n, ok := f.Next(); ok; k, n, ok = f.Next() {
		if k == "Age" {
			continue // replaced; Next skips its values
		}
		start := i
		for range n {
			values[i] = f.Value()
			i++
		}
		if k == "Cache-Status" {
			values[i] = status
			i++
			hasStatus = true
		}
		out[k] = values[start:i:i]
	}
	values[i] = age
	out["Age"] = values[i : i+1 : i+1]
	if !hasStatus {
		values[i+1] = status
		out["Cache-Status"] = values[i+1 : i+2 : i+2]
	}
	return out
}

// setCacheStatus appends this cache's member to a forwarded response's
// Cache-Status (RFC 9211 §2: each cache adds its own member at the end).
func setCacheStatus(h http.Header, member string) {
	h["Cache-Status"] = append(h["Cache-Status"], member)
}

// hopByHop reports whether a header field is one a cache must not store
// (RFC 9111 §3.1, RFC 9110 §7.6.1), besides those named in Connection:
// the hop-by-hop fields and the proxy authentication fields, which
// Proxy-Authentication-Info joins (RFC 9111 §3.1).
func hopByHop(k string) bool {
	switch k {
	case "Connection", "Keep-Alive", "Proxy-Connection", "Te", "Transfer-Encoding", "Upgrade",
		"Proxy-Authenticate", "Proxy-Authorization", "Proxy-Authentication-Info", "Trailer":
		return true
	}
	return false
}

// storedHeader returns a response header as it is stored: without
// hop-by-hop fields, fields named in Connection and, unless replaySetCookie,
// Set-Cookie.
func storedHeader(h http.Header, replaySetCookie bool) cached.Header {
	return cached.NewHeaderFunc(h, storedFields(h, replaySetCookie))
}

// storedFields returns whether a field of h is stored: not hop-by-hop, not
// named in Connection, and not Set-Cookie unless replaySetCookie (a cookie
// set for one caller must not reach the others' cookie jars from a hit).
func storedFields(h http.Header, replaySetCookie bool) func(name string) bool {
	var named []string // fields named in Connection
	for _, c := range h["Connection"] {
		for f := range strings.SplitSeq(c, ",") {
			if f = strings.TrimSpace(f); f != "" {
				named = append(named, http.CanonicalHeaderKey(f))
			}
		}
	}
	return func(k string) bool {
		return !hopByHop(k) && !slices.Contains(named, k) && (replaySetCookie || (k != "Set-Cookie" && k != "Set-Cookie2"))
	}
}

// statusLine returns the Status text of a response; common codes cost no
// allocation.
func statusLine(code int) string {
	switch code {
	case 200:
		return "200 OK"
	case 203:
		return "203 Non-Authoritative Information"
	case 204:
		return "204 No Content"
	case 206:
		return "206 Partial Content"
	case 301:
		return "301 Moved Permanently"
	case 304:
		return "304 Not Modified"
	case 308:
		return "308 Permanent Redirect"
	case 404:
		return "404 Not Found"
	}
	return strconv.Itoa(code) + " " + http.StatusText(code)
}

// hitBody is the body of a response served from the cache. It records which
// entry it came from, for InfoOf.
type hitBody struct {
	bytes.Reader
	entry *cached.Response
	stale bool
	key   string // where entry is stored, for InfoOf
}

func (b *hitBody) Close() error { return nil }

// teeBody passes a response body through to the caller while keeping a copy
// of it, up to max bytes. When the caller reads to EOF, sink receives the
// complete body; a body closed early, failing, or larger than max is never
// handed to sink, and past max nothing more is buffered. A teeBody is a
// value so that it can live inside what owns it (the exchange) rather than
// cost an allocation of its own.
type teeBody struct {
	rc       io.ReadCloser
	buf      []byte
	max      int64
	declared int64 // the body's Content-Length; -1: unknown
	over     bool
	sink     teeSink
	key      *string // where the response is stored once read, for InfoOf
}

// teeSink receives a teed body read to its end.
type teeSink interface {
	teed(body []byte)
}

// teeFirstBuffer is the most a tee allocates before bytes arrive: a body
// that declares a length gets a buffer of exactly that length up to this,
// so that the usual body is buffered in one allocation and stored without
// spare capacity. A longer declared body starts there and grows as its
// bytes arrive, doubling but never past the declared length, so that a
// response that declares a large body and sends little holds little.
const teeFirstBuffer = 1 << 20

// start prepares t to tee rc, whose length is contentLength (-1: unknown).
func (t *teeBody) start(rc io.ReadCloser, contentLength, max int64, sink teeSink) {
	*t = teeBody{rc: rc, max: max, declared: contentLength, sink: sink}
	switch {
	case contentLength > max:
		t.over = true
	case contentLength > 0:
		t.buf = make([]byte, 0, min(contentLength, teeFirstBuffer))
	}
}

func (t *teeBody) Read(p []byte) (int, error) {
	n, err := t.rc.Read(p)
	if n > 0 && !t.over {
		switch need := int64(len(t.buf) + n); {
		case need > t.max:
			t.over, t.buf = true, nil
		case need > int64(cap(t.buf)) && need <= t.declared:
			grown := make([]byte, 0, min(max(need, 2*int64(cap(t.buf))), t.declared))
			t.buf = append(append(grown, t.buf...), p[:n]...)
		default:
			t.buf = append(t.buf, p[:n]...)
		}
	}
	if err == io.EOF && !t.over && t.sink != nil {
		sink, body := t.sink, t.buf
		t.sink, t.buf = nil, nil
		if body == nil {
			body = []byte{}
		}
		sink.teed(body)
	}
	return n, err
}

func (t *teeBody) Close() error {
	t.sink, t.buf = nil, nil
	return t.rc.Close()
}
