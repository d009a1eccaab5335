package pgstore

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"iter"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/codec"
	"github.com/cachestack/cachestack/store"
)

const name = "pgstore"

// Defaults for Options.
const (
	// DefaultTable is the table when Options.Table is empty.
	DefaultTable = "cachestack"
	// DefaultMaxBytes is the budget when Options.MaxBytes is 0: 1 GiB.
	DefaultMaxBytes = 1 << 30
	// DefaultTimeout bounds each call when Options.Timeout is 0.
	DefaultTimeout = 3 * time.Second
	// DefaultSetupTimeout bounds what Open and New do when
	// Options.SetupTimeout is 0.
	DefaultSetupTimeout = 30 * time.Second
	// DefaultTouchAfter is how stale an entry's recency may get before a
	// read refreshes it, when Options.TouchAfter is 0.
	DefaultTouchAfter = time.Minute
	// DefaultPageSize is how many keys one listing query fetches when
	// Options.PageSize is 0.
	DefaultPageSize = 256
)

// lowWater is the fraction of MaxBytes an eviction goes down to.
const lowWaterNum, lowWaterDen = 9, 10

// usageSlots is how many rows the usage table spreads its counts over, so
// that concurrent writers of different keys rarely wait for one another.
const usageSlots = 16

// batch is how many rows one eviction or purge statement removes at most.
const (
	evictBatch = 64
	purgeBatch = 1000
)

// Options configure a Store. A nil *Options, like the zero value, means the
// defaults.
type Options struct {
	// Schema is the schema of the table; it must exist. Empty means the
	// connection's current schema (the first of its search_path that
	// exists, usually "public"), resolved once by Open or New.
	Schema string
	// Table is the table that holds the entries: the cache name, one table
	// per cache. Empty means DefaultTable. Schema and Table must be plain
	// identifiers: a letter or '_', then letters, digits or '_', at most
	// 48. They are quoted, so case is kept.
	Table string
	// Unlogged creates the table UNLOGGED: writes skip the write-ahead
	// log, which makes them cheaper, and the table is emptied after a
	// crash and not replicated. An existing table must match: Open
	// refuses a logged table when Unlogged is set, and the reverse.
	Unlogged bool
	// MaxBytes bounds the sum of the stored keys' and values' lengths.
	// When a Set finds the sum over it, expired entries and then the least
	// recently used are removed down to 90% of it. An entry larger than
	// MaxBytes is not stored. 0 means DefaultMaxBytes; negative is an
	// error.
	MaxBytes int64
	// Timeout bounds each call (each page of Keys): its context gets this
	// deadline, on which pgx gives up on the connection. A pool that Open
	// makes also sets the server's statement_timeout to nine tenths of it,
	// unless the DSN sets one, so that the server cancels a slow statement
	// first and the connection stays usable. 0 means DefaultTimeout;
	// negative is an error.
	Timeout time.Duration
	// SetupTimeout bounds what Open and New do: connecting, checking and
	// creating the table. 0 means DefaultSetupTimeout; negative is an
	// error.
	SetupTimeout time.Duration
	// TouchAfter is how old an entry's recency may get before a Get
	// refreshes it with a write. 0 means DefaultTouchAfter; negative is
	// an error.
	TouchAfter time.Duration
	// PageSize is how many keys one query of Keys fetches, and so about
	// how many a listing holds at once. 0 means DefaultPageSize; negative
	// is an error.
	PageSize int
	// Clock tells the time for ttls and recency. Nil means time.Now. The
	// server's clock is never used, so clients and server need not agree.
	Clock func() time.Time
}

// Store is a store.Store[string, []byte] kept in a PostgreSQL table through
// a github.com/jackc/pgx/v5 pool. It also implements store.Lister[string]
// and store.Clearer. Its zero value is not usable; call Open or New. A
// Store owns no goroutines of its own.
type Store struct {
	pool       *pgxpool.Pool
	ownsPool   bool
	schema     string
	table      string
	unlogged   bool
	maxBytes   int64
	lowWater   int64
	timeout    time.Duration
	touchAfter time.Duration
	pageSize   int
	now        func() time.Time
	clock      store.Clock // the clock, when Options.Clock is nil
	ownNow     bool        // Options.Clock was set
	lockKey    string
	closed     atomic.Bool
	q          queries
}

var (
	_ store.Store[string, []byte]   = (*Store)(nil)
	_ store.Lister[string]          = (*Store)(nil)
	_ store.Clearer                 = (*Store)(nil)
	_ store.Batcher[string, []byte] = (*Store)(nil)
)

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,47}$`)

// Open makes a pool from dsn (a URL such as
// "postgres://user@host:5432/db?sslmode=disable" or key=value pairs, as
// pgxpool.ParseConfig reads them, pool settings included), and the store's
// table in it, created if missing. The store owns the pool: Close closes it.
// Unless the DSN sets statement_timeout, the pool's connections set it to
// nine tenths of Options.Timeout.
func Open(dsn string, opts *Options) (*Store, error) {
	o, err := defaults(opts)
	if err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("pgstore: parsing the DSN: %w", err)
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["statement_timeout"]; !ok {
		// Nine tenths of the deadline, so that the server cancels a slow
		// statement, which keeps the connection, before the deadline
		// breaks it.
		cfg.ConnConfig.RuntimeParams["statement_timeout"] = strconv.FormatInt(max(1, (o.Timeout*9/10).Milliseconds()), 10)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = o.Timeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.SetupTimeout)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	s, err := newStore(ctx, pool, true, &o)
	if err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// New returns a store over pool, which the caller made and owns: Close
// leaves it open, and several stores may share it. New checks the table,
// creating it if missing, so it needs the server.
func New(pool *pgxpool.Pool, opts *Options) (*Store, error) {
	if pool == nil {
		return nil, errors.New("pgstore: pool is nil")
	}
	o, err := defaults(opts)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.SetupTimeout)
	defer cancel()
	return newStore(ctx, pool, false, &o)
}

// OpenResponses opens the store as Open does, and lifts it to the cached
// responses that cachestack.Options.Store takes: a cache kept in
// PostgreSQL in one line. Closing the returned store closes the pool.
func OpenResponses(dsn string, opts *Options) (*codec.Bound[string, *cached.Response], error) {
	s, err := Open(dsn, opts)
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
	}
	switch {
	case o.Schema != "" && !identRE.MatchString(o.Schema):
		return o, fmt.Errorf("pgstore: Options.Schema %q is not a plain identifier (a letter or '_', then letters, digits or '_', at most 48)", o.Schema)
	case o.Table != "" && !identRE.MatchString(o.Table):
		return o, fmt.Errorf("pgstore: Options.Table %q is not a plain identifier (a letter or '_', then letters, digits or '_', at most 48)", o.Table)
	case o.MaxBytes < 0:
		return o, fmt.Errorf("pgstore: Options.MaxBytes is %d, want >= 0", o.MaxBytes)
	case o.Timeout < 0:
		return o, fmt.Errorf("pgstore: Options.Timeout is %v, want >= 0", o.Timeout)
	case o.SetupTimeout < 0:
		return o, fmt.Errorf("pgstore: Options.SetupTimeout is %v, want >= 0", o.SetupTimeout)
	case o.TouchAfter < 0:
		return o, fmt.Errorf("pgstore: Options.TouchAfter is %v, want >= 0", o.TouchAfter)
	case o.PageSize < 0:
		return o, fmt.Errorf("pgstore: Options.PageSize is %d, want >= 0", o.PageSize)
	}
	if o.Table == "" {
		o.Table = DefaultTable
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.SetupTimeout == 0 {
		o.SetupTimeout = DefaultSetupTimeout
	}
	if o.TouchAfter == 0 {
		o.TouchAfter = DefaultTouchAfter
	}
	if o.PageSize == 0 {
		o.PageSize = DefaultPageSize
	}
	return o, nil
}

// queries are the store's statements, with its table's name in them.
type queries struct {
	get, touch, upsert, deleteKey, usage, purge, victims, deleteIDs,
	page, clear string
}

func newQueries(schema, table string) queries {
	t := pgx.Identifier{schema, table}.Sanitize()
	u := pgx.Identifier{schema, table + "_usage"}.Sanitize()
	return queries{
		get:       `SELECT value, expires, used FROM ` + t + ` WHERE id = $1 AND key = $2`,
		touch:     `UPDATE ` + t + ` SET used = $1 WHERE id = $2 AND used < $3`,
		upsert:    `INSERT INTO ` + t + ` (id, key, value, size, expires, used) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO UPDATE SET key = excluded.key, value = excluded.value, size = excluded.size, expires = excluded.expires, used = excluded.used`,
		deleteKey: `DELETE FROM ` + t + ` WHERE id = $1`,
		usage:     `SELECT coalesce(sum(bytes), 0)::bigint, coalesce(sum(entries), 0)::bigint FROM ` + u,
		purge:     `DELETE FROM ` + t + ` WHERE id IN (SELECT id FROM ` + t + ` WHERE expires <= $1 LIMIT ` + strconv.Itoa(purgeBatch) + ` FOR UPDATE SKIP LOCKED)`,
		victims:   `SELECT id, size FROM ` + t + ` ORDER BY used LIMIT ` + strconv.Itoa(evictBatch) + ` FOR UPDATE SKIP LOCKED`,
		deleteIDs: `DELETE FROM ` + t + ` WHERE id = ANY($1)`,
		page:      `SELECT id, key FROM ` + t + ` WHERE id > $1 AND (expires IS NULL OR expires > $2) ORDER BY id LIMIT $3`,
		clear:     `DELETE FROM ` + t,
	}
}

// column is one column of the entry table, as information_schema shows it.
type column struct {
	name, typ string
	nullable  bool
}

// wantColumns is the shape of the entry table.
var wantColumns = []column{
	{"id", "bytea", false},
	{"key", "bytea", false},
	{"value", "bytea", false},
	{"size", "bigint", false},
	{"expires", "timestamp with time zone", true},
	{"used", "timestamp with time zone", false},
}

// schemaDDL is the DDL of a store's table, its usage table and the trigger
// that keeps the usage exact, every statement idempotent.
func schemaDDL(schema, table string, unlogged bool) []string {
	id := func(suffix string) string { return pgx.Identifier{schema, table + suffix}.Sanitize() }
	bare := func(suffix string) string { return pgx.Identifier{table + suffix}.Sanitize() }
	t, u, fn := id(""), id("_usage"), id("_usage_fn")
	create := "CREATE TABLE"
	if unlogged {
		create = "CREATE UNLOGGED TABLE"
	}
	slot := func(row string) string { return `get_byte(` + row + `.id, 0) % ` + strconv.Itoa(usageSlots) }
	return []string{
		create + ` IF NOT EXISTS ` + t + ` (id bytea PRIMARY KEY, key bytea NOT NULL, value bytea NOT NULL, size bigint NOT NULL, expires timestamptz, used timestamptz NOT NULL)`,
		`COMMENT ON TABLE ` + t + ` IS 'cachestack pgstore entries: id is the SHA-256 of key; size is the length of key and value; expires is NULL for no expiry; used is the last write or read'`,
		`CREATE INDEX IF NOT EXISTS ` + bare("_expires_idx") + ` ON ` + t + ` (expires) WHERE expires IS NOT NULL`,
		`CREATE INDEX IF NOT EXISTS ` + bare("_used_idx") + ` ON ` + t + ` (used)`,
		create + ` IF NOT EXISTS ` + u + ` (slot smallint PRIMARY KEY, bytes bigint NOT NULL, entries bigint NOT NULL)`,
		`INSERT INTO ` + u + ` (slot, bytes, entries) SELECT g, 0, 0 FROM generate_series(0, ` + strconv.Itoa(usageSlots-1) + `) g ON CONFLICT (slot) DO NOTHING`,
		`CREATE OR REPLACE FUNCTION ` + fn + `() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'INSERT' THEN
		UPDATE ` + u + ` SET bytes = bytes + NEW.size, entries = entries + 1 WHERE slot = ` + slot("NEW") + `;
	ELSIF TG_OP = 'DELETE' THEN
		UPDATE ` + u + ` SET bytes = bytes - OLD.size, entries = entries - 1 WHERE slot = ` + slot("OLD") + `;
	ELSIF NEW.size <> OLD.size THEN
		UPDATE ` + u + ` SET bytes = bytes + NEW.size - OLD.size WHERE slot = ` + slot("NEW") + `;
	END IF;
	RETURN NULL;
END $$`,
		`CREATE OR REPLACE TRIGGER ` + bare("_usage_trg") + ` AFTER INSERT OR DELETE OR UPDATE OF size ON ` + t + ` FOR EACH ROW EXECUTE FUNCTION ` + fn + `()`,
	}
}

func newStore(ctx context.Context, pool *pgxpool.Pool, owns bool, o *Options) (*Store, error) {
	s := &Store{
		pool:       pool,
		ownsPool:   owns,
		schema:     o.Schema,
		table:      o.Table,
		unlogged:   o.Unlogged,
		maxBytes:   o.MaxBytes,
		lowWater:   o.MaxBytes / lowWaterDen * lowWaterNum,
		timeout:    o.Timeout,
		touchAfter: o.TouchAfter,
		pageSize:   o.PageSize,
		now:        o.Clock,
		ownNow:     o.Clock != nil,
	}
	if s.now == nil {
		s.now = s.clock.Now
	}
	if err := s.setup(ctx); err != nil {
		return nil, fmt.Errorf("pgstore: table %s: %w", s.tableName(), err)
	}
	return s, nil
}

func (s *Store) tableName() string {
	if s.schema == "" {
		return strconv.Quote(s.table)
	}
	return strconv.Quote(s.schema + "." + s.table)
}

// setup resolves the schema, and checks the table's shape or creates it,
// in one transaction under an advisory lock, so that processes starting at
// once do not race on the DDL.
func (s *Store) setup(ctx context.Context) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.Background()) }()
	if s.schema == "" {
		var cur *string
		if err := tx.QueryRow(ctx, `SELECT current_schema()`).Scan(&cur); err != nil {
			return err
		}
		if cur == nil {
			return errors.New("the connection has no current schema (no schema of its search_path exists); set Options.Schema")
		}
		s.schema = *cur
	} else {
		var ok bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, s.schema).Scan(&ok); err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("schema %q does not exist; create it, or leave Options.Schema empty", s.schema)
		}
	}
	s.lockKey = s.schema + "." + s.table
	s.q = newQueries(s.schema, s.table)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, "cachestack/pgstore/"+s.lockKey); err != nil {
		return err
	}
	exists, err := s.checkShape(ctx, tx)
	if err != nil {
		return err
	}
	if !exists {
		for _, stmt := range schemaDDL(s.schema, s.table, s.unlogged) {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("creating it: %w", err)
			}
		}
	}
	return tx.Commit(ctx)
}

// checkShape reports whether the table exists with the store's shape, and
// returns an error when it exists with another shape or persistence, or
// when its usage table or trigger is missing.
func (s *Store) checkShape(ctx context.Context, tx pgx.Tx) (bool, error) {
	rows, err := tx.Query(ctx, `SELECT column_name, data_type, is_nullable = 'YES' FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`, s.schema, s.table)
	if err != nil {
		return false, err
	}
	var got []column
	for rows.Next() {
		var c column
		if err := rows.Scan(&c.name, &c.typ, &c.nullable); err != nil {
			rows.Close()
			return false, err
		}
		got = append(got, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return false, err
	}
	if len(got) == 0 {
		return false, nil
	}
	if !equalColumns(got, wantColumns) {
		return false, fmt.Errorf("exists with columns (%s), not the store's (%s): give Options.Table another name, or drop the table", showColumns(got), showColumns(wantColumns))
	}
	var persistence string
	var hasUsage, hasTrigger bool
	err = tx.QueryRow(ctx, `SELECT c.relpersistence::text,
		to_regclass($3) IS NOT NULL,
		EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = c.oid AND tgname = $4)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relname = $2`,
		s.schema, s.table, pgx.Identifier{s.schema, s.table + "_usage"}.Sanitize(), s.table+"_usage_trg").
		Scan(&persistence, &hasUsage, &hasTrigger)
	if err != nil {
		return false, err
	}
	switch {
	case s.unlogged && persistence != "u":
		return false, errors.New("exists as a logged table, and Options.Unlogged is set: run ALTER TABLE … SET UNLOGGED, or unset Options.Unlogged")
	case !s.unlogged && persistence == "u":
		return false, errors.New("exists as an UNLOGGED table, and Options.Unlogged is not set: set it, or run ALTER TABLE … SET LOGGED")
	case !hasUsage || !hasTrigger:
		return false, fmt.Errorf("exists, but its usage table %s or trigger %s is missing: drop the table and let the store create it", s.table+"_usage", s.table+"_usage_trg")
	}
	return true, nil
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
		if !c.nullable {
			p += " NOT NULL"
		}
		parts[i] = p
	}
	return strings.Join(parts, ", ")
}

// Pool returns the pool the store uses. Do not close it when the store
// opened it.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Schema returns the schema of the entry table.
func (s *Store) Schema() string { return s.schema }

// Table returns the name of the entry table.
func (s *Store) Table() string { return s.table }

// begin checks the closed state and ctx, and returns ctx bounded by the
// store's Timeout.
func (s *Store) begin(ctx context.Context, op, key string) (context.Context, context.CancelFunc, error) {
	if s.closed.Load() {
		return nil, nil, store.Wrap(name, op, key, store.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, store.Wrap(name, op, key, err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	return ctx, cancel, nil
}

// id is the primary key of key: its SHA-256, so that keys of any length
// fit PostgreSQL's index entries.
func id(key string) []byte {
	h := sha256.Sum256([]byte(key))
	return h[:]
}

// Get returns the value stored under key, or store.ErrNotFound, unwrapped,
// when there is none or it has expired by the store's Clock. The returned
// slice is a new one, the caller's to keep and modify. When the entry's
// recency is older than Options.TouchAfter, Get refreshes it with a small
// UPDATE, and ignores a failure to do so.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	ctx, cancel, err := s.begin(ctx, "get", key)
	if err != nil {
		return nil, err
	}
	defer cancel()
	k := id(key)
	var (
		v       []byte
		expires *time.Time
		used    time.Time
	)
	err = s.pool.QueryRow(ctx, s.q.get, k, []byte(key)).Scan(&v, &expires, &used)
	if err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, store.ErrNotFound
		}
		return nil, store.Wrap(name, "get", key, err)
	}
	now := s.now()
	if expires != nil && !expires.After(now) {
		return nil, store.ErrNotFound
	}
	if now.Sub(used) >= s.touchAfter {
		_, _ = s.pool.Exec(ctx, s.q.touch, now, k, now.Add(-s.touchAfter))
	}
	if v == nil {
		v = []byte{}
	}
	return v, nil
}

// Set stores value under key with an upsert (INSERT … ON CONFLICT DO
// UPDATE), replacing any previous value and expiry, and reads the table's
// usage in the same round trip. When the usage is over Options.MaxBytes, Set
// evicts before it returns: expired entries first, then the least recently
// used, down to 90% of MaxBytes; one Set at a time evicts, the others go on.
// An entry whose key and value together exceed MaxBytes is not stored: Set
// removes any previous entry for key and returns nil. A negative ttl
// returns an error matching store.ErrNegativeTTL and changes nothing. Set
// keeps no reference to value.
func (s *Store) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if ttl < 0 {
		if s.closed.Load() {
			return store.Wrap(name, "set", key, store.ErrClosed)
		}
		return store.Wrap(name, "set", key, store.ErrNegativeTTL)
	}
	ctx, cancel, err := s.begin(ctx, "set", key)
	if err != nil {
		return err
	}
	defer cancel()
	if value == nil {
		value = []byte{}
	}
	size := int64(len(key) + len(value))
	if size > s.maxBytes {
		_, err := s.pool.Exec(ctx, s.q.deleteKey, id(key))
		return store.Wrap(name, "set", key, err)
	}
	now := s.now()
	var expires *time.Time
	if ttl > 0 {
		e := now.Add(ttl)
		expires = &e
	}
	b := &pgx.Batch{}
	b.Queue(s.q.upsert, id(key), []byte(key), value, size, expires, now)
	b.Queue(s.q.usage)
	br := s.pool.SendBatch(ctx, b)
	_, err = br.Exec()
	var bytes, entries int64
	if err == nil {
		err = br.QueryRow().Scan(&bytes, &entries)
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return store.Wrap(name, "set", key, err)
	}
	if bytes > s.maxBytes {
		if err := s.evict(ctx, now); err != nil {
			return store.Wrap(name, "set", key, fmt.Errorf("evicting: %w", err))
		}
	}
	return nil
}

// SetMany stores the items as Set does, in one round trip and one
// transaction for them all (store.Batcher): a pgx batch of upserts, run by
// the server as one implicit transaction, with the usage read at its end,
// then one eviction when it is over MaxBytes. Of two items with one key
// the last wins. An item with a negative ttl is refused alone; an item too
// large for MaxBytes removes its key, as Set does. When the transaction
// fails, no item is stored. The batch is bounded by Options.Timeout, as
// one Set is.
func (s *Store) SetMany(ctx context.Context, items []store.Item[string, []byte]) error {
	if len(items) == 0 {
		return nil
	}
	ctx, cancel, err := s.begin(ctx, "set", "")
	if err != nil {
		return err
	}
	defer cancel()
	errs := make([]error, len(items))
	now := s.now()
	b := &pgx.Batch{}
	for i, it := range items {
		if it.TTL < 0 {
			errs[i] = store.Wrap(name, "set", it.Key, store.ErrNegativeTTL)
			continue
		}
		value := it.Value
		if value == nil {
			value = []byte{}
		}
		size := int64(len(it.Key) + len(value))
		if size > s.maxBytes {
			b.Queue(s.q.deleteKey, id(it.Key))
			continue
		}
		var expires *time.Time
		if it.TTL > 0 {
			e := now.Add(it.TTL)
			expires = &e
		}
		b.Queue(s.q.upsert, id(it.Key), []byte(it.Key), value, size, expires, now)
	}
	if b.Len() == 0 {
		return store.BatchResult(errs)
	}
	writes := b.Len()
	b.Queue(s.q.usage)
	br := s.pool.SendBatch(ctx, b)
	for range writes {
		if _, err = br.Exec(); err != nil {
			break
		}
	}
	var bytes, entries int64
	if err == nil {
		err = br.QueryRow().Scan(&bytes, &entries)
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return store.Wrap(name, "set", "", err)
	}
	if bytes > s.maxBytes {
		if err := s.evict(ctx, now); err != nil {
			return store.Wrap(name, "set", "", fmt.Errorf("evicting: %w", err))
		}
	}
	return store.BatchResult(errs)
}

// evict removes expired entries, then the least recently used, until the
// table holds at most lowWater bytes, in one transaction that only one
// store at a time runs for a table (a transaction-level advisory lock;
// the others skip). It walks the expiry and recency indexes, never the
// whole table.
func (s *Store) evict(ctx context.Context, now time.Time) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.Background()) }()
	var locked bool
	if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock(hashtextextended($1, 1))`, "cachestack/pgstore/"+s.lockKey).Scan(&locked); err != nil {
		return err
	}
	if !locked {
		return nil // another Set is evicting
	}
	for {
		tag, err := tx.Exec(ctx, s.q.purge, now)
		if err != nil {
			return err
		}
		if tag.RowsAffected() < purgeBatch {
			break
		}
	}
	var bytes, entries int64
	if err := tx.QueryRow(ctx, s.q.usage).Scan(&bytes, &entries); err != nil {
		return err
	}
	for bytes > s.lowWater {
		rows, err := tx.Query(ctx, s.q.victims)
		if err != nil {
			return err
		}
		var ids [][]byte
		for rows.Next() && bytes > s.lowWater {
			var (
				id   []byte
				size int64
			)
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
			break
		}
		if _, err := tx.Exec(ctx, s.q.deleteIDs, ids); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}

// Delete removes key. Deleting a key that is not there succeeds.
func (s *Store) Delete(ctx context.Context, key string) error {
	ctx, cancel, err := s.begin(ctx, "delete", key)
	if err != nil {
		return err
	}
	defer cancel()
	_, err = s.pool.Exec(ctx, s.q.deleteKey, id(key))
	return store.Wrap(name, "delete", key, err)
}

// Keys yields the live keys, in the order of their SHA-256, fetching
// Options.PageSize at a time with a query that starts after the last one
// yielded (keyset pagination on the primary key): it holds one page, never
// the whole key set, and keeps no statement, transaction or connection
// while the loop body runs, so the loop may use the store. A loop that
// breaks runs no further query. Each page is one call, bounded by
// Options.Timeout; Keys checks ctx and the closed state before each.
func (s *Store) Keys(ctx context.Context) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		after := []byte{}
		keys := make([]string, 0, s.pageSize)
		for {
			keys = keys[:0]
			last, err := s.page(ctx, after, &keys)
			if err != nil {
				yield("", err)
				return
			}
			for _, k := range keys {
				if !yield(k, nil) {
					return
				}
			}
			if len(keys) < s.pageSize {
				return
			}
			after = last
		}
	}
}

// page appends to keys the live keys of the page after the id after, and
// returns the last id.
func (s *Store) page(ctx context.Context, after []byte, keys *[]string) ([]byte, error) {
	ctx, cancel, err := s.begin(ctx, "keys", "")
	if err != nil {
		return nil, err
	}
	defer cancel()
	rows, err := s.pool.Query(ctx, s.q.page, after, s.now(), s.pageSize)
	if err != nil {
		return nil, store.Wrap(name, "keys", "", err)
	}
	defer rows.Close()
	var last []byte
	for rows.Next() {
		var k []byte
		if err := rows.Scan(&last, &k); err != nil {
			return nil, store.Wrap(name, "keys", "", err)
		}
		*keys = append(*keys, string(k))
	}
	if err := rows.Err(); err != nil {
		return nil, store.Wrap(name, "keys", "", err)
	}
	return last, nil
}

// Clear removes every entry of the store's table with one DELETE (not
// TRUNCATE, which would lock out readers and needs more privilege).
func (s *Store) Clear(ctx context.Context) error {
	ctx, cancel, err := s.begin(ctx, "clear", "")
	if err != nil {
		return err
	}
	defer cancel()
	_, err = s.pool.Exec(ctx, s.q.clear)
	return store.Wrap(name, "clear", "", err)
}

// Purge removes every entry that has expired by the store's Clock, a
// thousand rows per statement through the expiry index, each statement a
// call bounded by Options.Timeout, and returns how many it removed. Set
// purges on its own when it goes over budget; call Purge to reclaim space
// sooner.
func (s *Store) Purge(ctx context.Context) (int, error) {
	now := s.now()
	total := 0
	for {
		n, err := s.purge(ctx, now)
		total += n
		if err != nil || n < purgeBatch {
			return total, err
		}
	}
}

func (s *Store) purge(ctx context.Context, now time.Time) (int, error) {
	ctx, cancel, err := s.begin(ctx, "purge", "")
	if err != nil {
		return 0, err
	}
	defer cancel()
	tag, err := s.pool.Exec(ctx, s.q.purge, now)
	if err != nil {
		return 0, store.Wrap(name, "purge", "", err)
	}
	return int(tag.RowsAffected()), nil
}

// Usage returns the bytes (keys and values) and the number of entries the
// table holds, expired ones included until they are removed. It reads the
// usage table, which a trigger keeps exact in every write's transaction.
func (s *Store) Usage(ctx context.Context) (bytes, entries int64, err error) {
	ctx, cancel, err := s.begin(ctx, "usage", "")
	if err != nil {
		return 0, 0, err
	}
	defer cancel()
	err = s.pool.QueryRow(ctx, s.q.usage).Scan(&bytes, &entries)
	return bytes, entries, store.Wrap(name, "usage", "", err)
}

// Close marks the store closed: later calls return errors matching
// store.ErrClosed, and a second Close returns nil. It closes the pool if
// Open made it, waiting for the connections in use to be released, and
// leaves the caller's pool, given to New, open.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	if s.ownsPool {
		s.pool.Close()
	}
	return nil
}
