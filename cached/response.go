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
// store: hits share Body between callers, and every reader treats it as
// read-only (Header is immutable by its type). Code that needs to change a
// stored response (a 304 merge, a new expiry) works on a Clone.
type Response struct {
	// Method and URL of the request that produced the response. URL is
	// the request URL as sent, with no fragment; it is what listing shows.
	Method string
	URL    string

	StatusCode int
	// Proto is the response's protocol, "HTTP/1.1" when unknown.
	Proto string
	// Header is the response's header without hop-by-hop fields.
	Header Header
	Body   []byte

	// VaryHeader holds, for each request header field named by the
	// response's Vary header (RFC 9111 §4.1) that the request carried, a
	// digest of its normalised value (policy.VaryDigests), so that a later
	// request can be matched against this variant without the values
	// themselves (credentials, cookies) being stored.
	VaryHeader http.Header

	// RequestTime and ResponseTime are the local clock when the request
	// that produced this response was sent and when its header was
	// received (RFC 9111 §4.2.3).
	RequestTime  time.Time
	ResponseTime time.Time
	// Created is when the response was stored or last updated by a
	// revalidation: aiohttp-client-cache's created_at.
	Created time.Time
	// Expires is when the response stops being fresh, decided by the
	// expiry precedence when it was stored. Zero means it never expires.
	Expires time.Time
	// InitialAge is the response's corrected initial age when it was
	// received (RFC 9111 §4.2.3): its current age at a later time is
	// InitialAge plus the time since ResponseTime.
	InitialAge time.Duration

	// Kind says what the entry holds. Entries of other kinds than
	// KindResponse are the cache's bookkeeping; they are never served.
	Kind Kind
	// Vary, on a KindVariants entry, lists the request header fields the
	// responses for this URL vary on (RFC 9111 §4.1).
	Vary []string
	// Ref is, on a KindVariants entry, the generation mixed into the keys
	// of this URL's variants (a new index orphans the old variants); on a
	// KindRedirect entry, the key of the response the redirect leads to;
	// on a variant of a response that varies, the variant key it is stored
	// under (so that the copy a Vary index holds, Variant, names it).
	Ref string

	// Variant is, on a KindVariants entry, the variant of this URL stored
	// last (a KindResponse entry, which never has a Variant of its own),
	// so that a request it answers is served from the index without a
	// second lookup. It is written there only: under its variant key (its
	// Ref) once another variant takes its place in the index, or the store
	// refuses the index with it as too large; an older copy may remain
	// under that key, which Variant supersedes. It is nil on other kinds,
	// on an index written before it existed, and after the variant was
	// deleted or changed other than by storing it again: readers then look
	// the variant up by its key.
	Variant *Response

	// Reuse is what Header's Cache-Control says about reusing the
	// response, recorded by the cache when it stored the response so
	// that a hit need not parse Header again. It is derived from Header
	// alone: code that gives a Response another Header resets it (to the
	// zero Reuse, which records nothing and makes readers parse Header).
	// Codecs do not encode it, so a response read from a byte store has
	// the zero Reuse.
	Reuse Reuse
}

// Reuse is what a stored response's Cache-Control directives (RFC 9111
// §5.2.2, RFC 5861) say about reusing it, beyond its Expires: the
// directives that decide whether it may be served, served stale, or must
// be revalidated first. It holds no pointers, so it costs an entry nothing
// on a garbage collection cycle.
type Reuse struct {
	// StaleWhileRevalidate is RFC 5861 §3's stale-while-revalidate, when
	// HasStaleWhileRevalidate.
	StaleWhileRevalidate time.Duration
	// StaleIfError is RFC 5861 §4's stale-if-error, when HasStaleIfError.
	StaleIfError time.Duration
	// Recorded reports that the other fields were derived from the
	// response's Header. The zero Reuse records nothing: a response stored
	// before Reuse existed, decoded from bytes, or built by hand.
	Recorded bool
	// NoCache is the unqualified no-cache (§5.2.2.4).
	NoCache bool
	// NoCacheFields reports a qualified no-cache (no-cache="Set-Cookie",
	// §5.2.2.4.2), whose field names Header's Cache-Control holds.
	NoCacheFields bool
	// MustRevalidate is must-revalidate (§5.2.2.2).
	MustRevalidate          bool
	HasStaleWhileRevalidate bool
	HasStaleIfError         bool
}

// Kind is what an entry holds.
type Kind uint8

const (
	// KindResponse is a stored response.
	KindResponse Kind = iota
	// KindVariants is the index of a URL whose responses vary on request
	// header fields: the responses themselves are stored under variant
	// keys derived from it.
	KindVariants
	// KindRedirect records that a request for URL was redirected, by a
	// response with StatusCode and a Location header, to the response
	// stored under Ref.
	KindRedirect
	// KindSealed is an entry protected by a Protector (see
	// middleware.Protect): Body holds the protected encoding of the real
	// entry, which only that Protector can recover and check. It is never
	// served as it is.
	KindSealed
)

// Age returns the response's current age at now (RFC 9111 §4.2.3):
// corrected initial age plus resident time, never negative.
func (r *Response) Age(now time.Time) time.Duration {
	resident := now.Sub(r.ResponseTime)
	if resident < 0 {
		resident = 0
	}
	return r.InitialAge + resident
}

// Expired reports whether the response is past its expiry at now.
func (r *Response) Expired(now time.Time) bool {
	return !r.Expires.IsZero() && !now.Before(r.Expires)
}

// Size estimates the bytes the response occupies in memory: its body, its
// header and vary fields, and a fixed overhead; for a Vary index, with the
// Variant it holds. Memory-bounded stores use it as the entry's cost.
func (r *Response) Size() int64 {
	n := int64(len(r.Body)) + int64(len(r.Method)+len(r.URL)+len(r.Proto)+len(r.Ref)) + 192
	for _, v := range r.Vary {
		n += int64(len(v)) + 16
	}
	n += r.Header.size() + headerSize(r.VaryHeader)
	if r.Variant != nil {
		// Counted whole, though a typed store may hold the same variant
		// under its own key: the index keeps it alive when that copy is
		// evicted, which, never read on the hits the index serves, it
		// is first.
		n += r.Variant.Size()
	}
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

// Inline returns the variant that r, a Vary index, holds inline and may
// answer with (see Variant): a stored response whose Ref names its variant
// key. It is nil for an index without one and for any other entry.
func (r *Response) Inline() *Response {
	if v := r.Variant; r.Kind == KindVariants && v != nil && v.Kind == KindResponse && v.Ref != "" {
		return v
	}
	return nil
}

// Clone returns a copy that shares Body, Header and Variant with r (none is
// ever modified in place) but owns VaryHeader and Vary, so the copy's fields
// and times may be changed freely. The copy keeps r's Reuse, which describes
// the Header they share; one that is given another Header needs another
// Reuse.
func (r *Response) Clone() *Response {
	c := *r
	c.VaryHeader = r.VaryHeader.Clone()
	c.Vary = append([]string(nil), r.Vary...)
	return &c
}
