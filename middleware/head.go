package middleware

import (
	"net/http"
	"strconv"
	"time"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/policy"
)

// freshenFromHead applies a 200 response to a HEAD request to the stored
// GET response that the same request as a GET would select (same URL,
// keyed headers and Vary'd fields), as RFC 9111 §4.3.5 asks: when their
// validators agree (headAgrees), the HEAD's fields update the stored ones
// and its freshness replaces theirs, as a 304 would (§3.2); when they do
// not, the stored response no longer describes the resource and is
// deleted. A request with no-store leaves the store as it is.
func (x *exchange) freshenFromHead(req *http.Request, head *http.Response, sent, received time.Time) {
	if x.rd.NoStore {
		return
	}
	get := &http.Request{Method: http.MethodGet, URL: req.URL, Header: req.Header, Host: req.Host}
	get = get.WithContext(req.Context())
	id, _, err := x.keyer().Key(get)
	if err != nil {
		return
	}
	g := &exchange{parts: x.parts, next: x.next, opts: x.opts, rd: x.rd, primary: id.Key, key: id.Key, url: id.URL}
	ctx := uncancelled(req.Context())
	e := g.lookup(ctx, get)
	if e == nil || g.via != viaLookup {
		return
	}
	if !headAgrees(e, head.Header) {
		g.drop(ctx)
		return
	}
	u, h := merge(e, head, g.store.replaySetCookie)
	f, ok := g.freshness(get, u.StatusCode, h, head.Header, sent, received)
	if !ok {
		g.drop(ctx)
		return
	}
	u.RequestTime, u.ResponseTime, u.Created = sent, received, received
	u.InitialAge, u.Expires = f.initialAge, f.expires
	g.save(get, u, f.retain)
	g.store.add(MetricRevalidated, 1)
}

// headAgrees reports whether a HEAD response's header h describes the same
// representation as the stored GET response e (RFC 9111 §4.3.5): each
// validator h carries (ETag, Last-Modified) has e's value, and a
// Content-Length in h is e's length. When h carries no validator, it must
// have a Content-Length to compare: without one, nothing says the
// representation is the same.
func headAgrees(e *cached.Response, h http.Header) bool {
	etag := h.Get("Etag")
	if etag != "" && etag != e.Header.Get("Etag") {
		return false
	}
	lm := h.Get("Last-Modified")
	if lm != "" {
		a, aok := policy.ParseHTTPDate(lm)
		b, bok := policy.ParseHTTPDate(e.Header.Get("Last-Modified"))
		if !aok || !bok || !a.Equal(b) {
			return false
		}
	}
	cl := h.Get("Content-Length")
	if cl == "" {
		return etag != "" || lm != ""
	}
	want := e.Header.Get("Content-Length")
	if want == "" {
		want = strconv.Itoa(len(e.Body))
	}
	return cl == want
}
