// Package slabstore is an in-memory store of *cached.Response values for
// large caches: it keeps its entries where the garbage collector has
// nothing to scan, and serves a hit without copying the body.
//
// A typed store such as memstore holds each entry as several heap objects
// (the entry, the response, its strings, its body), and every garbage
// collection cycle marks all of them: with hundreds of megabytes cached,
// that is tens to hundreds of milliseconds of CPU a cycle. Byte stores such
// as bigcachestore avoid it but copy the body out on every hit, and decode
// the entry. A slabstore copies a response once, on Set, into a record in
// a segment, a []byte of up to 1 MiB with no pointers in it, and finds it
// through an index from key hash to record location, a map[uint64]uint64,
// which has no pointers either: a cycle marks a few objects per segment,
// whatever the number of entries. A Get builds a new *cached.Response
// whose strings, header and body are the record's own bytes (one
// allocation, one for a Vary index and the variant it holds inline, more
// only for the fields of a response that varies: its VaryHeader map, its
// index's Vary list).
//
// # Why aliasing is safe
//
// A record, once written, is never written again (but for a use count the
// response does not include), and a segment is never reused: eviction
// drops it from the store, and the garbage collector frees it once the
// last response built from it is gone. A response returned by Get stays
// valid and unchanged for as long as the caller holds it, after its entry
// is overwritten, deleted or evicted and after Close; a hit's body needs
// no Close to release anything, and one never closed holds nothing once
// the caller drops it.
//
// A response holds its whole segment in memory while it is held, so the
// store bounds what evicted segments can take: it counts the evicted
// segments that a Get returned a response over until the garbage
// collector frees them (runtime.AddCleanup), and while they add up to more
// than MaxBytes, Get returns a response over a copy of the record instead
// (one more allocation and a copy of the body), which holds nothing of the
// store's. Memory is then at most MaxBytes of segments, up to twice
// MaxBytes of evicted segments still referenced (the segments live when
// the bound is passed may have been aliased before, and are evicted
// later), and those copies. In a program that drops its responses, evicted
// segments are garbage until the next collection, as memstore's evicted
// entries are. A caller that holds responses for long pays for them, and
// should copy a body it means to keep.
//
// Responses are read-only, like every stored response (see
// cached.Response): their Body is the store's memory.
//
// # Eviction
//
// Each shard writes records one after another into its newest segment.
// When it needs a new one and is at its budget, it takes out its oldest
// segment: the records in it that were read since they were written (or
// last moved) and have not expired move to the new segment, their use
// count lowered by one, while they fill less than half of it; the others
// are evicted. Entries in use stay and one-off entries leave in the order
// they came (first in, first out with reinsertion, as a CLOCK does), and an
// entry read often survives several passes. Deleted and overwritten
// records take room until their segment is evicted. A response larger
// than half a segment gets a segment of its own, which is evicted in turn
// like the others, without being moved.
//
// # Sharding and budgets
//
// A store is split by key hash into up to 16 shards, each with its own
// lock and an even share of MaxBytes, so that each has at least 16
// segments; a shard's segments are 64 KiB to 1 MiB. A response whose
// record costs more than a shard's share is not kept: Set returns an error
// matching store.ErrTooLarge.
//
// # Contexts
//
// Get, Set and Delete never wait, so they ignore their context. Keys checks
// it between shards, and Clear before it starts.
package slabstore
