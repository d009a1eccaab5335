package middleware

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/policy"
)

// DefaultKeepValidatable is how long CacheControl keeps a stale response
// that carries a validator (ETag or Last-Modified) when
// CacheControlOptions.KeepValidatable is zero.
const DefaultKeepValidatable = 24 * time.Hour

// CacheControlOptions configure the CacheControl middleware. The zero value
// is RFC 9111 without heuristics or background revalidation.
type CacheControlOptions struct {
	// Heuristic, when set, gives responses without explicit freshness but
	// with Last-Modified a heuristic lifetime (RFC 9111 §4.2.2): a
	// fraction of the time since Last-Modified, capped. Off by default.
	Heuristic *policy.Heuristic
	// KeepValidatable is how long a response with a validator stays
	// stored after it goes stale, so that it can be revalidated with a
	// conditional request (§4.3) instead of fetched again. Zero means
	// DefaultKeepValidatable; negative is an error.
	KeepValidatable time.Duration
	// Workers runs stale-while-revalidate refreshes in the background
	// (RFC 5861 §3). Nil means such responses are revalidated before they
	// are served, as if the directive were absent. The caller owns
	// Workers and closes it.
	Workers *Workers
	// RefreshTimeout bounds one background refresh; zero means 30s.
	RefreshTimeout time.Duration
	// NoStaleWhenUnreachable turns off serving a stale stored response
	// when the origin cannot be reached at all (a transport error, not a
	// 5xx). By default such a response is served, marked
	// "fwd=stale; detail=unreachable" in Cache-Status, as RFC 9111 §4.2.4
	// lets a disconnected cache do, unless must-revalidate or no-cache
	// forbids it or the request asked for validation; how stale it may be
	// is bounded by how long stale responses are kept (KeepValidatable,
	// StoreOptions.KeepStale). With it set, the transport's error is
	// returned unless stale-if-error applies.
	NoStaleWhenUnreachable bool
	// ReusePOSTResponses stores a 200 or 203 response to POST that has
	// explicit freshness and a Content-Location equal to the request's
	// URL as the response to a GET of that URL (RFC 9110 §9.3.3), so that
	// a later GET is answered from the cache. It applies to POST requests
	// the cache does not otherwise hold (POST is not in
	// FilterOptions.Methods). Off by default.
	ReusePOSTResponses bool
}

type ccStage struct {
	heuristic       *policy.Heuristic
	keepValidatable time.Duration
	workers         *Workers
	refreshTimeout  time.Duration
	// noStaleUnreachable: CacheControlOptions.NoStaleWhenUnreachable.
	noStaleUnreachable bool
	// reusePOST: CacheControlOptions.ReusePOSTResponses.
	reusePOST bool
	// ignore marks the header-blind mode (IgnoreCacheControl): the engine
	// then runs without RFC 9111 rules.
	ignore bool
}

// defaultRefreshTimeout bounds one background refresh when
// CacheControlOptions.RefreshTimeout is zero.
const defaultRefreshTimeout = 30 * time.Second

// defaultCC is the RFC 9111 behaviour of an engine with neither
// CacheControl nor IgnoreCacheControl in its stack: no heuristics, no
// background refreshes.
var defaultCC = &ccStage{keepValidatable: DefaultKeepValidatable, refreshTimeout: defaultRefreshTimeout}

// IgnoreCacheControl is the header-blind mode, aiohttp-client-cache's
// cache_control=False: the origin's Cache-Control, Expires, validators and
// heuristics are not consulted, and responses stay fresh for as long as the
// user's expiry rules say (per request, per URL, per session; stored until
// evicted when none applies). What still holds in this mode:
//
//   - Vary (RFC 9111 §4.1): a response is only served to requests whose
//     fields it varies on match, and Vary: * is not stored;
//   - credentials, cookies and Set-Cookie are handled as in the default
//     mode (see the Key and Store middlewares);
//   - the caller's own request directives, as aiohttp-client-cache reads
//     them: no-store skips reading and writing the cache, no-cache skips
//     reading it, and max-age=N stores the response for N seconds, above
//     every other expiry.
//
// Without it (or with CacheControl) the cache is an RFC 9111 private cache.
// Stack it anywhere with the Store middleware; it replaces a CacheControl
// middleware of the same engine, as any outer middleware replaces an inner
// one of its kind.
func IgnoreCacheControl() Middleware {
	cc := &ccStage{ignore: true}
	return func(next http.RoundTripper) http.RoundTripper {
		return attach(next, func(p *parts) { p.cc = cc })
	}
}

// CacheControl configures the HTTP caching every engine does by default:
// RFC 9111 for a private cache. A stack without it behaves as with
// CacheControl(nil); it is needed for heuristic freshness and for
// stale-while-revalidate refreshes in the background (Workers).
// IgnoreCacheControl turns these rules off.
//
// On the way in it reads the request's directives (§5.2.1: max-age,
// max-stale, min-fresh, no-cache, no-store, only-if-cached; Pragma:
// no-cache without Cache-Control, §5.4) and decides whether a stored
// response may be used: fresh (§4.2), stale but allowed (max-stale,
// stale-while-revalidate), or to be revalidated with a conditional request
// (§4.3). A stored response is never served stale where must-revalidate or
// no-cache forbids it (§4.2.4), not even for stale-if-error; one with a
// qualified no-cache (no-cache="Set-Cookie", §5.2.2.4.2) is served
// without the fields it names unless it was just validated. On the way
// out it reads the response's directives (§5.2.2) and
// computes its freshness lifetime (max-age, Expires, Date, Age, §4.2.1 and
// §4.2.3), offering it to the expiry decision above every user setting;
// stores variants per Vary (§4.1); merges a 304 into the stored response
// it selects (§4.3.4: matching validators; otherwise the request is sent
// again without conditions); freshens or invalidates the stored GET
// response with a HEAD response (§4.3.5); and invalidates stored responses
// after unsafe requests (§4.4).
//
// It answers the caller's own If-None-Match and If-Modified-Since from a
// fresh stored response (§4.3.2): 304 when they do not hold, the stored
// response otherwise; a stale one sends the request on unchanged.
// If-Match and If-Unmodified-Since are left to the origin. A GET with
// Range is answered from a complete stored 200 (§3.4, RFC 9110 §14): 206
// for one range or several (multipart/byteranges), 416 when none is
// satisfiable, the whole 200 when If-Range does not strongly match. A 206
// from the origin is kept as a part of the representation (§3.3) unless
// FilterOptions.Codes leaves 206 out; parts with the same strong ETag are
// combined (§3.4) into a stored 200 once they cover it, and a part alone
// never answers a request. Ranged and conditional requests are never
// coalesced. When the origin cannot be reached at all, a stale stored
// response is served where nothing forbids it (§4.2.4; see
// NoStaleWhenUnreachable).
// Stack it anywhere with the Store middleware.
func CacheControl(opts *CacheControlOptions) (Middleware, error) {
	var o CacheControlOptions
	if opts != nil {
		o = *opts
	}
	if o.KeepValidatable < 0 {
		return nil, fmt.Errorf("middleware.CacheControl: CacheControlOptions.KeepValidatable is %v, want >= 0", o.KeepValidatable)
	}
	if o.RefreshTimeout < 0 {
		return nil, fmt.Errorf("middleware.CacheControl: CacheControlOptions.RefreshTimeout is %v, want >= 0", o.RefreshTimeout)
	}
	if h := o.Heuristic; h != nil && (h.Fraction < 0 || h.Fraction > 1 || h.Max < 0) {
		return nil, errors.New("middleware.CacheControl: CacheControlOptions.Heuristic wants a Fraction within [0, 1] and a Max >= 0")
	}
	if o.KeepValidatable == 0 {
		o.KeepValidatable = DefaultKeepValidatable
	}
	if o.RefreshTimeout == 0 {
		o.RefreshTimeout = defaultRefreshTimeout
	}
	cc := &ccStage{heuristic: o.Heuristic, keepValidatable: o.KeepValidatable, workers: o.Workers, refreshTimeout: o.RefreshTimeout,
		noStaleUnreachable: o.NoStaleWhenUnreachable, reusePOST: o.ReusePOSTResponses}
	return func(next http.RoundTripper) http.RoundTripper {
		return attach(next, func(p *parts) { p.cc = cc })
	}, nil
}

// verdict is what a lookup decides about a stored response.
type verdict uint8

const (
	ignore     verdict = iota // not usable: behave as a miss
	fresh                     // serve it
	stale                     // serve it stale (max-stale)
	staleAsync                // serve it stale and refresh it in the background
	revalidate                // ask the origin, conditionally where possible
)

// judge decides what to do with a stored response for the request at now.
func (x *exchange) judge(e *cached.Response, now time.Time) verdict {
	// A partial response is never served for a request (RFC 9111 §3.4:
	// it is not the response to it); none is stored, but a store written
	// by an older version may hold one.
	if e.StatusCode == http.StatusPartialContent || !x.filter.accepts(e) {
		return ignore
	}
	if x.opts.refresh {
		return revalidate
	}
	if x.cc == nil {
		if e.Expired(now) {
			return revalidate
		}
		return fresh
	}
	rd := &x.rd
	sd := x.directives(e)
	// §5.2.1.4, §5.2.2.4. The qualified form (no-cache="Set-Cookie") does
	// not force validation: hit strips the fields it names. An unqualified
	// no-cache next to it still does, as the most restrictive (§4.2.1).
	if rd.NoCache || sd.NoCache {
		return revalidate
	}
	age := e.Age(now)
	// §5.2.1.1: max-age bounds the age whether or not max-stale also
	// accepts staleness; max-stale only widens what is usable once stale.
	if rd.HasMaxAge && age > rd.MaxAge {
		return revalidate
	}
	if rd.HasMinFresh && !e.Expires.IsZero() && e.Expires.Sub(now) < rd.MinFresh { // §5.2.1.3
		return revalidate
	}
	if !e.Expired(now) {
		return fresh
	}
	// Stale (§4.2.4): never served when a directive forbids it.
	if sd.MustRevalidate || sd.NoCache {
		return revalidate
	}
	staleness := now.Sub(e.Expires)
	if rd.HasMaxStale && staleness <= rd.MaxStale { // §5.2.1.2
		return stale
	}
	if sd.HasStaleWhileRevalidate && staleness <= sd.StaleWhileRevalidate && x.async { // RFC 5861 §3
		return staleAsync
	}
	return revalidate
}

// staleIfError reports whether e may be served, stale, after the origin
// failed or answered with a server error (RFC 5861 §4): the response's or
// the request's stale-if-error directive, or StoreOptions.StaleIfError,
// must cover how long it has been stale, and no directive may forbid
// serving it stale.
func (x *exchange) staleIfError(e *cached.Response, now time.Time) bool {
	if e == nil || x.via != viaLookup {
		return false
	}
	staleness := now.Sub(e.Expires)
	if e.Expires.IsZero() || staleness < 0 {
		staleness = 0
	}
	window := x.store.staleIfError
	if x.cc != nil {
		sd := x.directives(e)
		// RFC 9111 §4.2.4 and §5.2.2.2: a cache MUST NOT generate a stale
		// response that must-revalidate or no-cache forbids, even with a
		// stale-if-error directive beside it: the MUST of RFC 9111 wins
		// over RFC 5861's MAY.
		if sd.MustRevalidate || sd.NoCache {
			return false
		}
		switch {
		case sd.HasStaleIfError:
			window = sd.StaleIfError
		case x.rd.HasStaleIfError:
			window = x.rd.StaleIfError
		}
		if sd.HasStaleIfError || x.rd.HasStaleIfError {
			return staleness <= window
		}
	}
	return window > 0 && staleness <= window
}

// withoutNoCacheFields returns e, or a copy of it without the fields a
// qualified no-cache names: they must not be sent in a response reused
// without successful validation (RFC 9111 §5.2.2.4).
func (x *exchange) withoutNoCacheFields(e *cached.Response) *cached.Response {
	if !x.directives(e).NoCacheFields {
		return e
	}
	names := storedDirectives(e.Header).NoCacheFields // the rare case: Reuse records that there are some, not which
	c := *e
	c.Header = cached.NewHeaderFunc(e.Header.HTTP(), func(k string) bool { return !slices.Contains(names, k) })
	return &c
}

// directives returns what the Cache-Control of the stored response e says
// about reusing it: as recorded when e was stored (storeStage.save), or
// else, for an entry stored without it (decoded from bytes, written by an
// older version), parsed from its header once for the exchange however many
// of its decisions read it.
func (x *exchange) directives(e *cached.Response) cached.Reuse {
	if e.Reuse.Recorded {
		return e.Reuse
	}
	if x.sdOf != e {
		x.sd, x.sdOf = reuseOf(storedDirectives(e.Header)), e
	}
	return x.sd
}

// reuseOf returns the part of a response's directives that decides its
// reuse once stored, as an entry records it.
func reuseOf(d policy.ResponseDirectives) cached.Reuse {
	return cached.Reuse{
		Recorded:                true,
		NoCache:                 d.NoCache,
		NoCacheFields:           len(d.NoCacheFields) > 0,
		MustRevalidate:          d.MustRevalidate,
		StaleWhileRevalidate:    d.StaleWhileRevalidate,
		HasStaleWhileRevalidate: d.HasStaleWhileRevalidate,
		StaleIfError:            d.StaleIfError,
		HasStaleIfError:         d.HasStaleIfError,
	}
}

// storedDirectives parses a stored response's Cache-Control, allocating
// nothing for the usual one or two field lines.
func storedDirectives(h cached.Header) policy.ResponseDirectives {
	var buf [2]string
	lines := buf[:0]
	f := h.Fields()
	for k, n, ok := f.Next(); ok && k <= "Cache-Control"; k, n, ok = f.Next() { // in name order
		if k == "Cache-Control" {
			for range n {
				lines = append(lines, f.Value())
			}
			break
		}
	}
	return policy.ParseResponseCacheControl(lines...)
}

// hasValidator reports whether a response header has a validator to
// revalidate with (RFC 9111 §4.3.1).
func hasValidator(h http.Header) bool {
	return len(h["Etag"]) > 0 || len(h["Last-Modified"]) > 0
}

// conditionalHeaders are the request fields that make a request
// conditional (RFC 9110 §13.1). In the header-blind mode a request that
// carries one of its own is passed through without using the cache (see
// originOnly for the default mode), and such a request is never coalesced
// with others: its answer is for the caller to interpret.
var conditionalHeaders = [...]string{"If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since", "If-Range"}

func isConditional(h http.Header) bool {
	for _, f := range conditionalHeaders {
		if len(h[f]) > 0 {
			return true
		}
	}
	return false
}

// notUpdated are fields a 304 does not replace in the stored response
// (RFC 9111 §3.2): Content-Length, and Content-Encoding, which the stored
// body may already have been decoded from.
var notUpdated = map[string]bool{"Content-Length": true, "Content-Encoding": true, "Cache-Status": true}

// merge returns e updated by a 304 response (RFC 9111 §4.3.4 and §3.2),
// and its header as an http.Header: the 304's fields replace the stored
// ones, and the times are those of the validation.
func merge(e *cached.Response, notModified *http.Response, replaySetCookie bool) (*cached.Response, http.Header) {
	u := e.Clone()
	h := e.Header.HTTP()
	keep := storedFields(notModified.Header, replaySetCookie)
	for k, vs := range notModified.Header {
		if keep(k) && !notUpdated[k] && len(vs) > 0 {
			h[k] = vs
		}
	}
	u.Header = cached.NewHeader(h)
	u.Reuse = cached.Reuse{} // the merged header's own is recorded when u is stored
	return u, h
}

// unsafeMethod reports whether a method is not safe (RFC 9110 §9.2.1): its
// success invalidates stored responses (RFC 9111 §4.4).
func unsafeMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return false
	}
	return true
}

// invalidate deletes the stored responses that a non-error response to an
// unsafe request makes stale (RFC 9111 §4.4): those for the target URI, and
// for the Location and Content-Location URIs when they share its origin.
// Keys are those of GET and HEAD requests carrying the same keyed headers
// (credentials) as req.
func (p *parts) invalidate(req *http.Request, resp *http.Response) {
	if !unsafeMethod(req.Method) || resp.StatusCode < 200 || resp.StatusCode >= 400 {
		return
	}
	targets := []*url.URL{req.URL}
	for _, f := range [...]string{"Location", "Content-Location"} {
		if v := resp.Header.Get(f); v != "" {
			if u, err := req.URL.Parse(v); err == nil && sameOrigin(u, req.URL) {
				targets = append(targets, u)
			}
		}
	}
	k := p.keyer()
	ctx := req.Context()
	for _, u := range targets {
		for _, m := range [...]string{http.MethodGet, http.MethodHead} {
			synth := &http.Request{Method: m, URL: u, Header: req.Header, Host: req.Host}
			if u != req.URL {
				synth.Host = ""
			}
			if id, _, err := k.Key(synth); err == nil {
				p.store.delete(ctx, id.Key)
				if m == http.MethodGet {
					p.store.delete(ctx, PartsKey(id.Key)) // §3.3: the parts of partial responses too
				}
			}
		}
	}
}

// sameOrigin compares scheme, host and port (RFC 6454), default ports
// included.
func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Hostname(), b.Hostname()) && port(a) == port(b)
}

func port(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	switch strings.ToLower(u.Scheme) {
	case "http":
		return "80"
	case "https":
		return "443"
	}
	return ""
}

// refreshAsync revalidates e in the background, at most one refresh per key
// at a time, on the CacheControl workers; when none is free the stale
// response is still served and a later request tries again. The refresh
// keeps the values of the caller's context but not its cancellation, ends
// with RefreshTimeout or when the workers close, and reads the response to
// EOF so that it is stored.
func (x *exchange) refreshAsync(req *http.Request, e *cached.Response) {
	w := x.cc.workers
	bg := x.escape()
	bg.entry, bg.via = e, viaNone // viaNone: nobody is waiting to be served stale
	r := w.tryGo(w.refresh, x.key, func(context.Context) {
		defer func() {
			if p := recover(); p != nil {
				err := &PanicError{Op: "background refresh", Value: p}
				bg.store.add(MetricStorePanics, 1)
				bg.store.fault(req.Context(), rateStorePanic, EventStorePanic, slog.String("op", "background refresh"), slog.String("url", bg.url), slog.Any("error", err))
			}
		}()
		ctx, cancel := w.detach(req.Context())
		defer cancel()
		ctx, stop := context.WithTimeout(ctx, bg.cc.refreshTimeout)
		defer stop()
		resp, err := bg.forward(req.Clone(ctx))
		if err != nil {
			bg.store.log.LogAttrs(ctx, slog.LevelDebug, "cachestack: background refresh failed", slog.String("url", bg.url), slog.Any("error", err))
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	})
	switch r {
	case goStarted:
		x.store.add(MetricRefreshes, 1)
	case goFull:
		x.store.add(MetricRefreshSaturated, 1)
		x.store.fault(req.Context(), rateSaturated, EventSaturated, slog.String("reason", "refresh workers busy; stale response served without a refresh"), slog.String("url", x.url))
	}
}
