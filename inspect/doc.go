// Package inspect serves a read-only debug view of a cachestack cache, in
// the manner of net/http/pprof: its stats (every count, store latency
// percentiles, the circuit breaker, the write-back queue) and a paginated,
// filterable list of the stored responses (URL, method, status, size, age,
// expiry), as an HTML page for a person and as JSON for a script.
//
// Mount it where only operators reach it, at a path ending in a slash
// (the page's links are relative to it):
//
//	mux.Handle("/debug/cache/", http.StripPrefix("/debug/cache", inspect.Handler(c, nil)))
//
// It answers GET and HEAD only and changes nothing. URLs are shown as the
// cache keys them: normalised, with the ignored parameters
// (cachestack.Options.IgnoredParams) left out, so that no token reaches
// the page; header values, bodies and Vary'd request values are never
// shown. Listing entries needs a store that lists its keys
// (store.Lister); with another, the page says so and shows the stats.
package inspect
