// Package redisstore is a store.Store[string, []byte] kept in Redis, through
// a github.com/redis/go-redis/v9 client that the caller makes and owns.
//
// It is the Go counterpart of aiohttp-client-cache's Redis backend, whose cache
// name is a namespace: every key is stored as "<namespace>:<key>"
// (Options.Namespace, default "cachestack"), and listing and clearing touch
// only the keys that start with "<namespace>:". Lift it to typed responses
// with codec.Bind(s, codec.Response()).
//
// It lives in its own Go module, github.com/cachestack/cachestack/store/redisstore,
// so that users of the core do not download a Redis client.
//
// # Commands
//
//	Get     GET <ns>:<key>                 redis.Nil is store.ErrNotFound
//	Set     SET <ns>:<key> <value> [PX ms] PX when ttl > 0, rounded up to ms
//	Delete  UNLINK <ns>:<key>
//	Keys    SCAN <cursor> MATCH <ns>:* COUNT <ScanCount>, streamed
//	Clear   the same SCAN, each batch removed with UNLINK
//
// # Expiry and memory
//
// A positive ttl becomes the key's native Redis expiry, so Redis drops the
// entry and Get never sees an expired one. Setting a key without a ttl
// removes any expiry it had. What bounds the store's memory is the server's
// maxmemory and maxmemory-policy: a cache should run on a server, or
// database, whose policy evicts (allkeys-lru, allkeys-lfu, or volatile-* when
// every entry has a ttl), since under noeviction a full server makes Set fail
// (the cache then steps aside, and requests go to the network).
//
// # Listing and clearing
//
// Keys walks SCAN with MATCH, holding one batch of keys (about
// Options.ScanCount) at a time, never the whole key set; a loop that breaks
// sends no further SCAN. SCAN's guarantees carry over: every key present
// for the whole walk is yielded, a key may be yielded twice (when Redis
// resizes its table during the walk), and keys set or deleted during it may
// or may not be. Clear removes each batch with UNLINK. Namespaces are
// escaped in MATCH patterns, so a namespace with glob characters matches
// only itself, and a namespace may not contain ':', so that none overlaps
// another ("a" would otherwise list and clear "a:b"'s keys). With a
// ClusterClient or a Ring, Keys and Clear scan every primary or shard in
// turn, and Clear unlinks keys one by one in a pipeline, since their slots
// may differ.
//
// # Ownership
//
// The caller owns the client. Close marks the store closed — later calls
// return errors matching store.ErrClosed — but does not close the client,
// which the caller closes after the stores it serves. Set keeps no
// reference to its value. Get returns the buffer the client read the reply
// into, which nothing else refers to: the caller may keep, modify and append
// to it.
//
// # Coherent memory fronts
//
// A Bus (NewBus) carries invalidations between the tierstore fronts of
// several processes over one Redis or Redis Cluster, by PUBLISH and
// SUBSCRIBE on the channel "<namespace>:invalidations"; give it to
// tierstore.NewCoherent. Each subscription pings every
// BusOptions.PingInterval (default 250 ms); since a reply arrives after
// every message published before the ping, each reply confirms delivery up
// to the ping, and the front is served only while that confirmation is
// within Lag (2 × PingInterval) of the present: another process's write is
// seen within 2 × PingInterval of that write returning. A ping unanswered
// for PingInterval, or a failed connection, counts as lost: the front is
// flushed and falls back to FrontTTL until the Bus is subscribed again (a
// back-off from 50 ms to 2 s between attempts). Pub/sub needs no server configuration, so it works on
// managed services that disable keyspace notifications; it carries only the
// writes made through a coherent tierstore, so keys changed by other
// programs are seen after FrontTTL.
//
// # Redis Cluster
//
// With a *redis.ClusterClient, a failed command other than a server's
// reply (a refused connection, a timeout, CLUSTERDOWN, READONLY) asks the
// client to reload the cluster's layout in the background: go-redis
// otherwise reloads it only on a MOVED reply or every 10 s, and goes on
// sending a failed primary's slots to it after its replica has taken
// over. A failover then costs the cluster's own detection and election
// (about cluster-node-timeout plus a second) and not 10 s more.
//
// # Contexts and errors
//
// Every call checks its context before sending a command, and Keys and
// Clear before each batch. go-redis applies a context's deadline to socket
// reads and writes only when the client's Options.ContextTimeoutEnabled is
// set; otherwise its own ReadTimeout and WriteTimeout bound a command. A
// miss is the bare store.ErrNotFound; every other failure — Redis down, a
// key holding another type, a cancelled context — is a *store.Error
// ("redisstore get …") that unwraps to the client's error. New does no I/O:
// it succeeds while Redis is down, and the calls then fail.
//
// # Leases
//
// A Store is a store.Leaser, which the cache uses to coalesce concurrent
// misses across the processes that share it
// (cachestack.Options.CoalesceAcrossProcesses, middleware.LeaseOptions):
//
//	Acquire       SET :lease:<ns>:<key> <random token> NX PX <ttl ms>
//	Release       a script: DEL the lease key if it still holds the token
//	AwaitRelease  PTTL :lease:<ns>:<key>, polled from 2ms, growing by half
//	              up to 25ms, never past the lease's expiry
//
// A lease key starts with ':', which no entry key does, so Keys and Clear
// never meet one; each is a single key, so leases work on a Redis Cluster
// as on one server. A lease that is never released (its holder crashed)
// ends when Redis expires it.
//
// # Writes in batches
//
// A Store is a store.Batcher: SetMany sends its items' SET … PX commands
// in one pipeline, one round trip (one per node of a cluster), which the
// cache's write-back queue uses for the writes that pile up while one is
// being made.
package redisstore
