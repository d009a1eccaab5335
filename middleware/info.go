package middleware

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Info is what the cache says about a response: aiohttp-client-cache's response
// attributes from_cache, created_at, expires and is_expired, and
// requests-cache's revalidated and cache_key.
type Info struct {
	FromCache bool      // served from the store
	Created   time.Time // when the stored response was stored or last revalidated; zero if not from cache
	Expires   time.Time // when it stops being fresh; zero if it never expires or is not from cache
	Stale     bool      // served although expired (stale-if-error, stale-while-revalidate, max-stale)
	// Revalidated: the stored response was served after the origin
	// confirmed it with a 304 Not Modified (RFC 9111 §4.3.4).
	Revalidated bool
	// Key is the cache key the response is stored under: for a response
	// from the store, where it was found (the request's key, or the key
	// of its variant when the response varies, RFC 9111 §4.1); for a
	// response from the network that the cache stores, where it is stored
	// once its body has been read to the end. Empty otherwise, and when a
	// layer above the cache has replaced the body.
	Key string
}

// InfoOf returns what the cache knows about resp. Responses the cache built
// carry exact times. When a layer above the cache has replaced the body
// (http.Client does when Client.Timeout is set), InfoOf falls back to the
// Age and Cache-Status headers, which are precise to the second: a body
// from the store is one whose member says "hit", "fwd-status=304" (a
// revalidated response) or "detail=stale-if-error".
func InfoOf(resp *http.Response) Info {
	if resp == nil {
		return Info{}
	}
	switch b := resp.Body.(type) {
	case *hitBody:
		return Info{FromCache: true, Created: b.entry.Created, Expires: b.entry.Expires, Stale: b.stale,
			Revalidated: revalidated(resp.Header), Key: b.key}
	case *teeBody:
		if b.key != nil {
			return Info{Key: *b.key}
		}
		return Info{}
	}
	return infoFromHeader(resp.Header, time.Now())
}

// withKey records in r, a response built from the store, the key its entry
// is stored under.
func withKey(r *http.Response, key string) *http.Response {
	if b, ok := r.Body.(*hitBody); ok {
		b.key = key
	}
	return r
}

// revalidated reports whether this cache's Cache-Status member in h says
// the response was revalidated with a 304.
func revalidated(h http.Header) bool {
	m := member(h)
	for p := range strings.SplitSeq(m, ";") {
		if strings.TrimSpace(p) == "fwd-status=304" {
			return true
		}
	}
	return false
}

// member returns the last of this cache's Cache-Status members in h, the
// nearest to the caller, or "".
func member(h http.Header) string {
	var member string
	for _, v := range h["Cache-Status"] {
		for m := range strings.SplitSeq(v, ",") {
			if m = strings.TrimSpace(m); strings.HasPrefix(m, cacheName+";") {
				member = m
			}
		}
	}
	return member
}

// infoFromHeader reads this cache's Cache-Status member ("cachestack; hit;
// ttl=N") and Age.
func infoFromHeader(h http.Header, now time.Time) Info {
	member := member(h)
	if member == "" {
		return Info{}
	}
	info := Info{}
	for p := range strings.SplitSeq(member, ";") {
		p = strings.TrimSpace(p)
		switch {
		case p == "hit":
			info.FromCache = true
		case p == "fwd-status=304":
			info.FromCache, info.Revalidated = true, true
		case p == "detail=stale-if-error":
			info.FromCache, info.Stale = true, true
		case strings.HasPrefix(p, "ttl="):
			if n, err := strconv.ParseInt(p[len("ttl="):], 10, 64); err == nil {
				info.Expires = now.Add(time.Duration(n) * time.Second)
				info.Stale = info.Stale || n < 0
			}
		}
	}
	if !info.FromCache {
		return Info{}
	}
	if n, err := strconv.ParseInt(h.Get("Age"), 10, 64); err == nil {
		info.Created = now.Add(-time.Duration(n) * time.Second)
	}
	return info
}
