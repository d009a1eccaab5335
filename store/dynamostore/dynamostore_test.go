package dynamostore_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/cachestack/cachestack/codec"
	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/dynamostore"
	"github.com/cachestack/cachestack/store/internal/servertest"
	"github.com/cachestack/cachestack/store/storetest"
)

func TestMain(m *testing.M) {
	// The SDK's HTTP client keeps idle keep-alive connections, each with
	// a reader and a writer goroutine, which it offers no way to close.
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"))
}

// endpoint is the server the tests use: CACHESTACK_DYNAMO_ENDPOINT, or the
// local default.
func endpoint() string {
	if e := os.Getenv("CACHESTACK_DYNAMO_ENDPOINT"); e != "" {
		return e
	}
	return "http://127.0.0.1:8000"
}

// localOptions are the options of a store of a local server at ep.
func localOptions(ep string) *dynamostore.Options {
	return &dynamostore.Options{Endpoint: ep, Region: "us-east-1", AccessKeyID: "test", SecretAccessKey: "test"}
}

// rawClient returns an SDK client of the server at ep, with the options
// Open gives it.
func rawClient(tb testing.TB, ep string) *dynamodb.Client {
	tb.Helper()
	return dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(ep),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}, nil
		}),
		// DynamoDB Local on a loaded 2-core machine now and then drops
		// a connection in the middle of a large Scan page (seen in CI:
		// "deserialization failed ... use of closed network connection"
		// three times in a row); the SDK's default of three attempts is
		// too few for that.
		RetryMaxAttempts: 8,
	})
}

// reachable probes the test server once per test binary.
var reachable = sync.OnceValue(func() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c := dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint()),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}, nil
		}),
		RetryMaxAttempts: 1,
	})
	_, err := c.ListTables(ctx, &dynamodb.ListTablesInput{Limit: aws.Int32(1)})
	return err
})

// newClient returns a client of the test server; it skips or fails tb
// when the server cannot be reached.
func newClient(tb testing.TB) *dynamodb.Client {
	tb.Helper()
	if err := reachable(); err != nil {
		servertest.Missing(tb, fmt.Sprintf("no DynamoDB at %s (set CACHESTACK_DYNAMO_ENDPOINT, or run scripts/services.sh): %v", endpoint(), err))
	}
	return rawClient(tb, endpoint())
}

// tableName returns a table name no other test or run uses.
func tableName(tb testing.TB) string {
	tb.Helper()
	var r [4]byte
	_, _ = rand.Read(r[:])
	n := strings.NewReplacer("/", ".", " ", "_").Replace(tb.Name())
	if len(n) > 60 {
		n = n[len(n)-60:]
	}
	return "cst-" + strings.Map(func(r rune) rune {
		if r < 128 && (r == '_' || r == '-' || r == '.' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return r
		}
		return '_'
	}, n) + "-" + hex.EncodeToString(r[:])
}

// dropTable deletes table when tb ends.
func dropTable(tb testing.TB, c *dynamodb.Client, table string) {
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = c.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(table)})
	})
}

// open returns a store over c in a new table of its own, which it
// creates, deleted when tb ends.
func open(tb testing.TB, c *dynamodb.Client, opts *dynamostore.Options) *dynamostore.Store {
	tb.Helper()
	var o dynamostore.Options
	if opts != nil {
		o = *opts
	}
	o.CreateTable = true
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Second // DynamoDB Local under -race on a shared machine is slow
	}
	table := tableName(tb)
	s, err := dynamostore.New(c, table, &o)
	require.NoError(tb, err)
	require.NoError(tb, s.Setup(context.Background()))
	dropTable(tb, c, table)
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// clock is a fake clock that starts at the real time, so that the expiry
// dates a store writes with it are in the real future, where DynamoDB's
// own TTL leaves them alone while the test runs (DynamoDB Local deletes
// expired items within seconds).
func clock() *storetest.Clock {
	c := storetest.NewClock()
	c.Advance(time.Since(c.Now()))
	return c
}

func TestConformance(t *testing.T) {
	c := newClient(t)
	clk := clock()
	h := storetest.Bytes(func(t *testing.T) store.Store[string, []byte] {
		return open(t, c, &dynamostore.Options{Clock: clk.Now})
	})
	h.Advance = clk.Advance
	storetest.Run(t, h)
}

// TestConformanceSmallPages runs the suite with Scan pages of two items,
// and eventually consistent reads (DynamoDB Local answers them
// consistently, as a single node).
func TestConformanceSmallPages(t *testing.T) {
	c := newClient(t)
	clk := clock()
	h := storetest.Bytes(func(t *testing.T) store.Store[string, []byte] {
		return open(t, c, &dynamostore.Options{Clock: clk.Now, PageSize: 2, EventuallyConsistent: true})
	})
	h.Advance = clk.Advance
	storetest.Run(t, h)
}

func TestNewOptions(t *testing.T) {
	t.Parallel()
	c := rawClient(t, "http://127.0.0.1:1")
	tests := []struct {
		name    string
		client  dynamostore.API
		table   string
		give    *dynamostore.Options
		wantErr string
	}{
		{name: "Nil", client: c, table: "cache"},
		{name: "Options", client: c, table: "my-app.http_cache", give: &dynamostore.Options{Timeout: time.Second, PageSize: 500}},
		{name: "NilClient", table: "cache", wantErr: "dynamostore: client is nil"},
		{name: "NilTypedClient", client: (*dynamodb.Client)(nil), table: "cache", wantErr: "dynamostore: client is a nil *dynamodb.Client"},
		{name: "ShortTable", client: c, table: "ab", wantErr: `dynamostore: table "ab" is 2 characters long, want 3 to 255`},
		{name: "BadTable", client: c, table: "my cache", wantErr: `dynamostore: table "my cache" contains ' '; DynamoDB allows only a-z, A-Z, 0-9, '_', '-' and '.'`},
		{name: "NegativeTimeout", client: c, table: "cache", give: &dynamostore.Options{Timeout: -1}, wantErr: "dynamostore: Options.Timeout is -1ns, want >= 0"},
		{name: "NegativePageSize", client: c, table: "cache", give: &dynamostore.Options{PageSize: -1}, wantErr: "dynamostore: Options.PageSize is -1, want >= 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := dynamostore.New(tt.client, tt.table, tt.give)
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				require.Nil(t, s)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.table, s.Table())
			require.NoError(t, s.Close())
		})
	}
}

func TestOpenOptions(t *testing.T) {
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	_, err := dynamostore.Open("cache", &dynamostore.Options{AccessKeyID: "a"})
	require.EqualError(t, err, "dynamostore: Options.AccessKeyID and Options.SecretAccessKey must be set together")
	_, err = dynamostore.Open("cache", &dynamostore.Options{Endpoint: "127.0.0.1:8000"})
	require.EqualError(t, err, `dynamostore: Options.Endpoint "127.0.0.1:8000" is not an http:// or https:// URL`)
	_, err = dynamostore.Open("cache", nil)
	require.EqualError(t, err, "dynamostore: no AWS region: set Options.Region, AWS_REGION or a profile's region")
	s, err := dynamostore.Open("cache", &dynamostore.Options{Endpoint: "http://127.0.0.1:1"})
	require.NoError(t, err, "a local endpoint needs no region or credentials")
	require.NoError(t, s.Close())
	_, err = dynamostore.Open("x", &dynamostore.Options{Region: "eu-west-1"})
	require.ErrorContains(t, err, `table "x"`)
}

// TestItemLayout: one item per entry, {key: S, body: B, expires: N}, long
// and odd keys under a digest with the whole key in "name".
func TestItemLayout(t *testing.T) {
	c := newClient(t)
	clk := clock()
	s := open(t, c, &dynamostore.Options{Clock: clk.Now})
	ctx := t.Context()
	require.NoError(t, s.Set(ctx, "GET https://example.com/", []byte("hello"), 90*time.Second+time.Millisecond))
	long := strings.Repeat("k", 2000)
	require.NoError(t, s.Set(ctx, long, []byte("long"), 0))

	item := func(pk string) map[string]types.AttributeValue {
		out, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.Table()), Key: map[string]types.AttributeValue{"key": &types.AttributeValueMemberS{Value: pk}}})
		require.NoError(t, err)
		require.NotNil(t, out.Item, "no item with key %q", pk)
		return out.Item
	}
	it := item("GET https://example.com/")
	assert.Equal(t, []byte("hello"), it["body"].(*types.AttributeValueMemberB).Value)
	assert.Equal(t, strconv.FormatInt(clk.Now().Unix()+91, 10), it["expires"].(*types.AttributeValueMemberN).Value, "expires is now+ttl in Unix seconds, rounded up")
	assert.Len(t, it, 3)

	it = item("#sha256:" + sha(long))
	assert.Equal(t, long, string(it["name"].(*types.AttributeValueMemberB).Value))
	assert.NotContains(t, it, "expires")

	// An item written by hand in the layout is the store's.
	_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.Table()), Item: map[string]types.AttributeValue{
		"key": &types.AttributeValueMemberS{Value: "by hand"}, "body": &types.AttributeValueMemberB{Value: []byte("x")},
	}})
	require.NoError(t, err)
	v, err := s.Get(ctx, "by hand")
	require.NoError(t, err)
	assert.Equal(t, "x", string(v))
	assert.ElementsMatch(t, []string{"GET https://example.com/", long, "by hand"}, keys(t, s))

	// A key that looks like a digest is stored under its own digest.
	fake := "#sha256:" + sha(long)
	_, err = s.Get(ctx, fake)
	require.ErrorIs(t, err, store.ErrNotFound)
	require.NoError(t, s.Set(ctx, fake, []byte("fake"), 0))
	v, err = s.Get(ctx, long)
	require.NoError(t, err)
	assert.Equal(t, "long", string(v))
}

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func keys(t testing.TB, s *dynamostore.Store) []string {
	t.Helper()
	var out []string
	for k, err := range s.Keys(context.Background()) {
		require.NoError(t, err)
		out = append(out, k)
	}
	return out
}

// TestNativeExpiry: Setup enables DynamoDB's TTL on "expires"; reads filter
// expired items by the store's clock whatever DynamoDB has deleted.
func TestNativeExpiry(t *testing.T) {
	c := newClient(t)
	clk := clock()
	s := open(t, c, &dynamostore.Options{Clock: clk.Now})
	ctx := t.Context()
	native, err := s.NativeExpiry(ctx)
	require.NoError(t, err)
	assert.True(t, native, "TTL is enabled on the table")
	out, err := c.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(s.Table())})
	require.NoError(t, err)
	assert.Equal(t, "expires", aws.ToString(out.TimeToLiveDescription.AttributeName))

	require.NoError(t, s.Set(ctx, "short", []byte("v"), time.Minute))
	require.NoError(t, s.Set(ctx, "long", []byte("v"), time.Hour))
	clk.Advance(time.Minute - time.Second)
	_, err = s.Get(ctx, "short")
	require.NoError(t, err, "a second before its ttl has passed")
	clk.Advance(2 * time.Second) // expiry is kept in whole seconds, rounded up
	_, err = s.Get(ctx, "short")
	require.ErrorIs(t, err, store.ErrNotFound, "past its ttl's second")
	assert.Equal(t, []string{"long"}, keys(t, s), "Keys filters expired items")
}

// TestTooLarge: entries above the item limit are refused, with a clear,
// counted error, and nothing is written; the largest that fits is stored.
func TestTooLarge(t *testing.T) {
	c := newClient(t)
	s := open(t, c, nil)
	ctx := t.Context()
	key := "GET https://example.com/big"
	fits := dynamostore.MaxItemBytes - len("key") - len(key) - len("body")
	require.NoError(t, s.Set(ctx, key, make([]byte, fits), 0), "an item of exactly 400 KB fits")
	v, err := s.Get(ctx, key)
	require.NoError(t, err)
	assert.Len(t, v, fits)

	err = s.Set(ctx, key, make([]byte, fits+1), 0)
	require.ErrorIs(t, err, dynamostore.ErrTooLarge)
	require.ErrorIs(t, err, store.ErrTooLarge, "the store package's sentinel, which the cache counts")
	assert.EqualError(t, err, fmt.Sprintf(`dynamostore set %q: store: value too large: entry exceeds DynamoDB's 400 KB item limit: the item would be 409601 bytes`, key))
	_, err = s.Get(ctx, key)
	require.ErrorIs(t, err, store.ErrNotFound, "a refused Set drops the entry it would have replaced")
	require.NoError(t, s.Set(ctx, key, make([]byte, fits), 0))
	err = s.Set(ctx, key, make([]byte, fits-10), time.Hour) // the expires attribute counts too
	require.ErrorIs(t, err, dynamostore.ErrTooLarge)
	assert.Equal(t, int64(2), s.TooLarge())
}

// TestTooLargeThroughCache: a response too large for an item is still
// answered, from the origin, every time; the store's refusal is counted by
// the store and by the cache.
func TestTooLargeThroughCache(t *testing.T) {
	c := newClient(t)
	raw := open(t, c, nil)
	s := codec.Bind(raw, codec.Response())
	o := servertest.NewOrigin(t, 500<<10)
	cache := servertest.Cache(t, s, o)
	for i := range 3 {
		body, hit, _ := servertest.Get(t, cache, o, "/big")
		assert.False(t, hit, "GET %d", i)
		assert.GreaterOrEqual(t, len(body), 500<<10)
		// The write is made in the background: let it be refused before
		// the next GET, which the write-back queue would answer until then.
		require.NoError(t, cache.Flush(t.Context()))
	}
	assert.Equal(t, int64(3), o.Hits.Load(), "every GET answered by the origin")
	assert.Equal(t, int64(3), raw.TooLarge(), "each write refused and counted")
	assert.Equal(t, int64(3), cache.Counters().TooLarge.Load(), "counted by the cache as too large, not as a store failure")
	assert.Equal(t, int64(0), cache.Counters().Stored.Load())
}

// counting is the real client with each Scan counted.
type counting struct {
	*dynamodb.Client
	scans atomic.Int64
}

func (c *counting) Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	c.scans.Add(1)
	return c.Client.Scan(ctx, in, opts...)
}

// TestKeysBoundedMemory lists 10,000 keys of 1 KiB (10 MiB of keys) in
// Scan pages of 100 and checks that the listing holds about one page.
func TestKeysBoundedMemory(t *testing.T) {
	c := newClient(t)
	cc := &counting{Client: c}
	table := tableName(t)
	s, err := dynamostore.New(cc, table, &dynamostore.Options{CreateTable: true, PageSize: 100, Timeout: time.Minute})
	require.NoError(t, err)
	require.NoError(t, s.Setup(t.Context()))
	dropTable(t, c, table)
	ctx := t.Context()
	const n = 10_000
	pad := strings.Repeat("k", 1000)
	// Four writers, each putting its quarter of the items 25 at a time.
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			var reqs []types.WriteRequest
			flush := func() {
				for len(reqs) > 0 {
					out, err := c.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: reqs}})
					if !assert.NoError(t, err) {
						return
					}
					reqs = out.UnprocessedItems[table]
				}
			}
			for i := w; i < n; i += 4 {
				reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: map[string]types.AttributeValue{
					"key": &types.AttributeValueMemberS{Value: fmt.Sprintf("%05d/%s", i, pad)}, "body": &types.AttributeValueMemberB{Value: []byte{1}},
				}}})
				if len(reqs) == 25 {
					flush()
				}
			}
			flush()
		})
	}
	wg.Wait()
	require.False(t, t.Failed())

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base, peak := ms.HeapAlloc, ms.HeapAlloc
	cc.scans.Store(0)
	seen := make(map[int]bool, n)
	for k, err := range s.Keys(ctx) {
		require.NoError(t, err)
		var i int
		_, err := fmt.Sscanf(k, "%05d/", &i)
		require.NoError(t, err)
		seen[i] = true
		if len(seen)%500 == 0 {
			runtime.GC()
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
		}
	}
	assert.Len(t, seen, n)
	grew := int64(peak) - int64(base)
	t.Logf("10,000 keys of 1 KiB (10 MiB) listed in %d Scan pages; heap grew by at most %d KiB", cc.scans.Load(), grew/1024)
	assert.GreaterOrEqual(t, cc.scans.Load(), int64(n/100), "one Scan per page of 100")
	assert.Less(t, grew, int64(3<<20), "the listing holds about one page, not the key set")

	cc.scans.Store(0)
	i := 0
	for _, err := range s.Keys(ctx) {
		require.NoError(t, err)
		if i++; i == 150 {
			break
		}
	}
	assert.Equal(t, int64(2), cc.scans.Load(), "breaking after 150 keys read two pages")

	require.NoError(t, s.Clear(ctx))
	assert.Empty(t, keys(t, s))
}

// TestServerDown: a store of a port nobody listens on returns errors from
// every call within its timeout — never ErrNotFound, never a panic.
func TestServerDown(t *testing.T) {
	t.Parallel()
	s, err := dynamostore.Open("cache", &dynamostore.Options{Endpoint: "http://" + servertest.FreeAddr(t), Timeout: 300 * time.Millisecond})
	require.NoError(t, err)
	ctx := t.Context()
	wantDown := func(err error, op string) {
		t.Helper()
		require.Error(t, err, op)
		assert.NotErrorIs(t, err, store.ErrNotFound, op)
		var se *store.Error
		require.ErrorAs(t, err, &se, op)
		assert.Equal(t, "dynamostore", se.Store)
		assert.Equal(t, op, se.Op)
	}
	t0 := time.Now()
	_, err = s.Get(ctx, "k")
	wantDown(err, "get")
	wantDown(s.Set(ctx, "k", []byte("v"), time.Minute), "set")
	wantDown(s.Delete(ctx, "k"), "delete")
	wantDown(s.Clear(ctx), "clear")
	var errs []error
	for _, err := range s.Keys(ctx) {
		errs = append(errs, err)
	}
	require.Len(t, errs, 1)
	wantDown(errs[0], "keys")
	assert.Less(t, time.Since(t0), 5*time.Second, "five calls bounded by a 300 ms timeout")

	require.NoError(t, s.Close())
	_, err = s.Get(ctx, "k")
	assert.ErrorIs(t, err, store.ErrClosed)
	require.NoError(t, s.Close())
}

// TestMissingTable: without CreateTable, a missing table is an error, not
// a miss.
func TestMissingTable(t *testing.T) {
	c := newClient(t)
	s, err := dynamostore.New(c, tableName(t), nil)
	require.NoError(t, err)
	_, err = s.Get(t.Context(), "k")
	var nf *types.ResourceNotFoundException
	require.ErrorAs(t, err, &nf)
}

// TestDefaultStack: the cache over OpenResponses serves a hit end to end.
func TestDefaultStack(t *testing.T) {
	c := newClient(t)
	table := tableName(t)
	// No region or credentials: Open supplies both for a local endpoint.
	s, err := dynamostore.OpenResponses(table, &dynamostore.Options{Endpoint: endpoint(), CreateTable: true})
	require.NoError(t, err)
	dropTable(t, c, table)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	servertest.DefaultStackHit(t, s)
}

// dynamoLocal starts a DynamoDB Local of the test's own (the jar that
// services.sh unpacked, CACHESTACK_DYNAMODB_LOCAL_JAR), keeping its data
// in a temporary directory so that it survives a restart, on a free port.
func dynamoLocal(t *testing.T) *servertest.Process {
	t.Helper()
	jar := os.Getenv("CACHESTACK_DYNAMODB_LOCAL_JAR")
	if jar == "" {
		servertest.Missing(t, "CACHESTACK_DYNAMODB_LOCAL_JAR is not set (scripts/services.sh unpacks DynamoDB Local and sets it): this test kills a server of its own")
	}
	if _, err := os.Stat(jar); err != nil {
		servertest.Missing(t, fmt.Sprintf("CACHESTACK_DYNAMODB_LOCAL_JAR: %v", err))
	}
	if _, err := exec.LookPath("java"); err != nil {
		servertest.Missing(t, "no java on PATH, which DynamoDB Local needs")
	}
	dir := t.TempDir()
	addr := servertest.FreeAddr(t)
	p := servertest.Start(t, addr, func() *exec.Cmd {
		cmd := exec.Command("java", "-Xmx256m", "-jar", jar, "-sharedDb", "-dbPath", dir, "-port", strconv.Itoa(portOf(addr)))
		cmd.Dir = filepath.Dir(jar)
		return cmd
	})
	return p
}

func portOf(addr string) int {
	n, _ := strconv.Atoi(addr[strings.LastIndexByte(addr, ':')+1:])
	return n
}

// TestServerKilled kills the store's server mid-test: the HTTP cache over
// it answers every request from the origin, promptly, and once the server
// is back the same store works again.
func TestServerKilled(t *testing.T) {
	p := dynamoLocal(t)
	t.Logf("DynamoDB Local started in %v", p.StartTime)
	o := localOptions("http://" + p.Addr)
	o.CreateTable, o.Timeout = true, time.Second
	raw, err := dynamostore.Open("killed", o)
	require.NoError(t, err)
	t.Cleanup(func() { _ = raw.Close() })
	ctx := t.Context()
	require.NoError(t, raw.Setup(ctx), "creating the table")
	// A JVM just started answers its first requests slowly.
	require.Eventually(t, func() bool {
		t0 := time.Now()
		if err := raw.Set(ctx, "warm-up", make([]byte, 8<<10), time.Minute); err != nil {
			return false
		}
		_, err := raw.Get(ctx, "warm-up")
		return err == nil && time.Since(t0) < 100*time.Millisecond
	}, time.Minute, 10*time.Millisecond, "DynamoDB Local warms up")
	servertest.ServerKilled(t, p, codec.Bind(raw, codec.Response()), 3*time.Second)
}

// TestTableRecreated: a store that creates its table creates it again when
// it has gone (deleted, or a local server restarted without its data).
func TestTableRecreated(t *testing.T) {
	c := newClient(t)
	s := open(t, c, nil)
	ctx := t.Context()
	require.NoError(t, s.Set(ctx, "k", []byte("v"), 0))
	_, err := c.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(s.Table())})
	require.NoError(t, err)
	_, err = s.Get(ctx, "k")
	var nf *types.ResourceNotFoundException
	require.ErrorAs(t, err, &nf, "the call that finds the table gone fails")
	_, err = s.Get(ctx, "k")
	require.ErrorIs(t, err, store.ErrNotFound, "the next one creates it again")
	require.NoError(t, s.Set(ctx, "k", []byte("v"), 0))
}

// TestNativeExpiryDeletes: with TTL enabled, the server itself drops an
// item whose expires has passed by its own clock (DynamoDB within days,
// DynamoDB Local within seconds); the test reads with the raw client,
// which has no read filter, and polls for up to a minute.
func TestNativeExpiryDeletes(t *testing.T) {
	c := newClient(t)
	past := func() time.Time { return time.Now().Add(-time.Hour) }
	s := open(t, c, &dynamostore.Options{Clock: past})
	ctx := t.Context()
	native, err := s.NativeExpiry(ctx)
	require.NoError(t, err)
	if !native {
		t.Skip("the server has TTL off on the table")
	}
	require.NoError(t, s.Set(ctx, "expired", []byte("v"), time.Second)) // expires an hour ago
	require.NoError(t, s.Set(ctx, "kept", []byte("v"), 0))
	raw := func(key string) bool {
		out, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.Table()), ConsistentRead: aws.Bool(true),
			Key: map[string]types.AttributeValue{"key": &types.AttributeValueMemberS{Value: key}}})
		require.NoError(t, err)
		return out.Item != nil
	}
	require.Eventually(t, func() bool { return !raw("expired") }, time.Minute, 100*time.Millisecond,
		"the server drops the expired item")
	assert.True(t, raw("kept"), "the item without expires stays")
}

func TestUseClock(t *testing.T) {
	c := newClient(t)
	storetest.UseClock(t, storetest.Bytes(func(t *testing.T) store.Store[string, []byte] { return open(t, c, nil) }))
}
