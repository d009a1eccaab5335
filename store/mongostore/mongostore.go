package mongostore

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/codec"
	"github.com/cachestack/cachestack/store"
)

const name = "mongostore"

// Defaults for Options.
const (
	// DefaultDatabase is the database when neither Options.Database nor
	// the URI given to Open names one.
	DefaultDatabase = "cachestack"
	// DefaultCollection is the collection when Options.Collection is
	// empty. The reference library keeps its responses in a collection of
	// the same name.
	DefaultCollection = "responses"
	// DefaultTimeout bounds each call to the server when Options.Timeout
	// is 0.
	DefaultTimeout = 5 * time.Second
	// DefaultBatchSize is how many keys one round trip of Keys fetches
	// when Options.BatchSize is 0.
	DefaultBatchSize = 100
	// DefaultPurgeInterval is how often expired documents are deleted,
	// on servers without TTL indexes, when Options.PurgeInterval is 0.
	DefaultPurgeInterval = 10 * time.Minute
)

// Field names of the stored documents.
const (
	fieldID      = "_id"
	fieldBody    = "body"
	fieldExpires = "expires"
	// indexName is the name of the TTL index Setup creates.
	indexName = "cachestack_expires"
)

// codeNotImplemented is the server error code for a feature the server
// does not have (FerretDB 1.x answers it to TTL indexes).
const codeNotImplemented = 238

// Options configure a Store. A nil *Options, like the zero value, means
// the defaults.
type Options struct {
	// Database is the database that holds the collection: the reference
	// library's cache name. Empty means the database named in the URI
	// given to Open, or else DefaultDatabase.
	Database string
	// Collection is the collection, in Database, that holds one document
	// per entry. Empty means DefaultCollection.
	Collection string
	// Timeout bounds each call to the server: one Get, Set or Delete, one
	// batch of Keys, one Clear. 0 means DefaultTimeout; negative is an
	// error. A context with an earlier deadline wins.
	Timeout time.Duration
	// BatchSize is how many keys one round trip of Keys fetches, and so
	// about how many it holds at once. 0 means DefaultBatchSize; negative
	// is an error.
	BatchSize int
	// PurgeInterval is how often a background goroutine deletes expired
	// documents when the server refuses the TTL index (reads filter them
	// out either way). 0 means DefaultPurgeInterval; negative means never
	// (call DeleteExpired yourself). It has no effect on servers with TTL
	// indexes.
	PurgeInterval time.Duration
	// Clock returns the current time, for expiry; nil means time.Now.
	Clock func() time.Time
}

// Store is a MongoDB-backed store.Store[string, []byte]: one document per
// entry in one collection. It also implements store.Lister[string] and
// store.Clearer. Its zero value is not usable; call New or Open.
type Store struct {
	client *mongo.Client
	owns   bool // Close disconnects client
	coll   *mongo.Collection

	timeout    time.Duration
	batchSize  int32
	purgeEvery time.Duration
	clock      func() time.Time
	settable   store.Clock // the clock, when Options.Clock is nil
	ownClock   bool        // Options.Clock was set

	closed atomic.Bool

	setupMu   sync.Mutex
	setupDone atomic.Bool
	native    atomic.Bool // the TTL index is in place
	refusal   error       // why the server has no TTL index, once known

	stop   chan struct{} // closed by Close; stops the purger
	purger sync.WaitGroup
}

var (
	_ store.Store[string, []byte]   = (*Store)(nil)
	_ store.Lister[string]          = (*Store)(nil)
	_ store.Clearer                 = (*Store)(nil)
	_ store.Batcher[string, []byte] = (*Store)(nil)
)

// New returns a store that keeps its entries in MongoDB through client.
//
// The caller owns client: Close stops the store but does not disconnect
// the client, which the caller disconnects when it and every store over it
// are done.
//
// New does no I/O, so it succeeds while the server is down. The TTL index
// is created by Setup, which the first Set calls if nobody did. New fails,
// naming the option, when client is nil or an option is out of range.
func New(client *mongo.Client, opts *Options) (*Store, error) {
	if client == nil {
		return nil, errors.New("mongostore: client is nil")
	}
	return newStore(client, opts, "")
}

// Open connects to the server at uri ("mongodb://host:27017/mydb") and
// returns a store that owns the connection: Close disconnects it. The
// database is Options.Database, else the one the URI names, else
// DefaultDatabase. Like New it does no I/O: the driver connects in the
// background, and calls fail until it has.
func Open(uri string, opts *Options) (*Store, error) {
	o := options.Client().ApplyURI(uri)
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("mongostore: uri: %w", err)
	}
	timeout := DefaultTimeout
	if opts != nil && opts.Timeout > 0 {
		timeout = opts.Timeout
	}
	if o.ConnectTimeout == nil {
		o.SetConnectTimeout(timeout)
	}
	if o.ServerSelectionTimeout == nil {
		o.SetServerSelectionTimeout(timeout)
	}
	client, err := mongo.Connect(o)
	if err != nil {
		return nil, fmt.Errorf("mongostore: %w", err)
	}
	s, err := newStore(client, opts, uriDatabase(uri))
	if err != nil {
		_ = client.Disconnect(context.Background())
		return nil, err
	}
	s.owns = true
	return s, nil
}

// OpenResponses opens a store at uri with Open and lifts it to cached
// responses with the cache's codec: the one-line way to give a cache a
// MongoDB store,
//
//	s, err := mongostore.OpenResponses("mongodb://127.0.0.1:27017/myapp", nil)
//	...
//	c, err := cachestack.New(&cachestack.Options{Store: s})
//
// Closing the returned store closes the MongoDB store and its connection.
func OpenResponses(uri string, opts *Options) (*codec.Bound[string, *cached.Response], error) {
	s, err := Open(uri, opts)
	if err != nil {
		return nil, err
	}
	return codec.Bind(s, codec.Response()), nil
}

// uriDatabase returns the database a MongoDB URI names in its path, or "".
func uriDatabase(uri string) string {
	u, err := url.Parse(uri)
	if err != nil {
		return ""
	}
	db, _ := url.PathUnescape(strings.TrimPrefix(u.Path, "/"))
	return db
}

func newStore(client *mongo.Client, opts *Options, uriDB string) (*Store, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	switch {
	case o.Timeout < 0:
		return nil, fmt.Errorf("mongostore: Options.Timeout is %v, want >= 0", o.Timeout)
	case o.BatchSize < 0:
		return nil, fmt.Errorf("mongostore: Options.BatchSize is %d, want >= 0", o.BatchSize)
	case o.BatchSize > 1<<24:
		return nil, fmt.Errorf("mongostore: Options.BatchSize is %d, want at most %d", o.BatchSize, 1<<24)
	}
	if o.Database == "" {
		o.Database = uriDB
	}
	if o.Database == "" {
		o.Database = DefaultDatabase
	}
	if err := checkDatabase(o.Database); err != nil {
		return nil, fmt.Errorf("mongostore: Options.Database %q %w", o.Database, err)
	}
	if o.Collection == "" {
		o.Collection = DefaultCollection
	}
	if err := checkCollection(o.Collection); err != nil {
		return nil, fmt.Errorf("mongostore: Options.Collection %q %w", o.Collection, err)
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.BatchSize == 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.PurgeInterval == 0 {
		o.PurgeInterval = DefaultPurgeInterval
	}
	s := &Store{
		client:     client,
		coll:       client.Database(o.Database).Collection(o.Collection),
		timeout:    o.Timeout,
		batchSize:  int32(o.BatchSize),
		purgeEvery: o.PurgeInterval,
		clock:      o.Clock,
		ownClock:   o.Clock != nil,
		stop:       make(chan struct{}),
	}
	if s.clock == nil {
		s.clock = s.settable.Now
	}
	return s, nil
}

// checkDatabase reports what makes db an invalid MongoDB database name.
func checkDatabase(db string) error {
	if len(db) >= 64 {
		return fmt.Errorf("is %d bytes long, want fewer than 64", len(db))
	}
	if i := strings.IndexAny(db, "/\\. \"$*<>:|?\x00"); i >= 0 {
		return fmt.Errorf("contains %q, which MongoDB does not allow in a database name", db[i])
	}
	return nil
}

// checkCollection reports what makes c an invalid collection name.
func checkCollection(c string) error {
	if strings.ContainsAny(c, "$\x00") {
		return errors.New("contains '$' or NUL, which MongoDB does not allow in a collection name")
	}
	if strings.HasPrefix(c, "system.") {
		return errors.New("starts with \"system.\", which MongoDB reserves")
	}
	return nil
}

// Database returns the name of the database the store uses.
func (s *Store) Database() string { return s.coll.Database().Name() }

// Collection returns the collection the store keeps its documents in.
func (s *Store) Collection() *mongo.Collection { return s.coll }

// bound returns ctx bounded by the store's timeout.
func (s *Store) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}

// check returns the error of a call made on a closed store or with a done
// context, wrapped for op.
func (s *Store) check(ctx context.Context, op, key string) error {
	if s.closed.Load() {
		return store.Wrap(name, op, key, store.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return store.Wrap(name, op, key, err)
	}
	return nil
}

// Setup creates the TTL index on the expiry field (expireAfterSeconds 0),
// so that the server deletes expired documents itself. A server that
// refuses it — one without TTL indexes, such as FerretDB 1.x, which
// answers NotImplemented (code 238), a user without the createIndex
// privilege, or an existing index on the field with other options — is no
// error: the store keeps working, reads skip expired documents, and a
// background purge deletes them every Options.PurgeInterval. NativeExpiry
// tells which case holds.
//
// The first Set calls Setup when nothing has; call it yourself to learn
// early whether the server can be reached. Once it has succeeded, or the
// server has refused the index, Setup returns nil at once. A failure to
// reach the server is returned, and the next call tries again.
func (s *Store) Setup(ctx context.Context) error {
	if err := s.check(ctx, "setup", ""); err != nil {
		return err
	}
	if s.setupDone.Load() {
		return nil
	}
	s.setupMu.Lock()
	defer s.setupMu.Unlock()
	if s.setupDone.Load() {
		return nil
	}
	bctx, cancel := s.bound(ctx)
	defer cancel()
	_, err := s.coll.Indexes().CreateOne(bctx, mongo.IndexModel{
		Keys:    bson.D{{Key: fieldExpires, Value: 1}},
		Options: options.Index().SetName(indexName).SetExpireAfterSeconds(0),
	})
	switch {
	case err == nil:
		s.native.Store(true)
	case refused(err) && ctx.Err() == nil:
		s.refusal = err
		if s.purgeEvery > 0 && !s.closed.Load() { // Close waits for setupMu before stopping it
			s.purger.Add(1)
			go s.purge()
		}
	default:
		return store.Wrap(name, "setup", "", err)
	}
	s.setupDone.Store(true)
	return nil
}

// refused reports whether err is the server's answer, rather than a
// failure to reach it.
func refused(err error) bool {
	var se mongo.ServerError
	return errors.As(err, &se) && !mongo.IsNetworkError(err) && !mongo.IsTimeout(err) &&
		!errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled)
}

// NativeExpiry reports, after calling Setup, whether the server deletes
// expired documents itself (a TTL index is in place). When it does not,
// err is the server's refusal, such as NotImplemented (code 238) from
// FerretDB 1.x. A failure of Setup is returned as err with native false.
func (s *Store) NativeExpiry(ctx context.Context) (native bool, err error) {
	if err := s.Setup(ctx); err != nil {
		return false, err
	}
	if s.native.Load() {
		return true, nil
	}
	s.setupMu.Lock()
	defer s.setupMu.Unlock()
	return false, s.refusal
}

// purge deletes expired documents every purgeEvery until Close.
func (s *Store) purge() {
	defer s.purger.Done()
	t := time.NewTicker(s.purgeEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			_, _ = s.DeleteExpired(context.Background()) // retried at the next tick
		}
	}
}

// expiresAt is the expiry of an entry set now with ttl, in the
// millisecond precision of a BSON date, rounded up.
func expiresAt(now time.Time, ttl time.Duration) bson.DateTime {
	ms := now.Add(ttl).UnixNano()
	if ms%1e6 != 0 {
		ms += 1e6
	}
	return bson.DateTime(ms / 1e6)
}

// Get returns the value stored under key, or store.ErrNotFound, unwrapped,
// when there is no such document or its expiry, by Options.Clock, has
// passed (the server's TTL monitor deletes expired documents only about
// once a minute). The returned slice is the caller's, to keep and modify:
// it lies in the reply the driver read for this call, which nothing else
// refers to.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	if err := s.check(ctx, "get", key); err != nil {
		return nil, err
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	raw, err := s.coll.FindOne(ctx, bson.D{{Key: fieldID, Value: id(key)}}).Raw()
	if err != nil {
		if errors.Is(err, mongo.ErrNoDocuments) {
			return nil, store.ErrNotFound
		}
		return nil, store.Wrap(name, "get", key, err)
	}
	if exp, ok := raw.Lookup(fieldExpires).DateTimeOK(); ok && !s.clock().Before(time.UnixMilli(exp)) {
		return nil, store.ErrNotFound
	}
	_, body, ok := raw.Lookup(fieldBody).BinaryOK()
	if !ok {
		return nil, store.Wrap(name, "get", key, fmt.Errorf("document has no binary %q field", fieldBody))
	}
	// body is a part of the reply the driver read into memory of its own
	// for this call alone (it pools the buffers of requests, not of
	// replies), so it is the caller's without a copy; its capacity ends
	// with it, so that an append reallocates instead of writing into the
	// rest of the reply.
	return body[:len(body):len(body)], nil
}

// Set stores value under key as the document {_id: key, body: value,
// expires: now + ttl}, replacing any previous one (an upsert; a
// duplicate-key error from two upserts of a new key racing is retried
// once). A ttl greater than zero sets expires, which the TTL index acts
// on; zero leaves it out, so the entry never expires. A negative ttl
// returns an error matching store.ErrNegativeTTL and changes nothing. Set
// keeps no reference to value.
func (s *Store) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := s.check(ctx, "set", key); err != nil {
		return err
	}
	if ttl < 0 {
		return store.Wrap(name, "set", key, store.ErrNegativeTTL)
	}
	if err := s.Setup(ctx); err != nil {
		var se *store.Error
		if errors.As(err, &se) {
			se.Op, se.Key = "set", key
		}
		return err
	}
	doc := bson.D{{Key: fieldID, Value: id(key)}, {Key: fieldBody, Value: bson.Binary{Data: value}}}
	if ttl > 0 {
		doc = append(doc, bson.E{Key: fieldExpires, Value: expiresAt(s.clock(), ttl)})
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	filter := bson.D{{Key: fieldID, Value: id(key)}}
	upsert := options.Replace().SetUpsert(true)
	_, err := s.coll.ReplaceOne(ctx, filter, doc, upsert)
	if err != nil && mongo.IsDuplicateKeyError(err) {
		// Two upserts of a key that did not exist raced, and the other
		// inserted first: this one now replaces it.
		_, err = s.coll.ReplaceOne(ctx, filter, doc, upsert)
	}
	return store.Wrap(name, "set", key, err)
}

// SetMany stores the items as Set does, in one ordered BulkWrite of
// upserts (store.Batcher): one round trip for the batch, the items
// written in order, so that of two with one key the last wins. An item
// with a negative ttl is refused alone. A write the server refuses is
// reported for its item, and the items after it are sent again in a
// BulkWrite of their own (an ordered BulkWrite stops at its first
// failure); a duplicate-key error from racing upserts of a new key is
// retried once, as Set retries it. A failure that is not one write's
// fails every item not yet written.
func (s *Store) SetMany(ctx context.Context, items []store.Item[string, []byte]) error {
	if len(items) == 0 {
		return nil
	}
	if err := s.check(ctx, "set", ""); err != nil {
		return err
	}
	if err := s.Setup(ctx); err != nil {
		var se *store.Error
		if errors.As(err, &se) {
			se.Op = "set"
		}
		return err
	}
	errs := make([]error, len(items))
	idx := make([]int, 0, len(items)) // the item of each model
	models := make([]mongo.WriteModel, 0, len(items))
	now := s.clock()
	for i, it := range items {
		if it.TTL < 0 {
			errs[i] = store.Wrap(name, "set", it.Key, store.ErrNegativeTTL)
			continue
		}
		doc := bson.D{{Key: fieldID, Value: id(it.Key)}, {Key: fieldBody, Value: bson.Binary{Data: it.Value}}}
		if it.TTL > 0 {
			doc = append(doc, bson.E{Key: fieldExpires, Value: expiresAt(now, it.TTL)})
		}
		models = append(models, mongo.NewReplaceOneModel().SetFilter(bson.D{{Key: fieldID, Value: id(it.Key)}}).SetReplacement(doc).SetUpsert(true))
		idx = append(idx, i)
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	retried := -1 // the model whose duplicate-key error was retried
	for from := 0; from < len(models); {
		_, err := s.coll.BulkWrite(ctx, models[from:], options.BulkWrite().SetOrdered(true))
		if err == nil {
			break
		}
		var bwe mongo.BulkWriteException
		if !errors.As(err, &bwe) || bwe.WriteConcernError != nil || len(bwe.WriteErrors) == 0 ||
			bwe.WriteErrors[0].Index < 0 || bwe.WriteErrors[0].Index >= len(models)-from {
			for _, i := range idx[from:] {
				errs[i] = store.Wrap(name, "set", items[i].Key, err)
			}
			break
		}
		failed := from + bwe.WriteErrors[0].Index
		if mongo.IsDuplicateKeyError(bwe.WriteErrors[0]) && retried != failed {
			retried, from = failed, failed
			continue
		}
		errs[idx[failed]] = store.Wrap(name, "set", items[idx[failed]].Key, bwe.WriteErrors[0])
		from = failed + 1
	}
	return store.BatchResult(errs)
}

// Delete removes key's document. Deleting a key that is not there
// succeeds.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.check(ctx, "delete", key); err != nil {
		return err
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	_, err := s.coll.DeleteOne(ctx, bson.D{{Key: fieldID, Value: id(key)}})
	return store.Wrap(name, "delete", key, err)
}

// id is the _id of key's document: key itself, as a string, when it is
// UTF-8 without NUL bytes, which every server stores as it is; otherwise
// its bytes as binary (subtype 0), which no string _id can equal, since
// BSON values of different types never compare equal.
func id(key string) any {
	if utf8.ValidString(key) && strings.IndexByte(key, 0) < 0 {
		return key
	}
	return bson.Binary{Data: []byte(key)}
}

// key is the key of a document whose _id is v, and false if the document
// is none of the store's.
func key(v bson.RawValue) (string, bool) {
	if s, ok := v.StringValueOK(); ok {
		return s, true
	}
	if sub, b, ok := v.BinaryOK(); ok && sub == 0 {
		return string(b), true
	}
	return "", false
}

// liveFilter matches the documents that have not expired at now.
func liveFilter(now time.Time) bson.D {
	return bson.D{{Key: "$or", Value: bson.A{
		bson.D{{Key: fieldExpires, Value: bson.D{{Key: "$exists", Value: false}}}},
		bson.D{{Key: fieldExpires, Value: bson.D{{Key: "$gt", Value: bson.NewDateTimeFromTime(now)}}}},
	}}}
}

// Keys yields the keys of the live documents, by Options.Clock, through
// one cursor that fetches Options.BatchSize keys per round trip: it holds
// one batch at a time, never the whole key set, and a loop that breaks
// closes the cursor. Each round trip is bounded by Options.Timeout, and
// Keys checks ctx and the store's closed state before each. Documents
// whose _id is neither a string nor binary (not written by a Store) are
// skipped.
func (s *Store) Keys(ctx context.Context) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		if err := s.check(ctx, "keys", ""); err != nil {
			yield("", err)
			return
		}
		fctx, cancel := s.bound(ctx)
		cur, err := s.coll.Find(fctx, liveFilter(s.clock()), options.Find().
			SetProjection(bson.D{{Key: fieldID, Value: 1}}).
			SetBatchSize(s.batchSize))
		cancel()
		if err != nil {
			yield("", store.Wrap(name, "keys", "", err))
			return
		}
		defer func() {
			cctx, cancel := s.bound(context.WithoutCancel(ctx))
			defer cancel()
			_ = cur.Close(cctx)
		}()
		for {
			if cur.RemainingBatchLength() == 0 {
				if err := s.check(ctx, "keys", ""); err != nil {
					yield("", err)
					return
				}
			}
			nctx, cancel := s.bound(ctx)
			more := cur.Next(nctx)
			cancel()
			if !more {
				if err := cur.Err(); err != nil {
					yield("", store.Wrap(name, "keys", "", err))
				}
				return
			}
			k, ok := key(cur.Current.Lookup(fieldID))
			if !ok {
				continue
			}
			if !yield(k, nil) {
				return
			}
		}
	}
}

// Clear deletes every document in the collection with one deleteMany,
// bounded by Options.Timeout, and keeps the collection and its index.
func (s *Store) Clear(ctx context.Context) error {
	if err := s.check(ctx, "clear", ""); err != nil {
		return err
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	_, err := s.coll.DeleteMany(ctx, bson.D{})
	return store.Wrap(name, "clear", "", err)
}

// DeleteExpired deletes the documents whose expiry, by Options.Clock, has
// passed, and returns how many it deleted. The server's TTL monitor does
// this by itself where it has TTL indexes; on servers without them, a
// background purge calls it every Options.PurgeInterval.
func (s *Store) DeleteExpired(ctx context.Context) (int64, error) {
	if err := s.check(ctx, "delete expired", ""); err != nil {
		return 0, err
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	filter := bson.D{{Key: fieldExpires, Value: bson.D{{Key: "$lte", Value: bson.NewDateTimeFromTime(s.clock())}}}}
	res, err := s.coll.DeleteMany(ctx, filter)
	if err != nil {
		return 0, store.Wrap(name, "delete expired", "", err)
	}
	return res.DeletedCount, nil
}

// Close stops the store: later calls return errors matching
// store.ErrClosed, the background purge (if any) stops, and a second Close
// returns nil. A store made by Open disconnects its client; one made by
// New leaves the caller's client connected. Calls already in flight
// finish.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.setupMu.Lock() // a Setup in flight starts no purger after this
	close(s.stop)
	s.setupMu.Unlock()
	s.purger.Wait()
	if !s.owns {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	return store.Wrap(name, "close", "", s.client.Disconnect(ctx))
}
