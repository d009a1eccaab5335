package middleware

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

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
	// Age and Cache-Status share one allocation.
	var buf [96]byte
	b := strconv.AppendInt(buf[:0], int64(e.Age(now)/time.Second), 10)
	ageEnd := len(b)
	b = append(b, cacheName+"; "...)
	b = append(b, status...)
	if !e.Expires.IsZero() {
		b = append(b, "; ttl="...)
		b = strconv.AppendInt(b, int64(e.Expires.Sub(now).Round(time.Second)/time.Second), 10)
	}
	both := string(b)
	// The response and its body are one allocation.
	a := &struct {
		resp http.Response
		body hitBody
	}{body: hitBody{entry: e, stale: stale}}
	body := &a.body
	cl := int64(len(e.Body))
	if req.Method == http.MethodHead {
		cl = -1
		if v := e.Header["Content-Length"]; len(v) == 1 {
			if n, err := strconv.ParseInt(v[0], 10, 64); err == nil {
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
	a.resp = http.Response{
		Status:        statusLine(e.StatusCode),
		StatusCode:    e.StatusCode,
		Proto:         proto,
		ProtoMajor:    major,
		ProtoMinor:    minor,
		Header:        hitHeader(e.Header, both[:ageEnd], both[ageEnd:]),
		Body:          body,
		ContentLength: cl,
		Request:       req,
	}
	return &a.resp
}

func itoa(n int) string { return strconv.Itoa(n) }

// hitHeader copies h for one caller with Age set to age and status appended
// to Cache-Status, in two allocations: the map and one backing array for
// every value.
func hitHeader(h http.Header, age, status string) http.Header {
	n := 2
	for _, vs := range h {
		n += len(vs)
	}
	values := make([]string, n)
	out := make(http.Header, len(h)+2)
	put := func(k string, vs []string, extra string) {
		c := copy(values, vs)
		if extra != "" {
			values[c] = extra
			c++
		}
		out[k] = values[:c:c]
		values = values[c:]
	}
	for k, vs := range h {
		switch k {
		case "Age":
		case "Cache-Status":
			put(k, vs, status)
		default:
			put(k, vs, "")
		}
	}
	put("Age", nil, age)
	if _, ok := h["Cache-Status"]; !ok {
		put("Cache-Status", nil, status)
	}
	return out
}

// setCacheStatus appends this cache's member to a forwarded response's
// Cache-Status (RFC 9211 §2: each cache adds its own member at the end).
func setCacheStatus(h http.Header, member string) {
	h["Cache-Status"] = append(h["Cache-Status"], member)
}

// hopByHop are the header fields a cache must not store (RFC 9111 §3.1,
// RFC 9110 §7.6.1), besides those named in Connection.
var hopByHop = [...]string{"Connection", "Keep-Alive", "Proxy-Connection", "Te", "Transfer-Encoding", "Upgrade", "Proxy-Authenticate", "Proxy-Authorization", "Trailer"}

// storedHeader copies a response header for storage, without hop-by-hop
// fields, fields named in Connection, and this cache's own Cache-Status.
func storedHeader(h http.Header) http.Header {
	out := h.Clone()
	for _, c := range h["Connection"] {
		for _, f := range strings.Split(c, ",") {
			if f = strings.TrimSpace(f); f != "" {
				delete(out, http.CanonicalHeaderKey(f))
			}
		}
	}
	for _, f := range hopByHop {
		delete(out, f)
	}
	return out
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
}

func (b *hitBody) Close() error { return nil }

// teeBody passes a response body through to the caller while keeping a copy
// of it, up to max bytes. When the caller reads to EOF, done receives the
// complete body; a body closed early, failing, or larger than max is never
// handed to done, and past max nothing more is buffered.
type teeBody struct {
	rc   io.ReadCloser
	buf  []byte
	max  int64
	over bool
	done func([]byte)
}

func newTeeBody(rc io.ReadCloser, contentLength, max int64, done func([]byte)) *teeBody {
	t := &teeBody{rc: rc, max: max, done: done}
	switch {
	case contentLength > max:
		t.over = true
	case contentLength > 0:
		t.buf = make([]byte, 0, contentLength)
	}
	return t
}

func (t *teeBody) Read(p []byte) (int, error) {
	n, err := t.rc.Read(p)
	if n > 0 && !t.over {
		if int64(len(t.buf)+n) > t.max {
			t.over, t.buf = true, nil
		} else {
			t.buf = append(t.buf, p[:n]...)
		}
	}
	if err == io.EOF && !t.over && t.done != nil {
		done, body := t.done, t.buf
		t.done, t.buf = nil, nil
		if body == nil {
			body = []byte{}
		}
		done(body)
	}
	return n, err
}

func (t *teeBody) Close() error {
	t.done, t.buf = nil, nil
	return t.rc.Close()
}
