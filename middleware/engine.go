package middleware

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/keyer"
	"github.com/cachestack/cachestack/policy"
)

// parts are the stages of one engine, one slot per kind of middleware.
type parts struct {
	key      *keyer.Keyer
	filter   *filterStage
	expiry   *expiryStage
	cc       *ccStage
	redirect *redirectStage
	coalesce *coalesceStage
	protect  protectStage
	store    *storeStage
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
	if p.cc == nil {
		p.cc = outer.cc
	}
	if p.redirect == nil {
		p.redirect = outer.redirect
	}
	if p.coalesce == nil {
		p.coalesce = outer.coalesce
	}
	if p.store == nil {
		p.store = outer.store
	}
	p.protect = p.protect.over(outer.protect)
}

func (p *parts) keyer() *keyer.Keyer {
	if p.key != nil {
		return p.key
	}
	return p.store.defaultKeyer
}

// handoffKey carries the parts of an engine that has no store down to an
// engine beneath a foreign middleware, so that
// Chain(Key(k), logging, Store(s)) behaves like Chain(Key(k), Store(s)).
// Its value is a *handoff.
type handoffKey struct{}

// handoff is what an engine without a store hands down; used records that
// an engine with a store took it.
type handoff struct {
	parts
	used atomic.Bool
}

// engine is the RoundTripper that a run of adjacent cache middlewares
// becomes; see attach.
type engine struct {
	next http.RoundTripper
	parts
	// misplaced is set once this engine, having no store, has reported
	// that nothing beneath it took its concerns; shared by the copies
	// attach makes.
	misplaced *atomic.Bool
}

// RoundTrip implements http.RoundTripper.
func (e *engine) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	p := e.parts
	if outer, ok := ctx.Value(handoffKey{}).(*handoff); ok {
		p.inherit(&outer.parts)
		outer.used.Store(true)
	}
	if p.store == nil {
		return e.handDown(req, p)
	}
	if p.filter == nil {
		p.filter = defaultFilter
	}
	switch {
	case p.cc == nil:
		p.cc = defaultCC // RFC 9111 is the default
	case p.cc.ignore:
		p.cc = nil // header-blind: IgnoreCacheControl
	}
	st := p.store
	ro := optionsFrom(ctx)
	if ro.disabled || !p.filter.allowsMethod(req.Method) {
		st.add(MetricBypassed, 1)
		var sent time.Time
		reusePOST := !ro.disabled && p.cc != nil && p.cc.reusePOST && req.Method == http.MethodPost
		if reusePOST {
			sent = st.clock()
		}
		resp, err := e.next.RoundTrip(req)
		if err == nil && p.cc != nil {
			p.invalidate(req, resp)
			if reusePOST {
				resp = p.reusePOST(req, resp, ro, sent, st.clock())
			}
		}
		return resp, err
	}
	id, out, err := p.keyer().Key(req)
	if err != nil {
		st.add(MetricBypassed, 1)
		if out == nil {
			out = req
		}
		return e.next.RoundTrip(out)
	}
	x := exchange{parts: p, next: e.next, opts: ro, primary: id.Key, key: id.Key, url: id.URL}
	return x.serve(out)
}

// handDown sends req on with p in its context for a Store middleware
// beneath a foreign one. When none took it (the cache middlewares of this
// engine sit beneath the Store middleware's foreign neighbour, or under no
// Store middleware at all) they have no effect: that is reported once, as
// an error log, and the request goes on unchanged.
func (e *engine) handDown(req *http.Request, p parts) (*http.Response, error) {
	down := &handoff{parts: p}
	resp, err := e.next.RoundTrip(req.WithContext(context.WithValue(req.Context(), handoffKey{}, down)))
	if err == nil && !down.used.Load() && e.misplaced.CompareAndSwap(false, true) {
		slog.Default().LogAttrs(req.Context(), slog.LevelError,
			"cachestack: cache middlewares with no Store middleware beneath them have no effect; "+
				"stack them next to the Store middleware, or above it with only foreign middlewares between",
			slog.String("middlewares", p.names()))
	}
	return resp, err
}

// names lists the filled slots of p, for reports.
func (p *parts) names() string {
	var n []string
	for _, s := range [...]struct {
		set  bool
		name string
	}{
		{p.key != nil, "Key"}, {p.filter != nil, "Filter"}, {p.expiry != nil, "Expiry"},
		{p.cc != nil && !p.cc.ignore, "CacheControl"}, {p.cc != nil && p.cc.ignore, "IgnoreCacheControl"},
		{p.redirect != nil, "Redirect"}, {p.coalesce != nil, "Coalesce"}, {len(p.protect) > 0, "Protect"},
	} {
		if s.set {
			n = append(n, s.name)
		}
	}
	return strings.Join(n, ", ")
}

// via says how a stored response was found.
type via uint8

const (
	viaNone     via = iota
	viaLookup       // under the request's own key (or its Vary variant)
	viaRedirect     // through a recorded redirect from the request's URL
)

// exchange is the state of one request on its way through an engine.
type exchange struct {
	parts
	next    http.RoundTripper
	opts    requestOptions
	rd      policy.RequestDirectives
	primary string           // the request's key
	key     string           // where its response is stored: primary, or a Vary variant key
	url     string           // the redacted, normalised URL
	index   *cached.Response // the URL's Vary index, if it has one
	entry   *cached.Response // the stored response found, kept for revalidation and stale-if-error
	// sd is what the Cache-Control of the stored response sdOf says
	// about its reuse, parsed once (directives) when sdOf did not record it.
	sd     cached.Reuse
	sdOf   *cached.Response
	via    via
	vary   []string      // Vary fields of the response being stored
	retain time.Duration // how long it stays stored once stale
	async  bool          // a stale response may be refreshed in the background
	// byRequest: the stored response was fresh, but the request (its
	// directives, or Refresh) did not allow its use (RFC 9211 fwd=request).
	byRequest bool
	// tee is the forwarded response's body while it is read through to
	// be stored as teeEntry, answering teeReq.
	tee      teeBody
	teeReq   *http.Request
	teeEntry *cached.Response
	// lease is the store's lease on the key while this exchange fetches
	// for other processes too (see LeaseOptions).
	lease *heldLease
}

// serve answers req from the store or sends it on.
func (x *exchange) serve(req *http.Request) (*http.Response, error) {
	st := x.store
	ctx := req.Context()
	x.rd = policy.ParseRequestDirectives(req.Header)
	if x.cc != nil {
		x.async = x.cc.workers != nil && (req.Method == http.MethodGet || req.Method == http.MethodHead) &&
			(req.Body == nil || req.Body == http.NoBody)
	}
	// A request's no-store skips reading the cache as well as writing it,
	// as aiohttp-client-cache reads it; in the header-blind mode so does
	// its no-cache (in the default mode no-cache revalidates instead).
	skipRead := x.rd.NoStore || (x.cc == nil && x.rd.NoCache)
	if !x.opts.forceRefresh && !skipRead && !originOnly(req.Header, x.cc != nil) {
		if e := x.lookup(ctx, req); e != nil {
			now := st.clock()
			v := x.judge(e, now)
			if x.via == viaRedirect && v != fresh && v != stale {
				v = ignore // a redirect target is only used as is: it cannot be revalidated for this URL
			}
			switch v {
			case fresh:
				return x.hit(req, e, now, false, "hit"), nil
			case stale:
				return x.hit(req, e, now, true, "hit"), nil
			case staleAsync:
				x.refreshAsync(req, e)
				return x.hit(req, e, now, true, "hit; detail=stale-while-revalidate"), nil
			case revalidate:
				if x.cc != nil && callerValidates(req.Header) {
					break // §4.3.2: the caller's own validators go to the origin as they are
				}
				x.entry = e
				x.byRequest = !e.Expired(now) && (x.opts.refresh || x.rd.NoCache || x.rd.HasMaxAge || x.rd.HasMinFresh)
			}
		}
	}
	if x.entry == nil && len(req.Header["Range"]) > 0 && !skipRead && !originOnly(req.Header, x.cc != nil) {
		if r := x.fromParts(req); r != nil { // §3.3
			return r, nil
		}
	}
	if x.rd.OnlyIfCached { // §5.2.1.7
		closeBody(req)
		x.missed(ctx)
		return gatewayTimeout(req), nil
	}
	x.missed(ctx)
	if isConditional(req.Header) || len(req.Header["Range"]) > 0 {
		// The caller's own conditions or range make its response its
		// own: it is not shared with coalesced requests for the key.
		return x.escape().forward(req)
	}
	return x.escape().forwardShared(req)
}

// missed counts and logs a miss.
func (x *exchange) missed(ctx context.Context) {
	st := x.store
	st.add(MetricMisses, 1)
	if st.debugging(ctx) {
		st.debug(ctx, EventMiss, slog.String("key", x.primary), slog.String("url", x.url))
	}
}

// escape returns a heap copy of x for the paths that keep the exchange
// beyond serve (the teed body, coalescing, background work), so that on a
// fresh hit the exchange stays on the stack and costs no allocation.
func (x *exchange) escape() *exchange {
	c := new(exchange)
	*c = *x
	return c
}

// hit counts a hit, records the redirects that led to it, and builds the
// caller's response.
func (x *exchange) hit(req *http.Request, e *cached.Response, now time.Time, stale bool, status string) *http.Response {
	closeBody(req)
	st := x.store
	st.add(MetricHits, 1)
	if stale {
		st.add(MetricStale, 1)
	}
	if ctx := req.Context(); st.debugging(ctx) {
		event := EventHit
		if stale {
			event = EventStale
		}
		st.debug(ctx, event, slog.String("key", x.primary), slog.String("url", x.url), slog.Int("status", e.StatusCode), slog.String("cache_status", status))
	}
	if x.via == viaRedirect {
		status += "; detail=redirect"
	} else if x.redirect != nil && req.Response != nil {
		x.recordRedirects(req, e)
	}
	if x.cc != nil {
		e = x.withoutNoCacheFields(e)
	}
	if r := x.answerStored(req, e, now, stale, status); r != nil {
		return withKey(r, x.key)
	}
	return withKey(hitResponse(req, e, now, stale, status), x.key)
}

// lookup returns the stored response for req, following a Vary index to
// the request's variant (RFC 9111 §4.1) and a recorded redirect to its
// target.
func (x *exchange) lookup(ctx context.Context, req *http.Request) *cached.Response {
	st := x.store
	e := x.identified(st.lookup(ctx, x.primary, x.protect), req)
	if e == nil {
		return nil
	}
	switch e.Kind {
	case cached.KindVariants:
		x.index = e
		var v *cached.Response
		v, x.key = x.variant(ctx, x.primary, e, req)
		if v == nil {
			return nil
		}
		x.via = viaLookup
		return v
	case cached.KindRedirect:
		if x.redirect == nil || e.Expired(st.clock()) {
			return nil
		}
		// The alias names the target URL's key; its response is found
		// the way a request for the target would find it, through the
		// target's Vary index, so that invalidating the target (which
		// drops the index) also ends the alias.
		t := st.lookup(ctx, e.Ref, x.protect)
		if t == nil {
			return nil
		}
		switch t.Kind {
		case cached.KindVariants:
			if t, _ = x.variant(ctx, e.Ref, t, req); t == nil {
				return nil
			}
		case cached.KindResponse:
			if fields, star := policy.ParseVaryLines(t.Header.Values("Vary")...); star || (len(fields) > 0 && !policy.VaryDigestsMatch(fields, t.VaryHeader, req.Header)) {
				return nil
			}
		default:
			return nil
		}
		x.via = viaRedirect
		return t
	case cached.KindResponse:
		x.via = viaLookup
		return e
	}
	return nil
}

// identified returns e if it was stored for a request like req: same
// method, same normalised URL. An entry that is not (a byte store that
// returned another key's entry, a damaged entry whose checksum still
// matched) is counted and treated as a miss.
func (x *exchange) identified(e *cached.Response, req *http.Request) *cached.Response {
	if e == nil || (e.URL == x.url && (e.Method == req.Method || strings.EqualFold(e.Method, req.Method))) {
		return e
	}
	st := x.store
	st.add(MetricMismatched, 1)
	if ctx := req.Context(); st.debugging(ctx) {
		st.debug(ctx, EventMiss, slog.String("key", x.primary), slog.String("url", x.url), slog.String("reason", "stored entry is for another request"),
			slog.String("stored_method", e.Method), slog.String("stored_url", e.URL))
	}
	return nil
}

// variant returns the stored variant of the URL keyed primary, whose Vary
// index is idx, that matches req (RFC 9111 §4.1), and its key. The
// response is nil when none is stored. The variant idx holds inline, when
// it matches, is found without a second lookup.
func (x *exchange) variant(ctx context.Context, primary string, idx *cached.Response, req *http.Request) (*cached.Response, string) {
	if v := idx.Inline(); v != nil && policy.VaryDigestsMatch(idx.Vary, v.VaryHeader, req.Header) &&
		(primary != x.primary || x.identified(v, req) != nil) {
		return v, v.Ref
	}
	key := variantKeyOf(primary, idx.Ref, idx.Vary, req.Header)
	v := x.store.lookup(ctx, key, x.protect)
	if primary == x.primary {
		v = x.identified(v, req) // a redirect's target is for another URL
	}
	if v == nil || v.Kind != cached.KindResponse || !policy.VaryDigestsMatch(idx.Vary, v.VaryHeader, req.Header) {
		return nil, key
	}
	return v, key
}

// forwardShared sends req on, through the coalescer when there is one and
// the request may share its response with others.
func (x *exchange) forwardShared(req *http.Request) (*http.Response, error) {
	if x.coalesce != nil && x.coalesce.shareable(req) {
		return x.coalesce.do(x, req)
	}
	return x.forwardLeased(req)
}

// forward sends req to the next RoundTripper, conditionally when a stale
// stored response has validators (RFC 9111 §4.3.1), and handles what comes
// back: a 304 refreshes the stored response (§4.3.4), a failure may be
// answered with the stale one (RFC 5861 §4), and a storable response is
// returned with its body teed into the store.
func (x *exchange) forward(req *http.Request) (*http.Response, error) {
	st := x.store
	out := req
	e := x.entry
	conditional := false
	var etag, modified string
	if e != nil {
		etag, modified = e.Header.Get("Etag"), e.Header.Get("Last-Modified")
	}
	if (etag != "" || modified != "") && (req.Method == http.MethodGet || req.Method == http.MethodHead) {
		out = req.Clone(req.Context())
		if etag != "" {
			out.Header.Set("If-None-Match", etag)
		}
		if modified != "" {
			out.Header.Set("If-Modified-Since", modified)
		}
		conditional = true
	}
	sent := st.clock()
	resp, err := x.next.RoundTrip(out)
	received := st.clock()
	if err != nil {
		if x.staleIfError(e, received) {
			return x.hit(req, e, received, true, "fwd=stale; detail=stale-if-error"), nil
		}
		if x.staleIfUnreachable(req, e, received) { // §4.2.4
			return x.hit(req, e, received, true, "fwd=stale; detail=unreachable"), nil
		}
		return nil, err
	}
	if x.cc != nil {
		x.invalidate(req, resp)
	}
	if conditional && resp.StatusCode == http.StatusNotModified {
		drain(resp.Body)
		if x.cc != nil && !notModifiedSelects(e, resp.Header) {
			// §4.3.4: the 304 is for another representation than the
			// stored one, which is not updated; ask again, without
			// conditions, and let the full response replace it.
			x.drop(uncancelled(req.Context()))
			x.entry, x.byRequest = nil, false
			return x.forward(req)
		}
		return x.refreshed(req, e, resp, sent, received), nil
	}
	if x.cc != nil && req.Method == http.MethodHead && resp.StatusCode == http.StatusOK {
		x.freshenFromHead(req, resp, sent, received) // §4.3.5
	}
	if resp.StatusCode >= 500 && x.staleIfError(e, received) {
		drain(resp.Body)
		return x.hit(req, e, received, true, "fwd=stale; fwd-status="+itoa(resp.StatusCode)+"; detail=stale-if-error"), nil
	}
	entry, why := x.storable(req, resp, sent, received)
	ok := why == ""
	if resp.StatusCode == http.StatusPartialContent {
		x.teePartial(req, resp, sent, received) // §3.3, §3.4: see partial.go
	}
	member := cacheName + "; fwd=uri-miss" // constants: the usual miss builds no string
	switch {
	case e != nil && x.byRequest:
		member = cacheName + "; fwd=request; fwd-status=" + itoa(resp.StatusCode)
	case e != nil:
		member = cacheName + "; fwd=stale; fwd-status=" + itoa(resp.StatusCode)
	case x.opts.forceRefresh || x.rd.NoCache:
		member = cacheName + "; fwd=request"
	}
	setCacheStatus(resp.Header, member)
	if !ok {
		if ctx := req.Context(); st.debugging(ctx) {
			st.debug(ctx, EventNotStored, slog.String("key", x.primary), slog.String("url", x.url), slog.Int("status", resp.StatusCode), slog.String("reason", why))
		}
		if e != nil && resp.StatusCode < 500 && !x.rd.NoStore {
			// A full response replaces the stored one (§4.3.3); one that
			// may not be stored still makes it outdated. A server error
			// does not (§4.3.3: the cache may act as if the server had
			// not answered), so the stale response stays for
			// stale-if-error.
			x.drop(uncancelled(req.Context()))
		}
		return resp, nil
	}
	if req.Method == http.MethodHead || resp.Body == http.NoBody {
		x.finish(req, entry, nil)
		return resp, nil
	}
	x.teeReq, x.teeEntry = req, entry
	x.tee.start(resp.Body, resp.ContentLength, st.maxBody, x)
	x.tee.key = &x.key
	resp.Body = &x.tee
	return resp, nil
}

// refreshed stores e updated by a 304 and serves it.
func (x *exchange) refreshed(req *http.Request, e *cached.Response, notModified *http.Response, sent, received time.Time) *http.Response {
	u, h := merge(e, notModified, x.store.replaySetCookie)
	fresh, ok := x.freshness(req, u.StatusCode, h, notModified.Header, sent, received)
	u.RequestTime, u.ResponseTime, u.Created = sent, received, received
	if ok {
		u.InitialAge, u.Expires = fresh.initialAge, fresh.expires
	} else {
		u.InitialAge = policy.CorrectedInitialAge(notModified.Header, sent, received)
		u.Expires = received
	}
	switch {
	case ok:
		x.save(req, u, fresh.retain)
		x.leaseStored(req.Context(), x.primary, x.key)
	case x.rd.NoStore:
		// §5.2.1.5: nothing of this exchange is stored, and the stored
		// response is left as it was.
	default:
		x.drop(uncancelled(req.Context()))
	}
	x.store.add(MetricRevalidated, 1)
	if ctx := req.Context(); x.store.debugging(ctx) {
		x.store.debug(ctx, EventRevalidated, slog.String("key", x.primary), slog.String("url", x.url), slog.Int("status", u.StatusCode))
	}
	if x.redirect != nil && req.Response != nil {
		x.recordRedirects(req, u)
	}
	closeBody(req)
	status := "fwd=stale; fwd-status=304"
	if x.byRequest {
		status = "fwd=request; fwd-status=304"
	}
	if r := x.answerStored(req, u, received, false, status); r != nil {
		return withKey(r, x.key)
	}
	return withKey(hitResponse(req, u, received, false, status), x.key)
}

// storable decides whether resp may be stored and, if so, returns the entry
// to store once its body is complete; if not, it says why.
func (x *exchange) storable(req *http.Request, resp *http.Response, sent, received time.Time) (*cached.Response, string) {
	// A 206 is never stored as a response, whatever the filter allows:
	// it could answer a request for the whole. It is kept as a part to
	// combine (RFC 9111 §3.3, §3.4; teePartial) instead.
	if resp.StatusCode == http.StatusPartialContent {
		return nil, "partial content, kept as a part"
	}
	if !x.filter.allowsCode(resp.StatusCode, x.cc != nil) {
		return nil, "status not cached"
	}
	f, ok := x.freshness(req, resp.StatusCode, resp.Header, resp.Header, sent, received)
	if !ok {
		return nil, "no-store, Vary: *, uncacheable or already expired"
	}
	x.retain = f.retain
	return &cached.Response{
		Method:       req.Method,
		URL:          x.url,
		StatusCode:   resp.StatusCode,
		Proto:        storedProto(resp.Proto),
		Header:       storedHeader(resp.Header, x.store.replaySetCookie),
		RequestTime:  sent,
		ResponseTime: received,
		Created:      received,
		Expires:      f.expires,
		InitialAge:   f.initialAge,
	}, ""
}

// storedProto returns the protocol version to store for a response whose
// Proto is p: HTTP/1.1 when p is empty, and a constant for the usual
// versions, so that an entry does not keep alive the status line that
// net/http's Proto is a substring of.
func storedProto(p string) string {
	switch p {
	case "", "HTTP/1.1":
		return "HTTP/1.1"
	case "HTTP/2.0":
		return "HTTP/2.0"
	case "HTTP/1.0":
		return "HTTP/1.0"
	}
	return p
}

// freshnessResult is when a response to be stored expires, how long it
// is kept stored beyond that, and its corrected initial age.
type freshnessResult struct {
	expires    time.Time
	retain     time.Duration
	initialAge time.Duration
}

// freshness decides whether a response with status and header h may be
// stored and until when it is fresh. In the header-blind mode this is
// aiohttp-client-cache's expiry precedence, the request's no-store and
// max-age included; in the default mode RFC 9111's rules come first: no-store
// (§5.2.1.5, §5.2.2.5), Vary: * (§4.1), cacheability (§3), explicit
// freshness (§4.2.1) above every user setting, heuristic freshness
// (§4.2.2) when enabled, and the corrected initial age (§4.2.3). timing is
// the header that carries Date and Age: the 304's on a revalidation.
func (x *exchange) freshness(req *http.Request, status int, h, timing http.Header, sent, received time.Time) (freshnessResult, bool) {
	var r freshnessResult
	var d policy.Decisions
	x.expiry.offer(&d, &x.opts, x.url)
	if x.rd.NoStore { // §5.2.1.5
		return r, false
	}
	cc := x.cc
	var sd policy.ResponseDirectives
	var ccExpires time.Time
	fields, star := policy.ParseVary(h)
	if star { // §4.1: no request would ever match it
		return r, false
	}
	x.vary = fields
	if cc == nil && x.rd.HasMaxAge {
		// The header-blind mode reads the request's max-age as
		// aiohttp-client-cache does: the stored response's lifetime,
		// above every other expiry.
		d.Offer(policy.SourceRequestCacheControl, policy.After(x.rd.MaxAge))
	}
	if cc != nil {
		sd = policy.ParseResponseDirectives(h)
		if sd.MustUnderstand { // §5.2.2.3
			if !understood(status) {
				return r, false
			}
		} else if sd.NoStore {
			return r, false
		}
		r.initialAge = policy.CorrectedInitialAge(timing, sent, received)
		lifetime, explicit := policy.Lifetime(status, h, sd, received, cc.heuristic)
		ccExpires = received.Add(lifetime - r.initialAge)
		switch {
		case explicit:
			d.Offer(policy.SourceResponseCacheControl, policy.At(ccExpires))
		case lifetime > 0:
			d.Offer(policy.SourceHeuristic, policy.At(ccExpires))
		}
		// §3: a status that is not heuristically cacheable needs explicit
		// freshness or public/private, unless the user listed it in
		// FilterOptions.Codes (a configured extension, as §3 allows).
		if !explicit && !sd.Public && !sd.Private && !policy.CacheableStatus(status) && !x.filter.codesSet {
			return r, false
		}
	}
	exp, src := d.Decide()
	validator := hasValidator(h)
	var expires time.Time
	ok := true
	switch {
	case cc != nil && (src == policy.SourceResponseCacheControl || src == policy.SourceHeuristic):
		expires = ccExpires // may be past: max-age=0, an old Expires, a large Age
	case cc != nil && src == policy.SourceNone:
		expires = received // no freshness information and no setting of the user's: stale at once
	default:
		expires, ok = exp.ExpiresAt(received)
	}
	if !ok {
		return r, false
	}
	r.expires = expires
	r.retain = x.keep(&sd, validator)
	if cc != nil {
		if !expires.IsZero() && !expires.After(received) && r.retain == 0 {
			return r, false // stale at once, and nothing would use it later
		}
	}
	return r, true
}

// keep is how long a response stays stored once stale: for a stale
// response to be served (StoreOptions.KeepStale, StaleIfError), and, with
// CacheControl, revalidated (validator says it has one) or served under its
// directives sd.
func (x *exchange) keep(sd *policy.ResponseDirectives, validator bool) time.Duration {
	r := max(x.store.keepStale, x.store.staleIfError)
	if cc := x.cc; cc != nil {
		if validator {
			r = max(r, cc.keepValidatable)
		}
		if sd.HasStaleWhileRevalidate {
			r = max(r, sd.StaleWhileRevalidate)
		}
		if sd.HasStaleIfError {
			r = max(r, sd.StaleIfError)
		}
	}
	return r
}

// retainFor is keep for a stored response with header h.
func (x *exchange) retainFor(h cached.Header) time.Duration {
	var sd policy.ResponseDirectives
	if x.cc != nil {
		sd = storedDirectives(h)
	}
	return x.keep(&sd, h.Get("Etag") != "" || h.Get("Last-Modified") != "")
}

// uncancelled returns ctx without its cancellation, for a store write that
// must complete once begun: ctx itself when it cannot be cancelled (the
// common context.Background), which costs no allocation.
func uncancelled(ctx context.Context) context.Context {
	if ctx.Done() == nil {
		return ctx
	}
	return context.WithoutCancel(ctx)
}

// teed stores the forwarded response once its body has been read to the
// end through x.tee.
func (x *exchange) teed(body []byte) {
	req, entry := x.teeReq, x.teeEntry
	x.teeReq, x.teeEntry = nil, nil
	x.finish(req, entry, body)
}

// finish completes entry with its body and stores it, unless the filter
// function rejects it. The caller's cancellation does not stop the write:
// the body has been read in full, so the entry is complete.
func (x *exchange) finish(req *http.Request, entry *cached.Response, body []byte) {
	entry.Body = body
	if !x.filter.accepts(entry) {
		x.store.releaseLease(req.Context(), x.lease)
		return
	}
	x.save(req, entry, x.retain)
	x.leaseStored(req.Context(), x.primary, x.key)
	if x.redirect != nil && req.Response != nil {
		x.recordRedirects(req, entry)
	}
}

// save writes entry under the request's key. A response that varies
// (RFC 9111 §4.1) is written once, inline in the URL's Vary index (a new
// index, with a new generation, when the fields differ from the stored
// one's), which serves the next request like this one with a single lookup
// (variant). The variant the index held inline before, when it is another
// one of the same generation, is written out under its own variant key,
// where the second lookup finds it: it is displaced, not lost.
func (x *exchange) save(req *http.Request, entry *cached.Response, retain time.Duration) {
	st := x.store
	ctx := uncancelled(req.Context())
	now := st.clock()
	if len(x.vary) == 0 {
		x.key = x.primary
		st.save(ctx, x.primary, entry, now, retain, x.protect)
		return
	}
	idx := x.index
	if idx == nil {
		// The lookup found no index, but another request may have stored
		// one since (concurrent misses for two variants): join it rather
		// than orphan its variants with a new generation.
		if cur := st.lookup(ctx, x.primary, x.protect); cur != nil && cur.Kind == cached.KindVariants {
			idx = cur
		}
	}
	if idx == nil || !equalFields(idx.Vary, x.vary) {
		idx = &cached.Response{Kind: cached.KindVariants, Method: entry.Method, URL: entry.URL, Vary: x.vary, Ref: newRef(), Created: now, Expires: entry.Expires}
	} else {
		c := *idx // shares Vary, which nothing changes
		idx = &c
		if !idx.Expires.IsZero() && (entry.Expires.IsZero() || entry.Expires.After(idx.Expires)) {
			idx.Expires = entry.Expires
		}
	}
	entry.VaryHeader = policy.VaryDigests(x.vary, req.Header)
	x.key = variantKeyOf(x.primary, idx.Ref, x.vary, req.Header)
	entry.Ref = x.key
	if old := idx.Inline(); old != nil && old.Ref != x.key {
		out := *old // shared with the store: save records its Reuse
		st.save(ctx, out.Ref, &out, now, x.retainFor(out.Header), x.protect)
	}
	idx.Variant = entry
	x.index = idx
	st.save(ctx, x.primary, idx, now, retain, x.protect)
}

// drop deletes the stored response at x.key, which the request's
// revalidation or a full response has made outdated, under its own key
// and from the URL's Vary index when the index holds it inline (the index
// is written again without it), so that it answers no later request.
func (x *exchange) drop(ctx context.Context) {
	st := x.store
	st.delete(ctx, x.key)
	idx := x.index
	if idx == nil || idx.Variant == nil || idx.Variant.Ref != x.key {
		return
	}
	idx = withoutVariant(idx)
	x.index = idx
	retain := max(st.keepStale, st.staleIfError)
	if x.cc != nil {
		retain = max(retain, x.cc.keepValidatable)
	}
	st.save(ctx, x.primary, idx, st.clock(), retain, x.protect)
}

// gatewayTimeout is the answer to only-if-cached when nothing stored may be
// used (RFC 9111 §5.2.1.7).
func gatewayTimeout(req *http.Request) *http.Response {
	h := http.Header{"Cache-Status": {cacheName + "; fwd=miss; detail=only-if-cached"}, "Content-Length": {"0"}}
	return &http.Response{
		Status: "504 Gateway Timeout", StatusCode: http.StatusGatewayTimeout,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: http.NoBody, ContentLength: 0, Request: req,
	}
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// drain reads a little of a body we do not use, so its connection can be
// reused, and closes it.
func drain(body io.ReadCloser) {
	io.CopyN(io.Discard, body, 4<<10)
	body.Close()
}

// understood reports whether the cache implements the caching requirements
// of a status code (RFC 9111 §5.2.2.3): the final codes RFC 9110 defines
// that this cache handles, those heuristically cacheable and the other
// redirects.
func understood(status int) bool {
	switch status {
	case http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect:
		return true
	}
	return policy.CacheableStatus(status)
}
