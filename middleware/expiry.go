package middleware

import (
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"

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
	// Session, if set, holds the per-session expiry instead of
	// ExpireAfter (which must then be unset), so that it can change while
	// the middleware runs.
	Session *SessionExpiry
}

// SessionExpiry is a per-session expiry that can change at run time
// (aiohttp-client-cache's session.expire_after = …): responses stored after
// Set use the new value, those stored before keep theirs. It is safe for
// concurrent use. The zero value holds the unset Expiry: no per-session
// expiry, as when ExpiryOptions.ExpireAfter is unset.
type SessionExpiry struct {
	e atomic.Pointer[policy.Expiry]
}

// Set makes e the per-session expiry; an invalid e is an error and changes
// nothing. The unset Expiry removes the per-session expiry.
func (s *SessionExpiry) Set(e policy.Expiry) error {
	if err := e.Validate(); err != nil {
		return err
	}
	s.e.Store(&e)
	return nil
}

// Get returns the per-session expiry, unset when there is none.
func (s *SessionExpiry) Get() policy.Expiry {
	if e := s.e.Load(); e != nil {
		return *e
	}
	return policy.Expiry{}
}

type expiryStage struct {
	session *SessionExpiry
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
	session := o.Session
	switch {
	case session != nil && o.ExpireAfter.IsSet():
		return nil, errors.New("middleware.Expiry: ExpiryOptions.ExpireAfter and ExpiryOptions.Session are both set; set the expiry in Session")
	case session == nil:
		session = new(SessionExpiry)
		if err := session.Set(o.ExpireAfter); err != nil {
			return nil, fmt.Errorf("middleware.Expiry: ExpiryOptions.ExpireAfter: %w", err)
		}
	}
	urls, err := policy.CompilePatterns(o.URLs)
	if err != nil {
		return nil, fmt.Errorf("middleware.Expiry: ExpiryOptions.URLs: %w", err)
	}
	return &expiryStage{session: session, urls: urls}, nil
}

// offer adds the stage's candidates for a response to url. A nil stage
// offers only the per-request expiry.
func (x *expiryStage) offer(d *policy.Decisions, ro *requestOptions, url string) {
	d.Offer(policy.SourceRequest, ro.expiry)
	if x == nil {
		return
	}
	d.Offer(policy.SourceSession, x.session.Get())
	if e, ok := x.urls.Match(url); ok {
		d.Offer(policy.SourceURL, e)
	}
}
