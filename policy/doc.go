// Package policy holds cachestack's pure caching decisions, the Go
// counterpart of aiohttp-client-cache's cache options: which methods
// (Methods) and status codes (Codes) may be stored, the user's Filter, and
// when a stored response expires. It does no I/O and keeps no state beyond
// the values it returns.
//
// # Expiry values
//
// An Expiry is the seed's expire_after: Never (-1), DoNotStore (0),
// After(d) (a positive number of seconds or a timedelta) or At(t) (a
// datetime). ParseExpiry converts the seed's loosely typed forms, for
// configuration files and flags. The zero Expiry is unset: it has no
// opinion.
//
// # URL patterns
//
// Patterns (the seed's urls_expire_after) give URLs matching a glob their
// own expiry; the first matching pattern in the order given wins. A pattern
// matches a request's base URL, scheme optional: "site.com/resource/" is
// equivalent to "http*://site.com/resource/**". See Glob for the syntax.
//
// # Expiration precedence
//
// Several sources may offer an expiry for one request. Decisions keeps the
// offer from the highest Source, in the seed's order:
//
//  1. Cache-Control request headers (SourceRequestCacheControl)
//  2. Cache-Control response headers and Expires (SourceResponseCacheControl)
//  3. per-request expiration (SourceRequest)
//  4. per-URL expiration (SourceURL)
//  5. heuristic freshness, when enabled (SourceHeuristic, RFC 9111 §4.2.2)
//  6. per-session expiration (SourceSession)
//
// When none offers anything, the response is stored and never expires
// (Never, SourceNone).
//
// # Validators and ranges
//
// ParseETag and ParseETagList read entity-tags (RFC 9110 §8.8.3) with
// their strong and weak comparisons; NoneMatch and NotModifiedSince
// evaluate a caller's If-None-Match and If-Modified-Since against a stored
// response (RFC 9111 §4.3.2). ParseRange, SatisfiableRanges and
// ParseContentRange read byte ranges (RFC 9110 §14) for answering Range
// requests from stored responses and combining partial ones.
package policy
