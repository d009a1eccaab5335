package redisstore

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachestack/cachestack/store"
)

const name = "redisstore"

// Defaults for Options.
const (
	// DefaultNamespace is the namespace when Options.Namespace is empty.
	DefaultNamespace = "cachestack"
	// DefaultScanCount is the COUNT hint given to SCAN, and so roughly the
	// number of keys Keys and Clear hold at once, when Options.ScanCount
	// is 0.
	DefaultScanCount = 100
)

// Options configure a Store. A nil *Options, like the zero value, means
// the defaults.
type Options struct {
	// Namespace prefixes every key: the store keeps key k under the Redis
	// key "<Namespace>:k", and lists and clears only keys starting with
	// "<Namespace>:". It is aiohttp-client-cache's cache name. Empty means
	// DefaultNamespace. It must not contain ':', so that no namespace's
	// keys can be taken for another's ("a" and "a:b" would overlap). Glob
	// characters (*, ?, [, ], \) are allowed: they are escaped in SCAN
	// patterns.
	Namespace string
	// ScanCount is the COUNT hint of the SCAN commands that Keys and Clear
	// issue, and so about how many keys one round trip fetches, and one
	// UNLINK of Clear removes. 0 means DefaultScanCount; negative is an
	// error.
	ScanCount int
}

// Store is a Redis-backed store.Store[string, []byte]. It also implements
// store.Lister[string] and store.Clearer. Its zero value is not usable;
// call New. A Store owns no goroutines and does not own its client.
type Store struct {
	client    redis.UniversalClient
	prefix    string // "<namespace>:"
	match     string // SCAN MATCH pattern: the escaped prefix, then "*"
	scanCount int64
	closed    atomic.Bool
}

var (
	_ store.Store[string, []byte]   = (*Store)(nil)
	_ store.Lister[string]          = (*Store)(nil)
	_ store.Clearer                 = (*Store)(nil)
	_ store.Batcher[string, []byte] = (*Store)(nil)
)

// New returns a store that keeps its entries in Redis through client.
//
// The caller owns client: Close marks the store closed but does not close
// the client, which the caller closes when it and every store over it are
// done. Several stores, with different namespaces, may share one client.
//
// New does no I/O, so it succeeds while Redis is down; every call then
// returns the client's error. It fails, naming the option, when client is
// nil or an option is out of range.
func New(client redis.UniversalClient, opts *Options) (*Store, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if client == nil {
		return nil, errors.New("redisstore: client is nil")
	}
	if v := reflect.ValueOf(client); v.Kind() == reflect.Pointer && v.IsNil() {
		return nil, fmt.Errorf("redisstore: client is a nil %T", client)
	}
	if o.ScanCount < 0 {
		return nil, fmt.Errorf("redisstore: Options.ScanCount is %d, want >= 0", o.ScanCount)
	}
	if strings.Contains(o.Namespace, ":") {
		return nil, fmt.Errorf("redisstore: Options.Namespace %q contains ':', which would let it overlap other namespaces; use another separator, such as '-' or '/'", o.Namespace)
	}
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	if o.ScanCount == 0 {
		o.ScanCount = DefaultScanCount
	}
	return &Store{
		client:    client,
		prefix:    o.Namespace + ":",
		match:     escapeGlob(o.Namespace) + ":*",
		scanCount: int64(o.ScanCount),
	}, nil
}

// escapeGlob escapes the characters that Redis' glob-style patterns (SCAN
// MATCH, KEYS) treat specially, so that the pattern matches s literally.
func escapeGlob(s string) string {
	if !strings.ContainsAny(s, `*?[]\`) {
		return s
	}
	var b strings.Builder
	b.Grow(2 * len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Namespace returns the store's namespace: its keys in Redis start with
// Namespace() + ":".
func (s *Store) Namespace() string { return s.prefix[:len(s.prefix)-1] }

// Get returns the value stored under key, or store.ErrNotFound, unwrapped,
// when Redis has no such key (it never has an expired one). The returned
// slice is the caller's, to keep and modify: it is the buffer the client
// read the reply into, which nothing else refers to, returned without a
// further copy. Get checks ctx before sending the command.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	if s.closed.Load() {
		return nil, store.Wrap(name, "get", key, store.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return nil, store.Wrap(name, "get", key, err)
	}
	b, err := s.client.Get(ctx, s.prefix+key).Bytes()
	if err != nil {
		if err == redis.Nil {
			return nil, store.ErrNotFound
		}
		return nil, store.Wrap(name, "get", key, s.failed(err))
	}
	return b, nil
}

// failed returns err, after asking a cluster client to reload the
// cluster's layout in the background (go-redis runs at most one reload at
// a time, then waits 200 ms before the next) when err may mean that a
// primary is gone: go-redis reloads it on its own only on a MOVED reply or
// every 10 s, and until then sends the slots of a failed primary to it,
// even after its replica has taken over.
func (s *Store) failed(err error) error {
	c, ok := s.client.(*redis.ClusterClient)
	if !ok || err == nil || errors.Is(err, context.Canceled) {
		return err
	}
	var rerr redis.Error
	if errors.As(err, &rerr) && !strings.HasPrefix(rerr.Error(), "CLUSTERDOWN") && !strings.HasPrefix(rerr.Error(), "READONLY") {
		return err // a reply of the server's, not a lost node
	}
	c.ReloadState(context.Background())
	return err
}

// Set stores value under key with SET, replacing any previous value and
// its expiry. A ttl greater than zero is sent as PX, in milliseconds
// rounded up, so Redis drops the entry once it has passed; zero sends no
// expiry. A negative ttl returns an error matching store.ErrNegativeTTL
// and changes nothing. The client has written value to the connection by
// the time Set returns, and keeps no reference to it.
func (s *Store) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if s.closed.Load() {
		return store.Wrap(name, "set", key, store.ErrClosed)
	}
	if ttl < 0 {
		return store.Wrap(name, "set", key, store.ErrNegativeTTL)
	}
	if err := ctx.Err(); err != nil {
		return store.Wrap(name, "set", key, err)
	}
	var cmd *redis.StatusCmd
	if ttl == 0 {
		cmd = redis.NewStatusCmd(ctx, "set", s.prefix+key, value)
	} else {
		cmd = redis.NewStatusCmd(ctx, "set", s.prefix+key, value, "px", ttlMillis(ttl))
	}
	_ = s.client.Process(ctx, cmd)
	return store.Wrap(name, "set", key, s.failed(cmd.Err()))
}

// SetMany stores the items as Set does, in one pipeline of SET commands:
// one round trip to a single server, one per node to a cluster or a ring
// (go-redis sends each command to the node of its key's slot), for as
// many writes (store.Batcher). Of two items with one key the last wins:
// a pipeline keeps the commands' order for each node. An item with a
// negative ttl is refused alone. A command that fails is reported for its
// item in a *store.BatchError; a pipeline that cannot be sent fails every
// item.
func (s *Store) SetMany(ctx context.Context, items []store.Item[string, []byte]) error {
	if len(items) == 0 {
		return nil
	}
	if s.closed.Load() {
		return store.Wrap(name, "set", "", store.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return store.Wrap(name, "set", "", err)
	}
	errs := make([]error, len(items))
	cmds := make([]*redis.StatusCmd, len(items))
	p := s.client.Pipeline()
	for i, it := range items {
		if it.TTL < 0 {
			errs[i] = store.Wrap(name, "set", it.Key, store.ErrNegativeTTL)
			continue
		}
		if it.TTL == 0 {
			cmds[i] = redis.NewStatusCmd(ctx, "set", s.prefix+it.Key, it.Value)
		} else {
			cmds[i] = redis.NewStatusCmd(ctx, "set", s.prefix+it.Key, it.Value, "px", ttlMillis(it.TTL))
		}
		_ = p.Process(ctx, cmds[i])
	}
	if p.Len() > 0 {
		if _, err := p.Exec(ctx); err != nil {
			_ = s.failed(err)
		}
	}
	for i, cmd := range cmds {
		if cmd != nil {
			errs[i] = store.Wrap(name, "set", items[i].Key, cmd.Err())
		}
	}
	return store.BatchResult(errs)
}

// ttlMillis is ttl in whole milliseconds, rounded up, for PX.
func ttlMillis(ttl time.Duration) int64 {
	ms := int64(ttl / time.Millisecond)
	if ttl%time.Millisecond != 0 {
		ms++
	}
	return ms
}

// Delete removes key with UNLINK. Deleting a key that is not there
// succeeds.
func (s *Store) Delete(ctx context.Context, key string) error {
	if s.closed.Load() {
		return store.Wrap(name, "delete", key, store.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return store.Wrap(name, "delete", key, err)
	}
	return store.Wrap(name, "delete", key, s.failed(s.client.Unlink(ctx, s.prefix+key).Err()))
}

// Keys yields the store's keys, without the namespace prefix, by walking
// SCAN with MATCH "<namespace>:*" and COUNT Options.ScanCount: it holds
// one batch of keys at a time, never the whole key set, and a loop that
// breaks issues no further SCAN. As SCAN guarantees, every key present for
// the whole iteration is yielded; a key may be yielded more than once
// (when Redis rehashes its table mid-scan), and one set or deleted during
// the iteration may or may not be. With a cluster or ring client, each
// primary or shard is scanned in turn. Keys checks ctx and the store's
// closed state before each batch.
func (s *Store) Keys(ctx context.Context) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		s.scan(ctx, "keys", func(keys []string) bool {
			for _, k := range keys {
				if !strings.HasPrefix(k, s.prefix) {
					continue // cannot happen with a well-behaved server
				}
				if !yield(k[len(s.prefix):], nil) {
					return false
				}
			}
			return true
		}, func(err error) { yield("", err) })
	}
}

// Clear removes every key in the store's namespace, and no other, one SCAN
// batch at a time with UNLINK (Redis frees the values in the background).
// Keys set while Clear runs may survive it. Clear checks ctx and the
// store's closed state before each batch; an error leaves the keys not yet
// reached in place.
func (s *Store) Clear(ctx context.Context) error {
	var failed error
	s.scan(ctx, "clear", func(keys []string) bool {
		if err := s.unlink(ctx, keys); err != nil {
			failed = store.Wrap(name, "clear", "", err)
			return false
		}
		return true
	}, func(err error) { failed = err })
	return failed
}

// unlink removes keys, which all start with the prefix. A single UNLINK
// names several keys, which a cluster or a ring would refuse or send to
// one shard (the keys may live in different slots), so with those the
// keys are unlinked one by one, in one pipeline.
func (s *Store) unlink(ctx context.Context, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	switch s.client.(type) {
	case *redis.ClusterClient, *redis.Ring:
		_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, k := range keys {
				p.Unlink(ctx, k)
			}
			return nil
		})
		return err
	default:
		return s.client.Unlink(ctx, keys...).Err()
	}
}

// scan walks SCAN over every node that holds keys, calling batch with each
// non-empty batch of keys in the namespace until it returns false, and fail
// once with a wrapped error if the walk cannot go on.
func (s *Store) scan(ctx context.Context, op string, batch func([]string) bool, fail func(error)) {
	check := func() error {
		if s.closed.Load() {
			return store.Wrap(name, op, "", store.ErrClosed)
		}
		if err := ctx.Err(); err != nil {
			return store.Wrap(name, op, "", err)
		}
		return nil
	}
	if err := check(); err != nil {
		fail(err)
		return
	}
	nodes, err := s.nodes(ctx)
	if err != nil {
		fail(store.Wrap(name, op, "", err))
		return
	}
	for _, node := range nodes {
		var cursor uint64
		for {
			if err := check(); err != nil {
				fail(err)
				return
			}
			keys, next, err := node.Scan(ctx, cursor, s.match, s.scanCount).Result()
			if err != nil {
				fail(store.Wrap(name, op, "", err))
				return
			}
			if len(keys) > 0 && !batch(keys) {
				return
			}
			if next == 0 {
				break
			}
			cursor = next
		}
	}
}

// nodes returns the clients to SCAN: each primary of a cluster, each
// shard of a ring, or the client itself.
func (s *Store) nodes(ctx context.Context) ([]redis.Cmdable, error) {
	var (
		mu    sync.Mutex
		nodes []redis.Cmdable
	)
	add := func(_ context.Context, c *redis.Client) error {
		mu.Lock()
		defer mu.Unlock()
		nodes = append(nodes, c)
		return nil
	}
	switch c := s.client.(type) {
	case *redis.ClusterClient:
		if err := c.ForEachMaster(ctx, add); err != nil {
			return nil, err
		}
	case *redis.Ring:
		if err := c.ForEachShard(ctx, add); err != nil {
			return nil, err
		}
	default:
		nodes = append(nodes, c)
	}
	return nodes, nil
}

// Close marks the store closed: later calls return an error matching
// store.ErrClosed, and a second Close returns nil. It does not close the
// client, which belongs to the caller. Calls already in flight finish.
func (s *Store) Close() error {
	s.closed.Store(true)
	return nil
}
