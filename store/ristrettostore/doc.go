// Package ristrettostore is a typed, in-memory store.Store over ristretto
// (github.com/dgraph-io/ristretto/v2): a concurrent cache with a TinyLFU
// admission policy and sampled-LFU eviction.
//
// A Store holds values of any type V as they are, with no encoding, under
// string or integer keys (the comparable key types ristretto takes), up to
// a byte budget: each value costs what Options.Size says (by default its
// Size() method, so a *cached.Response costs its size in bytes). The ttl
// given to Set is passed to ristretto, which drops the entry once it has
// passed; the store also keeps the entry's own expiry and checks it on
// every Get, with Options.Clock, so that expiry can be tested with a fake
// clock.
//
// # Dropped writes
//
// Ristretto applies writes asynchronously, through a buffer that one
// goroutine drains, and may decide not to keep them:
//
//   - a Set finds the buffer full under heavy contention and is dropped;
//   - the admission policy rejects a new entry when the cache is full and
//     the entry is judged less likely to be used than those it would
//     evict;
//   - a value that costs more than MaxBytes is never kept (the store then
//     also removes any older value under the same key).
//
// None of these is an error: Set returns nil, and a later Get misses, as
// for an entry that was evicted. Because writes are applied a moment
// later, a Get right after a Set may miss, and a Get right after a Delete
// of a key whose Set was still buffered may briefly see the value.
//
// One more consequence of ristretto's buffering is not a miss: when two
// Sets of a key that is not yet in the cache are buffered together,
// ristretto keeps the first value and drops the second, until the next
// Set of the key (which, the key being present, replaces it at once) or
// the first value's ttl. For an HTTP cache that means an older response
// for a while, which the cache still judges by its own freshness; callers
// that need last-write-wins use Synchronous.
//
// Options.Synchronous (or calling Wait) makes writes visible, in order,
// before Set and Delete return; tests use it.
//
// # Listing
//
// Ristretto keeps only hashes of keys, so the store keeps each key in its
// entry too (a string key costs its 16-byte header; its bytes are shared
// with the caller's string). Keys copies the live keys into a slice before
// yielding them, as ristretto can only visit its entries under its locks:
// a listing costs one slice of keys.
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
// Ristretto runs two goroutines per store; Close stops them and waits for
// them. Calls never wait on anything but ristretto's own goroutine, so they
// ignore their context, except Keys, which checks it as it goes, and
// Clear, which checks it before it starts.
package ristrettostore
