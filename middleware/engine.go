package middleware

import (
	"context"
	"net/http"
	"time"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/keyer"
	"github.com/cachestack/cachestack/policy"
)

// parts are the stages of one engine, one slot per kind of middleware.
type parts struct {
	key    *keyer.Keyer
	filter *filterStage
	expiry *expiryStage
	store  *storeStage
}

// inherit fills the empty slots of p from outer.
func (p *parts) inherit(outer *parts) {
	if p.key == nil {
		p.key = outer.key
	}
	if p.filter == nil {
		p.filter = outer.filter
	}
	if p.expiry == nil {
		p.expiry = outer.expiry
	}
	if p.store == nil {
		p.store = outer.store
	}
}

// handoffKey carries the parts of an engine that has no store down to an
// engine beneath a foreign middleware, so that
// Chain(Key(k), logging, Store(s)) behaves like Chain(Key(k), Store(s)).
type handoffKey struct{}

// engine is the RoundTripper that a run of adjacent cache middlewares
// becomes; see attach.
type engine struct {
	next http.RoundTripper
	parts
}

// RoundTrip implements http.RoundTripper.
func (e *engine) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	p := e.parts
	if outer, ok := ctx.Value(handoffKey{}).(*parts); ok {
		p.inherit(outer)
	}
	if p.store == nil {
		down := p // p itself stays on the stack
		return e.next.RoundTrip(req.WithContext(context.WithValue(ctx, handoffKey{}, &down)))
	}
	ro := optionsFrom(ctx)
	st := p.store
	if p.filter == nil {
		p.filter = defaultFilter
	}
	if ro.disabled || !p.filter.allowsMethod(req.Method) {
		st.counters.Bypassed.Add(1)
		return e.next.RoundTrip(req)
	}
	k := p.key
	if k == nil {
		k = st.defaultKeyer
	}
	id, out, err := k.Key(req)
	if err != nil {
		st.counters.Bypassed.Add(1)
		if out == nil {
			out = req
		}
		return e.next.RoundTrip(out)
	}
	if !ro.forceRefresh && !ro.refresh {
		if entry := st.lookup(ctx, id.Key); entry != nil && p.filter.accepts(entry) {
			now := st.clock()
			if !entry.Expired(now) {
				closeBody(out)
				st.counters.Hits.Add(1)
				return hitResponse(out, entry, now, false), nil
			}
		}
	}
	st.counters.Misses.Add(1)
	x := &exchange{parts: p, opts: ro, key: id.Key, url: id.URL}
	return x.fetch(e.next, out)
}

// exchange is the state of one request on its way through an engine.
type exchange struct {
	parts
	opts requestOptions
	key  string
	url  string
}

// fetch sends req to next and arranges for the response to be stored.
func (x *exchange) fetch(next http.RoundTripper, req *http.Request) (*http.Response, error) {
	st := x.store
	sent := st.clock()
	resp, err := next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	received := st.clock()
	entry, ok := x.storable(req, resp, sent, received)
	setCacheStatus(resp.Header, cacheName+"; fwd=uri-miss")
	if !ok {
		return resp, nil
	}
	if req.Method == http.MethodHead || resp.Body == http.NoBody {
		x.finish(req.Context(), entry, nil)
		return resp, nil
	}
	resp.Body = newTeeBody(resp.Body, resp.ContentLength, st.maxBody, func(body []byte) {
		x.finish(req.Context(), entry, body)
	})
	return resp, nil
}

// storable decides whether resp may be stored and, if so, returns the entry
// to store once its body is complete.
func (x *exchange) storable(req *http.Request, resp *http.Response, sent, received time.Time) (*cached.Response, bool) {
	if !x.filter.allowsCode(resp.StatusCode) {
		return nil, false
	}
	var d policy.Decisions
	x.expiry.offer(&d, &x.opts, x.url)
	exp, _ := d.Decide()
	expires, ok := exp.ExpiresAt(received)
	if !ok {
		return nil, false
	}
	proto := resp.Proto
	if proto == "" {
		proto = "HTTP/1.1"
	}
	return &cached.Response{
		Method:       req.Method,
		URL:          x.url,
		StatusCode:   resp.StatusCode,
		Proto:        proto,
		Header:       storedHeader(resp.Header),
		RequestTime:  sent,
		ResponseTime: received,
		Created:      received,
		Expires:      expires,
	}, true
}

// finish completes entry with its body and writes it, unless the filter
// function rejects it. The caller's cancellation does not stop the write:
// the body has been read in full, so the entry is complete.
func (x *exchange) finish(ctx context.Context, entry *cached.Response, body []byte) {
	entry.Body = body
	if !x.filter.accepts(entry) {
		return
	}
	x.store.save(context.WithoutCancel(ctx), x.key, entry, x.store.clock())
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}
