// Package middleware holds the cache's RoundTripper middlewares and the
// per-request settings they read from a request's context.
//
// Each concern is one constructor returning a Middleware, a
// func(http.RoundTripper) http.RoundTripper:
//
//   - Key computes each request's cache key (package keyer).
//   - Filter keeps methods, status codes and responses out of the cache.
//   - Expiry offers per-request, per-URL and per-session expiry.
//   - CacheControl configures RFC 9111, which every stack follows by
//     default; IgnoreCacheControl is the header-blind mode instead.
//   - Redirect records redirects as aliases of the response they lead to.
//   - Coalesce merges concurrent misses for one key.
//   - Store looks responses up, serves hits, and stores what it fetches.
//   - Protect has every entry Store writes protected, and every entry it
//     reads verified first, by a Protector: sign.Middleware (HMAC-SHA256)
//     and seal.Middleware (AES-256-GCM) are the two the toolkit ships.
//
// Chain composes them with the first argument outermost:
//
//	mw := middleware.Chain(middleware.Key(k), filter, expiry, st)
//	client := &http.Client{Transport: mw(http.DefaultTransport)}
//
// # Order
//
// What holds, and is tested (TestStackingOrderDoesNotMatter,
// TestForeignMiddlewareBetween, and TestMisplacedMiddlewareIsReported in
// the cachestack package):
//
//   - Adjacent cache middlewares fuse into one RoundTripper that holds all
//     their concerns, so their order does not change the outcome: the key
//     is always computed before the lookup, and each expiry candidate
//     carries its source (policy.Source), the highest-precedence source
//     winning. An outer middleware replaces an inner one of the same kind.
//   - Cache middlewares above a middleware of your own (a logger, a retry
//     layer) are handed down, in the request's context, to the Store
//     middleware beneath it: Chain(Key(k), logging, Store(s)) acts like
//     Chain(Key(k), Store(s)), as long as your middleware passes the
//     request's context on.
//   - Cache middlewares beneath the Store middleware's foreign neighbour,
//     or with no Store middleware beneath them at all, cannot act: the
//     Store middleware has answered or forwarded the request by then. The
//     first request through them logs an error naming them
//     (slog.Default), once; requests still succeed.
//
// # Per-request settings
//
// Disable, WithExpiry, Refresh and ForceRefresh return a context carrying a
// setting for the requests made with it, for one request or a whole scope.
//
// # What a caller sees
//
// A hit is a new *http.Response for each caller, with its own header map
// carrying Age and an RFC 9211 Cache-Status member ("cachestack; hit;
// ttl=N"), and a body over the stored bytes. A response from the network
// gains "cachestack; fwd=uri-miss". InfoOf reads aiohttp-client-cache's
// response attributes back. A response is stored when its body is read to EOF, if it
// fits in StoreOptions.MaxBodyBytes; larger bodies stream through uncached.
//
// # Signing and encryption
//
// A Protect middleware works over whatever store sits beneath the Store
// middleware, typed or bytes, and covers every entry the cache keeps: the
// responses, their Vary indexes and their redirect aliases. A stored entry
// that fails verification (tampered with, planted unprotected, copied from
// another key) is never used: it is a miss, counted in Counters.Corrupt,
// deleted, and the request goes to the network. It belongs with the other
// cache middlewares, in any position among them, or above the Store
// middleware with only foreign middlewares between:
//
//	signing, err := sign.Middleware(signer)
//	...
//	client := &http.Client{Transport: middleware.Chain(middleware.Key(k), signing, st)(nil)}
//
// Placed beneath the Store middleware's foreign neighbour it cannot reach
// the store, which then holds unprotected entries; the first request
// reports it in an error log, as for any misplaced cache middleware.
//
// Protect middlewares are the one kind of which an outer one does not
// replace an inner one: several all apply, nested in stacking order, the
// outermost protecting first on the way to the store and verifying last on
// the way back, as store wrappers nest. Their order decides the stored
// format (a changed order turns stored entries into misses, never wrong
// answers), not what a caller sees.
//
// sign.Wrap and seal.Wrap are the store-level forms, for a byte store on
// its own; the middleware forms also cover typed stores, and need no codec.
// Use one form, not both. The drop-in cache takes them as
// cachestack.Options.Signer and Options.Sealer.
package middleware
