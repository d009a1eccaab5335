package cachestack

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"time"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/codec"
	"github.com/cachestack/cachestack/middleware"
	"github.com/cachestack/cachestack/policy"
	"github.com/cachestack/cachestack/store"
)

// ErrVaries is returned by Cache.Get for a key under which the cache keeps
// the index of responses that vary on request header fields (RFC 9111
// §4.1) rather than a response: each variant is stored under a key of its
// own, which InfoOf gives and Keys lists. Cache.Response finds the variant
// that answers a given request.
var ErrVaries = errors.New("cachestack: the responses stored for this key vary on request header fields")

// Key returns the cache key of req: the key under which its response is
// stored (aiohttp-client-cache's create_key). It is a pure function of the
// request and the keying options (IgnoredParams, IncludeHeaders,
// AllHeaders, KeyFunc); it reads no store. A response that varies on
// request header fields (Vary) is stored under a key derived from this one
// and the request's values of those fields: see Response and InfoOf.
//
// Key leaves req as it is. When req has a body, Key digests a copy from
// req.GetBody (which http.NewRequest sets for in-memory bodies); a request
// with a body and no GetBody is an error, as is a body larger than the
// keyer reads (1 MiB): the cache sends such a request uncached.
func (c *Cache) Key(req *http.Request) (string, error) {
	if req == nil {
		return "", errors.New("cachestack: Key: nil request")
	}
	r := req
	if req.Body != nil && req.Body != http.NoBody {
		if req.GetBody == nil {
			return "", errors.New("cachestack: Key: the request has a body and no GetBody to read a copy of it")
		}
		body, err := req.GetBody()
		if err != nil {
			return "", fmt.Errorf("cachestack: Key: GetBody: %w", err)
		}
		defer body.Close()
		r = new(http.Request)
		*r = *req
		r.Body = body
	}
	id, _, err := c.keyer.Key(r)
	if err != nil {
		return "", fmt.Errorf("cachestack: Key: %w", err)
	}
	return id.Key, nil
}

// Contains reports whether anything is stored under key (aiohttp-client-cache's
// contains(key)): a response, expired or not, a recorded redirect, or the
// index of responses that vary. A variant that its index holds inline only
// (see Keys) is found as Get finds it.
func (c *Cache) Contains(ctx context.Context, key string) (bool, error) {
	_, err := c.get(ctx, key)
	if isNotFound(err) {
		_, err = c.inlineOnly(ctx, key)
	}
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, store.ErrNotFound), errors.Is(err, codec.ErrFormat):
		return false, nil
	}
	return false, err
}

// Get returns the response stored under key (aiohttp-client-cache's
// get_response), expired or not; Expired on it says which. A recorded
// redirect under key is followed to the response it leads to. When
// nothing is stored under key, or the entry no longer decodes or fails
// verification, the error matches store.ErrNotFound; for the index of
// responses that vary, it is ErrVaries. The response is shared with the
// store: read only.
//
// A variant of a response that varies is written once, inline in its
// URL's Vary index, and under its own key only once another variant takes
// its place there (see cached.Response.Variant). Get finds a variant its
// index holds inline only by reading the store's entries, as Keys does,
// when nothing is stored under key: on a store that lists its keys
// (store.Lister), a key with nothing stored costs a listing.
func (c *Cache) Get(ctx context.Context, key string) (*cached.Response, error) {
	e, err := c.stored(ctx, key)
	if isNotFound(err) {
		if v, verr := c.inlineOnly(ctx, key); verr == nil {
			return v, nil
		}
	}
	if err != nil {
		return nil, err
	}
	if e.Kind == cached.KindRedirect {
		if e, err = c.stored(ctx, e.Ref); err != nil {
			return nil, err
		}
	}
	switch e.Kind {
	case cached.KindResponse:
		return e, nil
	case cached.KindVariants:
		return nil, ErrVaries
	}
	return nil, fmt.Errorf("cachestack: no response under key %q: %w", key, store.ErrNotFound)
}

// Response returns the stored response that a request like req would be
// answered with, expired or not, following a recorded redirect and, for a
// response that varies, picking the variant that matches req's header
// fields: the get_response and contains(request=…) of aiohttp-client-cache for a
// request. Like Key it leaves req as it is. When none is stored the error
// matches store.ErrNotFound. Whether the cache would serve the response as
// it is, or revalidate it first, depends on its freshness and on req's own
// directives. The response is shared with the store: read only.
func (c *Cache) Response(ctx context.Context, req *http.Request) (*cached.Response, error) {
	key, err := c.Key(req)
	if err != nil {
		return nil, err
	}
	e, err := c.stored(ctx, key)
	if err != nil {
		return nil, err
	}
	if e.Kind == cached.KindRedirect {
		key = e.Ref
		if e, err = c.stored(ctx, key); err != nil {
			return nil, err
		}
	}
	if e.Kind == cached.KindVariants {
		if v := e.Inline(); v != nil && policy.VaryDigestsMatch(e.Vary, v.VaryHeader, req.Header) {
			e = v // the copy the index holds, as the cache serves it
		} else if e, err = c.stored(ctx, middleware.VariantKey(key, e, req.Header)); err != nil {
			return nil, err
		}
	}
	if e.Kind != cached.KindResponse {
		return nil, fmt.Errorf("cachestack: no response for the request: %w", store.ErrNotFound)
	}
	return e, nil
}

// isNotFound reports whether err says that nothing is stored under a key
// (not that what is stored does not decode).
func isNotFound(err error) bool {
	return errors.Is(err, store.ErrNotFound) && !errors.Is(err, codec.ErrFormat)
}

// inlineOnly returns the variant whose variant key is key that a Vary
// index holds inline (cached.Response.Variant), for a key under which
// nothing is stored: the cache writes a variant once, in its index, until
// another variant of the URL takes its place there. It reads the store's
// entries, as Keys does; the error matches store.ErrNotFound when no index
// holds it or the store does not list its keys.
func (c *Cache) inlineOnly(ctx context.Context, key string) (*cached.Response, error) {
	if _, ok := c.store.(store.Lister[string]); !ok {
		return nil, store.ErrNotFound
	}
	for ke, err := range c.entries(ctx) {
		if err != nil {
			return nil, err
		}
		if v := ke.entry.Inline(); v != nil && v.Ref == key {
			return v, nil
		}
	}
	return nil, fmt.Errorf("cachestack: no response under key %q: %w", key, store.ErrNotFound)
}

// stored is get, with an entry that no longer decodes or fails
// verification reported as a miss.
func (c *Cache) stored(ctx context.Context, key string) (*cached.Response, error) {
	e, err := c.get(ctx, key)
	if errors.Is(err, codec.ErrFormat) {
		return nil, fmt.Errorf("%w: %w", store.ErrNotFound, err)
	}
	return e, err
}

// Keys yields the key of every stored response, expired ones included
// (aiohttp-client-cache's responses.keys()): the keys Get answers with a response
// of its own. Redirects and Vary indexes are not responses and are left
// out; a variant that its index holds inline (see cached.Response.Variant)
// is listed under its variant key once, whether or not it is also stored
// under that key. Like URLs it needs a store that lists its keys (store.Lister), and
// reads every entry.
func (c *Cache) Keys(ctx context.Context) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		for ke, err := range c.responses(ctx) {
			if err != nil {
				yield("", err)
				return
			}
			if !yield(ke.key, nil) {
				return
			}
		}
	}
}

// Len returns how many responses are stored, expired ones included: as
// many as Keys yields (aiohttp-client-cache's size()). It lists and reads every
// entry of the store.
func (c *Cache) Len(ctx context.Context) (int, error) {
	n := 0
	for _, err := range c.Keys(ctx) {
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// Delete deletes what is stored under each key, with the parts of
// partial responses kept for it and the redirects recorded to it
// (aiohttp-client-cache's delete and bulk_delete). Keys with nothing stored are
// skipped. Deleting the index of responses that vary makes all its
// variants unreachable (the one it holds inline goes with it); the others
// leave the store as they expire. Deleting a variant (a key Keys lists, or
// InfoOf gives) also removes it from its index, which may hold it inline
// (see cached.Response.Variant), where it may be stored alone. Finding the redirects and those
// copies lists the store once, when it can list (store.Lister).
func (c *Cache) Delete(ctx context.Context, keys ...string) error {
	found := make(map[string]bool, len(keys))
	asked := make(map[string]bool, len(keys))
	for _, key := range keys {
		asked[key] = true
		_, err := c.get(ctx, key)
		if err == nil || errors.Is(err, codec.ErrFormat) {
			found[key] = true
		}
		if err := c.store.Delete(ctx, key); err != nil {
			return err
		}
		if err := c.store.Delete(ctx, middleware.PartsKey(key)); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	if _, ok := c.store.(store.Lister[string]); !ok || len(keys) == 0 {
		return nil
	}
	now := c.clock()
	for ke, err := range c.entries(ctx) {
		if err != nil {
			return err
		}
		e := ke.entry
		switch {
		case e.Kind == cached.KindRedirect && found[e.Ref]:
			if err := c.store.Delete(ctx, ke.key); err != nil {
				return err
			}
		case e.Kind == cached.KindVariants && e.Variant != nil && asked[e.Variant.Ref]:
			if err := c.dropVariant(ctx, ke.key, e, now); err != nil {
				return err
			}
		}
	}
	return nil
}

// dropVariant writes the Vary index idx, stored under key, again without
// the variant it holds inline.
func (c *Cache) dropVariant(ctx context.Context, key string, idx *cached.Response, now time.Time) error {
	bare := *idx
	bare.Variant = nil
	return c.replace(ctx, key, &bare, now)
}

// replace writes e under key, where an entry was read, with the ttl its
// expiry gives; one that expired meanwhile is deleted instead.
func (c *Cache) replace(ctx context.Context, key string, e *cached.Response, now time.Time) error {
	ttl := middleware.StorageTTL(now, e.Expires, c.keepStale)
	if ttl < 0 {
		err := c.store.Delete(ctx, key)
		if errors.Is(err, store.ErrNotFound) {
			err = nil
		}
		return err
	}
	return c.set(ctx, key, e, ttl)
}

// SetExpiry changes the per-session expiry while the cache runs
// (aiohttp-client-cache's session.expire_after = …): responses stored from now on
// get e where no higher-ranked rule applies (see Options.ExpireAfter);
// those already stored keep their expiry (ResetExpiry changes theirs). It
// is safe to call concurrently with requests. An invalid e is an error and
// changes nothing.
func (c *Cache) SetExpiry(e policy.Expiry) error {
	if err := c.session.Set(e); err != nil {
		return fmt.Errorf("cachestack: SetExpiry: %w", err)
	}
	return nil
}

// Expiry returns the per-session expiry: Options.ExpireAfter, or what
// SetExpiry set last.
func (c *Cache) Expiry() policy.Expiry { return c.session.Get() }
