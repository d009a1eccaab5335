package cachestack

import (
	"context"
	"net/http"

	"github.com/cachestack/cachestack/middleware"
	"github.com/cachestack/cachestack/policy"
)

// Info is what the cache says about a response; see InfoOf.
type Info = middleware.Info

// InfoOf returns whether resp came from the cache, when it was stored, when
// it expires and whether it was served stale (the seed's from_cache,
// created_at, expires, is_expired).
func InfoOf(resp *http.Response) Info { return middleware.InfoOf(resp) }

// Disable returns a context whose requests bypass the cache (the seed's
// disabled()). See middleware.Disable.
func Disable(ctx context.Context) context.Context { return middleware.Disable(ctx) }

// WithExpiry sets the expiry of responses stored by requests made with ctx
// (the seed's per-request expire_after). See middleware.WithExpiry.
func WithExpiry(ctx context.Context, e policy.Expiry) context.Context {
	return middleware.WithExpiry(ctx, e)
}

// Refresh returns a context whose requests revalidate before using a stored
// response (the seed's refresh=True). See middleware.Refresh.
func Refresh(ctx context.Context) context.Context { return middleware.Refresh(ctx) }

// ForceRefresh returns a context whose requests ignore stored responses and
// store what the origin returns. See middleware.ForceRefresh.
func ForceRefresh(ctx context.Context) context.Context { return middleware.ForceRefresh(ctx) }
