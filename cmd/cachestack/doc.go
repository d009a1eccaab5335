// Command cachestack looks inside a cachestack HTTP cache: it lists, shows
// and removes the responses a cache built with
// github.com/cachestack/cachestack stores on disk (store/diskstore), in
// SQLite (store/sqlitestore), in PostgreSQL (store/pgstore) or in Redis
// (store/redisstore). It is aiohttp-client-cache's cache inspection
// (cache.urls, delete_url, delete_expired_responses, clear) as a shell
// command.
//
// Install it with
//
//	go install github.com/cachestack/cachestack/cmd/cachestack@latest
//
// # Usage
//
//	cachestack ls     CACHE [URL|PATTERN]...   list stored responses
//	cachestack show   CACHE URL | --key KEY    print one stored response's body (-i, -I: its header)
//	cachestack rm     CACHE URL|PATTERN...     remove stored responses
//	cachestack purge  CACHE                    remove expired responses
//	cachestack clear  CACHE                    remove every entry (asks first unless --yes)
//	cachestack stats  CACHE                    count entries, bytes, fresh and stale
//	cachestack help   [command]
//
// Flags may come before or after the operands. ls, show, stats and purge
// print JSON with --json. "cachestack help COMMAND" lists a command's
// flags.
//
// # Naming the cache
//
// CACHE says which backend holds the cache:
//
//	./http-cache, disk:./http-cache   a diskstore directory (it holds a .cachestack-diskstore marker)
//	./http.sqlite                     a file that is a SQLite database
//	sqlite:PATH, sqlite:///abs/PATH   the same, said explicitly
//	file:PATH?mode=…                  a SQLite URI, passed to the driver
//	postgres://user@host:5432/db      a PostgreSQL database (postgresql:// too)
//	redis://host:6379/0, rediss://…   a Redis database
//
// A path that is a directory is a disk cache; a file is a SQLite database.
// In SQLite and PostgreSQL the cache is a table: --table (default
// "cachestack") and, for PostgreSQL, --schema (default: the connection's
// current schema). In Redis it is the keys of a namespace, "<namespace>:…":
// --namespace (default "cachestack"). These are the Options.Table,
// Options.Schema and Options.Namespace of the stores.
//
// Nothing is ever created. A path that does not exist, a directory
// without diskstore's marker, a file that is not a SQLite database and a
// database without the cache's table are refused with exit status 1, and
// nothing in them is changed, whatever the command. A Redis namespace has
// no marker: one without keys is an empty cache (ls says so on stderr),
// and one whose keys hold not one cache entry is refused.
//
// # Selecting responses
//
// A URL (an argument with "://" and no "*" or "[") selects the responses
// stored for exactly that URL, as ls shows it: normalised by the cache, and
// without the query parameters the cache was told to ignore. Any other
// argument is a pattern, in the syntax of cachestack.Options.URLExpiry: it
// matches the URLs that start with it, "*" matches any run of characters,
// "?" any one, and a pattern without a scheme matches any scheme:
//
//	cachestack ls ./http-cache example.com/api/            # every response below /api/
//	cachestack rm ./http-cache 'https://example.com/a/*.png'
//
// ls and rm select every method unless -X names one; show selects a GET
// unless -X names another. A response that varies on request header fields
// (Vary) may be stored several times for one URL; show then lists the
// entries' keys, and --key selects one (ls --keys and ls --json show keys).
//
// # Output
//
// ls prints one response a line, in the order the store lists them
// (pipe to sort to order them): method, status, body size, when it was
// stored and when it expires (UTC, RFC 3339, or "never"), whether it is
// stale (past its expiry: the cache revalidates it before use, or serves it
// where it was told it may), and the URL. --json prints a JSON array of
// objects with the keys key, method, url, status, size, created, expires
// (null: never), stale and vary.
//
// show prints the body to stdout exactly as stored, so that
// "cachestack show CACHE URL > body" saves it; -i prints the status line
// and header fields before it, as curl -i does, and -I prints them alone.
// show --json prints one object: the keys of ls --json, proto, header (field
// name to values) and body_base64 (left out with --no-body).
//
// # What is never printed
//
// The cache stores no secret in clear: the query parameters it ignores are
// removed from URLs, the request header values a response varies on
// (credentials, cookies) are kept only as digests, and Set-Cookie is not
// stored unless the cache was told to share credentials. cachestack
// prints no digest (only the names of the fields a response varies on),
// prints Set-Cookie values as "[redacted]" in every output, and removes
// the password from database URLs in its messages.
//
// # A cache in use
//
// The commands may run while another process uses the cache. They read
// SQLite read-only (ls, show, stats), with a busy timeout for the writes
// of rm, purge and clear, and keep the file's journal mode; disk entries
// are written by renaming whole files, so a read sees an old or a new entry,
// never half of one. Looking changes nothing: the stores are opened so
// that reading refreshes no entry's recency (which would change what the
// cache's process evicts next) and removes nothing. Entries whose storage
// lifetime has ended but that are still stored are shown, as stale; purge
// removes them.
//
// # Limitations
//
//   - Entries of a cache with Options.Signer or Options.Sealer are counted
//     by stats ("protected") but not listed, shown or matched: the command
//     takes no key to open them, and ls says how many it left out.
//   - Redis is one server (redis:// or rediss://); Redis Cluster and Ring
//     are not opened.
//   - Opening a disk cache needs write permission on its directory, as the
//     library does; a directory from a release before diskstore's marker
//     is refused until the library has opened it once.
//   - Reading an idle SQLite cache in WAL mode leaves its -wal and -shm
//     files, SQLite's own, as any read-only reader does.
//   - A PostgreSQL table is looked for before the store is opened; were it
//     dropped in between, the store would create it again, empty.
//
// # Exit status
//
// 0 on success; 1 on failure, including a location that is not a cache,
// a show that finds no response, and an rm argument that matches nothing
// (as rm(1) does for a missing file; -f ignores it, and what the other
// arguments match is removed); 2 for a mistake in the command line, and
// for clear without --yes when stdin is not a terminal to ask on.
//
// # Installing from a release
//
// The command is its own Go module, github.com/cachestack/cachestack/cmd/cachestack,
// so that the core module does not depend on database drivers. "go install
// …@latest" builds it from its latest tag, cmd/cachestack/vX.Y.Z, whose
// go.mod requires released versions of the root module and of the
// store/sqlitestore, store/pgstore and store/redisstore modules (tagged
// store/sqlitestore/vX.Y.Z and so on) and has no replace directives, which
// go install refuses.
package main
