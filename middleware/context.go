package middleware

import (
	"context"

	"github.com/cachestack/cachestack/policy"
)

// requestOptions are the per-request settings carried in a request's
// context. Each With… function copies the options it finds, so a context
// handed to several requests is never changed under them.
type requestOptions struct {
	disabled     bool
	refresh      bool
	forceRefresh bool
	expiry       policy.Expiry
}

type requestOptionsKey struct{}

func optionsFrom(ctx context.Context) requestOptions {
	if o, ok := ctx.Value(requestOptionsKey{}).(*requestOptions); ok {
		return *o
	}
	return requestOptions{}
}

func withOptions(ctx context.Context, change func(*requestOptions)) context.Context {
	o := optionsFrom(ctx)
	change(&o)
	return context.WithValue(ctx, requestOptionsKey{}, &o)
}

// Disable returns a context in which requests bypass the cache entirely:
// nothing is read from it or written to it, like aiohttp-client-cache's
// CachedSession.disabled(). Use it for one request or for a whole scope of
// work that shares the context.
func Disable(ctx context.Context) context.Context {
	return withOptions(ctx, func(o *requestOptions) { o.disabled = true })
}

// WithExpiry sets the expiry of responses stored by requests made with ctx:
// aiohttp-client-cache's per-request expire_after. It takes precedence over per-URL and
// per-session expiry, and yields to Cache-Control when that is enabled.
func WithExpiry(ctx context.Context, e policy.Expiry) context.Context {
	return withOptions(ctx, func(o *requestOptions) { o.expiry = e })
}

// Refresh returns a context whose requests revalidate a stored response with
// the origin before using it, even when it is still fresh: aiohttp-client-cache's
// refresh=True, a browser's soft reload. Without validators to send, the
// response is fetched again.
func Refresh(ctx context.Context) context.Context {
	return withOptions(ctx, func(o *requestOptions) { o.refresh = true })
}

// ForceRefresh returns a context whose requests ignore any stored response,
// go to the origin, and store what it returns: a browser's hard reload.
func ForceRefresh(ctx context.Context) context.Context {
	return withOptions(ctx, func(o *requestOptions) { o.forceRefresh = true })
}
