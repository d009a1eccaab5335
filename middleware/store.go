package middleware

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/codec"
	"github.com/cachestack/cachestack/keyer"
	"github.com/cachestack/cachestack/store"
)

// DefaultMaxBodyBytes is the largest response body the Store middleware keeps
// when StoreOptions.MaxBodyBytes is zero.
const DefaultMaxBodyBytes = 8 << 20

// StoreOptions configure the Store middleware. The zero value is usable.
type StoreOptions struct {
	// MaxBodyBytes is the largest body that is stored. A larger response
	// streams through to the caller uncached and is never held whole in
	// memory. Zero means DefaultMaxBodyBytes; negative is an error.
	MaxBodyBytes int64
	// KeepStale is how long a response stays in the store after it
	// expires, so that it can still be revalidated or served stale where
	// that is allowed; Cache.DeleteExpired removes such responses sooner.
	// Zero lets the store drop a response when it expires; negative is an
	// error.
	KeepStale time.Duration
	// StaleIfError serves a stored response that has been stale for at
	// most this long when the origin cannot be reached or answers with a
	// server error (5xx), marked stale (RFC 5861 §4, as a user setting).
	// Responses are kept stored at least this long past their expiry.
	// With CacheControl, a must-revalidate or no-cache response is never
	// served stale this way, and a stale-if-error directive in the
	// response or request takes its place. Zero disables it.
	StaleIfError time.Duration
	// Clock returns the current time; nil means time.Now.
	Clock func() time.Time
	// Logger receives store failures, undecodable entries and entries that
	// fail verification (see Protect), which never fail a request. Nil
	// means slog.Default().
	Logger *slog.Logger
	// Counters, when set, is updated with what the cache did.
	Counters *Counters
	// ReplaySetCookie stores responses' Set-Cookie fields and replays them
	// on hits. Off, the default, a response is stored without its
	// Set-Cookie: the caller whose request fetched it gets the cookie,
	// and hits never set it in another caller's cookie jar. Turn it on
	// only for a client that acts for a single user.
	ReplaySetCookie bool
}

// Counters count what a Store middleware did. All fields are safe to read
// while requests run.
type Counters struct {
	Hits        atomic.Int64 // responses served from the store
	Misses      atomic.Int64 // lookups that found nothing usable
	Stored      atomic.Int64 // responses written to the store
	Bypassed    atomic.Int64 // requests that skipped the cache (disabled, method not cached, key error)
	StoreErrors atomic.Int64 // store calls that failed (the request went on without the cache)
	Corrupt     atomic.Int64 // stored entries that could not be decoded or failed Protector.Verify (treated as misses and deleted)
	Revalidated atomic.Int64 // stale responses refreshed by a 304 Not Modified
	Refreshes   atomic.Int64 // background refreshes started (stale-while-revalidate)
	Coalesced   atomic.Int64 // requests answered by another request's response
	TooLarge    atomic.Int64 // responses the store refused as larger than it can hold (store.ErrTooLarge)
	Mismatched  atomic.Int64 // stored entries whose request identity did not match the request (treated as misses)
}

type storeStage struct {
	s            store.Store[string, *cached.Response]
	maxBody      int64
	keepStale    time.Duration
	staleIfError time.Duration
	clock        func() time.Time
	log          *slog.Logger
	counters     *Counters
	defaultKeyer *keyer.Keyer
	// replaySetCookie keeps Set-Cookie in stored responses.
	replaySetCookie bool
	// rejections limits the warnings for entries that fail verification.
	rejections logLimit
}

// Store is the middleware that holds responses: on the way in it looks the
// request's key up and answers a fresh hit itself; on a miss it sends the
// request on and returns the response with its body teed, so the entry is
// written when the caller reads the body to EOF (within MaxBodyBytes).
//
// It uses the key, filter, expiry and caching rules decided by the
// middlewares stacked with it, in any order; those it does not find take
// their defaults: the default keyer (which keys Authorization and Cookie),
// GET and HEAD, RFC 9111 (CacheControl(nil)) with the statuses it lets a
// cache store, and no expiry of the user's. A stored response never keeps
// Set-Cookie unless StoreOptions.ReplaySetCookie. A store failure, an
// undecodable entry or one stored for another request is logged and
// counted, and the request goes to the network as if nothing were cached.
func Store(s store.Store[string, *cached.Response], opts *StoreOptions) (Middleware, error) {
	if s == nil {
		return nil, errors.New("middleware.Store: store is nil")
	}
	var o StoreOptions
	if opts != nil {
		o = *opts
	}
	if o.MaxBodyBytes < 0 {
		return nil, fmt.Errorf("middleware.Store: StoreOptions.MaxBodyBytes is %d, want >= 0", o.MaxBodyBytes)
	}
	if o.KeepStale < 0 {
		return nil, fmt.Errorf("middleware.Store: StoreOptions.KeepStale is %v, want >= 0", o.KeepStale)
	}
	if o.StaleIfError < 0 {
		return nil, fmt.Errorf("middleware.Store: StoreOptions.StaleIfError is %v, want >= 0", o.StaleIfError)
	}
	if o.MaxBodyBytes == 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Counters == nil {
		o.Counters = new(Counters)
	}
	k, err := keyer.New(nil)
	if err != nil {
		return nil, fmt.Errorf("middleware.Store: default keyer: %w", err)
	}
	st := &storeStage{
		s:            s,
		maxBody:      o.MaxBodyBytes,
		keepStale:    o.KeepStale,
		staleIfError: o.StaleIfError,
		clock:        o.Clock,
		log:          o.Logger,
		counters:     o.Counters,
		defaultKeyer: k,

		replaySetCookie: o.ReplaySetCookie,
	}
	return func(next http.RoundTripper) http.RoundTripper {
		return attach(next, func(p *parts) { p.store = st })
	}, nil
}

// lookup returns the entry stored under key, verified by ps, or nil.
// Failures are logged and counted, never returned: the cache steps aside.
func (st *storeStage) lookup(ctx context.Context, key string, ps protectStage) *cached.Response {
	e, err := st.s.Get(ctx, key)
	switch {
	case err == nil && e != nil:
		if ps != nil || e.Kind == cached.KindSealed {
			return st.verify(ctx, key, e, ps)
		}
		return e
	case err == nil, errors.Is(err, store.ErrNotFound):
		return nil
	case errors.Is(err, codec.ErrFormat):
		st.counters.Corrupt.Add(1)
		st.log.LogAttrs(ctx, slog.LevelWarn, "cachestack: undecodable entry, deleting it", slog.String("key", key), slog.Any("error", err))
		st.delete(ctx, key)
		return nil
	case ctx.Err() != nil:
		return nil // the caller gave up; the network call will say so
	default:
		st.failed(ctx, "get", key, err)
		return nil
	}
}

// verify returns e, stored under key, as ps.verify returns it; an entry
// that fails is counted, logged (a warning a minute at most), deleted and
// treated as a miss.
func (st *storeStage) verify(ctx context.Context, key string, e *cached.Response, ps protectStage) *cached.Response {
	v, err := ps.verify(key, e)
	if err == nil {
		return v
	}
	st.counters.Corrupt.Add(1)
	level := slog.LevelDebug
	suppressed := uint64(0)
	if n, ok := st.rejections.allow(st.clock()); ok {
		level, suppressed = slog.LevelWarn, n
	}
	st.log.LogAttrs(ctx, level, "cachestack: stored entry failed verification, deleting it", slog.String("key", key),
		slog.Any("error", err), slog.Uint64("suppressed", suppressed))
	st.delete(ctx, key)
	return nil
}

// save writes e under key, protected by ps, with a ttl that keeps it
// retain past its expiry.
func (st *storeStage) save(ctx context.Context, key string, e *cached.Response, now time.Time, retain time.Duration, ps protectStage) {
	ttl := StorageTTL(now, e.Expires, retain)
	if ttl < 0 {
		return
	}
	if ps != nil {
		p, err := ps.protect(key, e)
		if err != nil {
			st.failed(ctx, "protect", key, err)
			return
		}
		e = p
	}
	if err := st.s.Set(ctx, key, e, ttl); err != nil {
		if errors.Is(err, store.ErrTooLarge) {
			st.counters.TooLarge.Add(1)
			st.log.LogAttrs(ctx, slog.LevelDebug, "cachestack: response not stored: larger than the store holds",
				slog.String("key", key), slog.Int("body_bytes", len(e.Body)), slog.Any("error", err))
			return
		}
		st.failed(ctx, "set", key, err)
		return
	}
	st.counters.Stored.Add(1)
}

func (st *storeStage) delete(ctx context.Context, key string) {
	if err := st.s.Delete(ctx, key); err != nil {
		st.failed(ctx, "delete", key, err)
	}
}

func (st *storeStage) failed(ctx context.Context, op, key string, err error) {
	st.counters.StoreErrors.Add(1)
	st.log.LogAttrs(ctx, slog.LevelWarn, "cachestack: store "+op+" failed; continuing without the cache",
		slog.String("key", key), slog.Any("error", err))
}

// StorageTTL is the ttl to store a response under: the time until it
// expires, plus keepStale. Zero expires (never) gives 0 (no ttl); a response
// already past expires+keepStale gives a negative ttl: do not store.
func StorageTTL(now, expires time.Time, keepStale time.Duration) time.Duration {
	if expires.IsZero() {
		return 0
	}
	return store.TTL(now, expires.Add(keepStale))
}

// logLimit lets one log record through per interval and counts the others.
type logLimit struct {
	next       atomic.Int64 // Unix nanoseconds before which records are suppressed
	suppressed atomic.Uint64
}

// logInterval is how often a logLimit lets a record through.
const logInterval = time.Minute

// allow reports whether a record may be logged at now and, if so, how many
// were suppressed since the last one.
func (l *logLimit) allow(now time.Time) (uint64, bool) {
	t := now.UnixNano()
	next := l.next.Load()
	if t < next || !l.next.CompareAndSwap(next, t+int64(logInterval)) {
		l.suppressed.Add(1)
		return 0, false
	}
	return l.suppressed.Swap(0), true
}
