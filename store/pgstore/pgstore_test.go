package pgstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/pgstore"
	"github.com/cachestack/cachestack/store/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// pgDSN is the server the tests use: CACHESTACK_PG_DSN, or the machine's
// server at 127.0.0.1:5432, database test, user postgres, trust auth.
func pgDSN() string {
	if d := os.Getenv("CACHESTACK_PG_DSN"); d != "" {
		return d
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable&connect_timeout=3"
}

// required reports whether a missing server fails the tests rather than
// skipping them: when CACHESTACK_REQUIRE_SERVICES=1, or when
// scripts/services.sh reported PostgreSQL up.
func required() bool {
	return os.Getenv("CACHESTACK_REQUIRE_SERVICES") == "1" ||
		slices.Contains(strings.Fields(os.Getenv("CACHESTACK_SERVICES_UP")), "postgres")
}

// reachable probes the test server once per test binary.
var reachable = sync.OnceValue(func() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, pgDSN())
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	return c.Ping(ctx)
})

// newPool returns a pool of the test server, closed when tb ends. When the
// server cannot be reached it skips tb with the reason, or fails it when
// required.
func newPool(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	if err := reachable(); err != nil {
		msg := fmt.Sprintf("no PostgreSQL at %s (set CACHESTACK_PG_DSN, or run scripts/services.sh): %v", pgDSN(), err)
		if required() {
			tb.Fatal(msg + "; CACHESTACK_REQUIRE_SERVICES=1 or CACHESTACK_SERVICES_UP names postgres, so this fails")
		}
		tb.Skip(msg)
	}
	pool, err := pgxpool.New(context.Background(), pgDSN())
	require.NoError(tb, err)
	tb.Cleanup(pool.Close)
	return pool
}

// newSchema creates a schema no other test or run uses, dropped with
// everything in it when tb ends.
func newSchema(tb testing.TB, pool *pgxpool.Pool) string {
	tb.Helper()
	var r [6]byte
	_, _ = rand.Read(r[:])
	schema := "cstest_" + hex.EncodeToString(r[:])
	_, err := pool.Exec(context.Background(), `CREATE SCHEMA `+schema)
	require.NoError(tb, err)
	tb.Cleanup(func() {
		_, err := pool.Exec(context.Background(), `DROP SCHEMA `+schema+` CASCADE`)
		assert.NoError(tb, err, "dropping schema %s", schema)
	})
	return schema
}

// open returns a store on pool in a fresh schema, closed when tb ends.
func open(tb testing.TB, pool *pgxpool.Pool, opts *pgstore.Options) *pgstore.Store {
	tb.Helper()
	var o pgstore.Options
	if opts != nil {
		o = *opts
	}
	if o.Schema == "" {
		o.Schema = newSchema(tb, pool)
	}
	s, err := pgstore.New(pool, &o)
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	pool := newPool(t)
	clock := storetest.NewClock()
	h := storetest.Bytes(func(t *testing.T) store.Store[string, []byte] {
		return open(t, pool, &pgstore.Options{Clock: clock.Now})
	})
	h.Advance = clock.Advance
	storetest.Run(t, h)
}

// TestConformanceUnloggedSmallPages runs the suite on an UNLOGGED table,
// listing two keys per query.
func TestConformanceUnloggedSmallPages(t *testing.T) {
	pool := newPool(t)
	clock := storetest.NewClock()
	h := storetest.Bytes(func(t *testing.T) store.Store[string, []byte] {
		return open(t, pool, &pgstore.Options{Clock: clock.Now, Unlogged: true, PageSize: 2})
	})
	h.Advance = clock.Advance
	storetest.Run(t, h)
}

// TestConformanceResponses runs the suite on the one-line typed form, with
// the pool it makes from a DSN.
func TestConformanceResponses(t *testing.T) {
	pool := newPool(t)
	clock := storetest.NewClock()
	h := storetest.Responses(func(t *testing.T) store.Store[string, *cached.Response] {
		s, err := pgstore.OpenResponses(pgDSN(), &pgstore.Options{Schema: newSchema(t, pool), Clock: clock.Now})
		require.NoError(t, err)
		return s
	})
	h.Advance = clock.Advance
	storetest.Run(t, h)
}

func TestOptionErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		give *pgstore.Options
		want string
	}{
		{"Schema", &pgstore.Options{Schema: "a-b"}, `pgstore: Options.Schema "a-b" is not a plain identifier`},
		{"Table", &pgstore.Options{Table: "x; DROP TABLE y"}, `pgstore: Options.Table "x; DROP TABLE y" is not a plain identifier`},
		{"LongTable", &pgstore.Options{Table: strings.Repeat("t", 49)}, `pgstore: Options.Table "` + strings.Repeat("t", 49) + `" is not a plain identifier`},
		{"MaxBytes", &pgstore.Options{MaxBytes: -1}, "pgstore: Options.MaxBytes is -1, want >= 0"},
		{"Timeout", &pgstore.Options{Timeout: -time.Second}, "pgstore: Options.Timeout is -1s, want >= 0"},
		{"SetupTimeout", &pgstore.Options{SetupTimeout: -time.Second}, "pgstore: Options.SetupTimeout is -1s, want >= 0"},
		{"TouchAfter", &pgstore.Options{TouchAfter: -1}, "pgstore: Options.TouchAfter is -1ns, want >= 0"},
		{"PageSize", &pgstore.Options{PageSize: -1}, "pgstore: Options.PageSize is -1, want >= 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := pgstore.Open("postgres://127.0.0.1:1/x", tt.give)
			require.ErrorContains(t, err, tt.want)
			require.Nil(t, s)
		})
	}
	_, err := pgstore.New(nil, nil)
	require.EqualError(t, err, "pgstore: pool is nil")
	_, err = pgstore.Open("postgres://%zz", nil)
	require.ErrorContains(t, err, "pgstore: parsing the DSN")
}

func TestSchemaChecks(t *testing.T) {
	pool := newPool(t)
	ctx := t.Context()
	schema := newSchema(t, pool)

	_, err := pgstore.New(pool, &pgstore.Options{Schema: "no_such_schema_here"})
	require.EqualError(t, err, `pgstore: table "no_such_schema_here.cachestack": schema "no_such_schema_here" does not exist; create it, or leave Options.Schema empty`)

	_, err = pool.Exec(ctx, `CREATE TABLE `+schema+`.responses (key text PRIMARY KEY, value bytea)`)
	require.NoError(t, err)
	_, err = pgstore.New(pool, &pgstore.Options{Schema: schema, Table: "responses"})
	require.EqualError(t, err, `pgstore: table "`+schema+`.responses": exists with columns (key text NOT NULL, value bytea), not the store's (id bytea NOT NULL, key bytea NOT NULL, value bytea NOT NULL, size bigint NOT NULL, expires timestamp with time zone, used timestamp with time zone NOT NULL): give Options.Table another name, or drop the table`)

	// Created when missing; found as it is the second time.
	s, err := pgstore.New(pool, &pgstore.Options{Schema: schema, Table: "Http_Cache"})
	require.NoError(t, err, "a table name with capitals is quoted")
	require.NoError(t, s.Set(ctx, "k", []byte("v"), 0))
	require.NoError(t, s.Close())
	s, err = pgstore.New(pool, &pgstore.Options{Schema: schema, Table: "Http_Cache"})
	require.NoError(t, err)
	v, err := s.Get(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, "v", string(v))
	require.NoError(t, s.Close())
	require.NoError(t, pool.Ping(ctx), "Close leaves the caller's pool open")

	_, err = pgstore.New(pool, &pgstore.Options{Schema: schema, Table: "Http_Cache", Unlogged: true})
	require.ErrorContains(t, err, "exists as a logged table, and Options.Unlogged is set")

	u, err := pgstore.New(pool, &pgstore.Options{Schema: schema, Table: "fast", Unlogged: true})
	require.NoError(t, err)
	defer u.Close()
	var persistence string
	require.NoError(t, pool.QueryRow(ctx, `SELECT relpersistence::text FROM pg_class WHERE oid = $1::regclass`, schema+".fast").Scan(&persistence))
	assert.Equal(t, "u", persistence, "Options.Unlogged makes an UNLOGGED table")
	_, err = pgstore.New(pool, &pgstore.Options{Schema: schema, Table: "fast"})
	require.ErrorContains(t, err, "exists as an UNLOGGED table, and Options.Unlogged is not set")

	// The default schema is the connection's current one, here set by
	// the DSN.
	d, err := pgstore.Open(pgDSN()+"&search_path="+schema, &pgstore.Options{Table: "by_path"})
	require.NoError(t, err)
	defer d.Close()
	assert.Equal(t, schema, d.Schema())
}

// TestSetupRace: stores opening the same new table at once all succeed.
func TestSetupRace(t *testing.T) {
	pool := newPool(t)
	schema := newSchema(t, pool)
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Go(func() {
			s, err := pgstore.New(pool, &pgstore.Options{Schema: schema})
			if err == nil {
				err = s.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
}

func keys(t testing.TB, s store.Lister[string]) []string {
	t.Helper()
	var out []string
	for k, err := range s.Keys(context.Background()) {
		require.NoError(t, err)
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// usage checks that the usage table equals what the entry table holds,
// and returns it.
func usage(t testing.TB, s *pgstore.Store) (bytes, entries int64) {
	t.Helper()
	ctx := context.Background()
	bytes, entries, err := s.Usage(ctx)
	require.NoError(t, err)
	var sum, count int64
	require.NoError(t, s.Pool().QueryRow(ctx, `SELECT coalesce(sum(length(key) + length(value)), 0)::bigint, count(*) FROM `+
		pgx.Identifier{s.Schema(), s.Table()}.Sanitize()).Scan(&sum, &count))
	require.Equal(t, sum, bytes, "usage bytes against the table's sum")
	require.Equal(t, count, entries, "usage entries against the table's count")
	return bytes, entries
}

func TestEvictsLeastRecentlyUsed(t *testing.T) {
	pool := newPool(t)
	clock := storetest.NewClock()
	const maxBytes = 10_000
	s := open(t, pool, &pgstore.Options{MaxBytes: maxBytes, Clock: clock.Now, TouchAfter: time.Second})
	ctx := t.Context()
	val := func(n int) []byte { return make([]byte, n) }
	for i := range 10 {
		require.NoError(t, s.Set(ctx, fmt.Sprintf("k%d", i), val(998), 0))
		clock.Advance(time.Second)
	}
	b, n := usage(t, s)
	assert.Equal(t, int64(maxBytes), b)
	assert.Equal(t, int64(10), n)

	_, err := s.Get(ctx, "k0")
	require.NoError(t, err)
	_, err = s.Get(ctx, "k1")
	require.NoError(t, err)
	require.NoError(t, s.Set(ctx, "k2", val(998), time.Second))
	clock.Advance(2 * time.Second)

	require.NoError(t, s.Set(ctx, "new", val(997), 0))
	b, n = usage(t, s)
	assert.LessOrEqual(t, b, int64(maxBytes*9/10))
	assert.Equal(t, int64(9), n)
	got := keys(t, s)
	for _, k := range []string{"k0", "k1", "new", "k5", "k9"} {
		assert.Contains(t, got, k, "%s should have stayed", k)
	}
	for _, k := range []string{"k2", "k3"} {
		assert.NotContains(t, got, k, "%s should have been evicted", k)
	}

	require.NoError(t, s.Set(ctx, "k0", val(maxBytes), 0))
	_, err = s.Get(ctx, "k0")
	require.ErrorIs(t, err, store.ErrNotFound, "an entry over the budget is not stored, and removes the old")
	usage(t, s)
}

// TestEvictionUsesIndexes: the statements of eviction, purge, Get and
// Keys walk indexes; none scans the table.
func TestEvictionUsesIndexes(t *testing.T) {
	pool := newPool(t)
	s := open(t, pool, nil)
	ctx := t.Context()
	tbl := pgx.Identifier{s.Schema(), s.Table()}.Sanitize()
	// Enough rows, and fresh statistics, for the planner to prefer indexes.
	_, err := pool.Exec(ctx, `INSERT INTO `+tbl+` (id, key, value, size, expires, used)
		SELECT sha256(convert_to('k' || g, 'UTF8')), convert_to('k' || g, 'UTF8'), '\x00', 2,
			CASE WHEN g % 2 = 0 THEN now() + interval '1 hour' END, now() - g * interval '1 second'
		FROM generate_series(1, 20000) g`)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `ANALYZE `+tbl)
	require.NoError(t, err)
	plan := func(q string, args ...any) string {
		rows, err := pool.Query(ctx, "EXPLAIN "+q, args...)
		require.NoError(t, err)
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		return strings.Join(lines, "\n")
	}
	now := time.Now()
	tests := []struct {
		name, q string
		args    []any
		want    string
	}{
		{"Get", `SELECT value, expires, used FROM ` + tbl + ` WHERE id = $1 AND key = $2`, []any{[]byte("0123456789abcdef0123456789abcdef"), []byte("k")}, "_pkey"},
		{"Victims", `SELECT id, size FROM ` + tbl + ` ORDER BY used LIMIT 64 FOR UPDATE SKIP LOCKED`, nil, "cachestack_used_idx"},
		{"Purge", `DELETE FROM ` + tbl + ` WHERE id IN (SELECT id FROM ` + tbl + ` WHERE expires <= $1 LIMIT 1000 FOR UPDATE SKIP LOCKED)`, []any{now}, "cachestack_expires_idx"},
		{"Keys", `SELECT id, key FROM ` + tbl + ` WHERE id > $1 AND (expires IS NULL OR expires > $2) ORDER BY id LIMIT $3`, []any{[]byte{}, now, 256}, "_pkey"},
	}
	for _, tt := range tests {
		p := plan(tt.q, tt.args...)
		assert.Contains(t, p, tt.want, "%s: plan\n%s", tt.name, p)
		assert.NotContains(t, p, "Seq Scan", "%s scans the table:\n%s", tt.name, p)
	}
}

func TestPurge(t *testing.T) {
	pool := newPool(t)
	clock := storetest.NewClock()
	s := open(t, pool, &pgstore.Options{Clock: clock.Now})
	ctx := t.Context()
	// 2,500 rows in one statement (half of them expiring in a minute),
	// which the trigger counts as it would the store's own writes.
	_, err := pool.Exec(ctx, `INSERT INTO `+pgx.Identifier{s.Schema(), s.Table()}.Sanitize()+` (id, key, value, size, expires, used)
		SELECT sha256(k), k, '\x76', length(k) + 1, CASE WHEN g % 2 = 0 THEN $1::timestamptz END, $2
		FROM (SELECT g, convert_to(g::text, 'UTF8') k FROM generate_series(0, 2499) g) rows`,
		clock.Now().Add(time.Minute), clock.Now())
	require.NoError(t, err)
	require.NoError(t, s.Set(ctx, "0", []byte("v"), time.Minute)) // and the store's own
	n, err := s.Purge(ctx)
	require.NoError(t, err)
	assert.Zero(t, n)
	clock.Advance(time.Minute)
	n, err = s.Purge(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1250, n)
	_, entries := usage(t, s)
	assert.Equal(t, int64(1250), entries)
}

// tracer counts the listing queries a pool runs.
type tracer struct {
	queries atomic.Int64
}

func (tr *tracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	if strings.HasPrefix(data.SQL, "SELECT id, key FROM") {
		tr.queries.Add(1)
	}
	return ctx
}

func (tr *tracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// TestKeysBoundedMemory lists 10,000 keys of 1 KiB each (10 MB of keys) a
// page at a time: every key once, one query per page, and the live heap
// never more than a few pages above where it started.
func TestKeysBoundedMemory(t *testing.T) {
	base := newPool(t)
	cfg, err := pgxpool.ParseConfig(pgDSN())
	require.NoError(t, err)
	tr := &tracer{}
	cfg.ConnConfig.Tracer = tr
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	require.NoError(t, err)
	defer pool.Close()
	const n, page, keyLen = 10_000, 100, 1024
	s := open(t, pool, &pgstore.Options{Schema: newSchema(t, base), PageSize: page})
	ctx := t.Context()
	_, err = pool.Exec(ctx, `INSERT INTO `+pgx.Identifier{s.Schema(), s.Table()}.Sanitize()+` (id, key, value, size, used)
		SELECT sha256(k), k, '\x01', length(k) + 1, now()
		FROM (SELECT convert_to(lpad(g::text, $1, 'k'), 'UTF8') k FROM generate_series(1, $2) g) keys`, keyLen, n)
	require.NoError(t, err)

	liveHeap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := liveHeap()
	var peak uint64
	seen := make(map[[32]byte]bool, n) // digests, not keys: 32 bytes each
	i := 0
	for k, err := range s.Keys(ctx) {
		require.NoError(t, err)
		require.Len(t, k, keyLen)
		var d [32]byte
		copy(d[:], k[keyLen-32:])
		seen[d] = true
		if i++; i%1000 == 0 {
			peak = max(peak, liveHeap())
		}
	}
	assert.Equal(t, n, i, "every key once")
	assert.Len(t, seen, n)
	assert.Equal(t, int64(n/page+1), tr.queries.Load(), "one query per page, the last one short")
	growth := int64(peak) - int64(before)
	t.Logf("live heap growth while listing %d keys of %d bytes (%d MB of keys): %d KB", n, keyLen, n*keyLen>>20, growth>>10)
	assert.Less(t, growth, int64(2<<20), "listing holds more than a few pages")
}

// TestConcurrentWriters: goroutines write, read and delete the same keys
// through two stores on one table: no errors, no value of another key, and
// the usage exact at the end.
func TestConcurrentWriters(t *testing.T) {
	pool := newPool(t)
	const maxBytes = 64 << 10
	a := open(t, pool, &pgstore.Options{MaxBytes: maxBytes})
	b, err := pgstore.New(pool, &pgstore.Options{Schema: a.Schema(), MaxBytes: maxBytes})
	require.NoError(t, err)
	defer b.Close()
	ctx := t.Context()
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for g := range 8 {
		s := []*pgstore.Store{a, b}[g%2]
		wg.Go(func() {
			for i := range 150 {
				k := (g + i*7) % 12
				key := fmt.Sprintf("key-%d", k)
				val := []byte(fmt.Sprintf("%s/%d/%d/%s", key, g, i, strings.Repeat("x", 1000+k*300)))
				var err error
				switch i % 4 {
				case 0, 1:
					err = s.Set(ctx, key, val, 0)
				case 2:
					var v []byte
					v, err = s.Get(ctx, key)
					if err == store.ErrNotFound {
						err = nil
					} else if err == nil && !strings.HasPrefix(string(v), key+"/") {
						err = fmt.Errorf("Get(%q) = a value of another key: %.20q", key, v)
					}
				case 3:
					err = s.Delete(ctx, key)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// Sets that found another evicting went on without waiting, so the
	// table may be over budget until the next Set, which evicts.
	require.NoError(t, a.Set(ctx, "last", []byte("v"), 0))
	bytes, _ := usage(t, a)
	assert.LessOrEqual(t, bytes, int64(maxBytes))
}

// TestTimeout: a call that waits on the server (here for a row lock that
// another transaction holds) fails once Options.Timeout has passed, with
// the pool Open makes (the server's statement_timeout first) and with the
// caller's pool (the deadline); the store works on after.
func TestTimeout(t *testing.T) {
	pool := newPool(t)
	schema := newSchema(t, pool)
	ctx := t.Context()
	const timeout = 300 * time.Millisecond
	owned, err := pgstore.Open(pgDSN(), &pgstore.Options{Schema: schema, Timeout: timeout})
	require.NoError(t, err)
	defer owned.Close()
	var st string
	require.NoError(t, owned.Pool().QueryRow(ctx, `SHOW statement_timeout`).Scan(&st))
	assert.Equal(t, "270ms", st, "Open sets the server's statement_timeout to nine tenths of Timeout")
	callers, err := pgstore.New(pool, &pgstore.Options{Schema: schema, Timeout: timeout})
	require.NoError(t, err)
	defer callers.Close()

	require.NoError(t, owned.Set(ctx, "locked", []byte("v"), 0))
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(context.Background())
	_, err = tx.Exec(ctx, `SELECT 1 FROM `+pgx.Identifier{schema, "cachestack"}.Sanitize()+` FOR UPDATE`)
	require.NoError(t, err)

	for name, s := range map[string]*pgstore.Store{"Open's pool": owned, "the caller's pool": callers} {
		start := time.Now()
		err := s.Set(ctx, "locked", []byte("w"), 0)
		took := time.Since(start)
		require.Error(t, err, "%s: Set of a locked row", name)
		assert.ErrorContains(t, err, `pgstore set "locked"`)
		assert.GreaterOrEqual(t, took, timeout/2, name)
		assert.Less(t, took, timeout+time.Second, "%s: Set took %v, Timeout is %v", name, took, timeout)
		// The connection the deadline broke is replaced; on a loaded
		// machine, connecting may itself take longer than the Timeout.
		require.Eventually(t, func() bool { return s.Set(ctx, "other", []byte("v"), 0) == nil },
			5*time.Second, 10*time.Millisecond, "%s: the store works on", name)
	}
	require.NoError(t, tx.Rollback(ctx))
	require.NoError(t, owned.Set(ctx, "locked", []byte("w"), 0))
}

func TestUseClock(t *testing.T) {
	pool := newPool(t)
	storetest.UseClock(t, storetest.Bytes(func(t *testing.T) store.Store[string, []byte] { return open(t, pool, nil) }))
}
