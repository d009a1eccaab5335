package mongostore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.uber.org/goleak"

	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/internal/servertest"
	"github.com/cachestack/cachestack/store/mongostore"
	"github.com/cachestack/cachestack/store/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// mongoURI is the server the tests use: CACHESTACK_MONGO_URI, or the local
// default.
func mongoURI() string {
	if u := os.Getenv("CACHESTACK_MONGO_URI"); u != "" {
		return u
	}
	return "mongodb://127.0.0.1:27017"
}

// clientOptions are the driver options of the tests: a short server
// selection, so that a server that is down fails fast.
func clientOptions(uri string) *options.ClientOptions {
	return options.Client().ApplyURI(uri).SetServerSelectionTimeout(3 * time.Second).SetConnectTimeout(2 * time.Second)
}

// reachable probes the test server once per test binary.
var reachable = sync.OnceValue(func() error {
	c, err := mongo.Connect(clientOptions(mongoURI()))
	if err != nil {
		return err
	}
	defer func() { _ = c.Disconnect(context.Background()) }()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.Ping(ctx, nil)
})

// requireServer skips or fails tb when the test server is unreachable.
func requireServer(tb testing.TB) {
	tb.Helper()
	if err := reachable(); err != nil {
		servertest.Missing(tb, fmt.Sprintf("no MongoDB server at %s (set CACHESTACK_MONGO_URI, or run scripts/services.sh): %v", mongoURI(), err))
	}
}

// newClient returns a client of the test server, disconnected when tb ends.
func newClient(tb testing.TB, opts ...*options.ClientOptions) *mongo.Client {
	tb.Helper()
	requireServer(tb)
	c, err := mongo.Connect(append([]*options.ClientOptions{clientOptions(mongoURI())}, opts...)...)
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = c.Disconnect(context.Background()) })
	return c
}

// dbName returns a database name no other test or run uses.
func dbName(tb testing.TB) string {
	tb.Helper()
	var r [4]byte
	_, _ = rand.Read(r[:])
	n := strings.NewReplacer("/", "_", " ", "_", ".", "_", "$", "_").Replace(tb.Name())
	if len(n) > 40 {
		n = n[len(n)-40:]
	}
	return "cst_" + n + "_" + hex.EncodeToString(r[:])
}

// open returns a store on c in a fresh database, dropped and closed when
// tb ends.
func open(tb testing.TB, c *mongo.Client, opts *mongostore.Options) *mongostore.Store {
	tb.Helper()
	var o mongostore.Options
	if opts != nil {
		o = *opts
	}
	if o.Database == "" {
		o.Database = dbName(tb)
	}
	s, err := mongostore.New(c, &o)
	require.NoError(tb, err)
	tb.Cleanup(func() {
		_ = s.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = c.Database(o.Database).Drop(ctx)
	})
	return s
}

// clock is a fake clock that starts at the real time, so that the expiry
// dates a store writes with it are in the real future, where a server's
// own TTL monitor leaves them alone while the test runs.
func clock() *storetest.Clock {
	c := storetest.NewClock()
	c.Advance(time.Since(c.Now()))
	return c
}

func TestConformance(t *testing.T) {
	c := newClient(t)
	clk := clock()
	h := storetest.Bytes(func(t *testing.T) store.Store[string, []byte] {
		return open(t, c, &mongostore.Options{Clock: clk.Now})
	})
	h.Advance = clk.Advance
	storetest.Run(t, h)
}

// TestConformanceSmallBatches runs the suite with Keys fetching two keys
// per round trip.
func TestConformanceSmallBatches(t *testing.T) {
	c := newClient(t)
	clk := clock()
	h := storetest.Bytes(func(t *testing.T) store.Store[string, []byte] {
		return open(t, c, &mongostore.Options{Clock: clk.Now, BatchSize: 2})
	})
	h.Advance = clk.Advance
	storetest.Run(t, h)
}

func TestNewOptions(t *testing.T) {
	t.Parallel()
	c, err := mongo.Connect(clientOptions("mongodb://127.0.0.1:1")) // no I/O until used
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Disconnect(context.Background()) })
	tests := []struct {
		name    string
		client  *mongo.Client
		give    *mongostore.Options
		wantDB  string
		wantErr string
	}{
		{name: "Nil", client: c, wantDB: "cachestack"},
		{name: "Database", client: c, give: &mongostore.Options{Database: "myapp", Collection: "http"}, wantDB: "myapp"},
		{name: "NilClient", wantErr: "mongostore: client is nil"},
		{name: "NegativeTimeout", client: c, give: &mongostore.Options{Timeout: -time.Second}, wantErr: "mongostore: Options.Timeout is -1s, want >= 0"},
		{name: "NegativeBatch", client: c, give: &mongostore.Options{BatchSize: -1}, wantErr: "mongostore: Options.BatchSize is -1, want >= 0"},
		{name: "DotDatabase", client: c, give: &mongostore.Options{Database: "my.app"}, wantErr: `mongostore: Options.Database "my.app" contains '.', which MongoDB does not allow in a database name`},
		{name: "LongDatabase", client: c, give: &mongostore.Options{Database: strings.Repeat("d", 64)}, wantErr: "is 64 bytes long, want fewer than 64"},
		{name: "DollarCollection", client: c, give: &mongostore.Options{Collection: "a$b"}, wantErr: `mongostore: Options.Collection "a$b" contains '$' or NUL`},
		{name: "SystemCollection", client: c, give: &mongostore.Options{Collection: "system.users"}, wantErr: `starts with "system."`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := mongostore.New(tt.client, tt.give)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				require.Nil(t, s)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantDB, s.Database())
			require.NoError(t, s.Close())
		})
	}
}

func TestOpenDatabaseFromURI(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give   string
		opts   *mongostore.Options
		wantDB string
	}{
		{give: "mongodb://127.0.0.1:1", wantDB: "cachestack"},
		{give: "mongodb://127.0.0.1:1/", wantDB: "cachestack"},
		{give: "mongodb://127.0.0.1:1/myapp?connectTimeoutMS=100", wantDB: "myapp"},
		{give: "mongodb://127.0.0.1:1/myapp", opts: &mongostore.Options{Database: "other"}, wantDB: "other"},
	}
	for _, tt := range tests {
		s, err := mongostore.Open(tt.give, tt.opts)
		require.NoError(t, err, tt.give)
		assert.Equal(t, tt.wantDB, s.Database(), tt.give)
		require.NoError(t, s.Close())
	}
	_, err := mongostore.Open("http://example.com", nil)
	require.ErrorContains(t, err, "mongostore: uri:")
}

// TestDocumentLayout: one document per entry, {_id: key, body: binary,
// expires: date}, and documents written by hand in that layout are read.
func TestDocumentLayout(t *testing.T) {
	c := newClient(t)
	clk := clock()
	s := open(t, c, &mongostore.Options{Clock: clk.Now})
	ctx := t.Context()
	require.NoError(t, s.Set(ctx, "GET https://example.com/", []byte("hello"), 90*time.Second+time.Microsecond))
	require.NoError(t, s.Set(ctx, "forever", []byte{}, 0))

	var doc bson.Raw
	doc, err := s.Collection().FindOne(ctx, bson.D{{Key: "_id", Value: "GET https://example.com/"}}).Raw()
	require.NoError(t, err)
	sub, body, ok := doc.Lookup("body").BinaryOK()
	require.True(t, ok, "body is binary: %v", doc)
	assert.Equal(t, byte(0), sub)
	assert.Equal(t, "hello", string(body))
	exp, ok := doc.Lookup("expires").DateTimeOK()
	require.True(t, ok, "expires is a date: %v", doc)
	assert.Equal(t, clk.Now().Add(90*time.Second).UnixMilli()+1, exp, "expires is now+ttl, rounded up to the millisecond")

	doc, err = s.Collection().FindOne(ctx, bson.D{{Key: "_id", Value: "forever"}}).Raw()
	require.NoError(t, err)
	_, err = doc.LookupErr("expires")
	assert.Error(t, err, "an entry without ttl has no expires field")
	n, err := s.Collection().CountDocuments(ctx, bson.D{})
	require.NoError(t, err)
	assert.Equal(t, int64(2), n, "one document per entry")

	_, err = s.Collection().InsertOne(ctx, bson.D{{Key: "_id", Value: "by hand"}, {Key: "body", Value: bson.Binary{Data: []byte("x")}}})
	require.NoError(t, err)
	v, err := s.Get(ctx, "by hand")
	require.NoError(t, err)
	assert.Equal(t, "x", string(v))

	_, err = s.Collection().InsertOne(ctx, bson.D{{Key: "_id", Value: "wrong"}, {Key: "body", Value: "a string"}})
	require.NoError(t, err)
	_, err = s.Get(ctx, "wrong")
	assert.ErrorContains(t, err, `mongostore get "wrong": document has no binary "body" field`)
	assert.NotErrorIs(t, err, store.ErrNotFound)
}

// TestExpiry: the server deletes expired documents itself where it has
// TTL indexes; where it refuses them (FerretDB 1.x answers NotImplemented),
// reads filter expired documents out and the purge deletes them.
func TestExpiry(t *testing.T) {
	c := newClient(t)
	clk := clock()
	s := open(t, c, &mongostore.Options{Clock: clk.Now, PurgeInterval: 20 * time.Millisecond})
	ctx := t.Context()
	native, why := s.NativeExpiry(ctx)
	if native {
		t.Log("the server has TTL indexes")
		specs, err := s.Collection().Indexes().ListSpecifications(ctx)
		require.NoError(t, err)
		var found bool
		for _, sp := range specs {
			if sp.Name == "cachestack_expires" {
				found = true
				require.NotNil(t, sp.ExpireAfterSeconds)
				assert.Equal(t, int32(0), *sp.ExpireAfterSeconds)
			}
		}
		assert.True(t, found, "the TTL index exists: %v", specs)
	} else {
		t.Logf("the server refused the TTL index: %v", why)
		require.Error(t, why)
		var se mongo.ServerError
		require.ErrorAs(t, why, &se)
	}

	require.NoError(t, s.Set(ctx, "short", []byte("v"), time.Minute))
	require.NoError(t, s.Set(ctx, "long", []byte("v"), time.Hour))
	require.NoError(t, s.Set(ctx, "forever", []byte("v"), 0))
	clk.Advance(2 * time.Minute)
	_, err := s.Get(ctx, "short")
	require.ErrorIs(t, err, store.ErrNotFound, "expired by the store's clock")
	_, err = s.Get(ctx, "long")
	require.NoError(t, err)

	count := func() int64 {
		n, err := s.Collection().CountDocuments(ctx, bson.D{})
		require.NoError(t, err)
		return n
	}
	if native {
		// The TTL monitor acts on the server's clock, which the test
		// cannot move; DeleteExpired does the same by the store's.
		n, err := s.DeleteExpired(ctx)
		require.NoError(t, err)
		assert.Equal(t, int64(1), n)
	} else {
		require.Eventually(t, func() bool { return count() == 2 }, 10*time.Second, 10*time.Millisecond,
			"the background purge deletes the expired document")
	}
	assert.Equal(t, int64(2), count())
	clk.Advance(2 * time.Hour)
	n, err := s.DeleteExpired(ctx)
	require.NoError(t, err)
	if native {
		assert.Equal(t, int64(1), n)
	}
	assert.Equal(t, int64(1), count(), "only the entry without ttl is left")
}

// TestNativeTTLDeletes writes a document that expired long ago and, where
// the server has TTL indexes, waits for its TTL monitor (which runs every
// 60 s) to delete it. It runs only with CACHESTACK_MONGO_TTL_WAIT=1.
func TestNativeTTLDeletes(t *testing.T) {
	if os.Getenv("CACHESTACK_MONGO_TTL_WAIT") == "" {
		t.Skip("waits up to two minutes for the server's TTL monitor; set CACHESTACK_MONGO_TTL_WAIT=1 to run it")
	}
	c := newClient(t)
	past := func() time.Time { return time.Now().Add(-time.Hour) }
	s := open(t, c, &mongostore.Options{Clock: past})
	ctx := t.Context()
	native, why := s.NativeExpiry(ctx)
	if !native {
		t.Skipf("the server has no TTL indexes: %v", why)
	}
	require.NoError(t, s.Set(ctx, "old", []byte("v"), time.Second))
	require.Eventually(t, func() bool {
		n, err := s.Collection().CountDocuments(ctx, bson.D{})
		return err == nil && n == 0
	}, 150*time.Second, time.Second)
}

// TestKeysBoundedMemory lists 10,000 keys of 1 KiB each (10 MiB of keys)
// through batches of 100, and checks that the listing holds about one
// batch: the driver sends a getMore per batch, and the heap never grows by
// more than a fraction of the key set.
func TestKeysBoundedMemory(t *testing.T) {
	requireServer(t)
	var getMores atomic.Int64
	mon := &event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
		if e.CommandName == "getMore" {
			getMores.Add(1)
		}
	}}
	c := newClient(t, options.Client().SetMonitor(mon))
	s := open(t, c, &mongostore.Options{BatchSize: 100, Timeout: time.Minute})
	ctx := t.Context()
	const n = 10_000
	pad := strings.Repeat("k", 1000)
	docs := make([]any, 0, 1000)
	for i := range n {
		docs = append(docs, bson.D{{Key: "_id", Value: fmt.Sprintf("%05d/%s", i, pad)}, {Key: "body", Value: bson.Binary{Data: []byte{1}}}})
		if len(docs) == cap(docs) {
			_, err := s.Collection().InsertMany(ctx, docs)
			require.NoError(t, err)
			docs = docs[:0]
		}
	}
	docs = nil //nolint:ineffassign // let the collector have them

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base, peak := ms.HeapAlloc, ms.HeapAlloc
	getMores.Store(0)
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
	t.Logf("10,000 keys of 1 KiB (10 MiB) listed with %d getMores; heap grew by at most %d KiB", getMores.Load(), grew/1024)
	assert.GreaterOrEqual(t, getMores.Load(), int64(n/100-1), "one round trip per batch of 100")
	assert.Less(t, grew, int64(3<<20), "the listing holds about one batch, not the key set")

	// Breaking out early fetches no more batches.
	getMores.Store(0)
	i := 0
	for _, err := range s.Keys(ctx) {
		require.NoError(t, err)
		if i++; i == 150 {
			break
		}
	}
	assert.LessOrEqual(t, getMores.Load(), int64(1), "breaking after 150 keys fetched at most one more batch")
}

// TestUpsertRace: many writers setting one new key at once all succeed
// (an upsert that loses the race to insert is retried as a replace).
func TestUpsertRace(t *testing.T) {
	c := newClient(t)
	s := open(t, c, nil)
	ctx := t.Context()
	for round := range 20 {
		key := fmt.Sprintf("race-%d", round)
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for w := range 8 {
			wg.Go(func() { errs <- s.Set(ctx, key, []byte{byte(w)}, time.Hour) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err, "round %d", round)
		}
		v, err := s.Get(ctx, key)
		require.NoError(t, err)
		assert.Len(t, v, 1)
	}
}

// TestServerDown: a store of a port nobody listens on returns errors from
// every call within its timeout — never ErrNotFound, never a panic.
func TestServerDown(t *testing.T) {
	t.Parallel()
	s, err := mongostore.Open("mongodb://"+servertest.FreeAddr(t), &mongostore.Options{Timeout: 300 * time.Millisecond})
	require.NoError(t, err, "Open does no I/O")
	t.Cleanup(func() { _ = s.Close() })
	ctx := t.Context()
	wantDown := func(err error, op string) {
		t.Helper()
		require.Error(t, err, op)
		assert.NotErrorIs(t, err, store.ErrNotFound, op)
		var se *store.Error
		require.ErrorAs(t, err, &se, op)
		assert.Equal(t, "mongostore", se.Store)
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
	require.NoError(t, s.Close(), "a second Close")
}

// TestCloseLeavesClient: Close does not disconnect the caller's client.
func TestCloseLeavesClient(t *testing.T) {
	c := newClient(t)
	a := open(t, c, nil)
	ctx := t.Context()
	require.NoError(t, a.Close())
	require.NoError(t, c.Ping(ctx, nil), "the client is still connected after Store.Close")
	_, err := a.Get(ctx, "k")
	assert.EqualError(t, err, `mongostore get "k": store: closed`)
}

// TestDefaultStack: the cache over OpenResponses serves a hit end to end.
func TestDefaultStack(t *testing.T) {
	c := newClient(t)
	db := dbName(t)
	s, err := mongostore.OpenResponses(mongoURI(), &mongostore.Options{Database: db})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Database(db).Drop(context.Background()) })
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	servertest.DefaultStackHit(t, s)
}

// ferretDB starts a FerretDB of the test's own (the binary services.sh
// built, CACHESTACK_FERRETDB_BIN), with the SQLite handler in a temporary
// directory, on a free port.
func ferretDB(t *testing.T) *servertest.Process {
	t.Helper()
	bin := os.Getenv("CACHESTACK_FERRETDB_BIN")
	if bin == "" {
		servertest.Missing(t, "CACHESTACK_FERRETDB_BIN is not set (scripts/services.sh builds FerretDB and sets it): this test kills a server of its own")
	}
	if _, err := os.Stat(bin); err != nil {
		servertest.Missing(t, fmt.Sprintf("CACHESTACK_FERRETDB_BIN: %v", err))
	}
	dir := t.TempDir()
	addr := servertest.FreeAddr(t)
	return servertest.Start(t, addr, func() *exec.Cmd {
		return exec.Command(bin, "-listen", addr, "-handler", "sqlite", "-sqlite-url", "file:"+dir+"/")
	})
}

// TestServerKilled kills the store's server mid-test: the HTTP cache over
// it answers every request from the origin, promptly, and once the server
// is back the same store works again.
func TestServerKilled(t *testing.T) {
	p := ferretDB(t)
	t.Logf("FerretDB (SQLite) started in %v", p.StartTime)
	s, err := mongostore.OpenResponses("mongodb://"+p.Addr+"/killed", &mongostore.Options{Timeout: 500 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	servertest.ServerKilled(t, p, s, 2*time.Second)
}

func TestUseClock(t *testing.T) {
	c := newClient(t)
	storetest.UseClock(t, storetest.Bytes(func(t *testing.T) store.Store[string, []byte] { return open(t, c, nil) }))
}
