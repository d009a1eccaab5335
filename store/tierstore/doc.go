// Package tierstore layers two stores of the same types: a small, fast
// front (an in-process store such as memstore, otterstore or
// ristrettostore) over a larger, slower back that is the reference (a
// shared or persistent store such as redisstore or diskstore, or
// bigcachestore through codec.Bind).
//
//   - Get reads the front; on a miss it reads the back and, on a hit
//     there, copies the entry into the front for Options.FrontTTL.
//   - Set writes the back first, then the front. If the back fails, Set
//     returns its error without writing the front.
//   - Delete and Clear act on the back, then the front, trying both and
//     returning the first error.
//   - Keys lists the back's keys.
//   - Over a front that never blocks (store.NonBlocking) and a back that
//     can answer some lookups without blocking (store.TryGetter: diskstore
//     through codec.Bind), the Store hands out a TryGetter too, which
//     reads as Get does with the back's TryGet, so that the cache serves
//     such hits from the request's goroutine.
//
// # Staleness
//
// Get cannot learn an entry's remaining ttl from the back, so an entry
// copied into the front lives there for FrontTTL (default one minute),
// whatever is left of its ttl in the back. Two consequences:
//
//   - when another process deletes or overwrites a key in a shared back,
//     this process may go on reading the old value from its front for up
//     to FrontTTL;
//   - an entry may outlive its ttl in the back by up to FrontTTL. The
//     cache checks a cached response's own expiry on every read, so this
//     never serves a stale response as fresh; it matters only to other
//     uses of the store.
//
// Within one process, Set and Delete keep the tiers in step, except for a
// Get that reads the back concurrently with a Delete and fills the front
// after it: that value, too, lives at most FrontTTL. Choose FrontTTL as
// the staleness the application tolerates.
//
// # Coherent fronts
//
// NewCoherent makes a Store whose front also listens to a Bus (for Redis,
// redisstore.Bus): each Set, Delete and Clear publishes the keys it
// changed, once the back has them, and every other Store on the bus drops
// them from its front, so another process's change is seen within the
// bus's Lag (redisstore.Bus: 2 × its PingInterval, 500 ms by default)
// rather than FrontTTL: the front is served only while the bus has
// confirmed delivery up to within Lag of the present. The races of read-through are closed: a
// Get or Set whose front write may have crossed an invalidation of its key
// (or the same Store's Set or Delete of it) deletes what it wrote. When
// the bus loses its subscription, the front is flushed and works as
// without a bus (FrontTTL bounds staleness) until the bus subscribes
// again, which flushes it once more. Coherent reports which of the two
// holds.
//
// # Ownership
//
// A Store owns its front and back: Close closes both, front first. Set
// Options.LeaveOpen to share them with other code that closes them.
package tierstore
