// Package prommetrics exports what a cachestack cache does to Prometheus:
// one counter per middleware.Metric (cachestack_hits_total,
// cachestack_misses_total, cachestack_stale_total,
// cachestack_revalidated_total, cachestack_coalesced_total,
// cachestack_stored_bytes_total, cachestack_store_errors_total,
// cachestack_store_timeouts_total, ...), the store latency histogram
// cachestack_store_duration_seconds{op,outcome}, and the breaker's state as
// the gauge cachestack_breaker_state.
//
// It lives in a module of its own so that the cache's core depends on no
// metrics library.
package prommetrics
