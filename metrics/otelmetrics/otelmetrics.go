package otelmetrics

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/cachestack/cachestack/middleware"
)

// DefaultPrefix starts every instrument name when Options.Prefix is empty.
const DefaultPrefix = "cachestack"

// Options configure New. A nil *Options means the defaults.
type Options struct {
	// Prefix starts every instrument name, followed by a dot; empty
	// means DefaultPrefix.
	Prefix string
	// Attributes are added to every measurement, to tell apart the
	// caches of one process (for example attribute.String("cache", "api")).
	Attributes []attribute.KeyValue
}

// Metrics records a cache's counts, store latency and breaker state with
// OpenTelemetry instruments. It implements middleware.Metrics; pass it as
// cachestack.Options.Metrics or middleware.StoreOptions.Metrics.
type Metrics struct {
	counts  []metric.Int64Counter
	add     metric.AddOption
	latency metric.Float64Histogram
	rec     [3][4]metric.RecordOption // by StoreOp, Outcome
	breaker metric.Int64Gauge
	gauge   metric.RecordOption
}

var _ middleware.Metrics = (*Metrics)(nil)

// New creates the instruments from meter (for example
// otel.Meter("github.com/cachestack/cachestack")).
func New(meter metric.Meter, opts *Options) (*Metrics, error) {
	if meter == nil {
		return nil, errors.New("otelmetrics: meter is nil")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	common := attribute.NewSet(o.Attributes...)
	m := &Metrics{add: metric.WithAttributeSet(common), gauge: metric.WithAttributeSet(common)}
	for _, mm := range middleware.AllMetrics() {
		unit := "{event}"
		if mm == middleware.MetricStoredBytes {
			unit = "By"
		}
		c, err := meter.Int64Counter(o.Prefix+"."+mm.String(), metric.WithUnit(unit),
			metric.WithDescription("cachestack "+mm.String()+" (see middleware.Metric)"))
		if err != nil {
			return nil, fmt.Errorf("otelmetrics: %w", err)
		}
		m.counts = append(m.counts, c)
	}
	var err error
	m.latency, err = meter.Float64Histogram(o.Prefix+".store.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of the cache's store calls, by operation and outcome; a timeout counts at its deadline."),
		metric.WithExplicitBucketBoundaries(0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1))
	if err != nil {
		return nil, fmt.Errorf("otelmetrics: %w", err)
	}
	for op := range middleware.StoreOp(3) {
		for oc := range middleware.Outcome(4) {
			kv := append([]attribute.KeyValue{attribute.String("op", op.String()), attribute.String("outcome", oc.String())}, o.Attributes...)
			m.rec[op][oc] = metric.WithAttributeSet(attribute.NewSet(kv...))
		}
	}
	m.breaker, err = meter.Int64Gauge(o.Prefix+".breaker.state",
		metric.WithDescription("State of the store's circuit breaker: 0 closed, 1 open, 2 half-open."))
	if err != nil {
		return nil, fmt.Errorf("otelmetrics: %w", err)
	}
	return m, nil
}

// Add implements middleware.Metrics.
func (m *Metrics) Add(mm middleware.Metric, n int64) {
	if int(mm) < len(m.counts) {
		m.counts[mm].Add(context.Background(), n, m.add)
	}
}

// StoreLatency implements middleware.Metrics.
func (m *Metrics) StoreLatency(op middleware.StoreOp, d time.Duration, oc middleware.Outcome) {
	if int(op) < len(m.rec) && int(oc) < len(m.rec[op]) {
		m.latency.Record(context.Background(), d.Seconds(), m.rec[op][oc])
	}
}

// BreakerChanged implements middleware.Metrics.
func (m *Metrics) BreakerChanged(s middleware.BreakerState) {
	m.breaker.Record(context.Background(), int64(s), m.gauge)
}
