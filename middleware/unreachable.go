package middleware

import (
	"net/http"
	"time"

	"github.com/cachestack/cachestack/cached"
)

// staleIfUnreachable reports whether e may be served, stale, because the
// origin could not be reached at all: the transport returned an error, not
// a response (RFC 9111 §4.2.4: a disconnected cache may send a stale
// response). It holds in the default mode unless
// CacheControlOptions.NoStaleWhenUnreachable, for a response found under
// the request's own key, when:
//
//   - no directive of the stored response forbids serving it stale
//     (must-revalidate, no-cache: §4.2.4, §5.2.2.2, §5.2.2.4);
//   - the request did not itself ask for validation or a bounded age
//     (no-cache, max-age, min-fresh, or a refresh): the caller asked the
//     origin, not the cache;
//   - the caller has not given up (its context is not done);
//   - no stale-if-error bound applies: the response's or the request's
//     directive, or StoreOptions.StaleIfError, once set, is the limit for
//     every kind of failure (staleIfError decides).
//
// How stale it may be is bounded by how long stale responses are kept
// (CacheControlOptions.KeepValidatable for those with a validator,
// StoreOptions.KeepStale, stale-if-error).
func (x *exchange) staleIfUnreachable(req *http.Request, e *cached.Response, now time.Time) bool {
	if e == nil || x.cc == nil || x.cc.noStaleUnreachable || x.via != viaLookup || x.byRequest {
		return false
	}
	if req.Context().Err() != nil || x.opts.refresh || x.opts.forceRefresh || x.rd.NoCache || x.rd.HasMaxAge || x.rd.HasMinFresh {
		return false
	}
	if x.rd.HasStaleIfError || x.store.staleIfError > 0 {
		return false // a bound the caller chose, which staleIfError applied
	}
	sd := x.directives(e)
	return !sd.MustRevalidate && !sd.NoCache && !sd.HasStaleIfError && e.Expired(now)
}
