// Package bigcachestore is a byte store.Store over bigcache
// (github.com/allegro/bigcache/v3): string keys, []byte values, held in
// large byte queues that the garbage collector does not scan, so that a
// cache of millions of entries costs no GC time.
//
// Typed values go through a codec:
//
//	bs, err := bigcachestore.New(nil)
//	...
//	responses := codec.Bind(bs, codec.Response()) // store.Store[string, *cached.Response]
//
// # Expiry
//
// Bigcache has one LifeWindow for the whole cache, not a ttl per entry, so
// the store writes each entry's own expiry before its value: 8 bytes, the
// Unix time in nanoseconds (0 for none), which Get checks with
// Options.Clock. Options.LifeWindow sets bigcache's window as well: an
// entry is a miss from the earlier of its ttl and LifeWindow after it was
// set. The store checks both exactly, on every read; bigcache, which counts
// whole seconds, removes entries whose window has passed (the window
// rounded up to a second) to reclaim their space — on a timer if
// Options.CleanWindow is set, otherwise as later Sets come across them. An
// entry whose ttl has passed is a miss at once but keeps its space until
// bigcache's queue wraps around to it, since bigcache cannot delete a key
// only if it is unchanged.
//
// # Budget
//
// Options.MaxBytes becomes bigcache's HardMaxCacheSize, which is in MiB:
// it is rounded up to a whole MiB, split evenly among the shards, and
// counts what bigcache stores (value, key, the 8-byte expiry and about 23
// bytes of bigcache's own headers an entry). A full shard drops its oldest
// entries (first in, first out, not least recently used). The space of an
// overwritten or deleted entry is reclaimed only when the queue wraps
// around to it. A value that, with its key, takes more than half a shard
// (2 MiB of the default 64 MiB in 16 shards) is not kept: Set returns nil
// and removes any older value under its key, and a later Get misses;
// Options.Shards trades the largest value for less lock contention.
//
// Keys are hashed to 64 bits (FNV-1a); two keys with the same hash take
// turns in one slot, each Set evicting the other, and Get never returns
// the other key's value. Keys longer than MaxKeyLen (65517 bytes) are refused: bigcache
// would panic on them.
//
// # Ownership
//
// Set copies the value into bigcache; the caller keeps its slice. Get
// returns a slice the caller owns: bigcache copies the entry out of its
// queue, and Get returns that copy without the expiry prefix, so a hit
// costs one copy of the value. bigcache reuses its queue's memory, so the
// store cannot hand out its bytes without that copy: it has no View
// (store.Viewer), unlike memstore over []byte.
//
// # Goroutines and contexts
//
// With Options.CleanWindow set, bigcache runs one goroutine, which Close
// tells to stop; bigcache gives no way to wait for it, but it exits as
// soon as it sees the signal. Without it the store runs none. Calls wait
// only for a shard's lock, so they ignore their context, except Keys,
// which checks it as it goes, and Clear, which checks it before it starts.
package bigcachestore
