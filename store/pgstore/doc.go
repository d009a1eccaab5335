// Package pgstore is a store.Store[string, []byte] kept in a PostgreSQL
// table, through a github.com/jackc/pgx/v5 connection pool.
//
// aiohttp-client-cache (the reference library) has no PostgreSQL backend;
// this one follows its SQL backend's shape: the cache name is a table, one
// table per cache. It is for teams that already run PostgreSQL and want the
// cache where their data is:
//
//	responses, err := pgstore.OpenResponses("postgres://app@db:5432/app", &pgstore.Options{Table: "http_cache"})
//	c, err := cachestack.New(&cachestack.Options{Store: responses})
//
// OpenResponses gives the typed store that cachestack.Options.Store takes;
// Open gives the byte store, for codec.Bind or sign.Wrap; New uses a
// *pgxpool.Pool the caller made and owns. The package lives in its own Go
// module, github.com/cachestack/cachestack/store/pgstore, so that users of
// the core do not download a database driver. It needs PostgreSQL 14 or
// later (CREATE OR REPLACE TRIGGER).
//
// # Table
//
// Options.Schema (default: the connection's current schema) and
// Options.Table (default "cachestack") name the table:
//
//	id      bytea PRIMARY KEY  SHA-256 of the key, so keys of any length fit an index entry
//	key     bytea NOT NULL     the key's bytes, exactly
//	value   bytea NOT NULL     the value
//	size    bigint NOT NULL    length of key and value
//	expires timestamptz        by the store's Clock; NULL never
//	used    timestamptz        the last write, or touched read
//
// with a partial index on expires (for purging), an index on used (for
// eviction), and a table <Table>_usage whose sixteen rows hold the sums of
// size and the counts of rows, kept exact by a trigger inside every
// write's transaction and spread by key so that writers of different keys
// rarely wait for one another. Open and New create what is missing, in one
// transaction under an advisory lock (processes starting at once do not
// race), and refuse, with an error naming both shapes, a table of that name
// with other columns. Options.Unlogged creates the tables UNLOGGED —
// cheaper writes, emptied after a crash, not replicated — and a table
// whose persistence differs from the option is refused.
//
// # Statements
//
//	Get     SELECT value, expires, used FROM t WHERE id = $1 AND key = $2
//	Set     INSERT … ON CONFLICT (id) DO UPDATE …, and the usage sum, in one round trip
//	Delete  DELETE FROM t WHERE id = $1
//	Keys    SELECT id, key FROM t WHERE id > $last AND live ORDER BY id LIMIT $page
//	Clear   DELETE FROM t
//	Purge   DELETE … WHERE id IN (SELECT id … WHERE expires <= $now LIMIT 1000 FOR UPDATE SKIP LOCKED)
//
// All use pgx's prepared-statement cache.
//
// # Expiry, budget and eviction
//
// A positive ttl is stored as an absolute expiry by the store's Clock
// (Options.Clock, default time.Now; the server's clock is not used); Get
// and Keys treat an entry whose expiry has come as missing. Purge removes
// expired rows through the expiry index, a thousand per statement.
//
// Options.MaxBytes (default 1 GiB) bounds the sum of the keys' and values'
// lengths. A Set that finds the sum over MaxBytes evicts before it
// returns, in a transaction that only one store at a time runs for a table
// (a transaction-level advisory lock; the others go on without waiting):
// expired rows first, then the least recently used, down to 90% of
// MaxBytes. Eviction reads the usage rows and the front of the recency
// index, never the whole table. While it runs, other Sets may take the
// table over MaxBytes by what they write, until the next Set evicts. An
// entry larger than MaxBytes is not stored. Deleted rows are reclaimed by
// autovacuum, as for any table.
//
// Recency is the used column: Set writes it, and a Get of an entry last
// touched Options.TouchAfter (default a minute) ago or more sets it to now
// with a small UPDATE.
//
// # Listing
//
// Keys lists the live keys in the order of their ids, Options.PageSize
// (default 256) at a time, each page a query that starts after the last
// id of the previous one (keyset pagination on the primary key). It holds
// one page, keeps no connection, statement or transaction while the loop
// body runs, and sends no further query after a loop breaks.
//
// # Timeouts, faults and ownership
//
// Every call, and every page of Keys, runs under Options.Timeout (default
// 3s) as a context deadline, on which pgx abandons the connection; a pool
// that Open makes also sets the server's statement_timeout to nine tenths
// of it (unless the DSN sets one), so that a slow statement is cancelled by
// the server and its connection kept, and its connect timeout to it. When the server is down,
// calls fail as soon as a connection is refused, or at the timeout; the
// cache above then steps aside and sends requests to the network. The pool
// checks idle connections before reuse and replaces broken ones, so once
// the server is back the same store works again.
//
// SetMany (store.Batcher) writes several entries in one round trip and
// one transaction (a pgx batch), with one eviction check for them all: the
// cache's write-back queue uses it for the writes that pile up while one
// is being made.
//
// Set keeps no reference to its value. Get returns a new slice that the
// caller owns. A miss is the bare store.ErrNotFound; every other failure is
// a *store.Error ("pgstore get …") that unwraps to pgx's error. Close
// closes the pool if Open made it, and leaves a pool given to New open.
package pgstore
