// Package sqlitestore is a store.Store[string, []byte] kept in a table of a
// SQLite database file, through modernc.org/sqlite: pure Go, no cgo.
//
// It is the Go counterpart of the SQLite backend of aiohttp-client-cache
// (the reference library), where it is the default persistent backend. As
// there, the cache name is the database path, and a leading "~" is the
// user's home directory:
//
//	responses, err := sqlitestore.OpenResponses("~/.cache/myapp/http.sqlite", nil)
//	c, err := cachestack.New(&cachestack.Options{Store: responses})
//
// OpenResponses gives the typed store that cachestack.Options.Store takes;
// Open gives the byte store, for codec.Bind or sign.Wrap; New wraps a
// *sql.DB the caller opened and owns. The package lives in its own Go
// module, github.com/cachestack/cachestack/store/sqlitestore, so that users
// of the core do not download a database engine.
//
// # Table
//
// Entries live in one table (Options.Table, default "cachestack"; several
// stores may share a file with different tables):
//
//	key     BLOB PRIMARY KEY  the key's bytes, exactly
//	value   BLOB              the value
//	size    INTEGER           len(key) + len(value)
//	expires INTEGER           Unix nanoseconds by the store's Clock; 0 never
//	used    INTEGER           Unix nanoseconds of the last write or touched read
//
// with an index on expires (for purging) and one on used (for eviction),
// and a one-row table <Table>_usage holding the sum of size and the count
// of rows, which triggers keep exact inside every write's transaction.
// Open creates what is missing, and refuses, with an error naming both
// shapes, a table of that name with other columns.
//
// # Connections
//
// Open always builds a SQLite URI, so the options and any parameters of a
// "file:" URI given as the path reach the driver (modernc.org/sqlite reads
// _pragma=name(value), _busy_timeout, _journal_mode, _synchronous,
// _txlock, mode=ro and more). Defaults, each overridden by the URI when it
// sets the same thing: journal_mode WAL (readers never wait for the
// writer), busy_timeout 5s (a connection waits for a lock held by another
// connection or process instead of failing with "database is locked"),
// synchronous NORMAL (with WAL, a power loss may lose the last writes but
// never corrupts the file), and _txlock=immediate (write transactions take
// the write lock when they begin, so they wait for it rather than fail when
// upgrading a read). Options.ReadOnly opens with mode=ro: the table must
// exist, reads do not refresh recency, and writes return errors matching
// ErrReadOnly. ":memory:" is a database that lives as long as the store,
// on a single connection.
//
// Within a process, write transactions go one at a time (a semaphore that
// honours the caller's context), so they do not spin in SQLite's busy
// handler; across processes, busy_timeout serialises them. Readers run in
// parallel on the pool's connections.
//
// # Expiry, budget and eviction
//
// A positive ttl is stored as an absolute expiry by the store's Clock
// (Options.Clock, default time.Now); Get and Keys treat an entry whose
// expiry has come as missing. Purge removes expired rows through the
// expiry index, a thousand per statement.
//
// Options.MaxBytes (default 1 GiB) bounds the sum of the keys' and values'
// lengths. Each Set runs in one transaction: the upsert, a read of the
// usage row, and, when the sum is over MaxBytes, the eviction — expired
// rows first, then the least recently used rows other than the one just
// written, down to 90% of MaxBytes — before it commits. So every committed
// state of the file is within the budget, whatever the number of processes
// writing it, and no write reads more than the usage row and the front of
// the recency index: there are no full-table scans. The file itself is
// larger than the budget (page overhead, the key index, free pages), and
// does not need VACUUM: pages freed by deletes and evictions are reused by
// later writes, so under a steady load the file stops growing. An entry
// larger than MaxBytes is not stored.
//
// Recency is the used column: Set writes it, and a Get of an entry last
// touched Options.TouchAfter (default a minute) ago or more sets it to now
// with a small UPDATE, so a read costs at most one write per entry per
// TouchAfter, and recency is known to within TouchAfter. A read never waits
// for a write of its own process to touch: it leaves the touch to a later
// read.
//
// # Listing
//
// SetMany (store.Batcher) writes several entries in one transaction, with
// one eviction check for them all: the cache's write-back queue uses it for
// the writes that pile up while one is being made.
//
// Keys lists the live keys in byte order, Options.PageSize (default 256)
// at a time, each page a query that starts after the last key of the
// previous one (keyset pagination). It holds one page, keeps no statement
// or transaction open while the loop body runs, and sends no further query
// after a loop breaks.
//
// # Ownership, contexts and errors
//
// Set keeps no reference to its value. Get returns a new slice that the
// caller owns. Every call checks its context and the closed state first,
// and passes the context to the driver, which interrupts SQLite when it is
// done. A miss is the bare store.ErrNotFound; every other failure is a
// *store.Error ("sqlitestore get …") that unwraps to the driver's error.
// Close closes the database if Open opened it, and leaves a *sql.DB given
// to New open.
package sqlitestore
