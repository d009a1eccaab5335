package middleware

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"
)

// Events the Store middleware logs through StoreOptions.Logger. Each is a
// log/slog record whose message is "cachestack: " followed by the event
// name, with the attribute event set to the name and, where they apply:
//
//	key       the store key (a digest of the request; never a secret)
//	url       the normalised URL, without ignored parameters
//	status    the response's status code
//	reason    why a response was not stored, or why work was skipped
//	op        the store operation: get, set or delete
//	duration  how long the store call took (or its deadline, on a timeout)
//	error     the error
//	state     the breaker's new state; failures, retry_in with it
//	suppressed how many records of this event the rate limit dropped
//	          since the last one logged
//
// The request path's events (hit, miss, stale, revalidated, stored,
// not_stored, lease_wait) are logged at Debug, so a logger at Info, the
// default, is silent while the cache works. Faults (store_error,
// store_timeout, store_panic, corrupt, write_dropped, saturated,
// lease_error) are logged at Warn, at
// most once per StoreOptions.LogEvery for each event (default one per
// second), with the count of those dropped. breaker_open is logged at
// Warn and breaker_closed at Info, every time.
const (
	EventHit          = "hit"
	EventMiss         = "miss"
	EventStale        = "stale"       // a stale response served (stale-while-revalidate, stale-if-error, allowed by the request)
	EventRevalidated  = "revalidated" // a stored response refreshed by a 304
	EventStored       = "stored"      // an entry written
	EventNotStored    = "not_stored"  // a response not stored; reason says why
	EventStoreError   = "store_error" // a store call failed
	EventStoreTimeout = "store_timeout"
	EventStorePanic   = "store_panic"
	EventCorrupt      = "corrupt" // an entry that does not decode, deleted
	EventWriteDropped = "write_dropped"
	EventSaturated    = "saturated" // coalescing or refresh capacity full; reason says which
	EventBreakerOpen  = "breaker_open"
	EventBreakerClose = "breaker_closed"
	EventLeaseWait    = "lease_wait"  // a miss waits for another process's fetch (StoreOptions.Lease); at Debug
	EventLeaseError   = "lease_error" // a lease call failed; op says which (acquire, await, release)
)

// DefaultLogEvery is the least interval between two logged records of one
// fault event when StoreOptions.LogEvery is zero.
const DefaultLogEvery = time.Second

type rateEvent uint8

const (
	rateStoreError rateEvent = iota
	rateStoreTimeout
	rateStorePanic
	rateCorrupt
	rateWriteDropped
	rateSaturated
	rateLease
	numRateEvents
)

// limiter lets one record through per interval and counts the others.
type limiter struct {
	last       atomic.Int64 // unix nanoseconds of the last record let through
	suppressed atomic.Int64
}

// allow reports whether to log now, and how many records were dropped
// since the last one logged.
func (l *limiter) allow(now time.Time, every time.Duration) (bool, int64) {
	t := now.UnixNano()
	last := l.last.Load()
	if last != 0 && t-last < int64(every) || !l.last.CompareAndSwap(last, t) {
		l.suppressed.Add(1)
		return false, 0
	}
	return true, l.suppressed.Swap(0)
}

// fault logs a fault event at Warn, rate-limited per event.
func (st *storeStage) fault(ctx context.Context, r rateEvent, event string, attrs ...slog.Attr) {
	if !st.log.Enabled(ctx, slog.LevelWarn) {
		return
	}
	ok, dropped := st.limits[r].allow(time.Now(), st.logEvery)
	if !ok {
		return
	}
	attrs = append(attrs, slog.String("event", event))
	if dropped > 0 {
		attrs = append(attrs, slog.Int64("suppressed", dropped))
	}
	st.log.LogAttrs(ctx, slog.LevelWarn, "cachestack: "+event, attrs...)
}

// debugging reports whether the request path's events are logged; callers
// check it before building a record's attributes, which would otherwise
// cost allocations on every request.
func (st *storeStage) debugging(ctx context.Context) bool {
	return st.log.Enabled(ctx, slog.LevelDebug)
}

// debug logs a request-path event at Debug; see debugging.
func (st *storeStage) debug(ctx context.Context, event string, attrs ...slog.Attr) {
	st.log.LogAttrs(ctx, slog.LevelDebug, "cachestack: "+event, append(attrs, slog.String("event", event))...)
}

// add counts n of m and hands it to the metrics hook.
func (st *storeStage) add(m Metric, n int64) {
	st.counters.counter(m).Add(n)
	st.metrics.Add(m, n)
}
