package middleware

import (
	"fmt"
	"net/http"

	"github.com/cachestack/cachestack/policy"
)

// ExpiryOptions set how long stored responses stay fresh when Cache-Control
// does not decide (or is not enabled).
type ExpiryOptions struct {
	// ExpireAfter is the per-session expiry; unset means policy.Never(),
	// aiohttp-client-cache's default of storing indefinitely.
	ExpireAfter policy.Expiry
	// URLs are per-URL expiries by glob pattern, first match wins (aiohttp-client-cache's
	// urls_expire_after).
	URLs []policy.URLExpiry
}

type expiryStage struct {
	session policy.Expiry
	urls    *policy.Patterns
}

// Expiry is the expiry middleware. It has no work on the way in; on the way
// out it offers its candidates to the response's expiry decision: the
// per-request expiry from WithExpiry, the first matching URL pattern, and
// the per-session ExpireAfter, each tagged with its source so that aiohttp-client-cache's
// precedence holds however the middlewares are stacked.
func Expiry(opts *ExpiryOptions) (Middleware, error) {
	x, err := newExpiryStage(opts)
	if err != nil {
		return nil, err
	}
	return func(next http.RoundTripper) http.RoundTripper {
		return attach(next, func(p *parts) { p.expiry = x })
	}, nil
}

func newExpiryStage(opts *ExpiryOptions) (*expiryStage, error) {
	var o ExpiryOptions
	if opts != nil {
		o = *opts
	}
	if err := o.ExpireAfter.Validate(); err != nil {
		return nil, fmt.Errorf("middleware.Expiry: ExpiryOptions.ExpireAfter: %w", err)
	}
	urls, err := policy.CompilePatterns(o.URLs)
	if err != nil {
		return nil, fmt.Errorf("middleware.Expiry: ExpiryOptions.URLs: %w", err)
	}
	return &expiryStage{session: o.ExpireAfter, urls: urls}, nil
}

// offer adds the stage's candidates for a response to url. A nil stage
// offers only the per-request expiry.
func (x *expiryStage) offer(d *policy.Decisions, ro *requestOptions, url string) {
	d.Offer(policy.SourceRequest, ro.expiry)
	if x == nil {
		return
	}
	d.Offer(policy.SourceSession, x.session)
	if e, ok := x.urls.Match(url); ok {
		d.Offer(policy.SourceURL, e)
	}
}
