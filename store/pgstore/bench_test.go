package pgstore_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/pgstore"
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

// bench is a store and, in the same schema and through the same pool, a
// plain table (key bytea PRIMARY KEY, value bytea) that the raw driver
// reads and upserts, both holding benchKeys values of size bytes.
type bench struct {
	s                *pgstore.Store
	pool             *pgxpool.Pool
	keys             []string
	rawKeys          [][]byte
	value            []byte
	rawGetQ, rawSetQ string
}

func newBench(b *testing.B, size int) *bench {
	b.Helper()
	pool := newPool(b)
	s := open(b, pool, nil)
	raw := pgx.Identifier{s.Schema(), "raw"}.Sanitize()
	ctx := b.Context()
	_, err := pool.Exec(ctx, `CREATE TABLE `+raw+` (key bytea PRIMARY KEY, value bytea NOT NULL)`)
	require.NoError(b, err)
	bb := &bench{
		s: s, pool: pool, value: make([]byte, size),
		rawGetQ: `SELECT value FROM ` + raw + ` WHERE key = $1`,
		rawSetQ: `INSERT INTO ` + raw + ` (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
	}
	for i := range benchKeys {
		k := fmt.Sprintf("GET https://example.com/item/%d", i)
		bb.keys = append(bb.keys, k)
		bb.rawKeys = append(bb.rawKeys, []byte(k))
		require.NoError(b, s.Set(ctx, k, bb.value, 0))
		_, err := pool.Exec(ctx, bb.rawSetQ, bb.rawKeys[i], bb.value)
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
	return bb.pool.QueryRow(b.Context(), bb.rawGetQ, bb.rawKeys[i%benchKeys]).Scan(&v)
}

func (bb *bench) set(b *testing.B, i int) error {
	return bb.s.Set(b.Context(), bb.keys[i%benchKeys], bb.value, 0)
}

func (bb *bench) rawSet(b *testing.B, i int) error {
	_, err := bb.pool.Exec(b.Context(), bb.rawSetQ, bb.rawKeys[i%benchKeys], bb.value)
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

// BenchmarkGet is a hit through the store; BenchmarkRawGet is pgx's own
// point SELECT of the same bytes from a plain table, on the same pool.
func BenchmarkGet(b *testing.B)    { loop(b, (*bench).get) }
func BenchmarkRawGet(b *testing.B) { loop(b, (*bench).rawGet) }

// BenchmarkSet overwrites an entry through the store (the upsert, with its
// usage trigger, and the usage read in the same round trip);
// BenchmarkRawSet is pgx's own upsert of the same bytes into a plain table.
func BenchmarkSet(b *testing.B)    { loop(b, (*bench).set) }
func BenchmarkRawSet(b *testing.B) { loop(b, (*bench).rawSet) }

// BenchmarkGetVsRaw and BenchmarkSetVsRaw report the ratio store/raw.
func BenchmarkGetVsRaw(b *testing.B) { vsRaw(b, (*bench).get, (*bench).rawGet) }
func BenchmarkSetVsRaw(b *testing.B) { vsRaw(b, (*bench).set, (*bench).rawSet) }

// BenchmarkStore runs the benchmarks every store shares.
func BenchmarkStore(b *testing.B) {
	pool := newPool(b)
	h := storetest.BenchBytes(func(b *testing.B, size int) store.Store[string, []byte] {
		s, err := pgstore.New(pool, &pgstore.Options{Schema: newSchema(b, pool)})
		require.NoError(b, err)
		return s
	})
	h.Keys = benchKeys
	storetest.Bench(b, h)
}
