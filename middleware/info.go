package middleware

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Info is what the cache says about a response: aiohttp-client-cache's response
// attributes from_cache, created_at, expires and is_expired.
type Info struct {
	FromCache bool      // served from the store
	Created   time.Time // when the stored response was stored or last revalidated; zero if not from cache
	Expires   time.Time // when it stops being fresh; zero if it never expires or is not from cache
	Stale     bool      // served although expired (stale-if-error, stale-while-revalidate, max-stale)
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
	if b, ok := resp.Body.(*hitBody); ok {
		return Info{FromCache: true, Created: b.entry.Created, Expires: b.entry.Expires, Stale: b.stale}
	}
	return infoFromHeader(resp.Header, time.Now())
}

// infoFromHeader reads this cache's Cache-Status member ("cachestack; hit;
// ttl=N") and Age.
func infoFromHeader(h http.Header, now time.Time) Info {
	var member string
	for _, v := range h["Cache-Status"] {
		for m := range strings.SplitSeq(v, ",") {
			if m = strings.TrimSpace(m); strings.HasPrefix(m, cacheName+";") {
				member = m // the last of ours is the nearest to the caller
			}
		}
	}
	if member == "" {
		return Info{}
	}
	info := Info{}
	for p := range strings.SplitSeq(member, ";") {
		p = strings.TrimSpace(p)
		switch {
		case p == "hit", p == "fwd-status=304":
			info.FromCache = true
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
