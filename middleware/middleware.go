package middleware

import (
	"net/http"
	"sync/atomic"
)

// Middleware wraps a RoundTripper with one concern of the cache. A nil next
// means http.DefaultTransport, which is used as is and never modified.
type Middleware func(next http.RoundTripper) http.RoundTripper

// Chain composes middlewares into one. The first argument is the outermost:
// Chain(a, b, c)(rt) is a(b(c(rt))). A nil entry is skipped.
func Chain(mws ...Middleware) Middleware {
	return func(next http.RoundTripper) http.RoundTripper {
		for i := len(mws) - 1; i >= 0; i-- {
			if mws[i] != nil {
				next = mws[i](next)
			}
		}
		return orDefault(next)
	}
}

func orDefault(rt http.RoundTripper) http.RoundTripper {
	if rt == nil {
		return http.DefaultTransport
	}
	return rt
}

// stage is what one cache middleware contributes to an engine: it fills its
// slot in the engine's parts.
type stage func(p *parts)

// attach is how every cache middleware wraps next. When next is already a
// cache engine (the middleware directly beneath is one of ours), the two
// fuse: the result is a copy of that engine with this stage's slot filled
// (an outer stage replaces an inner stage of the same kind). Otherwise it
// starts a new engine over next. Fusing makes the outcome independent of the
// order in which the cache middlewares are stacked and keeps the hit path to
// one pass.
func attach(next http.RoundTripper, s stage) http.RoundTripper {
	if e, ok := next.(*engine); ok {
		c := *e
		s(&c.parts)
		return &c
	}
	e := &engine{next: orDefault(next), misplaced: new(atomic.Bool)}
	s(&e.parts)
	return e
}
