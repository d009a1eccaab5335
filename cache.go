package cachestack

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"net/http"
	"time"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/codec"
	"github.com/cachestack/cachestack/keyer"
	"github.com/cachestack/cachestack/middleware"
	"github.com/cachestack/cachestack/policy"
	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/memstore"
)

// DefaultMaxBytes is the budget of the in-memory store that New creates when
// Options.Store is nil.
const DefaultMaxBytes = 64 << 20

// Options configure a Cache. The zero value (or nil) is a working cache: an
// in-memory store of DefaultMaxBytes, GET and HEAD responses with status 200
// kept until evicted, over http.DefaultTransport.
type Options struct {
	// Store holds the responses. Nil means a memstore bounded to
	// DefaultMaxBytes, which Close closes. A store given here belongs to
	// the caller, who closes it.
	Store store.Store[string, *cached.Response]
	// Transport sends the requests the cache does not answer. Nil means
	// http.DefaultTransport.
	Transport http.RoundTripper

	// ExpireAfter is the per-session expiry (seed: expire_after). Unset
	// means policy.Never().
	ExpireAfter policy.Expiry
	// URLExpiry are per-URL expiries by glob pattern, first match wins
	// (seed: urls_expire_after).
	URLExpiry []policy.URLExpiry

	// AllowedMethods are the methods whose responses are cached; nil
	// means GET and HEAD (seed: allowed_methods).
	AllowedMethods []string
	// AllowedCodes are the status codes that are cached; nil means 200
	// (seed: allowed_codes).
	AllowedCodes []int
	// Filter, if set, decides per response whether it is stored and
	// whether a stored one is served (seed: filter_fn).
	Filter policy.Filter

	// IgnoredParams are left out of the cache key wherever they appear:
	// query, JSON or form body, headers (seed: ignored_parameters). Their
	// values are never stored.
	IgnoredParams []string
	// IncludeHeaders are request headers that become part of the key.
	IncludeHeaders []string
	// AllHeaders keys on every request header but IgnoredParams (seed:
	// include_headers=True).
	AllHeaders bool
	// MaxBodyBytes is the largest response body stored; larger responses
	// stream through uncached. Zero means middleware.DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// KeepStale is how long an expired response stays stored (for
	// DeleteExpired to find, and for revalidation); zero lets the store drop
	// responses as they expire. See middleware.StoreOptions.KeepStale.
	KeepStale time.Duration
	// StaleIfError serves a response stale for up to this long after it
	// expired when the origin fails or answers 5xx (RFC 5861 as a user
	// setting). See middleware.StoreOptions.StaleIfError.
	StaleIfError time.Duration

	// CacheControl turns on HTTP caching as RFC 9111 describes it for a
	// private cache (the seed's cache_control=True, done fully): request
	// and response directives, freshness from max-age, Expires, Date and
	// Age, validation with ETag and Last-Modified, Vary, invalidation,
	// stale-while-revalidate and stale-if-error. Off, the seed's simpler
	// expiry rules hold. See middleware.CacheControl.
	CacheControl bool
	// Heuristic enables heuristic freshness from Last-Modified (RFC 9111
	// §4.2.2) when CacheControl is on; nil leaves it off.
	Heuristic *policy.Heuristic
	// Coalesce merges concurrent misses for the same key into one request
	// to the origin (see middleware.Coalesce).
	Coalesce bool
	// ShareCredentials lets coalesced requests that carry credentials,
	// and responses that set cookies, be shared between callers.
	ShareCredentials bool

	// Clock returns the current time; nil means time.Now.
	Clock func() time.Time
	// Logger receives the failures the cache steps aside from; nil means
	// slog.Default().
	Logger *slog.Logger
}

// Cache is an HTTP client cache: an http.RoundTripper that answers from its
// store what it can and sends the rest on, with the seed's cache operations
// (clear, delete, has, list, delete expired, reset expiry).
type Cache struct {
	rt        http.RoundTripper
	mw        middleware.Middleware
	store     store.Store[string, *cached.Response]
	ownsStore bool
	keyer     *keyer.Keyer
	filter    policy.Filter
	clock     func() time.Time
	keepStale time.Duration
	workers   *middleware.Workers
	counters  middleware.Counters
}

// New assembles the default stack from opts. Every invalid option is an
// error that names it.
func New(opts *Options) (*Cache, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	c := &Cache{store: o.Store, filter: o.Filter, clock: o.Clock, keepStale: o.KeepStale}
	if c.store == nil {
		s, err := memstore.New[string, *cached.Response](&memstore.Options[*cached.Response]{MaxBytes: DefaultMaxBytes, Clock: o.Clock})
		if err != nil {
			return nil, fmt.Errorf("cachestack: default store: %w", err)
		}
		c.store, c.ownsStore = s, true
	}
	var err error
	c.keyer, err = keyer.New(&keyer.Options{IgnoredParams: o.IgnoredParams, Headers: o.IncludeHeaders, AllHeaders: o.AllHeaders})
	if err != nil {
		return nil, fmt.Errorf("cachestack: %w", err)
	}
	filter, err := middleware.Filter(&middleware.FilterOptions{Methods: o.AllowedMethods, Codes: o.AllowedCodes, Func: o.Filter})
	if err != nil {
		return nil, fmt.Errorf("cachestack: %w", err)
	}
	expiry, err := middleware.Expiry(&middleware.ExpiryOptions{ExpireAfter: o.ExpireAfter, URLs: o.URLExpiry})
	if err != nil {
		return nil, fmt.Errorf("cachestack: %w", err)
	}
	st, err := middleware.Store(c.store, &middleware.StoreOptions{
		MaxBodyBytes: o.MaxBodyBytes, KeepStale: o.KeepStale, StaleIfError: o.StaleIfError,
		Clock: o.Clock, Logger: o.Logger, Counters: &c.counters,
	})
	if err != nil {
		return nil, fmt.Errorf("cachestack: %w", err)
	}
	mws := []middleware.Middleware{middleware.Key(c.keyer), filter, expiry, middleware.Redirect()}
	if o.CacheControl || o.Coalesce {
		if c.workers, err = middleware.NewWorkers(0); err != nil {
			return nil, fmt.Errorf("cachestack: %w", err)
		}
	}
	if o.CacheControl {
		cc, err := middleware.CacheControl(&middleware.CacheControlOptions{Heuristic: o.Heuristic, Workers: c.workers})
		if err != nil {
			return nil, fmt.Errorf("cachestack: %w", err)
		}
		mws = append(mws, cc)
	} else if o.Heuristic != nil {
		return nil, errors.New("cachestack: Options.Heuristic needs Options.CacheControl")
	}
	if o.Coalesce {
		co, err := middleware.Coalesce(&middleware.CoalesceOptions{Workers: c.workers, ShareCredentials: o.ShareCredentials})
		if err != nil {
			return nil, fmt.Errorf("cachestack: %w", err)
		}
		mws = append(mws, co)
	} else if o.ShareCredentials {
		return nil, errors.New("cachestack: Options.ShareCredentials needs Options.Coalesce")
	}
	c.mw = middleware.Chain(append(mws, st)...)
	c.rt = c.mw(o.Transport)
	return c, nil
}

// RoundTrip implements http.RoundTripper.
func (c *Cache) RoundTrip(req *http.Request) (*http.Response, error) { return c.rt.RoundTrip(req) }

// Client returns an http.Client whose Transport is the cache.
func (c *Cache) Client() *http.Client { return &http.Client{Transport: c} }

// Middleware returns the cache's stack as a middleware, to place in another
// RoundTripper chain over a transport of the caller's choosing. The stack
// shares this Cache's store, options and counters.
func (c *Cache) Middleware() middleware.Middleware { return c.mw }

// Counters returns the counters of what the cache did.
func (c *Cache) Counters() *middleware.Counters { return &c.counters }

// Close stops the cache's background work (stale-while-revalidate
// refreshes, coalesced requests) and waits for it, then closes the store if
// New created it. Requests made after Close still work, without background
// refreshes; with a closed default store they go to the network.
func (c *Cache) Close() error {
	if c.workers != nil {
		c.workers.Close()
	}
	if c.ownsStore {
		return c.store.Close()
	}
	return nil
}

// Clear deletes every stored response.
func (c *Cache) Clear(ctx context.Context) error {
	if cl, ok := c.store.(store.Clearer); ok {
		if err := cl.Clear(ctx); !errors.Is(err, errors.ErrUnsupported) {
			return err
		}
	}
	for key, err := range c.keys(ctx) {
		if err != nil {
			return err
		}
		if err := c.store.Delete(ctx, key); err != nil {
			return err
		}
	}
	return nil
}

// DeleteURL deletes the response stored for a request with method (""
// means GET) to url and no body or keyed headers.
func (c *Cache) DeleteURL(ctx context.Context, method, url string) error {
	key, err := c.keyOf(method, url)
	if err != nil {
		return err
	}
	return c.store.Delete(ctx, key)
}

// HasURL reports whether a response is stored for a request with method
// ("" means GET) to url and no body or keyed headers. An expired response
// that is still stored counts.
func (c *Cache) HasURL(ctx context.Context, method, url string) (bool, error) {
	key, err := c.keyOf(method, url)
	if err != nil {
		return false, err
	}
	_, err = c.store.Get(ctx, key)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	}
	return false, err
}

func (c *Cache) keyOf(method, url string) (string, error) {
	if method == "" {
		method = http.MethodGet
	}
	r, err := c.keyer.KeyOf(method, url)
	if err != nil {
		return "", fmt.Errorf("cachestack: %w", err)
	}
	return r.Key, nil
}

// URLs yields the URL of every stored response (query parameters that are
// ignored for keying are not part of it). It needs a store that lists its
// keys (store.Lister); others yield an error matching errors.ErrUnsupported.
func (c *Cache) URLs(ctx context.Context) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		for e, err := range c.Entries(ctx) {
			if err != nil {
				yield("", err)
				return
			}
			if !yield(e.URL, nil) {
				return
			}
		}
	}
}

// Entries yields every stored response, expired ones included; see URLs for
// what the store must support. Entries are shared with the store: read only.
func (c *Cache) Entries(ctx context.Context) iter.Seq2[*cached.Response, error] {
	return func(yield func(*cached.Response, error) bool) {
		for ke, err := range c.entries(ctx) {
			if err == nil && ke.entry.Kind != cached.KindResponse {
				continue
			}
			if !yield(ke.entry, err) || err != nil {
				return
			}
		}
	}
}

// Redirect is a recorded redirect: a request for From was redirected (by a
// response with Status and Location) and ends at the stored response for To.
type Redirect struct {
	From     string
	Status   int
	Location string
	To       string // empty when the response it led to is no longer stored
}

// Redirects yields the redirect aliases the cache has recorded (the seed's
// cache.redirects); see middleware.Redirect.
func (c *Cache) Redirects(ctx context.Context) iter.Seq2[Redirect, error] {
	return func(yield func(Redirect, error) bool) {
		for ke, err := range c.entries(ctx) {
			if err != nil {
				yield(Redirect{}, err)
				return
			}
			e := ke.entry
			if e.Kind != cached.KindRedirect {
				continue
			}
			r := Redirect{From: e.URL, Status: e.StatusCode, Location: e.Header.Get("Location")}
			if t, err := c.store.Get(ctx, e.Ref); err == nil && t.Kind == cached.KindResponse {
				r.To = t.URL
			}
			if !yield(r, nil) {
				return
			}
		}
	}
}

// DeleteExpired deletes every stored response that has expired or that
// Options.Filter rejects, and returns how many it deleted (seed:
// delete_expired_responses).
func (c *Cache) DeleteExpired(ctx context.Context) (int, error) {
	n := 0
	now := c.clock()
	for ke, err := range c.entries(ctx) {
		if err != nil {
			return n, err
		}
		e := ke.entry
		if e.Expired(now) || (e.Kind == cached.KindResponse && c.filter != nil && !c.filter(e)) {
			if err := c.store.Delete(ctx, ke.key); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}

// ResetExpiry applies a new expiry to every stored response, counted from
// when each was stored, and deletes those it leaves expired (seed:
// remove_expired_responses(expire_after=…)). It returns how many responses
// it deleted.
func (c *Cache) ResetExpiry(ctx context.Context, e policy.Expiry) (int, error) {
	if err := e.Validate(); err != nil {
		return 0, fmt.Errorf("cachestack: ResetExpiry: %w", err)
	}
	n := 0
	now := c.clock()
	for ke, err := range c.entries(ctx) {
		if err != nil {
			return n, err
		}
		if ke.entry.Kind != cached.KindResponse {
			continue
		}
		expires, keep := e.ExpiresAt(ke.entry.Created)
		if keep && (expires.IsZero() || now.Before(expires)) {
			upd := ke.entry.Clone()
			upd.Expires = expires
			if err := c.store.Set(ctx, ke.key, upd, middleware.StorageTTL(now, expires, c.keepStale)); err != nil {
				return n, err
			}
			continue
		}
		if err := c.store.Delete(ctx, ke.key); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

type keyedEntry struct {
	key   string
	entry *cached.Response
}

func (c *Cache) keys(ctx context.Context) iter.Seq2[string, error] {
	l, ok := c.store.(store.Lister[string])
	if !ok {
		return func(yield func(string, error) bool) {
			yield("", fmt.Errorf("cachestack: the store does not list its keys: %w", errors.ErrUnsupported))
		}
	}
	return l.Keys(ctx)
}

// entries yields key, entry pairs, streaming: keys are listed and read one
// at a time. Keys that vanish while listing, and entries that no longer
// decode, are skipped.
func (c *Cache) entries(ctx context.Context) iter.Seq2[keyedEntry, error] {
	return func(yield func(keyedEntry, error) bool) {
		for key, err := range c.keys(ctx) {
			if err != nil {
				yield(keyedEntry{}, err)
				return
			}
			e, err := c.store.Get(ctx, key)
			if errors.Is(err, store.ErrNotFound) || errors.Is(err, codec.ErrFormat) {
				continue
			}
			if !yield(keyedEntry{key, e}, err) || err != nil {
				return
			}
		}
	}
}
