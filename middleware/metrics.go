package middleware

import (
	"sync/atomic"
	"time"
)

// Metric names one of the counts a Store middleware keeps. Its String is
// the name exporters build their instrument names from (the Prometheus
// adapter exports MetricHits as cachestack_hits_total, the OpenTelemetry
// adapter as cachestack.hits).
type Metric uint8

// The counts, each also a field of Counters.
const (
	MetricHits              Metric = iota // responses served from the store, fresh or stale
	MetricMisses                          // lookups that found nothing usable
	MetricStale                           // stale responses served (a subset of hits)
	MetricRevalidated                     // stored responses refreshed by a 304 Not Modified
	MetricRefreshes                       // background refreshes started (stale-while-revalidate)
	MetricCoalesced                       // requests answered by another request's response
	MetricStored                          // entries written to the store
	MetricStoredBytes                     // body bytes of the responses written to the store
	MetricBypassed                        // requests that skipped the cache (disabled, method not cached, key error)
	MetricStoreErrors                     // store calls that returned an error
	MetricStoreTimeouts                   // store calls that missed their deadline
	MetricStorePanics                     // store or codec calls that panicked
	MetricStoreSkipped                    // store calls not made: the breaker was open or too many calls were stuck
	MetricCorrupt                         // stored entries that could not be decoded
	MetricTooLarge                        // responses the store refused as too large
	MetricMismatched                      // stored entries for another request
	MetricWritesDropped                   // writes dropped because the write-back queue was full
	MetricCoalesceSaturated               // misses not coalesced because every coalescing worker was busy
	MetricRefreshSaturated                // refreshes not started because every refresh worker was busy
	MetricLeaseWaits                      // misses that waited for another process's fetch (LeaseOptions)
	MetricLeaseHits                       // of those, the ones answered from the store after the wait
	MetricLeaseTimeouts                   // of those, the ones that waited LeaseOptions.MaxWait and fetched
	MetricLeaseErrors                     // lease calls that failed or missed their deadline (the request went on without)
	numMetrics
)

var metricNames = [numMetrics]string{
	"hits", "misses", "stale", "revalidated", "refreshes", "coalesced", "stored", "stored_bytes",
	"bypassed", "store_errors", "store_timeouts", "store_panics", "store_skipped", "corrupt",
	"too_large", "mismatched", "writes_dropped", "coalesce_saturated", "refresh_saturated",
	"lease_waits", "lease_hits", "lease_timeouts", "lease_errors",
}

func (m Metric) String() string {
	if m < numMetrics {
		return metricNames[m]
	}
	return "unknown"
}

// AllMetrics lists every Metric, for exporters that register their
// instruments up front.
func AllMetrics() []Metric {
	out := make([]Metric, numMetrics)
	for i := range out {
		out[i] = Metric(i)
	}
	return out
}

// StoreOp is the store operation a latency or a fault is about.
type StoreOp uint8

// The store operations the cache makes on the request path.
const (
	OpGet StoreOp = iota
	OpSet
	OpDelete
	numOps
	// opTryGet is a lookup asked of a store.TryGetter (storeStage.try):
	// counted, timed and reported as OpGet.
	opTryGet = numOps
)

func (op StoreOp) String() string {
	switch op {
	case OpGet, opTryGet:
		return "get"
	case OpSet:
		return "set"
	case OpDelete:
		return "delete"
	}
	return "unknown"
}

// Outcome is how a store call ended, for metrics.
type Outcome uint8

// Outcomes of a store call.
const (
	OutcomeOK      Outcome = iota // answered: a value, a miss, or a refusal such as too large
	OutcomeError                  // returned an error
	OutcomeTimeout                // missed its deadline; the request went on without it
	OutcomePanic                  // panicked; the panic was recovered
)

func (o Outcome) String() string {
	switch o {
	case OutcomeOK:
		return "ok"
	case OutcomeError:
		return "error"
	case OutcomeTimeout:
		return "timeout"
	case OutcomePanic:
		return "panic"
	}
	return "unknown"
}

// Metrics receives what a Store middleware does, for an exporter: the
// core depends on no metrics library, and the adapters in the modules
// github.com/cachestack/cachestack/metrics/otelmetrics and
// github.com/cachestack/cachestack/metrics/prommetrics implement it. Its
// methods are called on the request path, from many goroutines at once:
// they must be safe for concurrent use, fast, and must not block.
type Metrics interface {
	// Add adds n to the count m.
	Add(m Metric, n int64)
	// StoreLatency records how long one store call took and how it
	// ended. A batch of writes (store.Batcher) is one call, recorded as
	// OpSet. A call that missed its deadline is recorded at the
	// deadline, when the request walked away from it.
	StoreLatency(op StoreOp, d time.Duration, outcome Outcome)
	// BreakerChanged reports the breaker's new state.
	BreakerChanged(state BreakerState)
}

// counter returns the field of c that m counts.
func (c *Counters) counter(m Metric) *atomic.Int64 {
	switch m {
	case MetricHits:
		return &c.Hits
	case MetricMisses:
		return &c.Misses
	case MetricStale:
		return &c.Stale
	case MetricRevalidated:
		return &c.Revalidated
	case MetricRefreshes:
		return &c.Refreshes
	case MetricCoalesced:
		return &c.Coalesced
	case MetricStored:
		return &c.Stored
	case MetricStoredBytes:
		return &c.StoredBytes
	case MetricBypassed:
		return &c.Bypassed
	case MetricStoreErrors:
		return &c.StoreErrors
	case MetricStoreTimeouts:
		return &c.StoreTimeouts
	case MetricStorePanics:
		return &c.StorePanics
	case MetricStoreSkipped:
		return &c.StoreSkipped
	case MetricCorrupt:
		return &c.Corrupt
	case MetricTooLarge:
		return &c.TooLarge
	case MetricMismatched:
		return &c.Mismatched
	case MetricWritesDropped:
		return &c.WritesDropped
	case MetricCoalesceSaturated:
		return &c.CoalesceSaturated
	case MetricRefreshSaturated:
		return &c.RefreshSaturated
	case MetricLeaseWaits:
		return &c.LeaseWaits
	case MetricLeaseHits:
		return &c.LeaseHits
	case MetricLeaseTimeouts:
		return &c.LeaseTimeouts
	case MetricLeaseErrors:
		return &c.LeaseErrors
	}
	return nil
}

// Counts is a snapshot of Counters, by name.
type Counts map[string]int64

// Snapshot returns the current value of every count, named as
// Metric.String names them.
func (c *Counters) Snapshot() Counts {
	out := make(Counts, numMetrics)
	for m := range numMetrics {
		out[m.String()] = c.counter(m).Load()
	}
	return out
}

// latency is a histogram of store call durations in power-of-two buckets
// of microseconds, lock-free: bucket 0 counts calls under 1µs, bucket i
// calls in [2^(i-1), 2^i) µs, the last everything longer.
type latency struct {
	buckets [28]atomic.Int64
}

func (l *latency) observe(d time.Duration) {
	us := uint64(d / time.Microsecond)
	i := 0
	for us > 0 && i < len(l.buckets)-1 {
		us >>= 1
		i++
	}
	l.buckets[i].Add(1)
}

// LatencyStats summarises the durations of one kind of store call. The
// percentiles are upper bounds of power-of-two buckets: a P99 of 2ms says
// 99 % of the calls took less than about 2 ms.
type LatencyStats struct {
	Count int64         `json:"count"`
	P50   time.Duration `json:"p50"`
	P90   time.Duration `json:"p90"`
	P99   time.Duration `json:"p99"`
	Max   time.Duration `json:"max"` // bucket bound of the slowest call
}

func (l *latency) stats() LatencyStats {
	var counts [len(l.buckets)]int64
	var s LatencyStats
	for i := range l.buckets {
		counts[i] = l.buckets[i].Load()
		s.Count += counts[i]
	}
	if s.Count == 0 {
		return s
	}
	bound := func(i int) time.Duration { return time.Duration(uint64(1)<<uint(i)) * time.Microsecond }
	quantile := func(q float64) time.Duration {
		want := int64(q*float64(s.Count) + 0.999999)
		var seen int64
		for i, n := range counts {
			seen += n
			if seen >= want {
				return bound(i)
			}
		}
		return bound(len(counts) - 1)
	}
	s.P50, s.P90, s.P99 = quantile(0.50), quantile(0.90), quantile(0.99)
	for i := len(counts) - 1; i >= 0; i-- {
		if counts[i] > 0 {
			s.Max = bound(i)
			break
		}
	}
	return s
}

type nopMetrics struct{}

func (nopMetrics) Add(Metric, int64)                            {}
func (nopMetrics) StoreLatency(StoreOp, time.Duration, Outcome) {}
func (nopMetrics) BreakerChanged(BreakerState)                  {}
