package sqlitestore_test

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/sqlitestore"
	"github.com/cachestack/cachestack/store/storetest"
)

const benchKeys = 64

var benchSizes = []struct {
	name string
	size int
}{
	{"1KiB", 1 << 10},
	{"64KiB", 64 << 10},
}

// bench is a store and, in the same file and through the same pool, a
// plain table (key BLOB PRIMARY KEY, value BLOB) that the raw driver reads
// and upserts, both holding benchKeys values of size bytes.
type bench struct {
	s               *sqlitestore.Store
	keys            []string
	rawKeys         [][]byte
	value           []byte
	getRaw, getRawQ *sql.Stmt
	setRaw          *sql.Stmt
}

func newBench(b *testing.B, size int) *bench {
	b.Helper()
	s, err := sqlitestore.Open(filepath.Join(b.TempDir(), "bench.sqlite"), nil)
	require.NoError(b, err)
	b.Cleanup(func() { _ = s.Close() })
	db := s.DB()
	_, err = db.Exec(`CREATE TABLE raw (key BLOB PRIMARY KEY, value BLOB NOT NULL)`)
	require.NoError(b, err)
	bb := &bench{s: s, value: make([]byte, size)}
	bb.getRaw, err = db.Prepare(`SELECT value FROM raw WHERE key = ?`)
	require.NoError(b, err)
	bb.setRaw, err = db.Prepare(`INSERT INTO raw (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`)
	require.NoError(b, err)
	b.Cleanup(func() { bb.getRaw.Close(); bb.setRaw.Close() })
	ctx := b.Context()
	for i := range benchKeys {
		k := fmt.Sprintf("GET https://example.com/item/%d", i)
		bb.keys = append(bb.keys, k)
		bb.rawKeys = append(bb.rawKeys, []byte(k))
		require.NoError(b, s.Set(ctx, k, bb.value, 0))
		_, err := bb.setRaw.Exec(bb.rawKeys[i], bb.value)
		require.NoError(b, err)
	}
	return bb
}

func (bb *bench) get(b *testing.B, i int) error {
	_, err := bb.s.Get(b.Context(), bb.keys[i%benchKeys])
	return err
}

func (bb *bench) rawGet(b *testing.B, i int) error {
	var v []byte
	return bb.getRaw.QueryRowContext(b.Context(), bb.rawKeys[i%benchKeys]).Scan(&v)
}

func (bb *bench) set(b *testing.B, i int) error {
	return bb.s.Set(b.Context(), bb.keys[i%benchKeys], bb.value, 0)
}

func (bb *bench) rawSet(b *testing.B, i int) error {
	_, err := bb.setRaw.ExecContext(b.Context(), bb.rawKeys[i%benchKeys], bb.value)
	return err
}

// loop runs op once per iteration at each size.
func loop(b *testing.B, op func(*bench, *testing.B, int) error) {
	for _, sz := range benchSizes {
		b.Run(sz.name, func(b *testing.B) {
			bb := newBench(b, sz.size)
			b.SetBytes(int64(sz.size))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := op(bb, b, i); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// vsRaw alternates the store's op and the raw driver's in one loop, timing
// each, so that both see the same machine load, and reports both times
// and their ratio store/raw.
func vsRaw(b *testing.B, op, raw func(*bench, *testing.B, int) error) {
	for _, sz := range benchSizes {
		b.Run(sz.name, func(b *testing.B) {
			bb := newBench(b, sz.size)
			var st, direct time.Duration
			i := 0
			for b.Loop() {
				t0 := time.Now()
				if err := op(bb, b, i); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if err := raw(bb, b, i); err != nil {
					b.Fatal(err)
				}
				direct += time.Since(t1)
				st += t1.Sub(t0)
				i++
			}
			b.ReportMetric(float64(st.Nanoseconds())/float64(i), "store-ns/op")
			b.ReportMetric(float64(direct.Nanoseconds())/float64(i), "raw-ns/op")
			b.ReportMetric(float64(st)/float64(direct), "store/raw")
		})
	}
}

// BenchmarkGet is a hit through the store; BenchmarkRawGet is the driver's
// own point SELECT of the same bytes from a plain table.
func BenchmarkGet(b *testing.B)    { loop(b, (*bench).get) }
func BenchmarkRawGet(b *testing.B) { loop(b, (*bench).rawGet) }

// BenchmarkSet overwrites an entry through the store (a transaction with
// the upsert, the usage triggers and the budget check); BenchmarkRawSet is
// the driver's own upsert of the same bytes into a plain table.
func BenchmarkSet(b *testing.B)    { loop(b, (*bench).set) }
func BenchmarkRawSet(b *testing.B) { loop(b, (*bench).rawSet) }

// BenchmarkGetVsRaw and BenchmarkSetVsRaw report the ratio store/raw.
func BenchmarkGetVsRaw(b *testing.B) { vsRaw(b, (*bench).get, (*bench).rawGet) }
func BenchmarkSetVsRaw(b *testing.B) { vsRaw(b, (*bench).set, (*bench).rawSet) }

// BenchmarkStore runs the benchmarks every store shares.
func BenchmarkStore(b *testing.B) {
	h := storetest.BenchBytes(func(b *testing.B, size int) store.Store[string, []byte] {
		s, err := sqlitestore.Open(filepath.Join(b.TempDir(), "bench.sqlite"), nil)
		require.NoError(b, err)
		return s
	})
	h.Keys = benchKeys
	storetest.Bench(b, h)
}
