// Package memstore is a bounded, typed, in-memory store.Store.
//
// A Store holds values of any type V under comparable keys K, up to a byte
// budget (each value costed by Options.Size) and an entry budget, evicting
// about the least recently used entries (CLOCK, see below) when a Set goes
// over. Entries whose ttl has passed are misses; they are removed when a
// Get or Keys comes across them, or when eviction reaches them, not by a
// background goroutine, so a Store owns no goroutines.
//
// # Ownership
//
// For V = []byte the store copies: Set stores a copy of the slice it is
// given, and Get returns a fresh copy that the caller owns. Any other V is
// stored and returned as is — a *cached.Response put in is the one every
// later Get returns, shared between callers — so such values must be
// treated as immutable once they have been given to Set.
//
// # Sharding and budgets
//
// A Get takes its shard's lock for reading only: rather than move the entry
// in a recency list it sets a mark on it, so hits in parallel never queue
// behind each other. Eviction is CLOCK (second chance): it takes entries
// from the back of the list in the order they were set, but moves a marked
// one to the front with its mark cleared instead of removing it, so an
// entry read since eviction last passed it stays. Writers (Set, Delete,
// eviction) take the lock exclusively. A store is split by key hash into
// up to 16 shards, each with its own lock, list and an even share of both
// budgets. The number of shards is a power of two chosen so that every
// shard has at least 4 MiB and 256 entries of whichever budgets are set:
// the default 64 MiB budget gives 16 shards of 4 MiB; a budget below 8 MiB
// or 512 entries gives a single shard. With several shards:
//
//   - eviction is within a shard, not across the whole store, and a shard
//     evicts when it alone is over its share, so a store whose keys hash
//     unevenly may evict before it is full;
//   - the largest value kept is a shard's byte share, MaxBytes divided by
//     the number of shards (4 MiB with the default budget). Set of a value
//     that costs more returns nil but keeps nothing, and removes any older
//     value under the same key.
//
// # Contexts
//
// Get, Set and Delete never wait, so they ignore their context. Keys checks
// it between shards, and Clear before it starts.
package memstore
