// Package mongostore is a store.Store[string, []byte] kept in MongoDB, or
// a server that speaks its wire protocol (FerretDB), through the official
// driver, go.mongodb.org/mongo-driver/v2.
//
// It is the Go counterpart of the MongoDB backend of aiohttp-client-cache
// (the reference library), whose cache name is the database: a store keeps
// its entries in the collection Options.Collection (default "responses")
// of the database Options.Database (default: the database the URI names,
// else "cachestack"). Lift it to typed responses with codec.Bind(s,
// codec.Response()), or open one in a line with OpenResponses.
//
// It lives in its own Go module, github.com/cachestack/cachestack/store/mongostore,
// so that users of the core do not download a MongoDB driver.
//
// # Documents
//
// Each entry is one document:
//
//	{_id: <key>, body: BinData(0, <value>), expires: ISODate(<now + ttl>)}
//
// expires is left out when the entry has no ttl. The key is the _id as a
// string when it is valid UTF-8 without NUL bytes (cache keys always are),
// and as binary otherwise, so that every key round-trips on every server.
// Set is a replaceOne with upsert; when two upserts of a new key race and
// one fails with a duplicate-key error, it is retried once as a replace.
// SetMany (store.Batcher) sends the same upserts in one ordered BulkWrite,
// which the cache's write-back queue uses for the writes that pile up
// while one is being made.
//
// # Expiry
//
// Setup, which the first Set calls, creates a TTL index on expires
// (expireAfterSeconds 0), and the server deletes expired documents itself,
// about once a minute. Get and Keys never return an entry whose expiry, by
// Options.Clock, has passed, whether or not the server has deleted it yet.
// A server without TTL indexes, such as FerretDB 1.x (it answers
// NotImplemented, code 238), still works: reads filter expired documents
// out, and a background purge deletes them every Options.PurgeInterval
// (DeleteExpired does the same on demand). NativeExpiry tells which case
// holds.
//
// # Listing and clearing
//
// Keys runs one find over the live documents, projected to _id, through a
// cursor that fetches Options.BatchSize keys per round trip: it holds one
// batch, never the whole key set, and a loop that breaks closes the
// cursor. Clear deletes every document of the collection and keeps its
// indexes.
//
// # Ownership, timeouts and errors
//
// New takes the caller's client and never disconnects it; Open and
// OpenResponses make a client the store owns and Close disconnects. New
// and Open do no I/O, so they succeed while the server is down. Every
// call to the server is bounded by Options.Timeout (default 5 s; one
// batch for Keys), so a server that has gone away costs a cache at most
// that much per lookup before the request goes to the network; the
// driver reconnects by itself when the server is back. A miss is the bare
// store.ErrNotFound; every other failure is a *store.Error ("mongostore get
// …") that unwraps to the driver's error. Get returns a slice of the
// reply the driver read for it, which the caller owns; Set keeps no
// reference to its value.
package mongostore
