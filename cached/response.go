// Package cached defines Response, the stored form of an HTTP response: what
// every store holds (directly for typed in-memory stores, encoded by a codec
// for byte stores) and what the middleware builds hits from.
package cached

import (
	"net/http"
	"time"
)

// Response is one stored HTTP response with the facts the cache needs to
// judge it later. A Response is immutable once it has been handed to a
// store: hits share Body and Header between callers, and every reader treats
// them as read-only. Code that needs to change a stored response (a 304
// merge, a new expiry) works on a Clone.
type Response struct {
	// Method and URL of the request that produced the response. URL is
	// the request URL as sent, with no fragment; it is what listing shows.
	Method string
	URL    string

	StatusCode int
	// Proto is the response's protocol, "HTTP/1.1" when unknown.
	Proto  string
	Header http.Header
	Body   []byte

	// VaryHeader holds the request header fields named by the response's
	// Vary header (RFC 9111 §4.1), as the request sent them, so that a
	// later request can be matched against this variant.
	VaryHeader http.Header

	// RequestTime and ResponseTime are the local clock when the request
	// that produced this response was sent and when its header was
	// received (RFC 9111 §4.2.3).
	RequestTime  time.Time
	ResponseTime time.Time
	// Created is when the response was stored or last updated by a
	// revalidation: the seed library's created_at.
	Created time.Time
	// Expires is when the response stops being fresh, decided by the
	// expiry precedence when it was stored. Zero means it never expires.
	Expires time.Time
}

// Expired reports whether the response is past its expiry at now.
func (r *Response) Expired(now time.Time) bool {
	return !r.Expires.IsZero() && !now.Before(r.Expires)
}

// Size estimates the bytes the response occupies in memory: its body, its
// header and vary fields, and a fixed overhead. Memory-bounded stores use it
// as the entry's cost.
func (r *Response) Size() int64 {
	n := int64(len(r.Body)) + int64(len(r.Method)+len(r.URL)+len(r.Proto)) + 192
	n += headerSize(r.Header) + headerSize(r.VaryHeader)
	return n
}

func headerSize(h http.Header) int64 {
	var n int64
	for k, vs := range h {
		n += int64(len(k)) + 16
		for _, v := range vs {
			n += int64(len(v)) + 16
		}
	}
	return n
}

// Clone returns a copy that shares Body with r (bodies are never modified in
// place) but owns its header maps, so the copy's headers and times may be
// changed freely.
func (r *Response) Clone() *Response {
	c := *r
	c.Header = r.Header.Clone()
	c.VaryHeader = r.VaryHeader.Clone()
	return &c
}
