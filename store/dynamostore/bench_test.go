package dynamostore_test

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"
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
// read and a point write through the store, and the same GetItem and
// PutItem made with the SDK alone, on the same client and items.
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
	table := aws.String(s.Table())
	get = func(i int) error {
		_, err := s.Get(ctx, keys[i%benchKeys])
		return err
	}
	set = func(i int) error { return s.Set(ctx, keys[i%benchKeys], v, time.Hour) }
	rawGet = func(i int) error {
		_, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: table, ConsistentRead: aws.Bool(true),
			Key: map[string]types.AttributeValue{"key": &types.AttributeValueMemberS{Value: keys[i%benchKeys]}}})
		return err
	}
	exp := strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)
	rawSet = func(i int) error {
		_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: table, Item: map[string]types.AttributeValue{
			"key":     &types.AttributeValueMemberS{Value: keys[i%benchKeys]},
			"body":    &types.AttributeValueMemberB{Value: v},
			"expires": &types.AttributeValueMemberN{Value: exp},
		}})
		return err
	}
	return get, set, rawGet, rawSet
}

// BenchmarkGetVsRaw and BenchmarkSetVsRaw alternate a store call and the
// SDK's own GetItem or PutItem of the same item in one loop, timing each,
// so that both see the same machine load; they report both times and the
// ratio store/raw.
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
