package cachestack

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/codec"
	"github.com/cachestack/cachestack/keyer"
	"github.com/cachestack/cachestack/middleware"
	"github.com/cachestack/cachestack/policy"
	"github.com/cachestack/cachestack/seal"
	"github.com/cachestack/cachestack/sign"
	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/memstore"
)

// DefaultMaxBytes is the budget of the in-memory store that New creates when
// Options.Store is nil.
const DefaultMaxBytes = 64 << 20

// Options configure a Cache. The zero value (or nil) is a working cache: an
// RFC 9111 private cache of GET and HEAD responses in an in-memory store of
// DefaultMaxBytes, over http.DefaultTransport.
type Options struct {
	// Store holds the responses. Nil means a memstore bounded to
	// DefaultMaxBytes, which Close closes. A store given here belongs to
	// the caller, who closes it. Each persistent store has a constructor
	// that returns one ready for this field, such as
	// diskstore.OpenResponses(dir, nil) or sqlitestore.OpenResponses(path,
	// nil).
	Store store.Store[string, *cached.Response]
	// Transport sends the requests the cache does not answer. Nil means
	// http.DefaultTransport.
	Transport http.RoundTripper

	// ExpireAfter is the per-session expiry (aiohttp-client-cache's expire_after). Unset
	// means policy.Never().
	ExpireAfter policy.Expiry
	// URLExpiry are per-URL expiries by glob pattern, first match wins
	// (aiohttp-client-cache's urls_expire_after).
	URLExpiry []policy.URLExpiry

	// AllowedMethods are the methods whose responses are cached; nil
	// means GET and HEAD (aiohttp-client-cache's allowed_methods).
	AllowedMethods []string
	// AllowedCodes are the status codes that may be cached
	// (aiohttp-client-cache's allowed_codes). Nil means every status RFC
	// 9111 lets a cache store (policy.StorableCodes), or 200 alone with
	// IgnoreCacheControl. A 206 is never stored as a response, so that it
	// can never answer a request for the whole representation; in the
	// default mode 206 responses are kept as parts and combined into a
	// stored 200 once they cover it, unless AllowedCodes leaves 206 out.
	AllowedCodes []int
	// Filter, if set, decides per response whether it is stored and
	// whether a stored one is served (aiohttp-client-cache's filter_fn).
	Filter policy.Filter

	// IgnoredParams are left out of the cache key wherever they appear:
	// query, JSON or form body, headers (aiohttp-client-cache's ignored_parameters). Their
	// values are never stored.
	IgnoredParams []string
	// IncludeHeaders are request headers that become part of the key.
	IncludeHeaders []string
	// AllHeaders keys on every request header but IgnoredParams (aiohttp-client-cache's
	// include_headers=True).
	AllHeaders bool
	// KeyFunc, if set, says what identifies a request beyond its method
	// and URL, in place of its body, for APIs that need a key of their
	// own (requests-cache's key_fn): the key is made of the method, the
	// normalised URL, the keyed header fields and what KeyFunc returns.
	// Authorization and Cookie stay keyed whatever it returns, unless
	// IgnoredParams names them, so that responses never cross callers;
	// requests for different URLs never share a key either. KeyFunc gets
	// a copy of the request whose body it may read; an error from it
	// sends the request on uncached. See keyer.Options.Func.
	KeyFunc func(req *http.Request) (string, error)
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

	// IgnoreCacheControl is the header-blind mode, aiohttp-client-cache's
	// cache_control=False: the origin's Cache-Control, Expires and
	// validators are not consulted, and the user's expiry rules alone say
	// how long a response stays fresh (stored until evicted when none
	// applies). Vary, and the rules for credentials and cookies, still
	// hold; so do the caller's own no-store, no-cache and max-age request
	// directives, read as aiohttp-client-cache reads them. Off, the
	// default, the cache follows RFC 9111 for a private cache: request
	// and response directives, freshness from max-age, Expires, Date and
	// Age, validation with ETag and Last-Modified, Vary, invalidation,
	// stale-while-revalidate and stale-if-error. See
	// middleware.IgnoreCacheControl and middleware.CacheControl.
	IgnoreCacheControl bool
	// Heuristic enables heuristic freshness from Last-Modified (RFC 9111
	// §4.2.2); nil leaves it off. It has no meaning with
	// IgnoreCacheControl.
	Heuristic *policy.Heuristic
	// NoStaleWhenUnreachable turns off serving a stale stored response
	// when the origin cannot be reached at all (a transport error; RFC
	// 9111 §4.2.4 lets a disconnected cache serve it). By default such a
	// response is served, marked "detail=unreachable" in Cache-Status,
	// unless must-revalidate or no-cache forbids it, the request asked for
	// validation, or a stale-if-error bound (StaleIfError, or the
	// directive) applies; it is as old at most as stale responses are
	// kept. See middleware.CacheControlOptions.NoStaleWhenUnreachable. It
	// has no meaning with IgnoreCacheControl.
	NoStaleWhenUnreachable bool
	// ReusePOSTResponses answers a GET from a stored response to a POST
	// of the same URL that had explicit freshness and a Content-Location
	// equal to that URL (RFC 9110 §9.3.3). Off by default; it has no
	// meaning with IgnoreCacheControl. See
	// middleware.CacheControlOptions.ReusePOSTResponses.
	ReusePOSTResponses bool
	// Coalesce merges concurrent misses for the same key into one request
	// to the origin (see middleware.Coalesce).
	Coalesce bool
	// CoalesceAcrossProcesses, when set, extends Coalesce to every
	// process sharing Store: concurrent misses for one key send one
	// request to the origin, and the other processes wait, at most
	// MaxWait and never past their request's context, for its response
	// to be stored (see middleware.LeaseOptions). Store must be able to
	// take leases (store.Leaser): a codec.Bind over redisstore can. Nil,
	// the default, leaves it off; a zero LeaseOptions means the defaults.
	CoalesceAcrossProcesses *middleware.LeaseOptions
	// ShareCredentials says the client acts for a single user: responses'
	// Set-Cookie fields are stored and replayed on hits, and coalesced
	// requests that carry credentials or cookies share one origin request.
	// Off, the default, a hit never sets a cookie, and only requests
	// without credentials are coalesced. Authorization and Cookie are part
	// of the cache key either way, unless IgnoredParams names them.
	ShareCredentials bool

	// Signer, if set, signs every entry the cache writes with HMAC-SHA256,
	// bound to its store key, and verifies every entry it reads, for
	// requests and for the operations that list and update entries: an
	// entry tampered with, planted or moved in the store is a miss,
	// counted in Counters.Corrupt, never served (sign.Middleware). It
	// works over any store, typed or bytes.
	Signer *sign.Signer
	// Sealer, if set, encrypts every entry the cache writes with
	// AES-256-GCM, bound to its store key, and opens every entry it reads:
	// whoever reads the store learns entries' lengths and keys, nothing
	// else, and an entry that fails to open is a counted miss
	// (seal.Middleware). With Signer as well, entries are sealed, then
	// signed (encrypt-then-MAC).
	Sealer *seal.Sealer

	// Clock returns the current time; nil means time.Now. It is the clock
	// of the store New creates, and New gives it to a Store that tells
	// the time and was built without a clock of its own (store.Clocked),
	// so that the store expires entries by it as the cache does.
	Clock func() time.Time
	// Logger receives the cache's events (see middleware.EventHit for
	// the schema): the request path's at Debug, so that a logger at Info
	// is silent while the cache works; store faults at Warn, at most one
	// record per event per second; breaker changes every time. Nil means
	// slog.Default().
	Logger *slog.Logger
	// Metrics receives every count and store latency, for an exporter:
	// see the modules metrics/otelmetrics (OpenTelemetry) and
	// metrics/prommetrics (Prometheus). Nil means none.
	Metrics middleware.Metrics

	// GetTimeout, SetTimeout and DeleteTimeout bound each call to a
	// store that may block (any but the in-memory ones): a lookup that
	// has not answered in GetTimeout is a miss and the request goes to
	// the network at once; writes and deletes are made in the background
	// within theirs. Zero means middleware.DefaultGetTimeout (50ms),
	// DefaultSetTimeout and DefaultDeleteTimeout (250ms).
	GetTimeout    time.Duration
	SetTimeout    time.Duration
	DeleteTimeout time.Duration
	// Breaker configures the circuit breaker that skips a store that
	// keeps failing or timing out; nil means the defaults (open after 5
	// failures in a row, probe after 1s, back-off doubling to 30s).
	Breaker *middleware.BreakerOptions
	// MaxCoalesce and MaxRefresh bound the coalesced fetches and the
	// stale-while-revalidate refreshes running at once, each on its
	// own; past them requests are forwarded alone, or served stale
	// without a refresh, and counted. Zero means
	// middleware.DefaultMaxWorkers.
	MaxCoalesce int
	MaxRefresh  int
	// WriteQueue and WriteQueueBytes bound the background write queue of
	// a store that may block, in entries and in body bytes; a write that
	// does not fit is dropped and counted. Zero means
	// middleware.DefaultWriteQueue and DefaultWriteQueueBytes.
	WriteQueue      int
	WriteQueueBytes int64
	// WriteBatch is the most queued writes made in one call to a store
	// that writes in batches (store.Batcher: redisstore, sqlitestore,
	// pgstore, mongostore, dynamostore); 1 writes one at a time. Zero means
	// middleware.DefaultWriteBatch.
	WriteBatch int
}

// Cache is an HTTP client cache: an http.RoundTripper that answers from its
// store what it can and sends the rest on, with aiohttp-client-cache's cache operations
// (create_key, contains, get_response, keys, size, clear, delete, has,
// list, delete expired, reset expiry, and the session's expire_after).
type Cache struct {
	rt        http.RoundTripper
	mw        middleware.Middleware
	store     store.Store[string, *cached.Response]
	ownsStore bool
	keyer     *keyer.Keyer
	filter    policy.Filter
	clock     func() time.Time
	keepStale time.Duration
	session   middleware.SessionExpiry
	workers   *middleware.Workers
	counters  middleware.Counters
	monitor   middleware.Monitor
	// protect are the Protectors of Options.Sealer and Options.Signer,
	// outermost first, as the stack applies them.
	protect []middleware.Protector
}

// New assembles the default stack from opts. Every invalid option is an
// error that names it.
func New(opts *Options) (*Cache, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if err := validate(&o); err != nil {
		return nil, err
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	c := &Cache{store: o.Store, filter: o.Filter, clock: o.Clock, keepStale: o.KeepStale}
	if o.Sealer != nil {
		p, err := seal.Protector(o.Sealer)
		if err != nil {
			return nil, fmt.Errorf("cachestack: Options.Sealer: %w", err)
		}
		c.protect = append(c.protect, p)
	}
	if o.Signer != nil {
		p, err := sign.Protector(o.Signer)
		if err != nil {
			return nil, fmt.Errorf("cachestack: Options.Signer: %w", err)
		}
		c.protect = append(c.protect, p)
	}
	if c.store == nil {
		s, err := memstore.New[string, *cached.Response](&memstore.Options[*cached.Response]{MaxBytes: DefaultMaxBytes, Clock: o.Clock})
		if err != nil {
			return nil, fmt.Errorf("cachestack: default store: %w", err)
		}
		c.store, c.ownsStore = s, true
	}
	var err error
	c.keyer, err = keyer.New(&keyer.Options{IgnoredParams: o.IgnoredParams, Headers: o.IncludeHeaders, AllHeaders: o.AllHeaders, Func: o.KeyFunc})
	if err != nil {
		return nil, fmt.Errorf("cachestack: %w", err)
	}
	filter, err := middleware.Filter(&middleware.FilterOptions{Methods: o.AllowedMethods, Codes: o.AllowedCodes, Func: o.Filter})
	if err != nil {
		return nil, fmt.Errorf("cachestack: %w", err)
	}
	if err := c.session.Set(o.ExpireAfter); err != nil {
		return nil, fmt.Errorf("cachestack: Options.ExpireAfter: %w", err)
	}
	expiry, err := middleware.Expiry(&middleware.ExpiryOptions{Session: &c.session, URLs: o.URLExpiry})
	if err != nil {
		return nil, fmt.Errorf("cachestack: %w", err)
	}
	if c.workers, err = middleware.NewWorkersWith(&middleware.WorkersOptions{Coalesce: o.MaxCoalesce, Refresh: o.MaxRefresh}); err != nil {
		return nil, fmt.Errorf("cachestack: %w", err)
	}
	st, err := middleware.Store(c.store, &middleware.StoreOptions{
		MaxBodyBytes: o.MaxBodyBytes, KeepStale: o.KeepStale, StaleIfError: o.StaleIfError,
		Clock: o.Clock, Logger: o.Logger, Counters: &c.counters, ReplaySetCookie: o.ShareCredentials,
		Metrics: o.Metrics, Monitor: &c.monitor, Workers: c.workers,
		GetTimeout: o.GetTimeout, SetTimeout: o.SetTimeout, DeleteTimeout: o.DeleteTimeout, Breaker: o.Breaker,
		WriteQueue: o.WriteQueue, WriteQueueBytes: o.WriteQueueBytes, WriteBatch: o.WriteBatch,
		Lease: o.CoalesceAcrossProcesses,
	})
	if err != nil {
		c.workers.Close()
		return nil, fmt.Errorf("cachestack: %w", err)
	}
	mws := []middleware.Middleware{middleware.Key(c.keyer), filter, expiry, middleware.Redirect()}
	if o.IgnoreCacheControl {
		mws = append(mws, middleware.IgnoreCacheControl())
	} else {
		cc, err := middleware.CacheControl(&middleware.CacheControlOptions{Heuristic: o.Heuristic, Workers: c.workers,
			NoStaleWhenUnreachable: o.NoStaleWhenUnreachable, ReusePOSTResponses: o.ReusePOSTResponses})
		if err != nil {
			return nil, fmt.Errorf("cachestack: %w", err)
		}
		mws = append(mws, cc)
	}
	if o.Coalesce {
		co, err := middleware.Coalesce(&middleware.CoalesceOptions{Workers: c.workers, ShareCredentials: o.ShareCredentials})
		if err != nil {
			return nil, fmt.Errorf("cachestack: %w", err)
		}
		mws = append(mws, co)
	}
	for _, p := range c.protect {
		pm, err := middleware.Protect(p)
		if err != nil {
			return nil, fmt.Errorf("cachestack: %w", err)
		}
		mws = append(mws, pm)
	}
	c.mw = middleware.Chain(append(mws, st)...)
	c.rt = c.mw(o.Transport)
	if opts != nil && opts.Clock != nil && !c.ownsStore {
		store.UseClock(c.store, opts.Clock)
	}
	return c, nil
}

// validate checks the options that New hands to the middlewares, so that
// an error names the option as the caller wrote it (Options.AllowedCodes,
// not the middleware's field), and refuses combinations that could only be
// mistakes.
func validate(o *Options) error {
	bad := func(option string, err error) error { return fmt.Errorf("cachestack: Options.%s: %w", option, err) }
	if err := o.ExpireAfter.Validate(); err != nil {
		return bad("ExpireAfter", err)
	}
	if _, err := policy.CompilePatterns(o.URLExpiry); err != nil {
		return bad("URLExpiry", err)
	}
	if o.AllowedMethods != nil {
		if len(o.AllowedMethods) == 0 {
			return bad("AllowedMethods", errors.New("empty: no response could be stored (nil means GET and HEAD)"))
		}
		if _, err := policy.NewMethods(o.AllowedMethods...); err != nil {
			return bad("AllowedMethods", err)
		}
	}
	if o.AllowedCodes != nil {
		if len(o.AllowedCodes) == 0 {
			return bad("AllowedCodes", errors.New("empty: no response could be stored (nil means the default)"))
		}
		if _, err := policy.NewCodes(o.AllowedCodes...); err != nil {
			return bad("AllowedCodes", err)
		}
	}
	if _, err := keyer.New(&keyer.Options{IgnoredParams: o.IgnoredParams, Headers: o.IncludeHeaders}); err != nil {
		var oe *keyer.OptionError
		if errors.As(err, &oe) {
			renamed := *oe // the keyer's field, under the name Options gives it
			if oe.Field == "Headers" {
				renamed.Field = "IncludeHeaders"
			}
			return errors.New("cachestack: " + strings.TrimPrefix(renamed.Error(), "keyer: "))
		}
		return fmt.Errorf("cachestack: %w", err)
	}
	for _, d := range []struct {
		name string
		v    any
		bad  bool
	}{
		{"MaxBodyBytes", o.MaxBodyBytes, o.MaxBodyBytes < 0},
		{"KeepStale", o.KeepStale, o.KeepStale < 0},
		{"StaleIfError", o.StaleIfError, o.StaleIfError < 0},
		{"GetTimeout", o.GetTimeout, o.GetTimeout < 0},
		{"SetTimeout", o.SetTimeout, o.SetTimeout < 0},
		{"DeleteTimeout", o.DeleteTimeout, o.DeleteTimeout < 0},
		{"MaxCoalesce", o.MaxCoalesce, o.MaxCoalesce < 0},
		{"MaxRefresh", o.MaxRefresh, o.MaxRefresh < 0},
		{"WriteQueue", o.WriteQueue, o.WriteQueue < 0},
		{"WriteQueueBytes", o.WriteQueueBytes, o.WriteQueueBytes < 0},
		{"WriteBatch", o.WriteBatch, o.WriteBatch < 0},
	} {
		if d.bad {
			return fmt.Errorf("cachestack: Options.%s is %v, want >= 0", d.name, d.v)
		}
	}
	if h := o.Heuristic; h != nil && (h.Fraction < 0 || h.Fraction > 1 || h.Max < 0) {
		return fmt.Errorf("cachestack: Options.Heuristic is %+v, want a Fraction within [0, 1] and a Max >= 0", *h)
	}
	if b := o.Breaker; b != nil && b.Failures >= 0 && (b.OpenFor < 0 || b.MaxOpenFor < 0 || (b.MaxOpenFor > 0 && b.MaxOpenFor < b.OpenFor)) {
		return fmt.Errorf("cachestack: Options.Breaker is %+v, want OpenFor >= 0 and MaxOpenFor >= OpenFor", *b)
	}
	if l := o.CoalesceAcrossProcesses; l != nil {
		if l.MaxWait < 0 || l.TTL < 0 || (l.TTL > 0 && l.TTL < time.Millisecond) {
			return fmt.Errorf("cachestack: Options.CoalesceAcrossProcesses is %+v, want TTL 0 or >= 1ms and MaxWait >= 0", *l)
		}
		if o.Store == nil {
			return bad("CoalesceAcrossProcesses", errors.New("the default in-memory store is not shared between processes; set Options.Store to one that is and can take leases, such as redisstore"))
		}
		if _, ok := store.LeaserOf[string](o.Store); !ok {
			return bad("CoalesceAcrossProcesses", fmt.Errorf("the store, a %T, cannot take leases (it is no store.Leaser); use one that can, such as redisstore", o.Store))
		}
	}
	if o.IgnoreCacheControl && o.Heuristic != nil {
		return errors.New("cachestack: Options.Heuristic has no effect with Options.IgnoreCacheControl")
	}
	if o.IgnoreCacheControl && o.NoStaleWhenUnreachable {
		return errors.New("cachestack: Options.NoStaleWhenUnreachable has no effect with Options.IgnoreCacheControl")
	}
	if o.IgnoreCacheControl && o.ReusePOSTResponses {
		return errors.New("cachestack: Options.ReusePOSTResponses has no effect with Options.IgnoreCacheControl")
	}
	return nil
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

// Stats returns a snapshot of what the cache has done and how its store is
// doing: every count, the store calls' latency percentiles, the breaker's
// state and the write-back queue.
func (c *Cache) Stats() middleware.Stats { return c.monitor.Stats() }

// Flush waits until the writes the cache has queued for its store so far
// have been made (or dropped), or ctx ends. Writes to a store that may
// block are made in the background; Flush is for a caller that needs them
// in the store, such as a test reading the store directly. Close flushes
// too, within SetTimeout.
func (c *Cache) Flush(ctx context.Context) error { return c.monitor.Flush(ctx) }

// Close stops the cache's background work (stale-while-revalidate
// refreshes, coalesced requests, queued writes, which get SetTimeout to
// finish) and waits for it, then closes the store if New created it. Store
// calls stuck past their deadline in a store that ignores its context are
// waited for at most a second: Close always returns. Requests made after
// Close still work, without background work (writes to a store that may
// block are then dropped and counted); with a closed default store they go
// to the network.
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
// means GET) to url and no body or keyed headers (aiohttp-client-cache's
// delete_url), and the redirect aliases that lead to it, as Delete does
// for its key.
func (c *Cache) DeleteURL(ctx context.Context, method, url string) error {
	key, err := c.keyOf(method, url)
	if err != nil {
		return err
	}
	return c.Delete(ctx, key)
}

// HasURL reports whether a response is stored for a request with method
// ("" means GET) to url and no body or keyed headers
// (aiohttp-client-cache's has_url). An expired response that is still
// stored counts.
func (c *Cache) HasURL(ctx context.Context, method, url string) (bool, error) {
	key, err := c.keyOf(method, url)
	if err != nil {
		return false, err
	}
	_, err = c.get(ctx, key)
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
		for ke, err := range c.responses(ctx) {
			if !yield(ke.entry, err) || err != nil {
				return
			}
		}
	}
}

// Redirect is a recorded redirect: a request for From was redirected (by a
// response with Status and Location) and ends at the stored response for To.
// URLs are normalised, without ignored parameters.
type Redirect struct {
	From     string
	Status   int
	Location string
	To       string
}

// Redirects yields the redirect aliases the cache has recorded
// (aiohttp-client-cache's cache.redirects) whose response is still stored;
// see middleware.Redirect.
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
			t, err := c.get(ctx, e.Ref)
			if err != nil || t.Kind == cached.KindRedirect {
				continue // leads nowhere: DeleteExpired removes it
			}
			r.To = t.URL
			if !yield(r, nil) {
				return
			}
		}
	}
}

// DeleteExpired deletes every stored response that has expired or that
// Options.Filter rejects, and redirect aliases whose response is gone, and
// returns how many entries it deleted (aiohttp-client-cache's
// delete_expired_responses).
func (c *Cache) DeleteExpired(ctx context.Context) (int, error) {
	n := 0
	now := c.clock()
	gone := map[string]bool{} // variant keys counted
	count := func(key string, e *cached.Response) {
		if e.Kind == cached.KindResponse && e.Ref == key {
			if gone[key] {
				return // its other copy was counted
			}
			gone[key] = true
		}
		n++
	}
	for ke, err := range c.entries(ctx) {
		if err != nil {
			return n, err
		}
		e := ke.entry
		if e.Expired(now) || (e.Kind == cached.KindResponse && c.filter != nil && !c.filter(e)) || c.dangling(ctx, e) {
			if err := c.store.Delete(ctx, ke.key); err != nil {
				return n, err
			}
			count(ke.key, e)
			continue
		}
		// The variant an index holds inline is a response, deleted as
		// one: the index is written again without it.
		if v := e.Variant; e.Kind == cached.KindVariants && v != nil && (v.Expired(now) || (c.filter != nil && !c.filter(v))) {
			if err := c.dropVariant(ctx, ke.key, e, now); err != nil {
				return n, err
			}
			count(v.Ref, v)
		}
	}
	return n, nil
}

// ResetExpiry applies a new expiry to every stored response, counted from
// when each was stored, and deletes those it leaves expired (aiohttp-client-cache's
// remove_expired_responses(expire_after=…)). It returns how many responses
// it deleted.
func (c *Cache) ResetExpiry(ctx context.Context, e policy.Expiry) (int, error) {
	if err := e.Validate(); err != nil {
		return 0, fmt.Errorf("cachestack: ResetExpiry: %w", err)
	}
	n := 0
	now := c.clock()
	gone := map[string]bool{} // variant keys counted
	for ke, err := range c.entries(ctx) {
		if err != nil {
			return n, err
		}
		if ke.entry.Kind == cached.KindVariants && ke.entry.Variant != nil {
			// The copy of a variant its index holds gets what the
			// variant gets under its own key.
			idx := *ke.entry
			v := *idx.Variant
			idx.Variant = nil
			if expires, keep := e.ExpiresAt(v.Created); keep && (expires.IsZero() || now.Before(expires)) {
				v.Expires = expires
				idx.Variant = &v
				if !idx.Expires.IsZero() && (expires.IsZero() || expires.After(idx.Expires)) {
					idx.Expires = expires // an index lives as long as its variants
				}
			}
			if err := c.replace(ctx, ke.key, &idx, now); err != nil {
				return n, err
			}
			if idx.Variant == nil && !gone[v.Ref] {
				gone[v.Ref] = true
				n++
			}
			continue
		}
		if ke.entry.Kind != cached.KindResponse {
			continue
		}
		expires, keep := e.ExpiresAt(ke.entry.Created)
		if keep && (expires.IsZero() || now.Before(expires)) {
			upd := ke.entry.Clone()
			upd.Expires = expires
			if err := c.set(ctx, ke.key, upd, middleware.StorageTTL(now, expires, c.keepStale)); err != nil {
				return n, err
			}
			continue
		}
		if err := c.store.Delete(ctx, ke.key); err != nil {
			return n, err
		}
		if ke.entry.Ref == ke.key {
			if gone[ke.key] {
				continue // its inline copy was counted
			}
			gone[ke.key] = true
		}
		n++
	}
	return n, nil
}

// dangling reports whether e is a redirect alias whose response is no
// longer stored.
func (c *Cache) dangling(ctx context.Context, e *cached.Response) bool {
	if e.Kind != cached.KindRedirect {
		return false
	}
	_, err := c.get(ctx, e.Ref)
	return errors.Is(err, store.ErrNotFound) || errors.Is(err, codec.ErrFormat)
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

// responses yields the stored responses with their keys, as entries
// does: a variant that a Vary index holds inline (cached.Response.Variant)
// under its variant key (its Ref), and each variant once, whether it is
// stored inline, under its own key, or both (the copy read first).
func (c *Cache) responses(ctx context.Context) iter.Seq2[keyedEntry, error] {
	return func(yield func(keyedEntry, error) bool) {
		seen := map[string]bool{} // variant keys yielded
		for ke, err := range c.entries(ctx) {
			if err != nil {
				yield(ke, err)
				return
			}
			e := ke.entry
			switch {
			case e.Inline() != nil:
				ke = keyedEntry{e.Variant.Ref, e.Variant}
			case e.Kind != cached.KindResponse:
				continue
			}
			if ke.entry.Ref == ke.key {
				if seen[ke.key] {
					continue
				}
				seen[ke.key] = true
			}
			if !yield(ke, nil) {
				return
			}
		}
	}
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
			e, err := c.get(ctx, key)
			if errors.Is(err, store.ErrNotFound) || errors.Is(err, codec.ErrFormat) {
				continue
			}
			if !yield(keyedEntry{key, e}, err) || err != nil {
				return
			}
		}
	}
}

// get returns the entry stored under key as the cache's stack reads it:
// verified by its Protectors. An entry that fails verification, and a
// protected entry this cache cannot open, is an error matching
// codec.ErrFormat, like an entry that does not decode.
func (c *Cache) get(ctx context.Context, key string) (*cached.Response, error) {
	e, err := c.store.Get(ctx, key)
	if err != nil || e == nil || (len(c.protect) == 0 && e.Kind != cached.KindSealed) {
		return e, err
	}
	for i := len(c.protect) - 1; i >= 0; i-- {
		if e, err = c.protect[i].Verify(key, e); err != nil {
			if !errors.Is(err, codec.ErrFormat) {
				err = fmt.Errorf("%w: %w", codec.ErrFormat, err)
			}
			return nil, store.Wrap("cachestack", "get", key, err)
		}
	}
	if e.Kind == cached.KindSealed {
		return nil, store.Wrap("cachestack", "get", key,
			fmt.Errorf("%w: the entry is protected, and neither Options.Signer nor Options.Sealer opens it", codec.ErrFormat))
	}
	return e, nil
}

// set stores e under key as the cache's stack writes it: protected by its
// Protectors.
func (c *Cache) set(ctx context.Context, key string, e *cached.Response, ttl time.Duration) error {
	for _, p := range c.protect {
		var err error
		if e, err = p.Protect(key, e); err != nil {
			return store.Wrap("cachestack", "set", key, err)
		}
	}
	return c.store.Set(ctx, key, e, ttl)
}
