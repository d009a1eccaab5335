package policy

import "strconv"

// Source says who decided an expiry. Higher values take precedence, in the
// order of aiohttp-client-cache's "Expiration Precedence" (read bottom up):
//
//  1. Cache-Control request headers (SourceRequestCacheControl)
//  2. Cache-Control response headers (SourceResponseCacheControl)
//  3. per-request expiration (SourceRequest)
//  4. per-URL expiration (SourceURL)
//  5. heuristic freshness from Last-Modified, when enabled (SourceHeuristic;
//     RFC 9111 §4.2.2, not in aiohttp-client-cache)
//  6. per-session expiration (SourceSession)
type Source uint8

const (
	// SourceNone is the source of the default when nothing was offered.
	SourceNone Source = iota
	// SourceSession is the per-session expiry: the cache's default
	// (aiohttp-client-cache's CacheBackend expire_after).
	SourceSession
	// SourceHeuristic is a heuristic freshness lifetime computed from the
	// response's Last-Modified (RFC 9111 §4.2.2), offered only when
	// Cache-Control handling enables heuristics. It yields to every
	// expiry the user configured for the URL or request, and beats the
	// per-session default.
	SourceHeuristic
	// SourceURL is a per-URL pattern expiry (aiohttp-client-cache's urls_expire_after).
	SourceURL
	// SourceRequest is a per-request override (aiohttp-client-cache's expire_after
	// argument to CachedSession.request).
	SourceRequest
	// SourceResponseCacheControl is the response's Cache-Control max-age,
	// no-store or Expires header.
	SourceResponseCacheControl
	// SourceRequestCacheControl is the request's Cache-Control max-age or
	// no-store directive.
	SourceRequestCacheControl

	numSources = iota
)

var sourceNames = [numSources]string{
	SourceNone:                 "none",
	SourceSession:              "session",
	SourceHeuristic:            "heuristic",
	SourceURL:                  "url",
	SourceRequest:              "request",
	SourceResponseCacheControl: "response-cache-control",
	SourceRequestCacheControl:  "request-cache-control",
}

// String returns the source's name, "session", "heuristic", "url", "request",
// "response-cache-control", "request-cache-control" or "none"; an unknown
// value prints as "Source(9)".
func (s Source) String() string {
	if int(s) < len(sourceNames) {
		return sourceNames[s]
	}
	return "Source(" + strconv.Itoa(int(s)) + ")"
}

// Decisions collects the expiry candidates that several middlewares offer
// for one request and picks the one that applies (aiohttp-client-cache's "Expiration
// Precedence"). The candidate with the highest Source wins whatever the
// order of the Offer calls; between offers from the same Source the last
// one wins, so a later middleware may replace its own earlier opinion.
//
// The zero Decisions is empty and ready to use; assigning Decisions{}
// empties it again. It is a fixed array, so it allocates nothing, and it is
// not safe for concurrent use.
type Decisions struct {
	offers [numSources]Expiry
}

// Offer records e as src's opinion, replacing any earlier offer from src.
// An unset e is ignored (it has no opinion and does not erase an earlier
// offer), and so is a src beyond SourceRequestCacheControl.
func (d *Decisions) Offer(src Source, e Expiry) {
	if !e.IsSet() || int(src) >= len(d.offers) {
		return
	}
	d.offers[src] = e
}

// Decide returns the offered expiry with the highest Source and that
// Source. When nothing was offered it returns (Never(), SourceNone): like
// aiohttp-client-cache, responses are stored indefinitely by default.
func (d *Decisions) Decide() (Expiry, Source) {
	for s := len(d.offers) - 1; s >= 0; s-- {
		if d.offers[s].IsSet() {
			return d.offers[s], Source(s)
		}
	}
	return Never(), SourceNone
}
