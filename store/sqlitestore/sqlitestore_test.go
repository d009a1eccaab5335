package sqlitestore_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/sqlitestore"
	"github.com/cachestack/cachestack/store/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// open opens a store on a new file in a temporary directory, closed when
// tb ends.
func open(tb testing.TB, opts *sqlitestore.Options) (*sqlitestore.Store, string) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "cache.sqlite")
	s, err := sqlitestore.Open(path, opts)
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = s.Close() })
	return s, path
}

func TestConformance(t *testing.T) {
	clock := storetest.NewClock()
	h := storetest.Bytes(func(t *testing.T) store.Store[string, []byte] {
		s, _ := open(t, &sqlitestore.Options{Clock: clock.Now})
		return s
	})
	h.Advance = clock.Advance
	storetest.Run(t, h)
}

// TestConformanceSmallPages lists two keys per query, so that Keys goes
// through many pages, and shares one file between the suite's stores.
func TestConformanceSmallPages(t *testing.T) {
	clock := storetest.NewClock()
	path := filepath.Join(t.TempDir(), "shared.sqlite")
	n := 0
	h := storetest.Bytes(func(t *testing.T) store.Store[string, []byte] {
		n++
		s, err := sqlitestore.Open(path, &sqlitestore.Options{Clock: clock.Now, PageSize: 2, Table: fmt.Sprintf("t%d", n)})
		require.NoError(t, err)
		return s
	})
	h.Advance = clock.Advance
	storetest.Run(t, h)
}

// TestConformanceResponses runs the suite on the one-line typed form.
func TestConformanceResponses(t *testing.T) {
	clock := storetest.NewClock()
	h := storetest.Responses(func(t *testing.T) store.Store[string, *cached.Response] {
		s, err := sqlitestore.OpenResponses(filepath.Join(t.TempDir(), "r.sqlite"), &sqlitestore.Options{Clock: clock.Now})
		require.NoError(t, err)
		return s
	})
	h.Advance = clock.Advance
	storetest.Run(t, h)
}

func TestConformanceMemory(t *testing.T) {
	clock := storetest.NewClock()
	h := storetest.Bytes(func(t *testing.T) store.Store[string, []byte] {
		s, err := sqlitestore.Open(":memory:", &sqlitestore.Options{Clock: clock.Now})
		require.NoError(t, err)
		return s
	})
	h.Advance = clock.Advance
	storetest.Run(t, h)
}

func TestOptionErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "c.sqlite")
	tests := []struct {
		name string
		path string
		give *sqlitestore.Options
		want string
	}{
		{"EmptyPath", "", nil, "sqlitestore: path is empty"},
		{"MaxBytes", path, &sqlitestore.Options{MaxBytes: -1}, "sqlitestore: Options.MaxBytes is -1, want >= 0"},
		{"TouchAfter", path, &sqlitestore.Options{TouchAfter: -time.Second}, "sqlitestore: Options.TouchAfter is -1s, want >= 0"},
		{"PageSize", path, &sqlitestore.Options{PageSize: -3}, "sqlitestore: Options.PageSize is -3, want >= 0"},
		{"BusyTimeout", path, &sqlitestore.Options{BusyTimeout: -time.Millisecond}, "sqlitestore: Options.BusyTimeout is -1ms, want >= 0"},
		{"Table", path, &sqlitestore.Options{Table: "my table"}, `sqlitestore: Options.Table "my table" is not a plain identifier`},
		{"TableQuote", path, &sqlitestore.Options{Table: `a"b`}, `sqlitestore: Options.Table "a\"b" is not a plain identifier`},
		{"JournalMode", path, &sqlitestore.Options{JournalMode: "fast"}, `sqlitestore: Options.JournalMode is "fast", want WAL, DELETE, TRUNCATE, PERSIST, MEMORY or OFF`},
		{"Synchronous", path, &sqlitestore.Options{Synchronous: "sometimes"}, `sqlitestore: Options.Synchronous is "sometimes", want OFF, NORMAL, FULL or EXTRA`},
		{"Pragma", path, &sqlitestore.Options{Pragmas: []string{"a(1); DROP TABLE x"}}, `sqlitestore: Options.Pragmas has "a(1); DROP TABLE x"`},
		{"ReadOnlyMissingFile", filepath.Join(dir, "missing.sqlite"), &sqlitestore.Options{ReadOnly: true}, `sqlitestore: opening "` + filepath.Join(dir, "missing.sqlite") + `"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := sqlitestore.Open(tt.path, tt.give)
			require.ErrorContains(t, err, tt.want)
			require.Nil(t, s)
		})
	}
	t.Run("NewRefusesConnectionOptions", func(t *testing.T) {
		db, err := sql.Open("sqlite", filepath.Join(dir, "new.sqlite"))
		require.NoError(t, err)
		defer db.Close()
		_, err = sqlitestore.New(db, &sqlitestore.Options{BusyTimeout: time.Second})
		require.EqualError(t, err, "sqlitestore: Options.BusyTimeout configures the connections Open makes; with New, configure the *sql.DB's connections yourself")
		_, err = sqlitestore.New(nil, nil)
		require.EqualError(t, err, "sqlitestore: db is nil")
	})
}

// pragma reads one pragma's value on a connection of s's pool.
func pragma(t *testing.T, s *sqlitestore.Store, name string) string {
	t.Helper()
	var v string
	require.NoError(t, s.DB().QueryRow("PRAGMA "+name).Scan(&v))
	return v
}

func TestConnectionSettings(t *testing.T) {
	t.Parallel()
	t.Run("Defaults", func(t *testing.T) {
		s, _ := open(t, nil)
		assert.Equal(t, "wal", pragma(t, s, "journal_mode"))
		assert.Equal(t, "5000", pragma(t, s, "busy_timeout"))
		assert.Equal(t, "1", pragma(t, s, "synchronous"), "NORMAL")
	})
	t.Run("Options", func(t *testing.T) {
		s, _ := open(t, &sqlitestore.Options{
			BusyTimeout: 250 * time.Millisecond,
			JournalMode: "truncate",
			Synchronous: "full",
			Pragmas:     []string{"cache_size(-1234)", "temp_store=memory"},
		})
		assert.Equal(t, "truncate", pragma(t, s, "journal_mode"))
		assert.Equal(t, "250", pragma(t, s, "busy_timeout"))
		assert.Equal(t, "2", pragma(t, s, "synchronous"), "FULL")
		assert.Equal(t, "-1234", pragma(t, s, "cache_size"))
		assert.Equal(t, "2", pragma(t, s, "temp_store"), "MEMORY")
	})
	t.Run("URIPassThrough", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "with ? and # and %.sqlite")
		uri := "file:" + strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path) +
			"?_busy_timeout=777&_pragma=cache_size(-4321)&_synchronous=OFF"
		// The URI's settings win over the options'.
		s, err := sqlitestore.Open(uri, &sqlitestore.Options{BusyTimeout: time.Second, Synchronous: "FULL"})
		require.NoError(t, err)
		defer s.Close()
		assert.Equal(t, "777", pragma(t, s, "busy_timeout"))
		assert.Equal(t, "-4321", pragma(t, s, "cache_size"))
		assert.Equal(t, "0", pragma(t, s, "synchronous"))
		assert.Equal(t, "wal", pragma(t, s, "journal_mode"))
		require.NoError(t, s.Set(t.Context(), "k", []byte("v"), 0))
		_, err = os.Stat(path)
		require.NoError(t, err, "the URI's escaped path is the file's name")
	})
}

func TestHomeExpansion(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	s, err := sqlitestore.Open("~/.cache/myapp/http.sqlite", nil)
	require.NoError(t, err)
	require.NoError(t, s.Set(t.Context(), "k", []byte("v"), 0))
	require.NoError(t, s.Close())
	fi, err := os.Stat(filepath.Join(home, ".cache", "myapp", "http.sqlite"))
	require.NoError(t, err, "~ is the home directory, and missing directories are made")
	assert.True(t, fi.Mode().IsRegular())

	s, err = sqlitestore.Open("file:~/.cache/myapp/http.sqlite?mode=ro", nil)
	require.NoError(t, err, "~ in a URI")
	defer s.Close()
	v, err := s.Get(t.Context(), "k")
	require.NoError(t, err)
	assert.Equal(t, "v", string(v))
}

func TestReadOnly(t *testing.T) {
	t.Parallel()
	rw, path := open(t, nil)
	ctx := t.Context()
	require.NoError(t, rw.Set(ctx, "k", []byte("v"), 0))

	ro, err := sqlitestore.Open(path, &sqlitestore.Options{ReadOnly: true})
	require.NoError(t, err)
	defer ro.Close()
	v, err := ro.Get(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, "v", string(v))
	assert.Equal(t, []string{"k"}, keys(t, ro))
	require.ErrorIs(t, ro.Set(ctx, "k", []byte("w"), 0), sqlitestore.ErrReadOnly)
	require.ErrorIs(t, ro.Delete(ctx, "k"), sqlitestore.ErrReadOnly)
	require.ErrorIs(t, ro.Clear(ctx), sqlitestore.ErrReadOnly)
	_, err = ro.Purge(ctx)
	require.ErrorIs(t, err, sqlitestore.ErrReadOnly)
	_, err = ro.DB().Exec(`DELETE FROM cachestack`)
	require.Error(t, err, "the connection itself is read-only")

	// The writer's later writes are seen by the reader.
	require.NoError(t, rw.Set(ctx, "k2", []byte("v2"), 0))
	v, err = ro.Get(ctx, "k2")
	require.NoError(t, err)
	assert.Equal(t, "v2", string(v))

	_, err = sqlitestore.Open(path, &sqlitestore.Options{ReadOnly: true, Table: "other"})
	require.ErrorContains(t, err, `table "other" does not exist, and a read-only store cannot create it`)
}

func TestShapeMismatch(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "c.sqlite")
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer db.Close()
	_, err = db.Exec(`CREATE TABLE responses (key TEXT PRIMARY KEY, value BLOB)`)
	require.NoError(t, err)

	_, err = sqlitestore.Open(path, &sqlitestore.Options{Table: "responses"})
	require.EqualError(t, err, `sqlitestore: opening "`+path+`": table "responses" exists with columns (key TEXT PRIMARY KEY, value BLOB), not the store's (key BLOB NOT NULL PRIMARY KEY, value BLOB NOT NULL, size INTEGER NOT NULL, expires INTEGER NOT NULL, used INTEGER NOT NULL): give Options.Table another name, or drop the table`)

	// Another table in the same file is fine, and New leaves db open.
	s, err := sqlitestore.New(db, &sqlitestore.Options{Table: "http"})
	require.NoError(t, err)
	require.NoError(t, s.Set(t.Context(), "k", []byte("v"), 0))
	require.NoError(t, s.Close())
	require.NoError(t, db.Ping(), "Close leaves the caller's db open")
	var n int
	require.NoError(t, db.QueryRow(`SELECT count(*) FROM http`).Scan(&n))
	assert.Equal(t, 1, n)
}

func keys(t testing.TB, s store.Lister[string]) []string {
	t.Helper()
	var out []string
	for k, err := range s.Keys(context.Background()) {
		require.NoError(t, err)
		out = append(out, k)
	}
	return out
}

// usage checks that the usage row equals what the table holds, and
// returns it.
func usage(t testing.TB, s *sqlitestore.Store) (bytes, entries int64) {
	t.Helper()
	bytes, entries, err := s.Usage(context.Background())
	require.NoError(t, err)
	var sum, count int64
	require.NoError(t, s.DB().QueryRow(`SELECT coalesce(sum(length(key) + length(value)), 0), count(*) FROM "`+s.Table()+`"`).Scan(&sum, &count))
	require.Equal(t, sum, bytes, "usage bytes against the table's sum")
	require.Equal(t, count, entries, "usage entries against the table's count")
	return bytes, entries
}

func TestEvictsLeastRecentlyUsed(t *testing.T) {
	t.Parallel()
	clock := storetest.NewClock()
	const maxBytes = 10_000
	s, _ := open(t, &sqlitestore.Options{MaxBytes: maxBytes, Clock: clock.Now, TouchAfter: time.Second})
	ctx := t.Context()
	val := func(n int) []byte { return make([]byte, n) }
	// Ten entries of 1,000 bytes (key "kN" plus 998 bytes): exactly full.
	for i := range 10 {
		require.NoError(t, s.Set(ctx, fmt.Sprintf("k%d", i), val(998), 0))
		clock.Advance(time.Second)
	}
	b, n := usage(t, s)
	assert.Equal(t, int64(maxBytes), b)
	assert.Equal(t, int64(10), n)

	// k0 and k1 are read, which makes them recent; k2 expires.
	_, err := s.Get(ctx, "k0")
	require.NoError(t, err)
	_, err = s.Get(ctx, "k1")
	require.NoError(t, err)
	require.NoError(t, s.Set(ctx, "k2", val(998), time.Second))
	clock.Advance(2 * time.Second)

	// One more entry goes over: k2 (expired) goes first, then the least
	// recently used (k3, k4) down to 9,000 bytes.
	require.NoError(t, s.Set(ctx, "new", val(997), 0))
	b, n = usage(t, s)
	assert.LessOrEqual(t, b, int64(maxBytes*9/10))
	assert.Equal(t, int64(9), n)
	got := map[string]bool{}
	for _, k := range keys(t, s) {
		got[k] = true
	}
	for _, k := range []string{"k0", "k1", "new", "k5", "k9"} {
		assert.True(t, got[k], "%s should have stayed", k)
	}
	for _, k := range []string{"k2", "k3"} {
		assert.False(t, got[k], "%s should have been evicted", k)
	}

	// An entry larger than the budget is not stored, and removes the old.
	require.NoError(t, s.Set(ctx, "k0", val(maxBytes), 0))
	_, err = s.Get(ctx, "k0")
	require.ErrorIs(t, err, store.ErrNotFound)
	// One exactly at the budget evicts every other.
	require.NoError(t, s.Set(ctx, "whole", val(maxBytes-len("whole")), 0))
	assert.Equal(t, []string{"whole"}, keys(t, s))
	usage(t, s)
}

// TestEvictionUsesIndexes: the statements a Set runs to evict read the
// usage row and walk the expiry and recency indexes (the recency walk stops
// at its LIMIT); none scans the table.
func TestEvictionUsesIndexes(t *testing.T) {
	t.Parallel()
	s, _ := open(t, nil)
	plan := func(q string, args ...any) string {
		rows, err := s.DB().Query("EXPLAIN QUERY PLAN "+q, args...)
		require.NoError(t, err)
		defer rows.Close()
		var lines []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			require.NoError(t, rows.Scan(&id, &parent, &unused, &detail))
			lines = append(lines, detail)
		}
		require.NoError(t, rows.Err())
		return strings.Join(lines, "; ")
	}
	tests := []struct {
		name, q string
		args    []any
		want    string
	}{
		{"Get", `SELECT value, expires, used FROM cachestack WHERE key = ?`, []any{[]byte("k")}, "USING INDEX sqlite_autoindex_cachestack_1 (key=?)"},
		{"Victims", `SELECT rowid, size FROM cachestack WHERE key <> ? ORDER BY used, rowid LIMIT 64`, []any{[]byte("k")}, "USING INDEX cachestack_used"},
		{"Expired", `DELETE FROM cachestack WHERE expires > 0 AND expires <= ?`, []any{int64(1)}, "INDEX cachestack_expires"},
		{"Usage", `SELECT bytes, entries FROM cachestack_usage WHERE id = 1`, nil, "USING INTEGER PRIMARY KEY"},
		{"Keys", `SELECT key FROM cachestack WHERE key > ? AND (expires = 0 OR expires > ?) ORDER BY key LIMIT ?`, []any{[]byte("k"), int64(1), 10}, "USING INDEX sqlite_autoindex_cachestack_1 (key>?)"},
	}
	for _, tt := range tests {
		p := plan(tt.q, tt.args...)
		assert.Contains(t, p, tt.want, "%s: plan %q", tt.name, p)
		assert.NotRegexp(t, `SCAN cachestack($|;)`, p, "%s scans the table: %q", tt.name, p)
	}
}

// TestVacuumFree: writing twenty times the budget, overwrites and new keys
// alike, leaves a file of a few times the budget: deleted pages are reused,
// without VACUUM.
func TestVacuumFree(t *testing.T) {
	t.Parallel()
	const maxBytes = 256 << 10
	s, path := open(t, &sqlitestore.Options{MaxBytes: maxBytes})
	ctx := t.Context()
	v := make([]byte, 4000)
	var sizes []int64
	rounds := 16
	if raceEnabled {
		rounds = 8
	}
	for round := range rounds {
		for i := range maxBytes / 4000 {
			key := fmt.Sprintf("r%d-%d", round%3, i) // some overwrites, some new keys
			v[0] = byte(round)
			require.NoError(t, s.Set(ctx, key, v, 0))
		}
		_, err := s.DB().Exec(`PRAGMA wal_checkpoint(PASSIVE)`)
		require.NoError(t, err)
		fi, err := os.Stat(path)
		require.NoError(t, err)
		size := fi.Size()
		if wal, err := os.Stat(path + "-wal"); err == nil {
			size += wal.Size()
		}
		sizes = append(sizes, size)
		b, _ := usage(t, s)
		require.LessOrEqual(t, b, int64(maxBytes))
	}
	t.Logf("database and WAL file sizes after each round of %d KiB: %v", maxBytes>>10, sizes)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Less(t, fi.Size(), int64(4*maxBytes), "the database file is many times the budget")
	last := sizes[len(sizes)-1]
	assert.LessOrEqual(t, last, sizes[3]*3/2, "the files keep growing after they reached their working size")
}

func TestPurge(t *testing.T) {
	t.Parallel()
	clock := storetest.NewClock()
	s, _ := open(t, &sqlitestore.Options{Clock: clock.Now})
	ctx := t.Context()
	// 2,500 rows in one statement (half of them expiring in a minute),
	// which the triggers count as they would the store's own writes.
	exp := clock.Now().Add(time.Minute).UnixNano()
	_, err := s.DB().Exec(`WITH RECURSIVE g(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM g WHERE i < 2499)
		INSERT INTO cachestack (key, value, size, expires, used)
		SELECT CAST(CAST(i AS TEXT) AS BLOB), x'76', length(CAST(i AS TEXT)) + 1, CASE WHEN i % 2 = 0 THEN ? ELSE 0 END, ? FROM g`,
		exp, clock.Now().UnixNano())
	require.NoError(t, err)
	require.NoError(t, s.Set(ctx, "0", []byte("v"), time.Minute)) // and the store's own
	n, err := s.Purge(ctx)
	require.NoError(t, err)
	assert.Zero(t, n, "nothing has expired yet")
	clock.Advance(time.Minute)
	n, err = s.Purge(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1250, n)
	_, entries := usage(t, s)
	assert.Equal(t, int64(1250), entries)
	assert.Len(t, keys(t, s), 1250)
}

// TestConcurrentWriters: goroutines of one process write, read and delete
// the same keys for a while through one store and through two stores on
// the same file: no error ("database is locked" included), no value that
// was not written for its key, and the budget held throughout.
func TestConcurrentWriters(t *testing.T) {
	t.Parallel()
	const maxBytes = 128 << 10
	a, path := open(t, &sqlitestore.Options{MaxBytes: maxBytes})
	b, err := sqlitestore.Open(path, &sqlitestore.Options{MaxBytes: maxBytes})
	require.NoError(t, err)
	defer b.Close()
	res := hammer(t.Context(), []*sqlitestore.Store{a, b}, 8, 0, time.Second)
	t.Logf("%d sets, %d gets (%d hits), %d deletes", res.sets, res.gets, res.hits, res.deletes)
	require.Empty(t, res.errs)
	if !raceEnabled {
		assert.Greater(t, res.sets, int64(20))
		assert.Greater(t, res.hits, int64(3), "too few hits to check values")
	}
	bytes, _ := usage(t, a)
	assert.LessOrEqual(t, bytes, int64(maxBytes))
	assert.Zero(t, res.overBudget, "the usage row went over MaxBytes")
}

// result counts what hammer did.
type result struct {
	sets, gets, hits, deletes, overBudget int64
	errs                                  []error
}

// hammer runs writers goroutines per store, mixing Set, Get and Delete on
// shared keys with values that name their key, until d has passed, and
// checks every value read and the usage row against the budget.
func hammer(ctx context.Context, stores []*sqlitestore.Store, writers, id int, d time.Duration) *result {
	var (
		res  result
		mu   sync.Mutex
		wg   sync.WaitGroup
		stop atomic.Bool
	)
	fail := func(err error) {
		mu.Lock()
		if len(res.errs) < 10 {
			res.errs = append(res.errs, err)
		}
		mu.Unlock()
	}
	for si, s := range stores {
		for w := range writers {
			wg.Go(func() {
				for n := 0; !stop.Load(); n++ {
					k := (w*7 + n*13) % sharedKeys
					key := sharedKey(k)
					switch n % 5 {
					case 0, 1:
						if err := s.Set(ctx, key, sharedValue(k, id*100+si*10+w, n), 0); err != nil {
							fail(fmt.Errorf("Set(%q): %w", key, err))
							return
						}
						atomic.AddInt64(&res.sets, 1)
					case 2, 3:
						v, err := s.Get(ctx, key)
						atomic.AddInt64(&res.gets, 1)
						if err == nil {
							atomic.AddInt64(&res.hits, 1)
							if err := checkValue(k, v); err != nil {
								fail(fmt.Errorf("Get(%q): %w", key, err))
								return
							}
						} else if err != store.ErrNotFound {
							fail(fmt.Errorf("Get(%q): %w", key, err))
							return
						}
					case 4:
						if err := s.Delete(ctx, key); err != nil {
							fail(fmt.Errorf("Delete(%q): %w", key, err))
							return
						}
						atomic.AddInt64(&res.deletes, 1)
					}
				}
			})
		}
	}
	wg.Go(func() {
		for !stop.Load() {
			b, _, err := stores[0].Usage(ctx)
			if err != nil {
				fail(fmt.Errorf("Usage: %w", err))
				return
			}
			if b > budget {
				atomic.AddInt64(&res.overBudget, 1)
			}
			time.Sleep(10 * time.Millisecond) // a sampling interval, not a wait for expiry
		}
	})
	time.Sleep(d) // the length of the run
	stop.Store(true)
	wg.Wait()
	return &res
}

// TestBusyTimeout: a Set waits, up to the busy timeout, for a write lock
// that another connection holds, and succeeds once it is released; with a
// timeout shorter than the wait it fails with SQLite's busy error.
func TestBusyTimeout(t *testing.T) {
	t.Parallel()
	s, path := open(t, nil)
	hold := func(d time.Duration) {
		db, err := sql.Open("sqlite", path)
		require.NoError(t, err)
		t.Cleanup(func() { db.Close() })
		conn, err := db.Conn(t.Context())
		require.NoError(t, err)
		_, err = conn.ExecContext(t.Context(), "BEGIN IMMEDIATE")
		require.NoError(t, err)
		done := make(chan struct{})
		go func() {
			defer close(done)
			time.Sleep(d) // how long the other connection holds the lock
			_, _ = conn.ExecContext(context.Background(), "COMMIT")
			conn.Close()
		}()
		t.Cleanup(func() { <-done })
	}
	hold(300 * time.Millisecond)
	start := time.Now()
	require.NoError(t, s.Set(t.Context(), "k", []byte("v"), 0), "Set waits for the lock")
	assert.GreaterOrEqual(t, time.Since(start), 250*time.Millisecond)

	short, err := sqlitestore.Open(path, &sqlitestore.Options{BusyTimeout: 20 * time.Millisecond})
	require.NoError(t, err)
	defer short.Close()
	hold(time.Second)
	err = short.Set(t.Context(), "k", []byte("w"), 0)
	require.ErrorContains(t, err, "database is locked", "with a busy timeout shorter than the wait")
	assert.ErrorContains(t, err, `sqlitestore set "k"`)
}

// TestKeysBoundedMemory lists 10,000 keys of 256 bytes each (2.5 MB of
// keys) a page at a time: every key once, in order, and the live heap
// never more than a few pages above where it started.
func TestKeysBoundedMemory(t *testing.T) {
	t.Parallel()
	const n, page, keyLen = 10_000, 100, 256
	s, _ := open(t, &sqlitestore.Options{PageSize: page})
	_, err := s.DB().Exec(`WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < ?)
		INSERT INTO cachestack (key, value, size, expires, used)
		SELECT CAST(printf('%0*d', ?, i) AS BLOB), x'01', ? + 1, 0, 0 FROM g`, n, keyLen, keyLen)
	require.NoError(t, err)

	liveHeap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := liveHeap()
	var peak uint64
	prev := ""
	i := 0
	for k, err := range s.Keys(t.Context()) {
		require.NoError(t, err)
		require.Len(t, k, keyLen)
		require.Greater(t, k, prev, "keys in byte order, each once")
		prev = k
		if i++; i%1000 == 0 {
			peak = max(peak, liveHeap())
		}
	}
	assert.Equal(t, n, i, "every key once")
	growth := int64(peak) - int64(before)
	t.Logf("live heap growth while listing %d keys of %d bytes: %d KB", n, keyLen, growth>>10)
	assert.Less(t, growth, int64(1<<20), "listing holds more than a few pages")
}

func TestUseClock(t *testing.T) {
	storetest.UseClock(t, storetest.Bytes(func(t *testing.T) store.Store[string, []byte] {
		s, _ := open(t, nil)
		return s
	}))
}
