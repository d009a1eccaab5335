package prommetrics

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cachestack/cachestack/middleware"
)

// DefaultNamespace prefixes every metric name when Options.Namespace is
// empty.
const DefaultNamespace = "cachestack"

// DefaultBuckets are the store latency histogram's bucket bounds, in
// seconds: from 50µs (an in-memory store) to 1s, around the default
// deadlines of 50ms (lookups) and 250ms (writes).
var DefaultBuckets = []float64{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1}

// Options configure New. A nil *Options means the defaults.
type Options struct {
	// Namespace prefixes every metric name; empty means
	// DefaultNamespace.
	Namespace string
	// ConstLabels are added to every metric, to tell apart the caches of
	// one process (for example {"cache": "api"}).
	ConstLabels prometheus.Labels
	// Buckets are the store latency histogram's bounds in seconds; nil
	// means DefaultBuckets.
	Buckets []float64
}

// Metrics exports a cache's counts, store latency and breaker state to
// Prometheus. It implements middleware.Metrics; pass it as
// cachestack.Options.Metrics or middleware.StoreOptions.Metrics.
type Metrics struct {
	counts  [len(middlewareMetrics)]prometheus.Counter
	latency [3][4]prometheus.Observer // by StoreOp, Outcome
	breaker prometheus.Gauge
}

var middlewareMetrics = [...]middleware.Metric{
	middleware.MetricHits, middleware.MetricMisses, middleware.MetricStale, middleware.MetricRevalidated,
	middleware.MetricRefreshes, middleware.MetricCoalesced, middleware.MetricStored, middleware.MetricStoredBytes,
	middleware.MetricBypassed, middleware.MetricStoreErrors, middleware.MetricStoreTimeouts, middleware.MetricStorePanics,
	middleware.MetricStoreSkipped, middleware.MetricCorrupt, middleware.MetricTooLarge, middleware.MetricMismatched,
	middleware.MetricWritesDropped, middleware.MetricCoalesceSaturated, middleware.MetricRefreshSaturated,
	middleware.MetricLeaseWaits, middleware.MetricLeaseHits, middleware.MetricLeaseTimeouts, middleware.MetricLeaseErrors,
}

var _ middleware.Metrics = (*Metrics)(nil)

// New creates the metrics and registers them with reg (for example
// prometheus.DefaultRegisterer). Registering a second cache's metrics in
// the same registry needs ConstLabels that tell them apart.
func New(reg prometheus.Registerer, opts *Options) (*Metrics, error) {
	if reg == nil {
		return nil, errors.New("prommetrics: registerer is nil")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	if o.Buckets == nil {
		o.Buckets = DefaultBuckets
	}
	if len(middleware.AllMetrics()) != len(middlewareMetrics) {
		return nil, errors.New("prommetrics: built against another set of middleware metrics")
	}
	m := &Metrics{}
	var cs []prometheus.Collector
	for i, mm := range middlewareMetrics {
		c := prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: o.Namespace, Name: mm.String() + "_total", ConstLabels: o.ConstLabels,
			Help: "cachestack " + mm.String() + " (see middleware.Metric).",
		})
		m.counts[i] = c
		cs = append(cs, c)
	}
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: o.Namespace, Name: "store_duration_seconds", ConstLabels: o.ConstLabels, Buckets: o.Buckets,
		Help: "Duration of the cache's store calls, by operation and outcome (ok, error, timeout, panic); a timeout counts at its deadline.",
	}, []string{"op", "outcome"})
	for op := range middleware.StoreOp(3) {
		for oc := range middleware.Outcome(4) {
			m.latency[op][oc] = h.WithLabelValues(op.String(), oc.String())
		}
	}
	m.breaker = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: o.Namespace, Name: "breaker_state", ConstLabels: o.ConstLabels,
		Help: "State of the store's circuit breaker: 0 closed, 1 open, 2 half-open.",
	})
	cs = append(cs, h, m.breaker)
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("prommetrics: %w", err)
		}
	}
	return m, nil
}

// Add implements middleware.Metrics.
func (m *Metrics) Add(mm middleware.Metric, n int64) {
	if int(mm) < len(m.counts) {
		m.counts[mm].Add(float64(n))
	}
}

// StoreLatency implements middleware.Metrics.
func (m *Metrics) StoreLatency(op middleware.StoreOp, d time.Duration, oc middleware.Outcome) {
	if int(op) < len(m.latency) && int(oc) < len(m.latency[op]) {
		m.latency[op][oc].Observe(d.Seconds())
	}
}

// BreakerChanged implements middleware.Metrics.
func (m *Metrics) BreakerChanged(s middleware.BreakerState) { m.breaker.Set(float64(s)) }
