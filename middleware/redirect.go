package middleware

import (
	"net/http"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/keyer"
	"github.com/cachestack/cachestack/policy"
)

type redirectStage struct{}

// Redirect is the redirect-aliasing middleware. http.Client follows
// redirects above the transport, so each hop reaches the cache as its own
// request, and Go sets Request.Response on the follow-up request to the
// redirect that caused it. On the way out, when the final response of a
// chain is stored or served, Redirect records each hop's URL as an alias of
// that response; a later request for any URL in the chain is then answered
// from the cache at once, without the round trips of the redirects (the
// response carries "detail=redirect" in its Cache-Status, and its Request
// is the caller's, for the original URL). The seed calls these aliases
// redirects; Cache.Redirects lists them.
//
// An alias lives no longer than the response it leads to, and is only used
// while that response is fresh. Only GET and HEAD hops are recorded. With
// CacheControl, a hop is recorded only if its redirect could itself be
// stored: not no-store, and either permanent (301, 308: heuristically
// cacheable, RFC 9110 §15.1) or with explicit freshness, which then bounds
// the alias. Stack it anywhere with the Store middleware.
func Redirect() Middleware {
	r := &redirectStage{}
	return func(next http.RoundTripper) http.RoundTripper {
		return attach(next, func(p *parts) { p.redirect = r })
	}
}

func isRedirect(code int) bool {
	switch code {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// recordRedirects stores an alias to final for every redirect hop that led
// to req. An alias refers to the primary key of req's URL, not to the key
// final is stored under (a Vary variant's), so that a lookup through it
// selects the variant for its own request and ends when the URL's entry
// is invalidated.
func (x *exchange) recordRedirects(req *http.Request, final *cached.Response) {
	st := x.store
	k := x.keyer()
	now := st.clock()
	ctx := uncancelled(req.Context())
	expires := final.Expires
	for r := req.Response; r != nil && r.Request != nil; r = r.Request.Response {
		prev := r.Request
		if !isRedirect(r.StatusCode) || (prev.Method != http.MethodGet && prev.Method != http.MethodHead) ||
			(prev.Body != nil && prev.Body != http.NoBody) {
			return
		}
		if x.cc != nil {
			sd := policy.ParseResponseDirectives(r.Header)
			if sd.NoStore {
				return
			}
			lifetime, explicit := policy.Lifetime(r.StatusCode, r.Header, sd, now, nil)
			switch {
			case explicit:
				if exp := now.Add(lifetime); expires.IsZero() || exp.Before(expires) {
					expires = exp
				}
			case r.StatusCode != http.StatusMovedPermanently && r.StatusCode != http.StatusPermanentRedirect:
				return
			}
		}
		if !expires.IsZero() && !expires.After(now) {
			return
		}
		id, _, err := k.Key(prev)
		if err != nil || id.Key == x.primary {
			return
		}
		alias := &cached.Response{
			Kind:       cached.KindRedirect,
			Method:     prev.Method,
			URL:        id.URL,
			StatusCode: r.StatusCode,
			Header:     cached.NewHeader(http.Header{"Location": redactedLocation(k, prev, r.Header.Get("Location"))}),
			Ref:        x.primary,
			Created:    now,
			Expires:    expires,
		}
		st.save(ctx, id.Key, alias, now, 0, x.protect)
	}
}

// redactedLocation returns the Location of a redirect from prev as an alias
// stores it: resolved against prev's URL and normalised the way the keyer
// normalises URLs, so that ignored parameters (a token the origin echoed
// into its redirect) never reach the store. A Location that does not
// resolve is not kept.
func redactedLocation(k *keyer.Keyer, prev *http.Request, location string) []string {
	if location == "" {
		return nil
	}
	u, err := prev.URL.Parse(location)
	if err != nil {
		return nil
	}
	id, err := k.KeyOf(http.MethodGet, u.String())
	if err != nil {
		return nil
	}
	return []string{id.URL}
}
