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
// it expires, whether it was served stale (aiohttp-client-cache's from_cache,
// created_at, expires, is_expired), whether it was revalidated, and the key
// it is stored under, which Cache.Get, Contains and Delete take.
func InfoOf(resp *http.Response) Info { return middleware.InfoOf(resp) }

// Disable returns a context whose requests bypass the cache (aiohttp-client-cache's
// disabled()). See middleware.Disable.
func Disable(ctx context.Context) context.Context { return middleware.Disable(ctx) }

// WithExpiry sets the expiry of responses stored by requests made with ctx
// (aiohttp-client-cache's per-request expire_after). See middleware.WithExpiry.
func WithExpiry(ctx context.Context, e policy.Expiry) context.Context {
	return middleware.WithExpiry(ctx, e)
}

// Refresh returns a context whose requests revalidate before using a stored
// response (aiohttp-client-cache's refresh=True). See middleware.Refresh.
func Refresh(ctx context.Context) context.Context { return middleware.Refresh(ctx) }

// ForceRefresh returns a context whose requests ignore stored responses and
// store what the origin returns. See middleware.ForceRefresh.
func ForceRefresh(ctx context.Context) context.Context { return middleware.ForceRefresh(ctx) }
