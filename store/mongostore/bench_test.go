package mongostore_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

const benchKeys = 64

var benchSizes = []struct {
	name string
	size int
}{
	{"1KiB", 1 << 10},
	{"64KiB", 64 << 10},
}

// benchSetup stores benchKeys values of size bytes and returns a point
// read and a point write through the store, and the same read and write
// made with the driver alone (FindOne by _id; ReplaceOne with upsert), on
// the same client and documents.
func benchSetup(b *testing.B, size int) (get, set, rawGet, rawSet func(i int) error) {
	b.Helper()
	c := newClient(b)
	s := open(b, c, nil)
	ctx := b.Context()
	keys := make([]string, benchKeys)
	v := make([]byte, size)
	for i := range keys {
		keys[i] = fmt.Sprintf("GET https://example.com/item/%d", i)
		require.NoError(b, s.Set(ctx, keys[i], v, time.Hour))
	}
	coll := s.Collection()
	get = func(i int) error {
		_, err := s.Get(ctx, keys[i%benchKeys])
		return err
	}
	set = func(i int) error { return s.Set(ctx, keys[i%benchKeys], v, time.Hour) }
	rawGet = func(i int) error {
		raw, err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: keys[i%benchKeys]}}).Raw()
		if err != nil {
			return err
		}
		_, body, _ := raw.Lookup("body").BinaryOK()
		_ = append([]byte(nil), body...)
		return nil
	}
	exp := bson.NewDateTimeFromTime(time.Now().Add(time.Hour))
	rawSet = func(i int) error {
		k := keys[i%benchKeys]
		_, err := coll.ReplaceOne(ctx, bson.D{{Key: "_id", Value: k}},
			bson.D{{Key: "_id", Value: k}, {Key: "body", Value: bson.Binary{Data: v}}, {Key: "expires", Value: exp}},
			options.Replace().SetUpsert(true))
		return err
	}
	return get, set, rawGet, rawSet
}

// BenchmarkGetVsRaw and BenchmarkSetVsRaw alternate a store call and the
// raw driver's own point read or write of the same document in one loop,
// timing each, so that both see the same machine load; they report both
// times and the ratio store/raw.
func BenchmarkGetVsRaw(b *testing.B) {
	for _, sz := range benchSizes {
		b.Run(sz.name, func(b *testing.B) {
			get, _, raw, _ := benchSetup(b, sz.size)
			vsRaw(b, get, raw)
		})
	}
}

func BenchmarkSetVsRaw(b *testing.B) {
	for _, sz := range benchSizes {
		b.Run(sz.name, func(b *testing.B) {
			_, set, _, raw := benchSetup(b, sz.size)
			vsRaw(b, set, raw)
		})
	}
}

func vsRaw(b *testing.B, op, raw func(int) error) {
	var viaStore, direct time.Duration
	i := 0
	for b.Loop() {
		t0 := time.Now()
		if err := op(i); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := raw(i); err != nil {
			b.Fatal(err)
		}
		direct += time.Since(t1)
		viaStore += t1.Sub(t0)
		i++
	}
	b.ReportMetric(float64(viaStore.Nanoseconds())/float64(i), "store-ns/op")
	b.ReportMetric(float64(direct.Nanoseconds())/float64(i), "raw-ns/op")
	b.ReportMetric(float64(viaStore)/float64(direct), "store/raw")
}
