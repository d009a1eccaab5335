package middleware

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
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

// Default deadlines of store calls, used where StoreOptions leaves them
// zero. A lookup's deadline is short: it is added to a miss's latency when
// the store hangs, so it sits well under an origin round trip (tens to
// hundreds of milliseconds) and well above a healthy network store's
// (Redis or a local disk answer in well under 5 ms at p99 on a loaded
// machine). Writes and deletes run off the request path when the Store
// middleware has Workers, so they can wait longer.
const (
	DefaultGetTimeout    = 50 * time.Millisecond
	DefaultSetTimeout    = 250 * time.Millisecond
	DefaultDeleteTimeout = 250 * time.Millisecond
)

// DefaultMaxStuckCalls is how many store calls may still be running past
// their deadline before the Store middleware stops calling the store
// (StoreOptions.MaxStuckCalls).
const DefaultMaxStuckCalls = 256

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
	// Clock returns the current time; nil means time.Now. It dates
	// responses; deadlines and the breaker's back-off use the monotonic
	// clock.
	Clock func() time.Time
	// Logger receives the events listed with EventHit: the request
	// path's at Debug, faults (store failures, undecodable entries,
	// entries that fail verification, see Protect) at Warn and
	// rate-limited; none fails a request. Nil means slog.Default().
	Logger *slog.Logger
	// LogEvery is the least interval between two records of one fault
	// event; zero means DefaultLogEvery. Negative is an error.
	LogEvery time.Duration
	// Counters, when set, is updated with what the cache did.
	Counters *Counters
	// Metrics, when set, receives every count and store latency, for an
	// exporter (see the metrics/otelmetrics and metrics/prommetrics
	// modules).
	Metrics Metrics
	// Monitor, when set, is attached to this middleware so that its
	// Stats can be read.
	Monitor *Monitor
	// ReplaySetCookie stores responses' Set-Cookie fields and replays them
	// on hits. Off, the default, a response is stored without its
	// Set-Cookie: the caller whose request fetched it gets the cookie,
	// and hits never set it in another caller's cookie jar. Turn it on
	// only for a client that acts for a single user.
	ReplaySetCookie bool

	// GetTimeout bounds each store lookup. A lookup that has not
	// answered by then is a miss: the request goes to the network at
	// once, even if the store call never returns. Zero means
	// DefaultGetTimeout; negative is an error. Stores that declare they
	// never block (store.NonBlocking: the in-memory ones) are called
	// directly, without a deadline, and so is a lookup that a store which
	// may block answers without waiting (store.TryGetter: diskstore,
	// for a file it keeps open whose bytes are in the page cache).
	GetTimeout time.Duration
	// SetTimeout bounds each store write; DeleteTimeout each delete.
	// Zero means DefaultSetTimeout and DefaultDeleteTimeout; negative is
	// an error.
	SetTimeout    time.Duration
	DeleteTimeout time.Duration
	// Breaker configures the circuit breaker that skips a store that
	// keeps failing or timing out; nil means the defaults (see
	// BreakerOptions).
	Breaker *BreakerOptions
	// MaxStuckCalls bounds the store calls still running after their
	// deadline (a store that ignores its context); past it the store is
	// not called until some return. Zero means DefaultMaxStuckCalls;
	// negative is an error.
	MaxStuckCalls int

	// Workers, when set, owns the write-back queue's goroutines: writes
	// and deletes to a store that may block are queued and made in the
	// background, so that a caller's last body read never waits for the
	// store. Without Workers, writes are made on the caller's goroutine,
	// within SetTimeout. Workers also own the goroutines that make calls
	// to such a store under their deadline, and keep a few waiting for
	// the next call; without Workers, each call starts one. The caller
	// owns Workers and closes it.
	Workers *Workers
	// WriteQueue bounds the writes waiting in the write-back queue, and
	// WriteQueueBytes their body bytes; a write that does not fit is
	// dropped and counted (MetricWritesDropped). Zero means
	// DefaultWriteQueue and DefaultWriteQueueBytes; negative is an error.
	WriteQueue      int
	WriteQueueBytes int64
	// Writers is the number of write-back goroutines; zero means
	// DefaultWriters. Negative is an error.
	Writers int
	// WriteBatch is the most queued writes a write-back goroutine hands
	// in one call to a store that writes in batches (store.Batcher, or a
	// wrapper of one: redisstore, sqlitestore, pgstore, mongostore,
	// dynamostore): one round trip or transaction for the writes that
	// piled up while the previous call ran, rather than one each. A batch holds at most 1 MiB of
	// bodies and is made within SetTimeout, as one write is. Zero means
	// DefaultWriteBatch; 1 writes one at a time; negative is an error.
	WriteBatch int

	// Lease, when set, turns on coalescing across processes: concurrent
	// misses for one key in processes sharing the store send one request
	// to the origin, and the others wait, bounded, for its response to
	// be stored (see LeaseOptions). The store must be a store.Leaser,
	// or wrap one (codec.Bind, tierstore): redisstore is. Nil, the
	// default, leaves it off.
	Lease *LeaseOptions
}

// Counters count what a Store middleware did. All fields are safe to read
// while requests run. Each is also a Metric.
type Counters struct {
	Hits              atomic.Int64 // responses served from the store
	Misses            atomic.Int64 // lookups that found nothing usable
	Stale             atomic.Int64 // stale responses served (counted in Hits too)
	Stored            atomic.Int64 // responses written to the store
	StoredBytes       atomic.Int64 // body bytes of the responses written to the store
	Bypassed          atomic.Int64 // requests that skipped the cache (disabled, method not cached, key error)
	StoreErrors       atomic.Int64 // store calls that failed (the request went on without the cache)
	StoreTimeouts     atomic.Int64 // store calls that missed their deadline (the request went on without them)
	StorePanics       atomic.Int64 // store or codec calls that panicked (recovered)
	StoreSkipped      atomic.Int64 // store calls not made: breaker open, or too many calls stuck
	Corrupt           atomic.Int64 // stored entries that could not be decoded or failed Protector.Verify (treated as misses and deleted)
	Revalidated       atomic.Int64 // stale responses refreshed by a 304 Not Modified
	Refreshes         atomic.Int64 // background refreshes started (stale-while-revalidate)
	Coalesced         atomic.Int64 // requests answered by another request's response
	TooLarge          atomic.Int64 // responses the store refused as larger than it can hold (store.ErrTooLarge)
	Mismatched        atomic.Int64 // stored entries whose request identity did not match the request (treated as misses)
	WritesDropped     atomic.Int64 // writes dropped: the write-back queue was full
	CoalesceSaturated atomic.Int64 // misses sent alone: every coalescing worker was busy
	RefreshSaturated  atomic.Int64 // stale responses served without a refresh: every refresh worker was busy
	LeaseWaits        atomic.Int64 // misses that waited for another process's fetch (StoreOptions.Lease)
	LeaseHits         atomic.Int64 // of those, the ones answered from the store after the wait
	LeaseTimeouts     atomic.Int64 // of those, the ones that waited LeaseOptions.MaxWait and then fetched
	LeaseErrors       atomic.Int64 // lease calls that failed or missed their deadline (the request went to the origin)
}

type storeStage struct {
	s            store.Store[string, *cached.Response]
	maxBody      int64
	keepStale    time.Duration
	staleIfError time.Duration
	clock        func() time.Time
	log          *slog.Logger
	logEvery     time.Duration
	limits       [numRateEvents]limiter
	counters     *Counters
	metrics      Metrics
	defaultKeyer *keyer.Keyer
	// replaySetCookie keeps Set-Cookie in stored responses.
	replaySetCookie bool
	// rejections limits the warnings for entries that fail verification.
	rejections logLimit

	// inline: the store never blocks; it is called on the caller's
	// goroutine without a deadline.
	inline bool
	// tryGet: the store may block, but can answer some lookups at once
	// (store.TryGetter); each is asked on the caller's goroutine first.
	tryGet   store.TryGetter[string, *cached.Response]
	timeouts [numOps]time.Duration
	lat      [numOps]latency
	breaker  *breaker
	owner    *Workers // tracks the calls that outlive their deadline
	// stuckCalls counts the calls still running past their deadline.
	stuckCalls atomic.Int64
	maxStuck   int64
	guardCalls sync.Pool   // answered *guardCall, for reuse
	wb         *writeBack  // nil: writes are made by the caller
	lease      *leaseStage // nil: no coalescing across processes
	// batcher writes the write-back queue's batches; nil: one Set each.
	batcher store.Batcher[string, *cached.Response]
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
// Set-Cookie unless StoreOptions.ReplaySetCookie. An entry stored for
// another request is counted and ignored.
//
// The cache steps aside from every store fault: an error, an undecodable
// entry, a panic (recovered), or a call that misses its deadline
// (GetTimeout, SetTimeout, DeleteTimeout) is a miss or a dropped write,
// counted and logged (rate-limited), and the request goes to the network
// as if nothing were cached. A store that keeps failing is skipped by a
// circuit breaker for a back-off. With Workers, writes to a store that may
// block go through a bounded write-back queue, so that reading a body
// never waits for the store.
func Store(s store.Store[string, *cached.Response], opts *StoreOptions) (Middleware, error) {
	st, err := newStoreStage(s, opts)
	if err != nil {
		return nil, err
	}
	return func(next http.RoundTripper) http.RoundTripper {
		return attach(next, func(p *parts) { p.store = st })
	}, nil
}

// newStoreStage checks opts and makes the stage the Store middleware
// attaches.
func newStoreStage(s store.Store[string, *cached.Response], opts *StoreOptions) (*storeStage, error) {
	if s == nil {
		return nil, errors.New("middleware.Store: store is nil")
	}
	var o StoreOptions
	if opts != nil {
		o = *opts
	}
	for _, d := range []struct {
		name string
		v    any
		bad  bool
	}{
		{"MaxBodyBytes", o.MaxBodyBytes, o.MaxBodyBytes < 0},
		{"KeepStale", o.KeepStale, o.KeepStale < 0},
		{"StaleIfError", o.StaleIfError, o.StaleIfError < 0},
		{"LogEvery", o.LogEvery, o.LogEvery < 0},
		{"GetTimeout", o.GetTimeout, o.GetTimeout < 0},
		{"SetTimeout", o.SetTimeout, o.SetTimeout < 0},
		{"DeleteTimeout", o.DeleteTimeout, o.DeleteTimeout < 0},
		{"MaxStuckCalls", o.MaxStuckCalls, o.MaxStuckCalls < 0},
		{"WriteQueue", o.WriteQueue, o.WriteQueue < 0},
		{"WriteQueueBytes", o.WriteQueueBytes, o.WriteQueueBytes < 0},
		{"Writers", o.Writers, o.Writers < 0},
		{"WriteBatch", o.WriteBatch, o.WriteBatch < 0},
	} {
		if d.bad {
			return nil, fmt.Errorf("middleware.Store: StoreOptions.%s is %v, want >= 0", d.name, d.v)
		}
	}
	if b := o.Breaker; b != nil && b.Failures >= 0 {
		if b.OpenFor < 0 || b.MaxOpenFor < 0 || (b.MaxOpenFor > 0 && b.MaxOpenFor < b.OpenFor) {
			return nil, fmt.Errorf("middleware.Store: StoreOptions.Breaker is %+v, want OpenFor >= 0 and MaxOpenFor >= OpenFor", *b)
		}
	}
	o.MaxBodyBytes = cmpOr(o.MaxBodyBytes, DefaultMaxBodyBytes)
	o.LogEvery = cmpOr(o.LogEvery, DefaultLogEvery)
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Counters == nil {
		o.Counters = new(Counters)
	}
	if o.Metrics == nil {
		o.Metrics = nopMetrics{}
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
		logEvery:     o.LogEvery,
		counters:     o.Counters,
		metrics:      o.Metrics,
		defaultKeyer: k,

		replaySetCookie: o.ReplaySetCookie,

		inline:   store.NeverBlocks(s),
		timeouts: [numOps]time.Duration{cmpOr(o.GetTimeout, DefaultGetTimeout), cmpOr(o.SetTimeout, DefaultSetTimeout), cmpOr(o.DeleteTimeout, DefaultDeleteTimeout)},
		owner:    o.Workers,
		maxStuck: int64(cmpOr(o.MaxStuckCalls, DefaultMaxStuckCalls)),
	}
	if o.Lease != nil {
		if st.lease, err = newLeaseStage(s, o.Lease, "middleware.Store: StoreOptions.Lease"); err != nil {
			return nil, err
		}
	}
	var bo BreakerOptions
	if o.Breaker != nil {
		bo = *o.Breaker
	}
	st.breaker = newBreaker(bo, st.breakerChanged)
	if !st.inline {
		st.tryGet, _ = store.TryGetterOf[string, *cached.Response](s)
	}
	if !st.inline && o.Workers != nil {
		batch := 1
		if b, ok := store.BatcherOf[string, *cached.Response](s); ok {
			st.batcher, batch = b, cmpOr(o.WriteBatch, DefaultWriteBatch)
		}
		st.wb, err = newWriteBack(st, o.Workers, cmpOr(o.Writers, DefaultWriters), cmpOr(o.WriteQueue, DefaultWriteQueue), cmpOr(o.WriteQueueBytes, DefaultWriteQueueBytes), batch)
		if err != nil {
			return nil, fmt.Errorf("middleware.Store: StoreOptions.Workers: %w", err)
		}
	}
	if o.Monitor != nil {
		o.Monitor.attach(st)
	}
	return st, nil
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Errors that a store call is turned into by the Store middleware; they
// appear in its log records and match with errors.Is.
var (
	// ErrStoreDeadline: the store call did not answer within its
	// deadline, and the request went on without it.
	ErrStoreDeadline = errors.New("cachestack: store call exceeded its deadline")
	// ErrBreakerOpen: the store was not called, its breaker being open.
	ErrBreakerOpen = errors.New("cachestack: store skipped: breaker open")
	// ErrStoreStuck: the store was not called, too many earlier calls
	// being still stuck past their deadline.
	ErrStoreStuck = errors.New("cachestack: store skipped: too many calls stuck past their deadline")
)

// PanicError is a panic in a store or codec call, recovered and returned
// as an error.
type PanicError struct {
	Op    string // get, set or delete
	Value any    // what was passed to panic
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("cachestack: store %s panicked: %v", e.Op, e.Value)
}

// epoch is the origin of monotonic.
var epoch = time.Now()

// monotonic reads the monotonic clock alone (time.Now reads the wall clock
// too): the time since epoch, for the latency of store calls, which a hit
// makes two of.
func monotonic() time.Duration { return time.Since(epoch) }

// callResult is what a store call on a goroutine of its own hands back.
type callResult struct {
	e   *cached.Response
	err error
}

// call makes one store call (guarded) and records its outcome (settle).
// Its error is nil, store.ErrNotFound or the failure; failures are counted
// and logged here.
func (st *storeStage) call(ctx context.Context, op StoreOp, key string, e *cached.Response, ttl time.Duration) (*cached.Response, error) {
	m := st.guarded(ctx, op, key, e, ttl, nil)
	if m.skipped {
		return nil, m.err
	}
	var t tally
	t.add(ctx, key, m.err)
	st.settle(ctx, op, m, &t)
	return m.out, m.err
}

// made is what guarded reports of a store call.
type made struct {
	out *cached.Response
	err error
	d   time.Duration // how long the call took
	// skipped: the call was not made, the breaker being open
	// (ErrBreakerOpen) or too many calls stuck (ErrStoreStuck); its
	// operations are counted as skipped.
	skipped bool
	// probe: the call was the breaker's probe, made on this goroutine;
	// settle records its outcome as the probe's.
	probe bool
	// probeBatch: the call was a batch and the breaker's probe, handed
	// to a guard goroutine, which alone records it with the breaker
	// (async): the breaker counts a batch once. A single call's caller
	// records what it saw of a probe handed over as an ordinary call's
	// outcome besides: its deadline, a lookup's, may be shorter than the
	// probe's.
	probeBatch bool
}

// guarded makes a store call, a Get, Set or Delete of key, or a SetMany
// of batch when it is not nil, under the breaker, the limit on stuck
// calls, the deadline and a recover, and records its latency: what call
// and setMany share; each records the outcome (settle). A lookup that a
// store which may block can answer at once (try) is answered on the
// caller's goroutine; only if it cannot is it made under the deadline.
func (st *storeStage) guarded(ctx context.Context, op StoreOp, key string, e *cached.Response, ttl time.Duration, batch []store.Item[string, *cached.Response]) (m made) {
	ok, probe := st.breaker.allow()
	if !ok {
		st.add(MetricStoreSkipped, int64(max(1, len(batch))))
		m.skipped, m.err = true, ErrBreakerOpen
		return m
	}
	start := monotonic()
	if st.inline {
		m.out, m.err = st.do(ctx, op, key, e, ttl, batch)
	} else if m.out, m.err = st.try(ctx, op, key, probe); m.err == store.ErrWouldBlock {
		if st.stuckCalls.Load() >= st.maxStuck {
			if probe {
				st.breaker.probeAbandoned()
			}
			st.add(MetricStoreSkipped, int64(max(1, len(batch))))
			m.skipped, m.out, m.err = true, nil, ErrStoreStuck
			return m
		}
		m.out, m.err = st.async(ctx, op, key, e, ttl, batch, probe)
		// The probe's own goroutine tells the breaker.
		m.probeBatch, probe = probe && batch != nil, false
	}
	m.d = monotonic() - start
	st.lat[op].observe(m.d)
	m.probe = probe
	return m
}

// tally counts how the operations of a store call fared that the store
// did not answer: the one of a Get, Set or Delete, each item of a batch.
type tally struct {
	timeouts, panics, failures int64
	// abandoned: an operation's caller gave up; the store is not to
	// blame.
	abandoned bool
	err       error  // the first failure
	key       string // its key
}

// add counts err, the outcome of the operation on key, and reports
// whether the store answered it (answered): then it counts nothing.
func (t *tally) add(ctx context.Context, key string, err error) bool {
	switch {
	case answered(err):
		return true
	case ctx.Err() != nil && !errors.Is(err, ErrStoreDeadline):
		t.abandoned = true
		return false
	}
	var pe *PanicError // declared here: it escapes, and an answer must not allocate
	switch {
	case errors.Is(err, ErrStoreDeadline):
		t.timeouts++
	case errors.As(err, &pe):
		t.panics++
	default:
		t.failures++
	}
	if t.err == nil {
		t.err, t.key = err, key
	}
	return false
}

// failed is how many operations failed.
func (t *tally) failed() int64 { return t.timeouts + t.panics + t.failures }

// settle records the outcome t of the store call m with the breaker, the
// counters, the log (one record per kind of fault, naming the first
// failure, with attrs) and the metrics' latency.
func (st *storeStage) settle(ctx context.Context, op StoreOp, m made, t *tally, attrs ...slog.Attr) {
	outcome := OutcomeOK
	switch {
	case t.err == nil && t.abandoned:
		if m.probe {
			st.breaker.probeAbandoned()
		}
	case t.err == nil:
		if !m.probeBatch {
			st.breaker.success(m.probe)
		}
	default:
		if !m.probeBatch {
			st.breaker.failure(m.probe)
		}
		attrs = append([]slog.Attr{slog.String("op", op.String()), slog.String("key", t.key)}, attrs...)
		failure := slog.Any("error", t.err)
		if t.timeouts > 0 {
			outcome = OutcomeTimeout
			st.add(MetricStoreTimeouts, t.timeouts)
			st.fault(ctx, rateStoreTimeout, EventStoreTimeout, append(attrs, slog.Duration("duration", m.d), failure)...)
		}
		if t.panics > 0 {
			outcome = OutcomePanic
			st.add(MetricStorePanics, t.panics)
			st.fault(ctx, rateStorePanic, EventStorePanic, append(attrs, failure)...)
		}
		if t.failures > 0 {
			outcome = OutcomeError
			st.add(MetricStoreErrors, t.failures)
			st.fault(ctx, rateStoreError, EventStoreError, append(attrs, failure)...)
		}
	}
	st.metrics.StoreLatency(op, m.d, outcome)
}

// try makes a lookup on the caller's goroutine if the store can answer it
// without blocking (store.TryGetter), and returns store.ErrWouldBlock,
// bare, when it did not answer: the call is then still to be made, under
// its deadline. Other operations, and the half-open breaker's probe, which
// is to find out whether the store's calls that may block work again, are
// not tried.
func (st *storeStage) try(ctx context.Context, op StoreOp, key string, probe bool) (*cached.Response, error) {
	if st.tryGet == nil || op != OpGet || probe {
		return nil, store.ErrWouldBlock
	}
	out, err := st.do(ctx, opTryGet, key, nil, 0, nil)
	if err != nil && errors.Is(err, store.ErrWouldBlock) {
		return nil, store.ErrWouldBlock
	}
	return out, err
}

// do makes the store call itself, turning a panic into a *PanicError: a
// SetMany of batch when it is not nil (see setMany).
func (st *storeStage) do(ctx context.Context, op StoreOp, key string, e *cached.Response, ttl time.Duration, batch []store.Item[string, *cached.Response]) (out *cached.Response, err error) {
	defer func() {
		if p := recover(); p != nil {
			out, err = nil, &PanicError{Op: op.String(), Value: p}
		}
	}()
	switch {
	case batch != nil:
		return nil, st.batcher.SetMany(ctx, batch)
	case op == OpGet:
		return st.s.Get(ctx, key)
	case op == opTryGet:
		return st.tryGet.TryGet(ctx, key)
	case op == OpSet:
		return nil, st.s.Set(ctx, key, e, ttl)
	default:
		return nil, st.s.Delete(ctx, key)
	}
}

// async makes the store call on another goroutine and waits for it until
// its deadline or the caller's context ends, whichever is first; then it
// walks away, cancelling the call's context, and the goroutine is free
// again when the store returns. With Workers, the goroutine is one of
// theirs, kept for the next call (see guardPool), and Workers.Close waits
// a while for calls still running (see Workers); without, it is started
// for the call and ends with it.
//
// A probe of the half-open breaker is given longer, the write deadline
// (SetTimeout) if it is longer, and is not cancelled when its caller walks
// away: a store coming back (a client redialling, dropping the dead
// connections of its pool) often needs more than a lookup's deadline for
// its first call, and the probe decides for every later one. Its caller
// still waits no longer than the operation's deadline; the probe's
// goroutine records the outcome with the breaker.
func (st *storeStage) async(ctx context.Context, op StoreOp, key string, e *cached.Response, ttl time.Duration, batch []store.Item[string, *cached.Response], probe bool) (*cached.Response, error) {
	limit, parent := st.timeouts[op], ctx
	if probe {
		limit, parent = max(limit, st.timeouts[OpSet]), context.WithoutCancel(ctx)
	}
	cctx, cancel := context.WithTimeoutCause(parent, limit, ErrStoreDeadline)
	c := st.newGuardCall()
	c.st, c.ctx, c.cancel, c.op, c.key, c.e, c.ttl, c.batch, c.probe, c.owner = st, cctx, cancel, op, key, e, ttl, batch, probe, st.owner
	r := st.wait(ctx, c, st.timeouts[op])
	// A store that honours its context fails with the deadline's error:
	// that is a timeout too.
	if r.err != nil && r.err != store.ErrNotFound && ctx.Err() == nil && (r.err == ErrStoreDeadline || context.Cause(cctx) == ErrStoreDeadline) {
		r.e, r.err = nil, fmt.Errorf("store %s after %v: %w", op, st.timeouts[op], ErrStoreDeadline)
	} else if r.err != nil && ctx.Err() != nil {
		r.e, r.err = nil, ctx.Err()
	}
	if !probe {
		cancel()
	}
	return r.e, r.err
}

// wait hands c to a guard goroutine and waits for its answer until c's
// context ends (its deadline, or the caller's ctx), or, for a probe, whose
// context outlives its caller, until limit passes or ctx ends. Then it
// walks away, counting c as stuck until its goroutine returns, and
// returns why: ctx's error, or ErrStoreDeadline.
func (st *storeStage) wait(ctx context.Context, c *guardCall, limit time.Duration) callResult {
	cctx, done, probe := c.ctx, c.done, c.probe
	if w := st.owner; w != nil {
		w.calls.add()
		w.guards.run(c)
	} else {
		go c.run(nil)
	}
	deadline, callerDone := cctx.Done(), (<-chan struct{})(nil)
	var timer <-chan time.Time
	if probe {
		t := time.NewTimer(limit)
		defer t.Stop()
		deadline, callerDone, timer = nil, ctx.Done(), t.C
	}
	var r callResult
	got, timedOut := false, false
	select {
	case r = <-done:
		got = true
	case <-callerDone:
	case <-deadline:
		timedOut = true
	case <-timer:
		timedOut = true
	}
	if !got {
		select {
		case r = <-done: // it answered just in time
			got = true
		default:
			if !c.walked.CompareAndSwap(false, true) {
				r, got = <-done, true // it is answering
				break
			}
			st.stuckCalls.Add(1)
			switch {
			case ctx.Err() != nil:
				r.err = ctx.Err()
			case timedOut || context.Cause(cctx) == ErrStoreDeadline:
				r.err = ErrStoreDeadline
			default:
				r.err = cctx.Err()
			}
		}
	}
	if got {
		c.release(st) // answered: no goroutine holds it
	}
	return r
}

// answered reports whether a store call's error still means the store
// answered: none, a miss, a refusal as too large, an entry that does not
// decode.
func answered(err error) bool {
	return err == nil || err == store.ErrNotFound || errors.Is(err, store.ErrNotFound) ||
		errors.Is(err, store.ErrTooLarge) || errors.Is(err, codec.ErrFormat)
}

// lookup returns the entry stored under key, verified by ps, or nil.
// Failures are logged and counted, never returned: the cache steps aside.
func (st *storeStage) lookup(ctx context.Context, key string, ps protectStage) *cached.Response {
	var e *cached.Response
	var err error
	pending := false
	if st.wb != nil {
		e, pending = st.wb.pending(key)
	}
	if !pending {
		e, err = st.call(ctx, OpGet, key, nil, 0)
	}
	switch {
	case err == nil && e != nil:
		if ps != nil || e.Kind == cached.KindSealed {
			return st.verify(ctx, key, e, ps)
		}
		return e
	case err == nil, err == store.ErrNotFound:
		return nil
	case errors.Is(err, codec.ErrFormat):
		st.add(MetricCorrupt, 1)
		st.fault(ctx, rateCorrupt, EventCorrupt, slog.String("key", key), slog.Any("error", err))
		st.delete(ctx, key)
		return nil
	}
	return nil
}

// verify returns e, stored under key, as ps.verify returns it; an entry
// that fails is counted, logged (a warning a minute at most), deleted and
// treated as a miss.
func (st *storeStage) verify(ctx context.Context, key string, e *cached.Response, ps protectStage) *cached.Response {
	v, err := ps.verify(key, e)
	if err == nil {
		return v
	}
	st.add(MetricCorrupt, 1)
	level := slog.LevelDebug
	suppressed := uint64(0)
	if n, ok := st.rejections.allow(st.clock()); ok {
		level, suppressed = slog.LevelWarn, n
	}
	st.log.LogAttrs(ctx, level, "cachestack: stored entry failed verification, deleting it", slog.String("event", EventCorrupt), slog.String("key", key),
		slog.String("reason", "failed verification"), slog.Any("error", err), slog.Uint64("suppressed", suppressed))
	st.delete(ctx, key)
	return nil
}

// save writes e under key, protected by ps, with a ttl that keeps it
// retain past its expiry: through the write-back queue when there is one.
// A response's Reuse is recorded from its header first (a Vary index's
// inline variant's too), so that its hits from a typed store do not parse
// the header again; e must not be shared yet (every caller stores a
// response it has just built).
//
// A Vary index holding a variant inline (e.Variant) that the store refuses
// as too large is written without it, and the variant under its own key
// (set): the store dropped the old index, whose variants would otherwise be
// lost with it, and the variant is stored nowhere else.
func (st *storeStage) save(ctx context.Context, key string, e *cached.Response, now time.Time, retain time.Duration, ps protectStage) {
	ttl := StorageTTL(now, e.Expires, retain)
	if ttl < 0 {
		return
	}
	if e.Kind == cached.KindResponse {
		e.Reuse = reuseOf(storedDirectives(e.Header))
	} else if v := e.Variant; v != nil && v.Kind == cached.KindResponse {
		v.Reuse = reuseOf(storedDirectives(v.Header))
	}
	var sp *spill // protected: made now; else by set, if needed
	if ps != nil {
		p, err := ps.protect(key, e)
		if err == nil && e.Variant != nil {
			sp = &spill{key: e.Variant.Ref}
			if sp.variant, err = ps.protect(sp.key, e.Variant); err == nil {
				sp.index, err = ps.protect(key, withoutVariant(e))
			}
		}
		if err != nil {
			st.add(MetricStoreErrors, 1)
			st.fault(ctx, rateStoreError, EventStoreError, slog.String("op", "protect"), slog.String("key", key), slog.Any("error", err))
			return
		}
		e = p
	}
	if st.wb != nil {
		st.wb.enqueue(ctx, key, e, sp, ttl)
		return
	}
	st.set(ctx, key, e, sp, ttl)
}

// spill is what set writes in place of a Vary index that holds a variant
// inline when the store refuses it as too large: the variant under its own
// key, then the index without it.
type spill struct {
	key            string
	variant, index *cached.Response
}

// spillOf returns sp, or the spill of the unprotected Vary index e; nil
// when e holds no variant inline.
func spillOf(e *cached.Response, sp *spill) *spill {
	if sp != nil || e.Variant == nil || e.Variant.Ref == "" {
		return sp
	}
	return &spill{key: e.Variant.Ref, variant: e.Variant, index: withoutVariant(e)}
}

// set writes e under key now, on this goroutine. If the store refuses e as
// too large and it holds a variant inline, it writes sp instead (spillOf).
func (st *storeStage) set(ctx context.Context, key string, e *cached.Response, sp *spill, ttl time.Duration) {
	_, err := st.call(ctx, OpSet, key, e, ttl)
	if errors.Is(err, store.ErrTooLarge) {
		if sp = spillOf(e, sp); sp != nil {
			st.spillOver(ctx, key, sp, ttl)
			return
		}
	}
	st.stored(ctx, key, e, err)
}

// spillOver writes sp for the Vary index refused under key.
func (st *storeStage) spillOver(ctx context.Context, key string, sp *spill, ttl time.Duration) {
	st.set(ctx, sp.key, sp.variant, nil, ttl)
	st.set(ctx, key, sp.index, nil, ttl)
}

// stored counts and logs the outcome err of writing e under key.
func (st *storeStage) stored(ctx context.Context, key string, e *cached.Response, err error) {
	switch {
	case err == nil:
		st.add(MetricStored, 1)
		st.add(MetricStoredBytes, int64(len(e.Body)))
		if st.debugging(ctx) {
			st.debug(ctx, EventStored, slog.String("key", key), slog.String("url", e.URL), slog.Int("status", e.StatusCode), slog.Int("body_bytes", len(e.Body)))
		}
	case errors.Is(err, store.ErrTooLarge):
		st.add(MetricTooLarge, 1)
		if st.debugging(ctx) {
			st.debug(ctx, EventNotStored, slog.String("key", key), slog.String("url", e.URL), slog.String("reason", "too large for the store"), slog.Int("body_bytes", len(e.Body)))
		}
	}
}

// withoutVariant returns a copy of the Vary index e without the variant it
// holds inline.
func withoutVariant(e *cached.Response) *cached.Response {
	b := *e
	b.Variant = nil
	return &b
}

// delete removes key: through the write-back queue when there is one, so
// that a later lookup sees the deletion at once.
func (st *storeStage) delete(ctx context.Context, key string) {
	if st.wb != nil && st.wb.enqueue(ctx, key, nil, nil, 0) {
		return
	}
	st.call(ctx, OpDelete, key, nil, 0)
}

// breakerChanged logs and reports a change of the breaker's state.
func (st *storeStage) breakerChanged(from, to BreakerState, failures int64, openFor time.Duration) {
	ctx := context.Background()
	switch to {
	case BreakerOpen:
		st.log.LogAttrs(ctx, slog.LevelWarn, "cachestack: "+EventBreakerOpen, slog.String("event", EventBreakerOpen),
			slog.String("state", to.String()), slog.Int64("failures", failures), slog.Duration("retry_in", openFor))
	case BreakerClosed:
		st.log.LogAttrs(ctx, slog.LevelInfo, "cachestack: "+EventBreakerClose, slog.String("event", EventBreakerClose),
			slog.String("state", to.String()), slog.String("from", from.String()))
	}
	st.metrics.BreakerChanged(to)
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
