package middleware

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachestack/cachestack/store"
)

// DefaultLeaseTTL is how long a lease lasts when LeaseOptions.TTL is
// zero: longer than most origin fetches, and the longest a crashed
// holder delays the other processes.
const DefaultLeaseTTL = 5 * time.Second

// LeaseOptions turn on coalescing across processes (StoreOptions.Lease):
// concurrent misses for one key in different processes sharing a store
// send one request to the origin.
//
// Before it sends a missed request on, the Store middleware takes a lease
// on the request's key in the store (store.Leaser: redisstore offers one).
// The process that gets it fetches; it releases the lease once the
// response is in the store, or at once when there is nothing to store (an
// error, a response that may not be stored, a body closed early or too
// large). A process that finds the lease
// taken waits for its release, at most MaxWait and never past its
// request's context, then looks the key up again the usual way: it serves
// the stored response if there is one it may use, and otherwise fetches
// on its own. With the Coalesce middleware, only the one request per key
// and process that goes to the origin takes part.
//
// The rules that keep responses apart hold as they do within a process:
// the lease is named by the request's key, which carries credentials and
// cookies unless the keyer is told otherwise; requests with Authorization
// or Cookie take no lease unless CoalesceOptions.ShareCredentials; and a
// waiter is answered only by what a lookup of its own then finds, as a
// request a moment later would be, so Vary (RFC 9111 §4.1) and the
// request's directives apply to it, and a holder's Set-Cookie reaches no
// waiter (stored responses keep none unless
// StoreOptions.ReplaySetCookie). Requests that must go to the origin
// (no-cache, no-store, a refresh, conditions the cache does not answer)
// never wait.
//
// Every failure opens the way to the origin: a lease call that errs or
// misses the store's deadline (GetTimeout to take one, DeleteTimeout to
// release it) sends the request directly, counted in Counters.LeaseErrors
// and logged (rate-limited); a wait that reaches MaxWait sends it too,
// counted in Counters.LeaseTimeouts. While the store's breaker is open no
// lease is taken. A holder that crashes leaves its lease to expire: the
// others wait at most TTL (or MaxWait, if shorter) for it.
type LeaseOptions struct {
	// TTL is how long a lease lasts unless released: it should exceed the
	// time an origin fetch and the store write after it take, and it
	// bounds how long a crashed holder delays the others. Zero means
	// DefaultLeaseTTL; otherwise it must be at least a millisecond.
	TTL time.Duration
	// MaxWait bounds how long a miss waits for another process's fetch
	// before it fetches on its own. Zero means TTL; negative is an error.
	MaxWait time.Duration
}

// leaseStage is the Store middleware's lease settings and its store's
// Leaser.
type leaseStage struct {
	l       store.Leaser[string]
	ttl     time.Duration
	maxWait time.Duration
}

// newLeaseStage checks o against s; where names the option in errors.
func newLeaseStage(s any, o *LeaseOptions, where string) (*leaseStage, error) {
	if o.MaxWait < 0 || o.TTL < 0 || (o.TTL > 0 && o.TTL < time.Millisecond) {
		return nil, fmt.Errorf("%s is %+v, want TTL 0 or >= 1ms and MaxWait >= 0", where, *o)
	}
	l, ok := store.LeaserOf[string](s)
	if !ok {
		return nil, fmt.Errorf("%s: the store, a %T, cannot take leases (it is no store.Leaser); coalescing across processes needs a store that processes share and that can, such as redisstore", where, s)
	}
	ls := &leaseStage{l: l, ttl: cmpOr(o.TTL, DefaultLeaseTTL)}
	ls.maxWait = cmpOr(o.MaxWait, ls.ttl)
	return ls, nil
}

// heldLease is a lease this process holds; ended is set by whichever
// ends it first: its release, or its hand-off to the store write whose
// completion releases it.
type heldLease struct {
	key, token string
	ended      atomic.Bool
}

// leasable reports whether req may take part in coalescing across
// processes: a GET or HEAD without a body that read the cache and would
// use what another process stores, without credentials unless they are
// shared.
func (x *exchange) leasable(req *http.Request) bool {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		return false
	}
	if req.Body != nil && req.Body != http.NoBody {
		return false
	}
	if x.opts.forceRefresh || x.opts.refresh || x.rd.NoStore || x.rd.NoCache || originOnly(req.Header, x.cc != nil) {
		return false
	}
	if x.coalesce != nil && x.coalesce.shareCreds {
		return true
	}
	return len(req.Header["Authorization"]) == 0 && len(req.Header["Cookie"]) == 0
}

// forwardLeased sends req on as forward does, first taking the store's
// lease on its key when coalescing across processes is on; when another
// process holds it, it waits for that process's response to be stored and
// answers from the store. The wait ends with req's context: a shared
// request's (Coalesce) ends when its last caller gives up, each caller
// having waited no longer than its own context.
func (x *exchange) forwardLeased(req *http.Request) (*http.Response, error) {
	st := x.store
	ls := st.lease
	if ls == nil || !x.leasable(req) || !st.breakerClosed() {
		return x.forward(req)
	}
	ctx := req.Context()
	key := x.primary
	// A lease that Acquire takes after this request has stopped waiting
	// for it is released at once, by whichever side learns last, so that
	// no process waits for a lease nobody uses.
	var (
		mu     sync.Mutex
		l      *heldLease
		gaveUp bool
	)
	err := st.guard(ctx, st.timeouts[OpGet], func(c context.Context) error {
		token, ok, err := ls.l.Acquire(c, key, ls.ttl)
		if !ok {
			return err
		}
		mu.Lock()
		l = &heldLease{key: key, token: token}
		late := gaveUp
		mu.Unlock()
		if late {
			st.releaseLease(ctx, l)
		}
		return err
	})
	mu.Lock()
	gaveUp = err != nil
	held := l
	mu.Unlock()
	if err != nil {
		st.releaseLease(ctx, held) // if Acquire took it just too late
		if ctx.Err() == nil {
			st.leaseFault(ctx, "acquire", key, err)
		}
		return x.forward(req)
	}
	if l := held; l != nil {
		// Another process may have stored the response, and released
		// its lease, between this one's lookup and its lease.
		if r := x.lookAgain(req); r != nil {
			st.releaseLease(ctx, l)
			return r, nil
		}
		x.lease = l
		resp, err := x.forward(req)
		return x.leaseForwarded(req, resp, err)
	}
	st.add(MetricLeaseWaits, 1)
	if st.debugging(ctx) {
		st.debug(ctx, EventLeaseWait, slog.String("key", x.primary), slog.String("url", x.url))
	}
	err = st.guard(ctx, ls.maxWait, func(ctx context.Context) error { return ls.l.AwaitRelease(ctx, key) })
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return nil, ctx.Err() // the caller gave up while it waited
	case errors.Is(err, ErrStoreDeadline):
		st.add(MetricLeaseTimeouts, 1)
		if st.debugging(ctx) {
			st.debug(ctx, EventLeaseWait, slog.String("key", x.primary), slog.String("url", x.url), slog.String("reason", "waited the longest allowed; fetching"))
		}
		return x.forward(req)
	default:
		st.leaseFault(ctx, "await", key, err)
		return x.forward(req)
	}
	if r := x.lookAgain(req); r != nil {
		st.add(MetricLeaseHits, 1)
		return r, nil
	}
	return x.forward(req)
}

// lookAgain answers req from the store if what a lookup now finds may be
// served as it is, as serve would; otherwise it returns nil and leaves
// the exchange ready to forward.
func (x *exchange) lookAgain(req *http.Request) *http.Response {
	ctx := req.Context()
	x.index, x.via, x.key = nil, viaNone, x.primary
	e := x.lookup(ctx, req)
	if e == nil {
		return nil
	}
	now := x.store.clock()
	switch v := x.judge(e, now); {
	case v == fresh:
		return x.hit(req, e, now, false, "hit")
	case x.via == viaRedirect:
	case v == stale, v == staleAsync:
		return x.hit(req, e, now, true, "hit")
	}
	return nil
}

// leaseForwarded arranges the release of the lease x holds for the
// response forward returned: once it is stored, when its body is being
// teed; at once when there is nothing to store.
func (x *exchange) leaseForwarded(req *http.Request, resp *http.Response, err error) (*http.Response, error) {
	l := x.lease
	if l == nil || l.ended.Load() {
		return resp, err
	}
	if err != nil || resp.Body != io.ReadCloser(&x.tee) {
		x.store.releaseLease(req.Context(), l)
		return resp, err
	}
	resp.Body = &leaseBody{ReadCloser: resp.Body, st: x.store, l: l, ctx: req.Context()}
	return resp, nil
}

// leaseBody releases its lease when closed, unless the body was read to
// its end and stored, whose write then released it.
type leaseBody struct {
	io.ReadCloser
	st  *storeStage
	l   *heldLease
	ctx context.Context
}

func (b *leaseBody) Close() error {
	err := b.ReadCloser.Close()
	b.st.releaseLease(b.ctx, b.l)
	return err
}

// leaseStored hands the lease x holds, if any, to the store writes of
// keys, which release it once they are all made.
func (x *exchange) leaseStored(ctx context.Context, keys ...string) {
	l := x.lease
	if l == nil || !l.ended.CompareAndSwap(false, true) {
		return
	}
	st := x.store
	ctx = uncancelled(ctx)
	var left atomic.Int32
	left.Store(int32(len(keys)) + 1)
	done := func() {
		if left.Add(-1) == 0 {
			st.release(ctx, l)
		}
	}
	for _, k := range keys {
		if st.wb == nil || !st.wb.after(k, done) {
			done()
		}
	}
	done()
}

// releaseLease releases l now, unless it has ended already.
func (st *storeStage) releaseLease(ctx context.Context, l *heldLease) {
	if l != nil && l.ended.CompareAndSwap(false, true) {
		st.release(uncancelled(ctx), l)
	}
}

// release ends l in the store, within DeleteTimeout.
func (st *storeStage) release(ctx context.Context, l *heldLease) {
	err := st.guard(ctx, st.timeouts[OpDelete], func(ctx context.Context) error {
		return st.lease.l.Release(ctx, l.key, l.token)
	})
	if err != nil {
		st.leaseFault(ctx, "release", l.key, err)
	}
}

// leaseFault counts and logs a lease call that failed.
func (st *storeStage) leaseFault(ctx context.Context, op, key string, err error) {
	st.add(MetricLeaseErrors, 1)
	st.fault(ctx, rateLease, EventLeaseError, slog.String("op", op), slog.String("key", key), slog.Any("error", err))
}

// breakerClosed reports whether the store's breaker lets calls through
// without a probe.
func (st *storeStage) breakerClosed() bool {
	return st.breaker == nil || BreakerState(st.breaker.state.Load()) == BreakerClosed
}

// guard runs f on a guard goroutine, as store calls are made (see async),
// and waits for it until limit passes or ctx ends, whichever is first:
// f's context ends then, and a call that outlives it counts as stuck
// until it returns. A limit reached is ErrStoreDeadline, ctx's end its
// error, and a panic in f a *PanicError.
func (st *storeStage) guard(ctx context.Context, limit time.Duration, f func(context.Context) error) error {
	if st.stuckCalls.Load() >= st.maxStuck {
		return ErrStoreStuck
	}
	if limit <= 0 {
		return ErrStoreDeadline
	}
	cctx, cancel := context.WithTimeoutCause(ctx, limit, ErrStoreDeadline)
	defer cancel()
	c := st.newGuardCall()
	c.st, c.ctx, c.cancel, c.fn, c.owner = st, cctx, cancel, f, st.owner
	err := st.wait(ctx, c, limit).err
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	case err == ErrStoreDeadline || context.Cause(cctx) == ErrStoreDeadline:
		return ErrStoreDeadline
	}
	return err
}
