package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/codec"
	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/diskstore"
	"github.com/cachestack/cachestack/store/pgstore"
	"github.com/cachestack/cachestack/store/redisstore"
	"github.com/cachestack/cachestack/store/sqlitestore"
)

// storeOptions are the flags that say where in a backend the cache is.
type storeOptions struct {
	table     string // SQLite and PostgreSQL
	schema    string // PostgreSQL
	namespace string // Redis
}

// backend is an opened cache: its typed store and what the commands need
// of its backend.
type backend struct {
	kind     string // "disk", "sqlite", "postgres" or "redis"
	location string // where it is, as messages show it: passwords removed
	s        store.Store[string, *cached.Response]
	keys     func(ctx context.Context) iter.Seq2[string, error]
	clear    func(ctx context.Context) error
	// usage returns the bytes the store counts and, when it knows, its
	// number of rows (-1 when not); nil when the store keeps no count.
	usage func(ctx context.Context) (bytes, rows int64, err error)
	// foreign is true for a backend whose keys may belong to another
	// program (a Redis namespace): a namespace with keys and no entry
	// is not a cache.
	foreign bool
	close   func() error
}

// describe says what the cache is, for messages and stats.
func (b *backend) describe() string { return b.kind + " cache " + b.location }

// notCacheError reports a location that exists and is not a cache.
type notCacheError struct{ msg string }

func (e *notCacheError) Error() string { return e.msg }

// stopped is the clock the stores are opened with. Stores judge their own
// storage lifetime (the ttl they were given) and the recency they keep for
// eviction by it: stopped at the Unix epoch, a store neither refreshes the
// recency of what this command reads (which would change which entries
// the cache's own process evicts next) nor removes, as it passes them,
// entries whose storage lifetime is over. Such entries are shown as they
// are stored, stale, and purge removes them. Whether an entry is stale is
// judged by the entry's own expiry and the real time.
func stopped() time.Time { return time.Unix(0, 0) }

// never is a recency refresh interval that is never reached.
const never = 100 * 365 * 24 * time.Hour

var schemeRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*://`)

// open opens the cache that spec names (see the package documentation)
// without creating anything: a spec that names nothing, or something that
// is not a cache, is an error. write opens it for the commands that
// delete.
func open(ctx context.Context, spec string, o storeOptions, write bool) (*backend, error) {
	lower := strings.ToLower(spec)
	switch {
	case spec == "":
		return nil, usageError("the cache is empty: give a directory, a SQLite file or a postgres:// or redis:// URL")
	case strings.HasPrefix(lower, "redis://"), strings.HasPrefix(lower, "rediss://"):
		return openRedis(ctx, spec, o)
	case strings.HasPrefix(lower, "postgres://"), strings.HasPrefix(lower, "postgresql://"):
		return openPostgres(ctx, spec, o, write)
	case strings.HasPrefix(lower, "sqlite:"):
		p := spec[len("sqlite:"):]
		if strings.HasPrefix(p, "//") {
			p = p[2:] // sqlite:///abs/file.db and sqlite://rel/file.db
		}
		return openSQLite(ctx, p, p, o, write)
	case strings.HasPrefix(lower, "file:"):
		file, _, _ := strings.Cut(spec[len("file:"):], "?")
		if strings.HasPrefix(file, "//") {
			file = file[2:]
		}
		if u, err := url.PathUnescape(file); err == nil {
			file = u
		}
		return openSQLite(ctx, spec, file, o, write)
	case strings.HasPrefix(lower, "disk:"):
		return openDisk(spec[len("disk:"):])
	case schemeRE.MatchString(spec):
		scheme, _, _ := strings.Cut(spec, "://")
		return nil, usageError(fmt.Sprintf("%s:// is not a backend this command opens (redis://, rediss://, postgres://, postgresql://, sqlite:, file:, disk: or a path)", scheme))
	}
	fi, err := os.Stat(expandHome(spec))
	if err != nil {
		return nil, pathError(spec, err)
	}
	if fi.IsDir() {
		return openDisk(spec)
	}
	return openSQLite(ctx, spec, spec, o, write)
}

// expandHome replaces a leading "~/" with the user's home directory, as
// the stores do, so that a quoted "~/.cache/x" works too.
func expandHome(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, p[1:])
		}
	}
	return p
}

// pathError turns a failed stat into a message a shell user expects.
func pathError(p string, err error) error {
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s: no such file or directory", p)
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %v", p, pe.Err)
	}
	return err
}

// diskMarker is the file diskstore keeps in every directory it owns (see
// the diskstore package documentation).
const diskMarker = ".cachestack-diskstore"

func openDisk(dir string) (*backend, error) {
	dir = expandHome(dir)
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, pathError(dir, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%s: not a directory", dir)
	}
	if m, err := os.Lstat(filepath.Join(dir, diskMarker)); err != nil || !m.Mode().IsRegular() {
		return nil, &notCacheError{fmt.Sprintf("%s is not a cachestack disk cache: it has no %s marker (a cache written before the marker existed is marked when the library opens it)", dir, diskMarker)}
	}
	// No budget of its own: opening must not evict what the cache's own
	// process keeps under a larger one, nor hide an entry larger than this
	// store's default bound.
	s, err := diskstore.New(dir, &diskstore.Options{MaxBytes: 1 << 62, MaxEntryBytes: 1 << 62, Clock: stopped})
	if err != nil {
		if errors.Is(err, diskstore.ErrNotCacheDir) {
			return nil, &notCacheError{err.Error()}
		}
		return nil, err
	}
	return &backend{
		kind: "disk", location: s.Dir(),
		s:     codec.Bind(s, codec.Response()),
		keys:  s.Keys,
		clear: s.Clear,
		usage: func(context.Context) (int64, int64, error) { return s.Bytes(), -1, nil },
		close: s.Close,
	}, nil
}

// sqliteMagic starts every SQLite database file.
const sqliteMagic = "SQLite format 3\x00"

// openSQLite opens the SQLite cache at spec, a path or a "file:" URI; file
// is the database file spec names.
func openSQLite(ctx context.Context, spec, file string, o storeOptions, write bool) (*backend, error) {
	file = expandHome(file)
	if file == "" || file == ":memory:" {
		return nil, usageError("a SQLite cache needs a database file")
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, pathError(file, err)
	}
	magic := make([]byte, len(sqliteMagic))
	_, err = io.ReadFull(f, magic)
	fi, serr := f.Stat()
	f.Close()
	switch {
	case serr == nil && fi.IsDir():
		return nil, fmt.Errorf("%s: is a directory", file)
	case err != nil || string(magic) != sqliteMagic:
		return nil, &notCacheError{fmt.Sprintf("%s is not a cache: neither a cachestack cache directory nor a SQLite database", file)}
	}
	table := o.table
	if table == "" {
		table = sqlitestore.DefaultTable
	}
	// The table must be there before a store is opened: a store that can
	// write creates a missing one.
	if err := checkSQLiteTable(ctx, file, table); err != nil {
		return nil, err
	}
	ro, err := sqlitestore.Open(spec, &sqlitestore.Options{Table: table, ReadOnly: true, Clock: stopped})
	if err != nil {
		return nil, err
	}
	s := ro
	if write {
		// Keep the journal mode the cache's owner chose: the store would
		// otherwise switch the file to WAL.
		var mode string
		if err := ro.DB().QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
			ro.Close()
			return nil, fmt.Errorf("%s: reading the journal mode: %w", file, err)
		}
		ro.Close()
		if s, err = sqlitestore.Open(spec, &sqlitestore.Options{Table: table, JournalMode: mode, TouchAfter: never, Clock: stopped}); err != nil {
			return nil, err
		}
	}
	abs, _ := filepath.Abs(file)
	return &backend{
		kind: "sqlite", location: abs + " (table " + table + ")",
		s:     codec.Bind(s, codec.Response()),
		keys:  s.Keys,
		clear: s.Clear,
		usage: s.Usage,
		close: s.Close,
	}, nil
}

// checkSQLiteTable returns a notCacheError when the database file has no
// table named table, naming the cache tables it has. It only reads, on a
// connection that may write (mode=rw, which does not create the file): a
// read-only connection to a database in WAL mode leaves its -wal and -shm
// files behind, where a connection that may write removes them when it
// is the last to close.
func checkSQLiteTable(ctx context.Context, file, table string) error {
	abs, err := filepath.Abs(file)
	if err != nil {
		return err
	}
	dsn := "file:" + strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(filepath.ToSlash(abs)) +
		"?mode=rw&_pragma=busy_timeout(5000)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, table).Scan(&n); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	if n > 0 {
		return nil
	}
	msg := fmt.Sprintf("%s is not a cache: it has no table %q", file, table)
	rows, err := db.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table' AND name || '_usage' IN (SELECT name FROM sqlite_master WHERE type = 'table') ORDER BY name`)
	if err == nil {
		var names []string
		for rows.Next() {
			var s string
			if rows.Scan(&s) == nil {
				names = append(names, s)
			}
		}
		rows.Close()
		if len(names) > 0 {
			msg += fmt.Sprintf(" (its cache tables: %s; choose one with --table)", strings.Join(names, ", "))
		}
	}
	return &notCacheError{msg}
}

// redactURL removes the password from a URL for messages.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(an unparsable URL)"
	}
	return u.Redacted()
}

func openPostgres(ctx context.Context, dsn string, o storeOptions, write bool) (*backend, error) {
	where := redactURL(dsn)
	table := o.table
	if table == "" {
		table = pgstore.DefaultTable
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(cctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	schema := o.schema
	if schema == "" {
		var cur *string
		if err := conn.QueryRow(cctx, `SELECT current_schema()`).Scan(&cur); err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		if cur == nil {
			return nil, fmt.Errorf("%s: the connection has no current schema; give one with --schema", where)
		}
		schema = *cur
	}
	var persistence string
	err = conn.QueryRow(cctx, `SELECT c.relpersistence::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')`, schema, table).Scan(&persistence)
	if errors.Is(err, pgx.ErrNoRows) {
		msg := fmt.Sprintf("%s is not a cache: it has no table %s.%s", where, schema, table)
		var names []string
		rows, err := conn.Query(cctx, `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = $1 AND c.relkind = 'r' AND EXISTS (SELECT 1 FROM pg_class u WHERE u.relnamespace = n.oid AND u.relname = c.relname || '_usage')
			ORDER BY 1`, schema)
		if err == nil {
			for rows.Next() {
				var s string
				if rows.Scan(&s) == nil {
					names = append(names, s)
				}
			}
			rows.Close()
		}
		if len(names) > 0 {
			msg += fmt.Sprintf(" (its cache tables in schema %s: %s; choose one with --table)", schema, strings.Join(names, ", "))
		}
		return nil, &notCacheError{msg}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	// The table exists: Open checks its shape and creates nothing (the
	// table could only be created if it were dropped in between).
	s, err := pgstore.Open(dsn, &pgstore.Options{Schema: schema, Table: table, Unlogged: persistence == "u",
		TouchAfter: never, Clock: stopped, Timeout: 30 * time.Second})
	if err != nil {
		return nil, &notCacheError{fmt.Sprintf("%s: %v", where, err)}
	}
	_ = write // PostgreSQL needs no read-only connection: reads take no locks that block the cache
	return &backend{
		kind: "postgres", location: where + " (table " + schema + "." + table + ")",
		s:     codec.Bind(s, codec.Response()),
		keys:  s.Keys,
		clear: s.Clear,
		usage: s.Usage,
		close: s.Close,
	}, nil
}

func openRedis(ctx context.Context, raw string, o storeOptions) (*backend, error) {
	where := redactURL(raw)
	opt, err := redis.ParseURL(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	client := redis.NewClient(opt)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := client.Ping(pctx).Err(); err != nil {
		client.Close()
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	ns := o.namespace
	if ns == "" {
		ns = redisstore.DefaultNamespace
	}
	s, err := redisstore.New(client, &redisstore.Options{Namespace: ns})
	if err != nil {
		client.Close()
		return nil, usageError(err.Error())
	}
	return &backend{
		kind: "redis", location: where + " (namespace " + ns + ")",
		s:       codec.Bind(s, codec.Response()),
		keys:    s.Keys,
		clear:   s.Clear,
		foreign: true,
		close: func() error {
			s.Close()
			return client.Close()
		},
	}, nil
}
