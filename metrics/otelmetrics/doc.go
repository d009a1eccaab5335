// Package otelmetrics records what a cachestack cache does with
// OpenTelemetry metric instruments: one Int64Counter per middleware.Metric
// (cachestack.hits, cachestack.misses, cachestack.stale,
// cachestack.revalidated, cachestack.coalesced, cachestack.stored_bytes,
// cachestack.store_errors, cachestack.store_timeouts, ...), the store
// latency histogram cachestack.store.duration (seconds, attributes op and
// outcome), and the breaker's state as the gauge cachestack.breaker.state.
//
// It lives in a module of its own so that the cache's core depends on no
// metrics library.
package otelmetrics
