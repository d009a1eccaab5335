package middleware

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strconv"
	"time"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/policy"
)

// maxRangeParts is the most parts a multipart/byteranges answer has; a
// Range asking for more (after coalescing) is answered with the whole
// response, as RFC 9110 §14.2 allows a server to ignore Range.
const maxRangeParts = 16

// partial answers a GET with Range from e, a complete stored response
// (RFC 9111 §3.4, RFC 9110 §14): a 206 with Content-Range for one range,
// a 206 multipart/byteranges for several, a 416 with "bytes */length"
// when none is satisfiable. It returns nil, and e is then served whole (a
// server may always ignore Range, §14.2), when e is not a 200, when the
// Range field is not a bytes range set the cache reads, when it asks for
// more than 16 parts, or when If-Range does not hold (§13.1.5: strong
// comparison).
func (x *exchange) partial(req *http.Request, e *cached.Response, now time.Time, stale bool, status string) *http.Response {
	lines := req.Header["Range"]
	if e.StatusCode != http.StatusOK || len(lines) != 1 || !complete(e) {
		return nil
	}
	if ir := req.Header["If-Range"]; len(ir) > 0 && !ifRangeHolds(ir, e) {
		return nil
	}
	specs, ok := policy.ParseRange(lines[0])
	if !ok {
		return nil
	}
	size := int64(len(e.Body))
	ranges := policy.SatisfiableRanges(specs, size)
	c := *e
	h := e.Header.HTTP()
	switch {
	case len(ranges) == 0:
		// §15.5.17: no representation data, the complete length.
		c.StatusCode = http.StatusRequestedRangeNotSatisfiable
		keep := http.Header{"Content-Range": {"bytes */" + strconv.FormatInt(size, 10)}, "Content-Length": {"0"}}
		for _, f := range [...]string{"Date", "Etag", "Last-Modified", "Cache-Control", "Expires", "Vary"} {
			if v, ok := h[f]; ok {
				keep[f] = v
			}
		}
		h, c.Body = keep, nil
	case len(ranges) == 1:
		r := ranges[0]
		c.StatusCode = http.StatusPartialContent
		h.Set("Content-Range", contentRange(r, size))
		h.Set("Content-Length", strconv.FormatInt(r.Len(), 10))
		c.Body = e.Body[r.First : r.Last+1]
	case len(ranges) <= maxRangeParts:
		c.StatusCode = http.StatusPartialContent
		chunks := make([][]byte, len(ranges))
		for i, r := range ranges {
			chunks[i] = e.Body[r.First : r.Last+1]
		}
		body, ctype := multipartRanges(chunks, ranges, size, h.Get("Content-Type"))
		h.Del("Content-Range")
		h.Set("Content-Type", ctype)
		h.Set("Content-Length", strconv.Itoa(len(body)))
		c.Body = body
	default:
		return nil
	}
	c.Header = cached.NewHeader(h)
	return hitResponse(req, &c, now, stale, status)
}

// complete reports whether e's body is the whole representation: its
// Content-Length, when it has one, is the body's length (a stored HEAD
// response, or one whose body was stored decoded, has no usable length).
func complete(e *cached.Response) bool {
	cl := e.Header.Get("Content-Length")
	return cl == "" || cl == strconv.Itoa(len(e.Body))
}

// ifRangeHolds evaluates If-Range against e (RFC 9110 §13.1.5): an
// entity-tag must strongly match e's ETag; a date must equal e's
// Last-Modified, which must be a strong validator (§8.8.2.2: at least 60
// seconds before e's Date). Anything else, a weak tag included, is false:
// the whole response is sent.
func ifRangeHolds(lines []string, e *cached.Response) bool {
	if len(lines) != 1 {
		return false
	}
	v := lines[0]
	if t, ok := policy.ParseETag(v); ok {
		stored, sok := policy.ParseETag(e.Header.Get("Etag"))
		return sok && policy.StrongMatch(t, stored)
	}
	d, ok := policy.ParseHTTPDate(v)
	if !ok {
		return false
	}
	lm, lok := policy.ParseHTTPDate(e.Header.Get("Last-Modified"))
	date, dok := policy.ParseHTTPDate(e.Header.Get("Date"))
	return lok && dok && lm.Equal(d) && policy.StrongDate(lm, date)
}

func contentRange(r policy.ByteRange, size int64) string {
	return "bytes " + strconv.FormatInt(r.First, 10) + "-" + strconv.FormatInt(r.Last, 10) + "/" + strconv.FormatInt(size, 10)
}

// multipartRanges builds a multipart/byteranges body (RFC 9110 §14.6) of
// the chunks, the bytes of ranges of a representation of size bytes, each
// part with the representation's Content-Type, and returns it with the
// response's Content-Type.
func multipartRanges(chunks [][]byte, ranges []policy.ByteRange, size int64, ctype string) ([]byte, string) {
	var b [12]byte
	rand.Read(b[:])
	boundary := "cachestack-" + hex.EncodeToString(b[:])
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	w.SetBoundary(boundary)
	for i, r := range ranges {
		ph := textproto.MIMEHeader{}
		if ctype != "" {
			ph.Set("Content-Type", ctype)
		}
		ph.Set("Content-Range", contentRange(r, size))
		p, _ := w.CreatePart(ph)
		p.Write(chunks[i])
	}
	w.Close()
	return buf.Bytes(), "multipart/byteranges; boundary=" + boundary
}
