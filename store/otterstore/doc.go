// Package otterstore is a typed, in-memory store.Store over otter
// (github.com/maypok86/otter/v2): a concurrent cache with W-TinyLFU
// eviction, the Go counterpart of Java's Caffeine.
//
// A Store holds values of any type V as they are, with no encoding, under
// comparable keys K, up to a byte budget: each value weighs what
// Options.Size says (by default its Size() method, so a *cached.Response
// weighs its size in bytes), and otter evicts the entries least likely to
// be used again when the total goes over MaxBytes. The ttl given to Set is
// the entry's own expiry in otter (a variable, per-entry expiry: each
// write sets it, reads leave it alone), measured by Options.Clock, which
// becomes otter's clock; an expired entry is never returned.
//
// Unlike ristretto, otter applies writes at once: a Get after Set sees the
// value and a Get after Delete misses, and a new entry is always admitted
// (otter may evict it soon after, when the budget is exceeded, but does not
// refuse it). Eviction itself runs a moment later, in otter's maintenance,
// so the budget may be exceeded briefly. A value that costs more than
// MaxBytes is never kept; Set then removes any older value under its key.
//
// Keys streams the keys from otter's table, a bucket at a time, skipping
// expired entries; the loop body may use the store.
//
// # Ownership
//
// For V = []byte the store copies: Set stores a copy of the slice it is
// given, and Get returns a fresh copy that the caller owns. View
// (store.Viewer) returns the stored slice itself, read-only and shared,
// which the store never writes into: codec.Bind reads through it, so a hit
// through Bind copies nothing. Any other V is
// stored and returned as is — a *cached.Response put in is the one every
// later Get returns, shared between callers — so such values must be
// treated as immutable once they have been given to Set.
//
// # Goroutines and contexts
//
// Otter runs a goroutine that expires entries once a second, and its
// maintenance on short-lived goroutines, which the store starts for it.
// Close stops the first and waits for the others. Calls never wait, so
// they ignore their context, except Keys, which checks it as it goes, and
// Clear, which checks it before it starts.
package otterstore
