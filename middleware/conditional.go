package middleware

import (
	"net/http"
	"time"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/policy"
)

// originOnly reports whether a request carries preconditions that only the
// origin answers: If-Match and If-Unmodified-Since (RFC 9110 §13.1.1,
// §13.1.4: a cache MAY ignore them, their interoperability features being
// needed only by an origin server). Such a request, and in the header-blind
// mode any conditional request, passes through without reading the cache,
// so the caller's precondition is judged by the only party that knows the
// current state. If-None-Match and If-Modified-Since are answered from a
// fresh stored response (answerStored); If-Range goes with Range.
func originOnly(h http.Header, rfc bool) bool {
	if !rfc {
		return isConditional(h)
	}
	return len(h["If-Match"]) > 0 || len(h["If-Unmodified-Since"]) > 0
}

// callerValidates reports whether a request carries validators of its own
// for a cache to evaluate (RFC 9111 §4.3.2).
func callerValidates(h http.Header) bool {
	return len(h["If-None-Match"]) > 0 || len(h["If-Modified-Since"]) > 0
}

// answerStored returns the response to req made from the stored response
// e when the request asks for something other than e as it is: a 304 to
// the caller's own If-None-Match or If-Modified-Since (RFC 9111 §4.3.2),
// a 206 or 416 to its Range (RFC 9110 §14). It returns nil, costing
// nothing, for a request without those fields: e is then served whole.
// Only the default mode answers them, and only for GET and HEAD.
func (x *exchange) answerStored(req *http.Request, e *cached.Response, now time.Time, stale bool, status string) *http.Response {
	if x.cc == nil {
		return nil
	}
	h := req.Header
	if callerValidates(h) && notModified(req, e) {
		return notModifiedResponse(req, e, now, stale, status)
	}
	if req.Method == http.MethodGet && len(h["Range"]) > 0 {
		return x.partial(req, e, now, stale, status)
	}
	return nil
}

// notModified evaluates the caller's If-None-Match, or when it has none
// its If-Modified-Since, against a stored response as RFC 9110 §13.2.2
// orders them, and reports whether the answer is 304. Preconditions are
// only evaluated for GET and HEAD and for a stored 2xx (§13.2.1: a
// response that would not be 2xx ignores them). A field that cannot be
// read is not evaluated: the full response is sent, which is always
// correct. If-Modified-Since is compared with the stored Last-Modified,
// or else its Date, or else the time it was received (RFC 9111 §4.3.2).
func notModified(req *http.Request, e *cached.Response) bool {
	if (req.Method != http.MethodGet && req.Method != http.MethodHead) || e.StatusCode < 200 || e.StatusCode > 299 {
		return false
	}
	if inm := req.Header["If-None-Match"]; len(inm) > 0 { // §13.1.3: it takes precedence
		nm, ok := policy.NoneMatch(inm, e.Header.Get("Etag"))
		return ok && nm
	}
	nm, ok := policy.NotModifiedSince(req.Header["If-Modified-Since"], modifiedAt(e))
	return ok && nm
}

// modifiedAt is the stored response's Last-Modified, else its Date, else
// when it was received.
func modifiedAt(e *cached.Response) time.Time {
	for _, f := range [...]string{"Last-Modified", "Date"} {
		if t, ok := policy.ParseHTTPDate(e.Header.Get(f)); ok {
			return t
		}
	}
	return e.ResponseTime
}

// notModifiedFields are the fields a 304 carries (RFC 9110 §15.4.5): those
// a 200 would have among Cache-Control, Content-Location, Date, ETag,
// Expires and Vary, and Last-Modified when there is no ETag, to guide the
// caller's own cache.
func notModifiedFields(hasETag bool) func(string) bool {
	return func(k string) bool {
		switch k {
		case "Cache-Control", "Content-Location", "Date", "Etag", "Expires", "Vary":
			return true
		case "Last-Modified":
			return !hasETag
		}
		return false
	}
}

// notModifiedResponse is the 304 answering a caller's conditional request
// from e, with Age and Cache-Status as on any hit and no content.
func notModifiedResponse(req *http.Request, e *cached.Response, now time.Time, stale bool, status string) *http.Response {
	c := *e
	c.StatusCode = http.StatusNotModified
	c.Header = cached.NewHeaderFunc(e.Header.HTTP(), notModifiedFields(e.Header.Get("Etag") != ""))
	c.Body = nil
	resp := hitResponse(req, &c, now, stale, status)
	resp.ContentLength = 0
	return resp
}

// notModifiedSelects reports whether a 304 received while revalidating e
// selects e for update (RFC 9111 §4.3.4): a strong ETag in the 304 must
// strongly match e's; a weak one must weakly match it; without an ETag, a
// Last-Modified must equal e's. A 304 with neither answers the validators
// this cache sent, which were e's, so it selects e (the RFC's "only one
// stored response" case; the cache never revalidates several at once).
func notModifiedSelects(e *cached.Response, h http.Header) bool {
	if v := h.Get("Etag"); v != "" {
		got, ok := policy.ParseETag(v)
		stored, sok := policy.ParseETag(e.Header.Get("Etag"))
		if !ok || !sok {
			return false
		}
		if got.Weak {
			return policy.WeakMatch(got, stored)
		}
		return policy.StrongMatch(got, stored)
	}
	if v := h.Get("Last-Modified"); v != "" {
		got, ok := policy.ParseHTTPDate(v)
		stored, sok := policy.ParseHTTPDate(e.Header.Get("Last-Modified"))
		return ok && sok && got.Equal(stored)
	}
	return true
}
