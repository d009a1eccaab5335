// Package memstore is a bounded, typed, in-memory store.Store.
//
// A Store holds values of any type V under comparable keys K, up to a byte
// budget (each value costed by Options.Size) and an entry budget. When a
// Set goes over, it keeps the entries used most often, with room for the
// newest (see Eviction below): on the request streams of an HTTP cache,
// where a few URLs are asked for far more often than the rest, that
// misses fewer requests than evicting the least recently used, and a
// one-off sweep through URLs nobody asks for again does not flush the
// entries in use. Entries whose ttl has passed are misses; they are
// removed when a Get or Keys comes across them, or when eviction reaches
// them, not by a background goroutine, so a Store owns no goroutines.
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
// # Eviction
//
// Each shard (below) splits its budgets in three segments, in the manner of
// W-TinyLFU: a window of 1 % for the newest entries, and a main space of
// the rest, whose protected segment (80 % of it) holds entries read again
// since they got there, and whose probation segment the others. A Set puts
// a new entry in the window. The oldest entry of a full window moves to the
// main space if there is room; if there is not, it moves there only if it
// has been used more often than the entries that would make room for it
// together (victims: the oldest of probation not read since eviction last
// passed them; a candidate whose count is at the top needs only to beat
// each), and otherwise it goes and they stay. So an entry used once never
// pushes out one used twice, and a large entry takes the place of many
// small ones only if it is used more than all of them. The window never
// takes room from the main space: a new entry pushes out only older ones
// of the window.
//
// Uses are counted in the entry while it is held: a Get takes its shard's
// lock for reading only and records the use in the entry with one atomic
// operation, or none once the entry is marked and its count is at the top
// (15), so hits in parallel never queue behind each other. The uses of
// keys not held (misses, and the counts of evicted entries) are kept in a
// small count-min sketch per shard, written by Set only: a key that comes
// back after eviction is no stranger. All counts are halved every three
// Sets of new keys per entry a shard holds, so that what was popular long
// ago gives way to what is popular now.
//
// The entry a Set just put in the window stays there until newer entries
// push it out, unless it costs more than the window's byte share (1 % of a
// shard's byte budget: 40 KiB with the default budget): such an entry
// faces the admission as soon as it is set, so on a full store a new large
// value may not be kept the first time it is set. By count the window
// holds one entry at least, unless MaxEntries is 1; a byte budget under
// 100 bytes leaves no window at all, and on such a store a new entry is
// kept only if it wins the admission.
//
// # Sharding and budgets
//
// Writers (Set, Delete, eviction) take a shard's lock exclusively. A store
// is split by key hash into up to 16 shards, each with its own lock,
// segments, sketch and an even share of both budgets. The number of shards
// is a power of two chosen so that every shard has at least 4 MiB and 256
// entries of whichever budgets are set: the default 64 MiB budget gives 16
// shards of 4 MiB; a budget below 8 MiB or 512 entries gives a single
// shard. With several shards:
//
//   - eviction is within a shard, not across the whole store, and a shard
//     evicts when it alone is over its share, so a store whose keys hash
//     unevenly may evict before it is full;
//   - the largest value kept is a shard's byte share, MaxBytes divided by
//     the number of shards (4 MiB with the default budget). Set of a value
//     that costs more keeps nothing, removes any older value under the
//     same key and returns an error matching store.ErrTooLarge.
//
// # Contexts
//
// Get, Set and Delete never wait, so they ignore their context. Keys checks
// it between shards, and Clear before it starts.
package memstore
