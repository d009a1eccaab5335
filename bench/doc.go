// Package bench holds cachestack's benchmarks: the hit path through the
// default stack for every in-process store, the cost of each layer alone,
// a miss against a plain loopback round trip, and the same hit through
// gregjones/httpcache and gohugoio/httpcache, measured side by side.
//
// It is its own module so that the peers it measures are not dependencies
// of cachestack. See README.md for how to run and compare, and
// cmd/cachebench for a workload-level comparison of the stores.
package bench
