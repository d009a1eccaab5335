package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"iter"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/codec"
	"github.com/cachestack/cachestack/store"
)

const name = "sqlitestore"

// Defaults for Options.
const (
	// DefaultTable is the table when Options.Table is empty.
	DefaultTable = "cachestack"
	// DefaultMaxBytes is the budget when Options.MaxBytes is 0: 1 GiB.
	DefaultMaxBytes = 1 << 30
	// DefaultBusyTimeout is how long a connection waits for another
	// connection's (or process's) write lock, when Options.BusyTimeout is 0.
	DefaultBusyTimeout = 5 * time.Second
	// DefaultJournalMode is the journal mode when Options.JournalMode is
	// empty: write-ahead logging, so that readers never wait for the writer.
	DefaultJournalMode = "WAL"
	// DefaultSynchronous is the synchronous level when Options.Synchronous
	// is empty. With WAL it never corrupts the database; a power loss may
	// lose the last writes, which a cache can afford.
	DefaultSynchronous = "NORMAL"
	// DefaultTouchAfter is how stale an entry's recency may get before a
	// read refreshes it, when Options.TouchAfter is 0.
	DefaultTouchAfter = time.Minute
	// DefaultPageSize is how many keys one listing query fetches when
	// Options.PageSize is 0.
	DefaultPageSize = 256
)

// lowWater is the fraction of MaxBytes an eviction goes down to, so that a
// store at its budget does not evict on every Set.
const lowWaterNum, lowWaterDen = 9, 10

// evictBatch is how many least recently used rows one eviction query
// looks at.
const evictBatch = 64

// purgeBatch is how many expired rows one statement of Purge removes.
const purgeBatch = 1000

// ErrReadOnly is returned, wrapped, by Set, Delete, Clear and Purge on a
// store opened with Options.ReadOnly.
var ErrReadOnly = errors.New("sqlitestore: store is read-only")

// Options configure a Store. A nil *Options, like the zero value, means the
// defaults.
type Options struct {
	// Table is the table that holds the entries; two more objects are
	// named after it (<Table>_usage, and its triggers and indexes).
	// Several stores may share one database file with different tables.
	// Empty means DefaultTable. It must be a plain identifier: a letter or
	// '_', then letters, digits or '_', at most 48 in all.
	Table string
	// MaxBytes bounds the sum of the stored keys' and values' lengths.
	// When a Set takes the sum over it, the least recently used entries
	// (expired ones first) are removed, in the same transaction, down to
	// 90% of it. An entry larger than MaxBytes is not stored. 0 means
	// DefaultMaxBytes; negative is an error.
	MaxBytes int64
	// TouchAfter is how old an entry's recency may get before a Get
	// refreshes it with a write: a read costs at most one small write per
	// entry per TouchAfter, and recency is known to within TouchAfter.
	// 0 means DefaultTouchAfter; negative is an error.
	TouchAfter time.Duration
	// PageSize is how many keys one query of Keys fetches, and so about
	// how many a listing holds at once. 0 means DefaultPageSize; negative
	// is an error.
	PageSize int
	// ReadOnly opens the database read-only (mode=ro): the table must
	// exist, reads do not refresh recency, and Set, Delete, Clear and
	// Purge return errors matching ErrReadOnly.
	ReadOnly bool
	// Clock tells the time for ttls and recency. Nil means time.Now.
	Clock func() time.Time

	// The options below configure the connections Open makes; New, which
	// takes the caller's *sql.DB, refuses them.

	// BusyTimeout is how long a statement waits for a lock that another
	// connection or process holds (PRAGMA busy_timeout). 0 means
	// DefaultBusyTimeout; negative is an error.
	BusyTimeout time.Duration
	// JournalMode is PRAGMA journal_mode: WAL, DELETE, TRUNCATE, PERSIST,
	// MEMORY or OFF, any case. Empty means DefaultJournalMode. It is not
	// set on a read-only store.
	JournalMode string
	// Synchronous is PRAGMA synchronous: OFF, NORMAL, FULL or EXTRA, any
	// case. Empty means DefaultSynchronous.
	Synchronous string
	// Pragmas are further pragmas run on every new connection, each as
	// "name(value)" or "name=value", e.g. "cache_size(-16000)" or
	// "mmap_size=268435456".
	Pragmas []string
}

// Store is a store.Store[string, []byte] kept in a table of a SQLite
// database. It also implements store.Lister[string] and store.Clearer. Its
// zero value is not usable; call Open or New. A Store owns no goroutines.
type Store struct {
	db         *sql.DB
	ownsDB     bool
	readOnly   bool
	table      string
	maxBytes   int64
	lowWater   int64
	touchAfter int64 // nanoseconds
	pageSize   int
	now        func() time.Time
	clock      store.Clock   // the clock, when Options.Clock is nil
	ownNow     bool          // Options.Clock was set
	wsem       chan struct{} // one write transaction at a time in this process
	closed     atomic.Bool
	q          queries
	st         stmts
}

// stmts are the statements of the hot path, prepared once (database/sql
// prepares them again on each connection of the pool as it uses them).
type stmts struct {
	get, touch, upsert, deleteKey, usage *sql.Stmt
}

func (st *stmts) close() {
	for _, s := range []*sql.Stmt{st.get, st.touch, st.upsert, st.deleteKey, st.usage} {
		if s != nil {
			_ = s.Close()
		}
	}
}

var (
	_ store.Store[string, []byte]   = (*Store)(nil)
	_ store.Lister[string]          = (*Store)(nil)
	_ store.Clearer                 = (*Store)(nil)
	_ store.Batcher[string, []byte] = (*Store)(nil)
)

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,47}$`)

// Open opens (creating it if need be) the SQLite database at path and the
// store's table in it. path is the cache name: a file path, where a leading
// "~" is the user's home directory and missing parent directories are
// created; ":memory:" for a database that lives as long as the store; or a
// SQLite URI ("file:…?…") whose parameters pass through to the driver
// (modernc.org/sqlite), which also reads its own: _pragma=name(value),
// _txlock, _time_format and more. Parameters the URI sets win over the
// defaults and the options here.
//
// The store owns the database handle it opens: Close closes it.
func Open(path string, opts *Options) (*Store, error) {
	o, err := defaults(opts)
	if err != nil {
		return nil, err
	}
	dsn, memory, err := buildDSN(path, &o)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: opening %q: %w", path, err)
	}
	if memory {
		// Each connection to ":memory:" is a database of its own.
		db.SetMaxOpenConns(1)
	} else {
		n := max(4, 2*runtime.GOMAXPROCS(0))
		db.SetMaxOpenConns(n)
		db.SetMaxIdleConns(n)
	}
	s, err := newStore(db, true, &o)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("sqlitestore: opening %q: %w", path, err)
	}
	return s, nil
}

// New returns a store over db, a database the caller opened with a SQLite
// driver and owns: Close leaves it open. The caller configures its
// connections (busy timeout, journal mode); New refuses the options that
// only Open applies. It creates the table if it is missing, unless
// Options.ReadOnly is set.
func New(db *sql.DB, opts *Options) (*Store, error) {
	if db == nil {
		return nil, errors.New("sqlitestore: db is nil")
	}
	o, err := defaults(opts)
	if err != nil {
		return nil, err
	}
	if opts != nil {
		for _, f := range []struct {
			set  bool
			name string
		}{
			{opts.BusyTimeout != 0, "BusyTimeout"},
			{opts.JournalMode != "", "JournalMode"},
			{opts.Synchronous != "", "Synchronous"},
			{len(opts.Pragmas) > 0, "Pragmas"},
		} {
			if f.set {
				return nil, fmt.Errorf("sqlitestore: Options.%s configures the connections Open makes; with New, configure the *sql.DB's connections yourself", f.name)
			}
		}
	}
	s, err := newStore(db, false, &o)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: %w", err)
	}
	return s, nil
}

// OpenResponses opens the store at path, as Open does, and lifts it to the
// cached responses that cachestack.Options.Store takes: a persistent HTTP
// cache in one line. Closing the returned store closes the database.
func OpenResponses(path string, opts *Options) (*codec.Bound[string, *cached.Response], error) {
	s, err := Open(path, opts)
	if err != nil {
		return nil, err
	}
	return codec.Bind(s, codec.Response()), nil
}

// defaults validates opts and fills in the defaults.
func defaults(opts *Options) (Options, error) {
	var o Options
	if opts != nil {
		o = *opts
		o.Pragmas = append([]string(nil), opts.Pragmas...)
	}
	switch {
	case o.MaxBytes < 0:
		return o, fmt.Errorf("sqlitestore: Options.MaxBytes is %d, want >= 0", o.MaxBytes)
	case o.TouchAfter < 0:
		return o, fmt.Errorf("sqlitestore: Options.TouchAfter is %v, want >= 0", o.TouchAfter)
	case o.PageSize < 0:
		return o, fmt.Errorf("sqlitestore: Options.PageSize is %d, want >= 0", o.PageSize)
	case o.BusyTimeout < 0:
		return o, fmt.Errorf("sqlitestore: Options.BusyTimeout is %v, want >= 0", o.BusyTimeout)
	case o.Table != "" && !identRE.MatchString(o.Table):
		return o, fmt.Errorf("sqlitestore: Options.Table %q is not a plain identifier (a letter or '_', then letters, digits or '_', at most 48)", o.Table)
	}
	if o.JournalMode != "" {
		o.JournalMode = strings.ToUpper(o.JournalMode)
		switch o.JournalMode {
		case "WAL", "DELETE", "TRUNCATE", "PERSIST", "MEMORY", "OFF":
		default:
			return o, fmt.Errorf("sqlitestore: Options.JournalMode is %q, want WAL, DELETE, TRUNCATE, PERSIST, MEMORY or OFF", opts.JournalMode)
		}
	}
	if o.Synchronous != "" {
		o.Synchronous = strings.ToUpper(o.Synchronous)
		switch o.Synchronous {
		case "OFF", "NORMAL", "FULL", "EXTRA":
		default:
			return o, fmt.Errorf("sqlitestore: Options.Synchronous is %q, want OFF, NORMAL, FULL or EXTRA", opts.Synchronous)
		}
	}
	for _, p := range o.Pragmas {
		if p == "" || strings.ContainsAny(p, ";&#\x00") {
			return o, fmt.Errorf("sqlitestore: Options.Pragmas has %q, want one pragma like \"cache_size(-16000)\"", p)
		}
	}
	if o.Table == "" {
		o.Table = DefaultTable
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.TouchAfter == 0 {
		o.TouchAfter = DefaultTouchAfter
	}
	if o.PageSize == 0 {
		o.PageSize = DefaultPageSize
	}
	return o, nil
}

// buildDSN turns the cache name and options into the driver's DSN: always a
// "file:" URI, with the options' pragmas as query parameters where the name
// does not set them already. memory reports a private in-memory database.
func buildDSN(path string, o *Options) (dsn string, memory bool, err error) {
	if path == "" {
		return "", false, errors.New(`sqlitestore: path is empty; give a file path such as "~/.cache/myapp/http.sqlite"`)
	}
	var file, rawQuery string
	switch {
	case path == ":memory:":
		file, memory = ":memory:", true
	case strings.HasPrefix(path, "file:"):
		file, rawQuery, _ = strings.Cut(strings.TrimPrefix(path, "file:"), "?")
		if i := strings.IndexByte(rawQuery, '#'); i >= 0 {
			rawQuery = rawQuery[:i]
		}
		if strings.HasPrefix(file, "~") {
			if file, err = expandHome(file); err != nil {
				return "", false, err
			}
		}
		memory = file == ":memory:"
	default:
		p, err := expandHome(path)
		if err != nil {
			return "", false, err
		}
		if p, err = filepath.Abs(p); err != nil {
			return "", false, fmt.Errorf("sqlitestore: path %q: %w", path, err)
		}
		if !o.ReadOnly {
			if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
				return "", false, fmt.Errorf("sqlitestore: cannot create the directory of %q: %w", p, err)
			}
		}
		file = uriEscape(p)
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return "", false, fmt.Errorf("sqlitestore: the query of %q: %w", path, err)
	}
	if o.ReadOnly && q.Get("mode") == "" && !memory {
		q.Set("mode", "ro")
	}
	if q.Get("mode") == "ro" {
		o.ReadOnly = true
	}
	// The pragmas a URI sets, by any of the driver's spellings, are its own.
	has := func(keys ...string) bool {
		for _, k := range keys {
			if q.Has(k) {
				return true
			}
		}
		for _, p := range q["_pragma"] {
			p = strings.ToLower(strings.TrimSpace(p))
			for _, k := range keys {
				if strings.HasPrefix(p, strings.TrimPrefix(k, "_")) {
					return true
				}
			}
		}
		return false
	}
	if !has("_busy_timeout", "_timeout") {
		bt := o.BusyTimeout
		if bt == 0 {
			bt = DefaultBusyTimeout
		}
		q.Set("_busy_timeout", strconv.FormatInt(bt.Milliseconds(), 10))
	}
	if !o.ReadOnly && !memory && !has("_journal_mode", "_journal") {
		jm := o.JournalMode
		if jm == "" {
			jm = DefaultJournalMode
		}
		q.Set("_journal_mode", jm)
	}
	if !has("_synchronous", "_sync") {
		sy := o.Synchronous
		if sy == "" {
			sy = DefaultSynchronous
		}
		q.Set("_synchronous", sy)
	}
	if !q.Has("_txlock") {
		// Write transactions take the write lock when they begin, and
		// so wait for it (busy timeout) rather than fail on upgrading.
		q.Set("_txlock", "immediate")
	}
	for _, p := range o.Pragmas {
		q.Add("_pragma", p)
	}
	return "file:" + file + "?" + q.Encode(), memory, nil
}

// expandHome replaces a leading "~" (alone or before a separator) with the
// user's home directory.
func expandHome(p string) (string, error) {
	if p != "~" && !strings.HasPrefix(p, "~/") && !strings.HasPrefix(p, "~"+string(filepath.Separator)) {
		return p, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("sqlitestore: expanding %q: %w", p, err)
	}
	return filepath.Join(home, p[1:]), nil
}

// uriEscape escapes the characters that end or escape a path in a SQLite
// URI.
func uriEscape(p string) string {
	return strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(filepath.ToSlash(p))
}

// queries are the store's statements, with its table's name in them.
type queries struct {
	get, touch, upsert, deleteKey, usage, purgeExpired, victims, deleteRow,
	firstPage, nextPage, clear, purge string
}

func newQueries(t string) queries {
	qt := `"` + t + `"`
	return queries{
		get:          `SELECT value, expires, used FROM ` + qt + ` WHERE key = ?`,
		touch:        `UPDATE ` + qt + ` SET used = ? WHERE key = ? AND used < ?`,
		upsert:       `INSERT INTO ` + qt + ` (key, value, size, expires, used) VALUES (?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, size = excluded.size, expires = excluded.expires, used = excluded.used`,
		deleteKey:    `DELETE FROM ` + qt + ` WHERE key = ?`,
		usage:        `SELECT bytes, entries FROM "` + t + `_usage" WHERE id = 1`,
		purgeExpired: `DELETE FROM ` + qt + ` WHERE expires > 0 AND expires <= ?`,
		victims:      `SELECT rowid, size FROM ` + qt + ` WHERE key <> ? ORDER BY used, rowid LIMIT ` + strconv.Itoa(evictBatch),
		deleteRow:    `DELETE FROM ` + qt + ` WHERE rowid = ?`,
		firstPage:    `SELECT key FROM ` + qt + ` WHERE key >= ? AND (expires = 0 OR expires > ?) ORDER BY key LIMIT ?`,
		nextPage:     `SELECT key FROM ` + qt + ` WHERE key > ? AND (expires = 0 OR expires > ?) ORDER BY key LIMIT ?`,
		clear:        `DELETE FROM ` + qt,
		purge:        `DELETE FROM ` + qt + ` WHERE rowid IN (SELECT rowid FROM ` + qt + ` WHERE expires > 0 AND expires <= ? LIMIT ` + strconv.Itoa(purgeBatch) + `)`,
	}
}

// column is one column of the entry table as PRAGMA table_info shows it.
type column struct {
	name, typ string
	notNull   bool
	pk        int
}

// wantColumns is the shape of the entry table.
var wantColumns = []column{
	{"key", "BLOB", true, 1},
	{"value", "BLOB", true, 0},
	{"size", "INTEGER", true, 0},
	{"expires", "INTEGER", true, 0},
	{"used", "INTEGER", true, 0},
}

// schema is the DDL of a store's table, its usage row and the triggers that
// keep that row exact, every statement idempotent.
func schema(t string) []string {
	qt, u := `"`+t+`"`, `"`+t+`_usage"`
	return []string{
		`CREATE TABLE IF NOT EXISTS ` + qt + ` (key BLOB NOT NULL PRIMARY KEY, value BLOB NOT NULL, size INTEGER NOT NULL, expires INTEGER NOT NULL, used INTEGER NOT NULL)`,
		`CREATE INDEX IF NOT EXISTS "` + t + `_expires" ON ` + qt + ` (expires) WHERE expires > 0`,
		`CREATE INDEX IF NOT EXISTS "` + t + `_used" ON ` + qt + ` (used)`,
		`CREATE TABLE IF NOT EXISTS ` + u + ` (id INTEGER PRIMARY KEY CHECK (id = 1), bytes INTEGER NOT NULL, entries INTEGER NOT NULL)`,
		`INSERT OR IGNORE INTO ` + u + ` (id, bytes, entries) SELECT 1, coalesce(sum(size), 0), count(*) FROM ` + qt,
		`CREATE TRIGGER IF NOT EXISTS "` + t + `_usage_insert" AFTER INSERT ON ` + qt + ` BEGIN UPDATE ` + u + ` SET bytes = bytes + NEW.size, entries = entries + 1 WHERE id = 1; END`,
		`CREATE TRIGGER IF NOT EXISTS "` + t + `_usage_delete" AFTER DELETE ON ` + qt + ` BEGIN UPDATE ` + u + ` SET bytes = bytes - OLD.size, entries = entries - 1 WHERE id = 1; END`,
		`CREATE TRIGGER IF NOT EXISTS "` + t + `_usage_update" AFTER UPDATE OF size ON ` + qt + ` BEGIN UPDATE ` + u + ` SET bytes = bytes + NEW.size - OLD.size WHERE id = 1; END`,
	}
}

func newStore(db *sql.DB, owns bool, o *Options) (*Store, error) {
	s := &Store{
		db:         db,
		ownsDB:     owns,
		readOnly:   o.ReadOnly,
		table:      o.Table,
		maxBytes:   o.MaxBytes,
		lowWater:   o.MaxBytes / lowWaterDen * lowWaterNum,
		touchAfter: int64(o.TouchAfter),
		pageSize:   o.PageSize,
		now:        o.Clock,
		ownNow:     o.Clock != nil,
		wsem:       make(chan struct{}, 1),
		q:          newQueries(o.Table),
	}
	if s.now == nil {
		s.now = s.clock.Now
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if s.readOnly {
		if err := s.checkShape(ctx, db.QueryContext, true); err != nil {
			return nil, err
		}
	} else if err := s.create(ctx); err != nil {
		return nil, err
	}
	for _, p := range []struct {
		st **sql.Stmt
		q  string
	}{
		{&s.st.get, s.q.get}, {&s.st.touch, s.q.touch}, {&s.st.upsert, s.q.upsert},
		{&s.st.deleteKey, s.q.deleteKey}, {&s.st.usage, s.q.usage},
	} {
		var err error
		if *p.st, err = db.PrepareContext(ctx, p.q); err != nil {
			s.st.close()
			return nil, fmt.Errorf("preparing %q: %w", p.q, err)
		}
	}
	return s, nil
}

// create checks the table's shape, or creates it.
func (s *Store) create(ctx context.Context) error {
	db := s.db
	// One transaction, which takes the write lock first, so that
	// processes opening a new file at once do not race on its schema.
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if err := s.checkShape(ctx, tx.QueryContext, false); err != nil {
		return err
	}
	for _, stmt := range schema(s.table) {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("creating table %q: %w", s.table, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("creating table %q: %w", s.table, err)
	}
	return nil
}

// checkShape returns an error when the store's table exists with other
// columns than the store's, or, when mustExist, does not exist.
func (s *Store) checkShape(ctx context.Context, query func(context.Context, string, ...any) (*sql.Rows, error), mustExist bool) error {
	rows, err := query(ctx, `SELECT name, type, "notnull", pk FROM pragma_table_info(?) ORDER BY cid`, s.table)
	if err != nil {
		return fmt.Errorf("reading the shape of table %q: %w", s.table, err)
	}
	defer rows.Close()
	var got []column
	for rows.Next() {
		var c column
		if err := rows.Scan(&c.name, &c.typ, &c.notNull, &c.pk); err != nil {
			return fmt.Errorf("reading the shape of table %q: %w", s.table, err)
		}
		c.typ = strings.ToUpper(c.typ)
		got = append(got, c)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading the shape of table %q: %w", s.table, err)
	}
	if len(got) == 0 {
		if mustExist {
			return fmt.Errorf("table %q does not exist, and a read-only store cannot create it", s.table)
		}
		return nil
	}
	if !equalColumns(got, wantColumns) {
		return fmt.Errorf("table %q exists with columns (%s), not the store's (%s): give Options.Table another name, or drop the table", s.table, showColumns(got), showColumns(wantColumns))
	}
	return nil
}

func equalColumns(a, b []column) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func showColumns(cs []column) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		p := c.name + " " + c.typ
		if c.notNull {
			p += " NOT NULL"
		}
		if c.pk > 0 {
			p += " PRIMARY KEY"
		}
		parts[i] = p
	}
	return strings.Join(parts, ", ")
}

// DB returns the database handle the store uses, to tune its pool or run
// statements of one's own. Do not close it when the store opened it.
func (s *Store) DB() *sql.DB { return s.db }

// Table returns the name of the table that holds the entries.
func (s *Store) Table() string { return s.table }

// check returns the error of a call made after Close or with a done
// context, wrapped for op.
func (s *Store) check(ctx context.Context, op, key string) error {
	if s.closed.Load() {
		return store.Wrap(name, op, key, store.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return store.Wrap(name, op, key, err)
	}
	return nil
}

// Get returns the value stored under key, or store.ErrNotFound, unwrapped,
// when there is none or it has expired by the store's Clock. The returned
// slice is a new one, the caller's to keep and modify. When the entry's
// recency is older than Options.TouchAfter, Get refreshes it with a small
// write, unless a write of this process is in progress, and ignores a
// failure to do so.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	if err := s.check(ctx, "get", key); err != nil {
		return nil, err
	}
	k := []byte(key)
	v, expires, used, err := s.get(ctx, k)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, store.ErrNotFound
		}
		return nil, store.Wrap(name, "get", key, err)
	}
	now := s.now().UnixNano()
	if expires != 0 && expires <= now {
		return nil, store.ErrNotFound
	}
	if !s.readOnly && now-used >= s.touchAfter {
		s.touch(ctx, k, now)
	}
	if v == nil {
		v = []byte{}
	}
	return v, nil
}

// get reads key's row. On a database Open made, the value is scanned as
// sql.RawBytes, which is the slice modernc.org/sqlite made for this row by
// copying it out of SQLite's memory, and which nothing else refers to: it is
// returned as it is, where a []byte destination would copy it a second
// time. On the caller's database, whose driver may reuse its buffers, it is
// copied.
func (s *Store) get(ctx context.Context, k []byte) (v []byte, expires, used int64, err error) {
	if !s.ownsDB {
		err = s.st.get.QueryRowContext(ctx, k).Scan(&v, &expires, &used)
		return v, expires, used, err
	}
	rows, err := s.st.get.QueryContext(ctx, k)
	if err != nil {
		return nil, 0, 0, err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, 0, 0, err
		}
		return nil, 0, 0, sql.ErrNoRows
	}
	var raw sql.RawBytes
	if err := rows.Scan(&raw, &expires, &used); err != nil {
		return nil, 0, 0, err
	}
	return []byte(raw), expires, used, rows.Close()
}

// touch sets key's recency to now, best effort: when a write of this
// process is in progress it does nothing rather than make the read wait,
// and a later Get touches the entry instead.
func (s *Store) touch(ctx context.Context, k []byte, now int64) {
	select {
	case s.wsem <- struct{}{}:
	default:
		return
	}
	defer s.release()
	_, _ = s.st.touch.ExecContext(ctx, now, k, now-s.touchAfter+1)
}

// acquire takes this process's write slot, or returns ctx's error.
func (s *Store) acquire(ctx context.Context) error {
	select {
	case s.wsem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Store) release() { <-s.wsem }

// expiry is the expires column for a ttl set at now: 0 for none, else Unix
// nanoseconds, saturated far in the future.
func expiry(now time.Time, ttl time.Duration) int64 {
	if ttl == 0 {
		return 0
	}
	n := now.UnixNano()
	if n > math.MaxInt64-int64(ttl) {
		return math.MaxInt64
	}
	return n + int64(ttl)
}

// Set stores value under key, replacing any previous value and expiry, in
// one transaction that also evicts when the table goes over
// Options.MaxBytes: expired entries first, then the least recently used,
// other than key, down to 90% of MaxBytes. An entry whose key and value
// together exceed MaxBytes is not stored: Set removes any previous entry
// for key and returns nil. A negative ttl returns an error matching
// store.ErrNegativeTTL and changes nothing. Set keeps no reference to value.
func (s *Store) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := s.check(ctx, "set", key); err != nil {
		return err
	}
	if ttl < 0 {
		return store.Wrap(name, "set", key, store.ErrNegativeTTL)
	}
	if s.readOnly {
		return store.Wrap(name, "set", key, ErrReadOnly)
	}
	if value == nil {
		value = []byte{}
	}
	size := int64(len(key) + len(value))
	if err := s.acquire(ctx); err != nil {
		return store.Wrap(name, "set", key, err)
	}
	defer s.release()
	return store.Wrap(name, "set", key, s.set(ctx, []byte(key), value, size, ttl))
}

func (s *Store) set(ctx context.Context, k, value []byte, size int64, ttl time.Duration) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if size > s.maxBytes {
		if _, err := tx.StmtContext(ctx, s.st.deleteKey).ExecContext(ctx, k); err != nil {
			return err
		}
		return tx.Commit()
	}
	now := s.now()
	if _, err := tx.StmtContext(ctx, s.st.upsert).ExecContext(ctx, k, value, size, expiry(now, ttl), now.UnixNano()); err != nil {
		return err
	}
	var bytes, entries int64
	if err := tx.StmtContext(ctx, s.st.usage).QueryRowContext(ctx).Scan(&bytes, &entries); err != nil {
		return err
	}
	if bytes > s.maxBytes {
		if err := s.evict(ctx, tx, k, now.UnixNano(), bytes); err != nil {
			return fmt.Errorf("evicting: %w", err)
		}
	}
	return tx.Commit()
}

// SetMany stores the items as Set does, in one transaction for them all
// (store.Batcher): one write lock, one commit and one eviction check for
// the batch. Of two items with one key the last wins. An item with a
// negative ttl is refused alone; an item too large for MaxBytes removes
// its key, as Set does. When the transaction fails, no item is stored.
func (s *Store) SetMany(ctx context.Context, items []store.Item[string, []byte]) error {
	if len(items) == 0 {
		return nil
	}
	if err := s.check(ctx, "set", ""); err != nil {
		return err
	}
	if s.readOnly {
		return store.Wrap(name, "set", "", ErrReadOnly)
	}
	if err := s.acquire(ctx); err != nil {
		return store.Wrap(name, "set", "", err)
	}
	defer s.release()
	errs := make([]error, len(items))
	if err := s.setMany(ctx, items, errs); err != nil {
		return store.Wrap(name, "set", "", err)
	}
	return store.BatchResult(errs)
}

// setMany writes items in one transaction, setting errs[i] for an item
// refused alone.
func (s *Store) setMany(ctx context.Context, items []store.Item[string, []byte], errs []error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	upsert, deleteKey := tx.StmtContext(ctx, s.st.upsert), tx.StmtContext(ctx, s.st.deleteKey)
	now := s.now()
	var last []byte // the last key written, which eviction keeps
	for i, it := range items {
		if it.TTL < 0 {
			errs[i] = store.Wrap(name, "set", it.Key, store.ErrNegativeTTL)
			continue
		}
		value := it.Value
		if value == nil {
			value = []byte{}
		}
		k := []byte(it.Key)
		if size := int64(len(k) + len(value)); size > s.maxBytes {
			_, err = deleteKey.ExecContext(ctx, k)
		} else {
			_, err = upsert.ExecContext(ctx, k, value, size, expiry(now, it.TTL), now.UnixNano())
			last = k
		}
		if err != nil {
			return err
		}
	}
	if last != nil {
		var bytes, entries int64
		if err := tx.StmtContext(ctx, s.st.usage).QueryRowContext(ctx).Scan(&bytes, &entries); err != nil {
			return err
		}
		if bytes > s.maxBytes {
			if err := s.evict(ctx, tx, last, now.UnixNano(), bytes); err != nil {
				return fmt.Errorf("evicting: %w", err)
			}
		}
	}
	return tx.Commit()
}

// evict removes, in tx, expired entries, then the least recently used
// entries other than keep, until the table holds at most lowWater bytes.
// It reads the usage row and the used index, never the whole table.
func (s *Store) evict(ctx context.Context, tx *sql.Tx, keep []byte, now, bytes int64) error {
	if _, err := tx.ExecContext(ctx, s.q.purgeExpired, now); err != nil {
		return err
	}
	var entries int64
	if err := tx.QueryRowContext(ctx, s.q.usage).Scan(&bytes, &entries); err != nil {
		return err
	}
	for bytes > s.lowWater {
		rows, err := tx.QueryContext(ctx, s.q.victims, keep)
		if err != nil {
			return err
		}
		var ids []int64
		for rows.Next() && bytes > s.lowWater {
			var id, size int64
			if err := rows.Scan(&id, &size); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
			bytes -= size
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil // only keep is left
		}
		for _, id := range ids {
			if _, err := tx.ExecContext(ctx, s.q.deleteRow, id); err != nil {
				return err
			}
		}
	}
	return nil
}

// Delete removes key. Deleting a key that is not there succeeds.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.check(ctx, "delete", key); err != nil {
		return err
	}
	if s.readOnly {
		return store.Wrap(name, "delete", key, ErrReadOnly)
	}
	if err := s.acquire(ctx); err != nil {
		return store.Wrap(name, "delete", key, err)
	}
	defer s.release()
	_, err := s.st.deleteKey.ExecContext(ctx, []byte(key))
	return store.Wrap(name, "delete", key, err)
}

// Keys yields the live keys in byte order, fetching Options.PageSize at a
// time with a query that starts after the last key yielded (keyset
// pagination): it holds one page, never the whole key set, and keeps no
// statement or transaction open while the loop body runs, so the loop may
// use the store. A loop that breaks runs no further query. Keys checks ctx
// and the closed state before each page.
func (s *Store) Keys(ctx context.Context) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		after := []byte{}
		q := s.q.firstPage
		page := make([][]byte, 0, s.pageSize)
		for {
			if err := s.check(ctx, "keys", ""); err != nil {
				yield("", err)
				return
			}
			page = page[:0]
			rows, err := s.db.QueryContext(ctx, q, after, s.now().UnixNano(), s.pageSize)
			if err != nil {
				yield("", store.Wrap(name, "keys", "", err))
				return
			}
			for rows.Next() {
				var k []byte
				if err := rows.Scan(&k); err != nil {
					rows.Close()
					yield("", store.Wrap(name, "keys", "", err))
					return
				}
				page = append(page, k)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				yield("", store.Wrap(name, "keys", "", err))
				return
			}
			for _, k := range page {
				if !yield(string(k), nil) {
					return
				}
			}
			if len(page) < s.pageSize {
				return
			}
			after, q = page[len(page)-1], s.q.nextPage
		}
	}
}

// Clear removes every entry of the store's table, in one transaction.
func (s *Store) Clear(ctx context.Context) error {
	if err := s.check(ctx, "clear", ""); err != nil {
		return err
	}
	if s.readOnly {
		return store.Wrap(name, "clear", "", ErrReadOnly)
	}
	if err := s.acquire(ctx); err != nil {
		return store.Wrap(name, "clear", "", err)
	}
	defer s.release()
	_, err := s.db.ExecContext(ctx, s.q.clear)
	return store.Wrap(name, "clear", "", err)
}

// Purge removes every entry that has expired by the store's Clock, a
// thousand rows per statement through the expiry index, and returns how
// many it removed. Set purges on its own when it goes over budget; call
// Purge to reclaim space sooner.
func (s *Store) Purge(ctx context.Context) (int, error) {
	if err := s.check(ctx, "purge", ""); err != nil {
		return 0, err
	}
	if s.readOnly {
		return 0, store.Wrap(name, "purge", "", ErrReadOnly)
	}
	now := s.now().UnixNano()
	total := 0
	for {
		if err := s.check(ctx, "purge", ""); err != nil {
			return total, err
		}
		if err := s.acquire(ctx); err != nil {
			return total, store.Wrap(name, "purge", "", err)
		}
		res, err := s.db.ExecContext(ctx, s.q.purge, now)
		s.release()
		if err != nil {
			return total, store.Wrap(name, "purge", "", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, store.Wrap(name, "purge", "", err)
		}
		total += int(n)
		if n < purgeBatch {
			return total, nil
		}
	}
}

// Usage returns the bytes (keys and values) and the number of entries the
// table holds, expired ones included until they are removed. It reads one
// row that triggers keep exact in every write's transaction.
func (s *Store) Usage(ctx context.Context) (bytes, entries int64, err error) {
	if err := s.check(ctx, "usage", ""); err != nil {
		return 0, 0, err
	}
	err = s.st.usage.QueryRowContext(ctx).Scan(&bytes, &entries)
	return bytes, entries, store.Wrap(name, "usage", "", err)
}

// Close marks the store closed: later calls return errors matching
// store.ErrClosed, and a second Close returns nil. It closes the database
// handle if Open made it, and leaves the caller's, given to New, open.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.st.close()
	if s.ownsDB {
		return store.Wrap(name, "close", "", s.db.Close())
	}
	return nil
}
