// Package backends is the list of stores that the benchmarks and cachebench
// measure, and how to open each one as the store.Store[string,
// *cached.Response] that cachestack.Options.Store takes.
//
// Adding a store is one line in All. A store that needs a server it cannot
// reach (or has no adapter yet) returns an error matching ErrUnavailable
// from Open, and the callers report it as skipped with the reason.
package backends

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/codec"
	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/bigcachestore"
	"github.com/cachestack/cachestack/store/diskstore"
	"github.com/cachestack/cachestack/store/dynamostore"
	"github.com/cachestack/cachestack/store/memstore"
	"github.com/cachestack/cachestack/store/mongostore"
	"github.com/cachestack/cachestack/store/otterstore"
	"github.com/cachestack/cachestack/store/pgstore"
	"github.com/cachestack/cachestack/store/redisstore"
	"github.com/cachestack/cachestack/store/ristrettostore"
	"github.com/cachestack/cachestack/store/slabstore"
	"github.com/cachestack/cachestack/store/sqlitestore"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

// Kind says how a backend holds responses.
type Kind string

const (
	Typed  Kind = "typed"  // in memory, *cached.Response values, no encoding
	Bytes  Kind = "bytes"  // []byte values, lifted by codec.Bind(…, codec.Response())
	Server Kind = "server" // a network server; bytes
)

// ErrUnavailable matches the errors of backends that cannot run here (no
// adapter yet, no server reachable).
var ErrUnavailable = errors.New("unavailable")

// Config is what a backend is opened with.
type Config struct {
	// MaxBytes is the cache budget, as the store counts it.
	MaxBytes int64
	// Dir is a scratch directory for stores that keep files; the caller
	// removes it.
	Dir string
	// ID names what a server store keeps on its server for this run (a
	// Redis namespace, a PostgreSQL schema, a MongoDB database, a DynamoDB
	// table); empty means a fresh name. Opening again with the same ID
	// (and Dir) reaches the same entries, which is how a restart is
	// tried. Letters, digits and '_' only.
	ID string
}

// id is c.ID, or a fresh name for this process and moment.
func (c Config) id() string {
	if c.ID != "" {
		return c.ID
	}
	return fmt.Sprintf("cachebench_%d_%d", os.Getpid(), time.Now().UnixNano())
}

// Instance is an open backend.
type Instance struct {
	// Store is the typed store to hand to cachestack.Options.Store.
	Store store.Store[string, *cached.Response]
	// Raw is the byte store under Store, for byte backends; nil for typed
	// ones.
	Raw store.Store[string, []byte]
	// Settle waits until writes are visible to reads, for stores that
	// apply writes asynchronously (ristretto); nil when they are at once.
	Settle func()
	// Cleanup, if set, removes what the backend left on a server.
	Cleanup func()
	// Release, if set, closes the client the store was given (which the
	// store's Close leaves open).
	Release func()
}

// Close closes the store, after Cleanup if it is set.
func (in *Instance) Close() error {
	if in.Cleanup != nil {
		in.Cleanup()
	}
	return in.CloseKeep()
}

// CloseKeep closes the store and its client but leaves its entries where
// they are, for another Open with the same Config: a restart.
func (in *Instance) CloseKeep() error {
	err := in.Store.Close()
	if in.Release != nil {
		in.Release()
	}
	return err
}

// Backend is one store the benchmarks know how to open.
type Backend struct {
	Name string
	Kind Kind
	Open func(Config) (*Instance, error)
}

// All lists every backend, in-process ones first. Add a store here.
func All() []Backend {
	return []Backend{
		{"memory", Typed, openMemory},
		{"ristretto", Typed, openRistretto},
		{"otter", Typed, openOtter},
		{"slab", Typed, openSlab},
		{"memory-bytes", Bytes, bytesStore(func(c Config) (store.Store[string, []byte], error) {
			return memstore.New[string, []byte](&memstore.Options[[]byte]{MaxBytes: c.MaxBytes})
		})},
		{"bigcache", Bytes, bytesStore(func(c Config) (store.Store[string, []byte], error) {
			return bigcachestore.New(&bigcachestore.Options{MaxBytes: c.MaxBytes})
		})},
		{"disk", Bytes, bytesStore(func(c Config) (store.Store[string, []byte], error) {
			return diskstore.New(c.Dir, &diskstore.Options{MaxBytes: c.MaxBytes})
		})},
		{"sqlite", Bytes, bytesStore(func(c Config) (store.Store[string, []byte], error) {
			return sqlitestore.Open(filepath.Join(c.Dir, "cache.sqlite"), &sqlitestore.Options{MaxBytes: c.MaxBytes})
		})},
		{"redis", Server, openRedis},
		{"postgres", Server, openPostgres},
		{"mongo", Server, openMongo},
		{"dynamodb", Server, openDynamo},
	}
}

// Lookup returns the backend called name.
func Lookup(name string) (Backend, bool) {
	for _, b := range All() {
		if b.Name == name {
			return b, true
		}
	}
	return Backend{}, false
}

// Names returns the names of every backend, in All's order.
func Names() []string {
	var n []string
	for _, b := range All() {
		n = append(n, b.Name)
	}
	return n
}

func openMemory(c Config) (*Instance, error) {
	s, err := memstore.New[string, *cached.Response](&memstore.Options[*cached.Response]{MaxBytes: c.MaxBytes})
	if err != nil {
		return nil, err
	}
	return &Instance{Store: s}, nil
}

func openRistretto(c Config) (*Instance, error) {
	s, err := ristrettostore.New[string, *cached.Response](&ristrettostore.Options[*cached.Response]{MaxBytes: c.MaxBytes})
	if err != nil {
		return nil, err
	}
	return &Instance{Store: s, Settle: s.Wait}, nil
}

func openOtter(c Config) (*Instance, error) {
	s, err := otterstore.New[string, *cached.Response](&otterstore.Options[*cached.Response]{MaxBytes: c.MaxBytes})
	if err != nil {
		return nil, err
	}
	return &Instance{Store: s}, nil
}

func openSlab(c Config) (*Instance, error) {
	s, err := slabstore.New(&slabstore.Options{MaxBytes: c.MaxBytes})
	if err != nil {
		return nil, err
	}
	return &Instance{Store: s}, nil
}

// bytesStore opens a byte store and binds it to the response codec.
func bytesStore(open func(Config) (store.Store[string, []byte], error)) func(Config) (*Instance, error) {
	return func(c Config) (*Instance, error) {
		raw, err := open(c)
		if err != nil {
			return nil, err
		}
		return &Instance{Store: codec.Bind(raw, codec.Response()), Raw: raw}, nil
	}
}

// openRedis opens redisstore on the server at $CACHESTACK_REDIS_ADDR
// (default 127.0.0.1:6379) in a namespace of its own, emptied before and
// after the run. Redis is bounded by the server's maxmemory, not by
// c.MaxBytes: with the machine's default server, nothing is evicted.
func openRedis(c Config) (*Instance, error) {
	addr := os.Getenv("CACHESTACK_REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	client := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		client.Close()
		return nil, fmt.Errorf("%w: no Redis at %s: %v", ErrUnavailable, addr, err)
	}
	raw, err := redisstore.New(client, &redisstore.Options{Namespace: c.id()})
	if err != nil {
		client.Close()
		return nil, err
	}
	cleanup := func() { raw.Clear(context.Background()) }
	release := func() { client.Close() }
	return &Instance{Store: codec.Bind[string, *cached.Response](raw, codec.Response()), Raw: raw, Cleanup: cleanup, Release: release}, nil
}

// openPostgres opens pgstore on the server at $CACHESTACK_PG_DSN (default
// postgres://postgres@127.0.0.1:5432/test) in a schema of its own, dropped
// after the run, bounded by c.MaxBytes.
func openPostgres(c Config) (*Instance, error) {
	dsn := os.Getenv("CACHESTACK_PG_DSN")
	if dsn == "" {
		dsn = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, dsn)
	if err == nil {
		err = pool.Ping(ctx)
		if err != nil {
			pool.Close()
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%w: no PostgreSQL at %s: %v", ErrUnavailable, dsn, err)
	}
	schema := c.id()
	if _, err := pool.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{schema}.Sanitize()); err != nil {
		pool.Close()
		return nil, err
	}
	drop := func() {
		pool.Exec(context.Background(), "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
	}
	raw, err := pgstore.New(pool, &pgstore.Options{Schema: schema, MaxBytes: c.MaxBytes})
	if err != nil {
		drop()
		pool.Close()
		return nil, err
	}
	return &Instance{Store: codec.Bind[string, *cached.Response](raw, codec.Response()), Raw: raw, Cleanup: drop, Release: pool.Close}, nil
}

// openMongo opens mongostore on the server at $CACHESTACK_MONGO_URI
// (default mongodb://127.0.0.1:27017) in a database of its own, dropped
// after the run. The server's storage bounds it, not c.MaxBytes.
func openMongo(c Config) (*Instance, error) {
	uri := os.Getenv("CACHESTACK_MONGO_URI")
	if uri == "" {
		uri = "mongodb://127.0.0.1:27017"
	}
	raw, err := mongostore.Open(uri, &mongostore.Options{Database: c.id(), Timeout: 10 * time.Second})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := raw.Setup(ctx); err != nil {
		raw.Close()
		return nil, fmt.Errorf("%w: no MongoDB at %s: %v", ErrUnavailable, uri, err)
	}
	cleanup := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		raw.Collection().Database().Drop(ctx)
	}
	return &Instance{Store: codec.Bind[string, *cached.Response](raw, codec.Response()), Raw: raw, Cleanup: cleanup}, nil
}

// openDynamo opens dynamostore on the DynamoDB at
// $CACHESTACK_DYNAMO_ENDPOINT (default http://127.0.0.1:8000, DynamoDB
// Local) in a table of its own, created for the run and emptied after it.
// Items above 400 KB are refused, so large bodies are never hits.
func openDynamo(c Config) (*Instance, error) {
	ep := os.Getenv("CACHESTACK_DYNAMO_ENDPOINT")
	if ep == "" {
		ep = "http://127.0.0.1:8000"
	}
	raw, err := dynamostore.Open(c.id(), &dynamostore.Options{
		Endpoint: ep, Region: "us-east-1", AccessKeyID: "local", SecretAccessKey: "local",
		CreateTable: true, Timeout: 10 * time.Second,
	})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := raw.Setup(ctx); err != nil {
		return nil, fmt.Errorf("%w: no DynamoDB at %s: %v", ErrUnavailable, ep, err)
	}
	cleanup := func() { raw.Clear(context.Background()) }
	return &Instance{Store: codec.Bind[string, *cached.Response](raw, codec.Response()), Raw: raw, Cleanup: cleanup}, nil
}

// Stored sums the size (cached.Response.Size) and count of the live entries
// of in, by listing its keys. It reads every entry: call it once, at the
// end of a run.
func Stored(ctx context.Context, in *Instance) (bytes int64, entries int, err error) {
	l, ok := in.Store.(store.Lister[string])
	if !ok {
		return 0, 0, errors.ErrUnsupported
	}
	for k, err := range l.Keys(ctx) {
		if err != nil {
			return bytes, entries, err
		}
		r, err := in.Store.Get(ctx, k)
		if err != nil {
			continue // evicted or expired since it was listed
		}
		bytes += r.Size()
		entries++
	}
	return bytes, entries, nil
}

// TempDir makes a scratch directory for one backend run in parent (the
// system's temporary directory when parent is empty).
func TempDir(parent, name string) (string, error) {
	return os.MkdirTemp(parent, "cachebench-"+name+"-")
}
