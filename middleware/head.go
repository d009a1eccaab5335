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
		g.store.delete(ctx, g.key)
		return
	}
	u, h := merge(e, head, g.store.replaySetCookie)
	f, ok := g.freshness(get, u.StatusCode, h, head.Header, sent, received)
	if !ok {
		g.store.delete(ctx, g.key)
		return
	}
	u.RequestTime, u.ResponseTime, u.Created = sent, received, received
	u.InitialAge, u.Expires = f.initialAge, f.expires
	g.save(get, u, f.retain)
	g.store.counters.Revalidated.Add(1)
}

// headAgrees reports whether a HEAD response's header h describes the same
// representation as the stored GET response e (RFC 9111 §4.3.5): each
// validator (ETag, Last-Modified) that either carries is carried by both,
// equal; a Content-Length in h equals e's length; and when neither has a
// validator, h must have a Content-Length to compare (without one, nothing
// says the representation is the same).
func headAgrees(e *cached.Response, h http.Header) bool {
	etag, stored := h.Get("Etag"), e.Header.Get("Etag")
	if etag != stored {
		return false
	}
	lm, slm := h.Get("Last-Modified"), e.Header.Get("Last-Modified")
	if lm != "" || slm != "" {
		a, aok := policy.ParseHTTPDate(lm)
		b, bok := policy.ParseHTTPDate(slm)
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
