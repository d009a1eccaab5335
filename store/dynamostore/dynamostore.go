package dynamostore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"iter"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/codec"
	"github.com/cachestack/cachestack/store"
)

const name = "dynamostore"

// Defaults and limits.
const (
	// DefaultTimeout bounds each call to DynamoDB when Options.Timeout is
	// 0.
	DefaultTimeout = 5 * time.Second
	// DefaultPageSize is the Limit of each Scan page of Keys and Clear
	// when Options.PageSize is 0.
	DefaultPageSize = 100
	// MaxItemBytes is DynamoDB's limit on the size of an item, 400 KB:
	// attribute names and values together. Set refuses larger entries
	// with ErrTooLarge.
	MaxItemBytes = 400 * 1024
	// maxKeyBytes is the longest key stored as it is; DynamoDB allows
	// 2048 bytes of partition key.
	maxKeyBytes = 1024
	// creationWait bounds how long Setup waits for a new table to become
	// active.
	creationWait = 2 * time.Minute
	// SetupTimeout bounds each request of an explicit Setup, unless
	// Options.Timeout is longer.
	SetupTimeout = 30 * time.Second
)

// Attribute names of the stored items.
const (
	// AttrKey is the table's partition key, a string.
	AttrKey = "key"
	// AttrBody is the entry's value, binary.
	AttrBody = "body"
	// AttrExpires is the entry's expiry in Unix seconds, a number, absent
	// when the entry has no ttl; it is the table's TTL attribute.
	AttrExpires = "expires"
	// AttrName holds the whole key, as binary, for keys stored under a
	// digest (see the package documentation).
	AttrName = "name"
	// digestPrefix starts the partition key of an entry whose key is
	// stored under its digest.
	digestPrefix = "#sha256:"
)

// ErrTooLarge is returned, wrapped, by Set for an entry that would make an
// item larger than MaxItemBytes. It matches store.ErrTooLarge. The entry is
// not written and the previous one under its key is deleted;
// Store.TooLarge counts such refusals. A cache over the store answers the
// request from the network all the same and counts it in
// Counters.TooLarge.
var ErrTooLarge = fmt.Errorf("%w: entry exceeds DynamoDB's 400 KB item limit", store.ErrTooLarge)

// API is the part of the DynamoDB client a Store uses; *dynamodb.Client
// implements it.
type API interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Scan(context.Context, *dynamodb.ScanInput, ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	BatchWriteItem(context.Context, *dynamodb.BatchWriteItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
	DescribeTable(context.Context, *dynamodb.DescribeTableInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	CreateTable(context.Context, *dynamodb.CreateTableInput, ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	DescribeTimeToLive(context.Context, *dynamodb.DescribeTimeToLiveInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeTimeToLiveOutput, error)
	UpdateTimeToLive(context.Context, *dynamodb.UpdateTimeToLiveInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateTimeToLiveOutput, error)
}

var _ API = (*dynamodb.Client)(nil)

// Options configure a Store. A nil *Options, like the zero value, means
// the defaults.
type Options struct {
	// Endpoint is the URL of the DynamoDB endpoint, for a local server
	// such as DynamoDB Local ("http://127.0.0.1:8000"). Empty means AWS's
	// endpoint for the region. Only Open uses it.
	Endpoint string
	// Region is the AWS region. Empty means the one the environment or
	// shared config names (AWS_REGION, ~/.aws/config), or "us-east-1"
	// when Endpoint is set. Only Open uses it.
	Region string
	// AccessKeyID and SecretAccessKey are static credentials. Empty means
	// the SDK's default chain (environment, shared files, SSO, instance
	// or task role), or dummy credentials when Endpoint is on this
	// machine (DynamoDB Local) and neither the environment nor the shared
	// files hold any. Only Open uses them.
	AccessKeyID, SecretAccessKey string

	// CreateTable makes the store create its table if it is missing, with
	// on-demand billing, and enable its TTL attribute: for development
	// and tests. In production, create the table with the infrastructure
	// (partition key "key", a string; TTL attribute "expires").
	CreateTable bool
	// EventuallyConsistent makes Get and Keys use eventually consistent
	// reads, which cost half as much but may return an entry for a moment
	// after it was overwritten or deleted. False means strongly consistent
	// reads.
	EventuallyConsistent bool
	// Timeout bounds each call to DynamoDB, the SDK's retries included:
	// one Get, Set or Delete, one page of Keys or Clear. 0 means
	// DefaultTimeout; negative is an error. A context with an earlier
	// deadline wins.
	Timeout time.Duration
	// PageSize is the Limit of each Scan page that Keys and Clear read,
	// and so about how many keys they hold at once. 0 means
	// DefaultPageSize; negative is an error.
	PageSize int
	// Clock returns the current time, for expiry; nil means time.Now.
	Clock func() time.Time
}

// Store is a DynamoDB-backed store.Store[string, []byte]: one item per
// entry in one table. It also implements store.Lister[string] and
// store.Clearer. Its zero value is not usable; call New or Open.
type Store struct {
	api        API
	table      *string
	create     bool
	consistent *bool
	timeout    time.Duration
	pageSize   int32
	clock      func() time.Time
	settable   store.Clock // the clock, when Options.Clock is nil
	ownClock   bool        // Options.Clock was set

	closed   atomic.Bool
	tooLarge atomic.Int64

	setupMu   sync.Mutex
	setupDone atomic.Bool
}

var (
	_ store.Store[string, []byte]   = (*Store)(nil)
	_ store.Lister[string]          = (*Store)(nil)
	_ store.Clearer                 = (*Store)(nil)
	_ store.Batcher[string, []byte] = (*Store)(nil)
)

// New returns a store that keeps its entries in table through client,
// which the caller owns (an SDK client holds nothing to close). New does
// no I/O; with Options.CreateTable, the first call creates the table. It
// fails, naming the option, when client is nil, table is not a valid
// table name, or an option is out of range.
func New(client API, table string, opts *Options) (*Store, error) {
	if client == nil {
		return nil, errors.New("dynamostore: client is nil")
	}
	if c, ok := client.(*dynamodb.Client); ok && c == nil {
		return nil, errors.New("dynamostore: client is a nil *dynamodb.Client")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if err := checkTable(table); err != nil {
		return nil, fmt.Errorf("dynamostore: table %q %w", table, err)
	}
	switch {
	case o.Timeout < 0:
		return nil, fmt.Errorf("dynamostore: Options.Timeout is %v, want >= 0", o.Timeout)
	case o.PageSize < 0:
		return nil, fmt.Errorf("dynamostore: Options.PageSize is %d, want >= 0", o.PageSize)
	case o.PageSize > 1<<20:
		return nil, fmt.Errorf("dynamostore: Options.PageSize is %d, want at most %d", o.PageSize, 1<<20)
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.PageSize == 0 {
		o.PageSize = DefaultPageSize
	}
	s := &Store{
		api:        client,
		table:      aws.String(table),
		create:     o.CreateTable,
		consistent: aws.Bool(!o.EventuallyConsistent),
		timeout:    o.Timeout,
		pageSize:   int32(o.PageSize),
		clock:      o.Clock,
		ownClock:   o.Clock != nil,
	}
	if s.clock == nil {
		s.clock = s.settable.Now
	}
	return s, nil
}

// checkTable reports what makes t an invalid DynamoDB table name: 3 to 255
// characters of a-z, A-Z, 0-9, '_', '-' and '.'.
func checkTable(t string) error {
	if len(t) < 3 || len(t) > 255 {
		return fmt.Errorf("is %d characters long, want 3 to 255", len(t))
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.') {
			return fmt.Errorf("contains %q; DynamoDB allows only a-z, A-Z, 0-9, '_', '-' and '.'", c)
		}
	}
	return nil
}

// Open makes a DynamoDB client from the options and the environment (the
// SDK's default config: AWS_REGION, AWS_PROFILE, credentials from the
// environment, shared files or the instance role), with Options.Endpoint,
// Region and the static credentials taking precedence, and returns a store
// over it in table. It reads local config files but makes no request.
func Open(table string, opts *Options) (*Store, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if (o.AccessKeyID == "") != (o.SecretAccessKey == "") {
		return nil, errors.New("dynamostore: Options.AccessKeyID and Options.SecretAccessKey must be set together")
	}
	var loads []func(*config.LoadOptions) error
	if o.Region != "" {
		loads = append(loads, config.WithRegion(o.Region))
	}
	if o.AccessKeyID != "" {
		loads = append(loads, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(o.AccessKeyID, o.SecretAccessKey, "")))
	}
	cfg, err := config.LoadDefaultConfig(context.Background(), loads...)
	if err != nil {
		return nil, fmt.Errorf("dynamostore: loading AWS config: %w", err)
	}
	if o.Endpoint != "" {
		if !strings.HasPrefix(o.Endpoint, "http://") && !strings.HasPrefix(o.Endpoint, "https://") {
			return nil, fmt.Errorf("dynamostore: Options.Endpoint %q is not an http:// or https:// URL", o.Endpoint)
		}
		if cfg.Region == "" {
			cfg.Region = "us-east-1"
		}
		if o.AccessKeyID == "" && loopback(o.Endpoint) && !hasCredentials(cfg) {
			// A local server checks no signature but wants one.
			cfg.Credentials = credentials.NewStaticCredentialsProvider("local", "local", "")
		}
	}
	if cfg.Region == "" {
		return nil, errors.New("dynamostore: no AWS region: set Options.Region, AWS_REGION or a profile's region")
	}
	client := dynamodb.NewFromConfig(cfg, func(d *dynamodb.Options) {
		if o.Endpoint != "" {
			d.BaseEndpoint = aws.String(o.Endpoint)
		}
	})
	return New(client, table, &o)
}

// loopback reports whether endpoint's host is this machine.
func loopback(endpoint string) bool {
	u, err := url.Parse(endpoint)
	if err != nil {
		return false
	}
	if h := u.Hostname(); h == "localhost" {
		return true
	} else if ip := net.ParseIP(h); ip != nil {
		return ip.IsLoopback()
	}
	return false
}

// hasCredentials reports whether the default chain finds credentials
// without asking the network for them (environment or shared files).
func hasCredentials(cfg aws.Config) bool {
	for _, src := range cfg.ConfigSources {
		if env, ok := src.(config.EnvConfig); ok && env.Credentials.HasKeys() {
			return true
		}
		if sh, ok := src.(config.SharedConfig); ok && sh.Credentials.HasKeys() {
			return true
		}
	}
	return false
}

// OpenResponses opens a store in table with Open and lifts it to cached
// responses with the cache's codec: the one-line way to give a cache a
// DynamoDB store,
//
//	s, err := dynamostore.OpenResponses("http-cache", nil)
//	...
//	c, err := cachestack.New(&cachestack.Options{Store: s})
//
// The table is the reference library's cache name.
func OpenResponses(table string, opts *Options) (*codec.Bound[string, *cached.Response], error) {
	s, err := Open(table, opts)
	if err != nil {
		return nil, err
	}
	return codec.Bind(s, codec.Response()), nil
}

// Table returns the name of the store's table.
func (s *Store) Table() string { return *s.table }

// TooLarge returns how many entries Set has refused with ErrTooLarge.
func (s *Store) TooLarge() int64 { return s.tooLarge.Load() }

// bound returns ctx bounded by the store's timeout.
func (s *Store) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}

// begin checks the closed state and ctx, and runs Setup first when the
// store creates its table and has not yet.
func (s *Store) begin(ctx context.Context, op, key string) error {
	if s.closed.Load() {
		return store.Wrap(name, op, key, store.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return store.Wrap(name, op, key, err)
	}
	if s.create && !s.setupDone.Load() {
		if err := s.setup(ctx, s.timeout); err != nil {
			return store.Wrap(name, op, key, err)
		}
	}
	return nil
}

// Setup makes the table ready: with Options.CreateTable it creates the
// table if it is missing (partition key "key", a string; on-demand
// billing) and waits until it is active; then it enables DynamoDB's TTL on
// the "expires" attribute if TTL is off. A server that refuses TTL (an
// emulator without it, a role without dynamodb:UpdateTimeToLive) is no
// error: reads filter expired entries out either way. With CreateTable,
// the first call of any other method calls Setup; without it, nothing
// does unless you do, and the store changes no table settings.
//
// Each of Setup's requests is bounded by SetupTimeout, or Options.Timeout
// when that is longer; when the first call of another method runs it, by
// Options.Timeout alone, so that a lookup stays prompt.
func (s *Store) Setup(ctx context.Context) error {
	if s.closed.Load() {
		return store.Wrap(name, "setup", "", store.ErrClosed)
	}
	return store.Wrap(name, "setup", "", s.setup(ctx, max(s.timeout, SetupTimeout)))
}

func (s *Store) setup(ctx context.Context, timeout time.Duration) error {
	s.setupMu.Lock()
	defer s.setupMu.Unlock()
	if s.setupDone.Load() {
		return nil
	}
	if s.create {
		if err := s.createTable(ctx, timeout); err != nil {
			return err
		}
	}
	bctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ttl, err := s.api.DescribeTimeToLive(bctx, &dynamodb.DescribeTimeToLiveInput{TableName: s.table})
	if err == nil && ttl.TimeToLiveDescription != nil {
		switch ttl.TimeToLiveDescription.TimeToLiveStatus {
		case types.TimeToLiveStatusDisabled, "":
			_, err = s.api.UpdateTimeToLive(bctx, &dynamodb.UpdateTimeToLiveInput{
				TableName: s.table,
				TimeToLiveSpecification: &types.TimeToLiveSpecification{
					AttributeName: aws.String(AttrExpires),
					Enabled:       aws.Bool(true),
				},
			})
		}
	}
	if err != nil && !refused(err) {
		return err
	}
	s.setupDone.Store(true)
	return nil
}

// createTable creates the table unless it exists, and waits until it is
// active.
func (s *Store) createTable(ctx context.Context, timeout time.Duration) error {
	bctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_, err := s.api.DescribeTable(bctx, &dynamodb.DescribeTableInput{TableName: s.table})
	var nf *types.ResourceNotFoundException
	if err == nil || !errors.As(err, &nf) {
		return err
	}
	_, err = s.api.CreateTable(bctx, &dynamodb.CreateTableInput{
		TableName:            s.table,
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(AttrKey), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String(AttrKey), KeyType: types.KeyTypeHash}},
	})
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) { // in use: another process created it
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, creationWait)
	defer cancel()
	return dynamodb.NewTableExistsWaiter(s.api, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = 100 * time.Millisecond
		o.MaxDelay = 2 * time.Second
	}).Wait(wctx, &dynamodb.DescribeTableInput{TableName: s.table}, creationWait)
}

// fail wraps the error of a request for op. When the store creates its
// table and DynamoDB says it is missing (deleted since, or a local server
// restarted without its data), the next call runs Setup again.
func (s *Store) fail(op, key string, err error) error {
	var nf *types.ResourceNotFoundException
	if s.create && errors.As(err, &nf) {
		s.setupDone.Store(false)
	}
	return store.Wrap(name, op, key, err)
}

// refused reports whether err is DynamoDB's answer (an API error), rather
// than a failure to reach it.
func refused(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae)
}

// NativeExpiry reports whether DynamoDB's TTL is enabled on the table's
// "expires" attribute (DynamoDB then deletes expired items, usually within
// a few days). Reads filter expired entries out either way.
func (s *Store) NativeExpiry(ctx context.Context) (bool, error) {
	if err := s.begin(ctx, "native expiry", ""); err != nil {
		return false, err
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	out, err := s.api.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: s.table})
	if err != nil {
		return false, store.Wrap(name, "native expiry", "", err)
	}
	d := out.TimeToLiveDescription
	if d == nil || d.AttributeName == nil || *d.AttributeName != AttrExpires {
		return false, nil
	}
	return d.TimeToLiveStatus == types.TimeToLiveStatusEnabled || d.TimeToLiveStatus == types.TimeToLiveStatusEnabling, nil
}

// partitionKey is the value of the partition key under which key is
// stored, and whether it is a digest. A key is stored as it is when it is
// valid UTF-8 of 1 to 1024 bytes that does not start with "#sha256:";
// otherwise under "#sha256:" and the hex SHA-256 of its bytes, with the
// whole key in the "name" attribute.
func partitionKey(key string) (string, bool) {
	if key != "" && len(key) <= maxKeyBytes && utf8.ValidString(key) && !strings.HasPrefix(key, digestPrefix) {
		return key, false
	}
	sum := sha256.Sum256([]byte(key))
	return digestPrefix + hex.EncodeToString(sum[:]), true
}

func keyOf(key string) map[string]types.AttributeValue {
	pk, _ := partitionKey(key)
	return map[string]types.AttributeValue{AttrKey: &types.AttributeValueMemberS{Value: pk}}
}

// Get returns the value stored under key, or store.ErrNotFound, unwrapped,
// when there is no such item or its expiry, by Options.Clock, has passed
// (DynamoDB deletes expired items late, often days late). The returned
// slice is the caller's: the SDK decodes each response into new memory.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	if err := s.begin(ctx, "get", key); err != nil {
		return nil, err
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: s.table, Key: keyOf(key), ConsistentRead: s.consistent})
	if err != nil {
		return nil, s.fail("get", key, err)
	}
	if out.Item == nil || s.expired(out.Item) {
		return nil, store.ErrNotFound
	}
	if _, digest := partitionKey(key); digest {
		if n, ok := out.Item[AttrName].(*types.AttributeValueMemberB); !ok || string(n.Value) != key {
			return nil, store.ErrNotFound // another key with the same digest: never seen
		}
	}
	b, ok := out.Item[AttrBody].(*types.AttributeValueMemberB)
	if !ok {
		return nil, store.Wrap(name, "get", key, fmt.Errorf("item has no binary %q attribute", AttrBody))
	}
	if b.Value == nil {
		return []byte{}, nil
	}
	return b.Value, nil
}

// expired reports whether item's expiry has passed by the store's clock.
func (s *Store) expired(item map[string]types.AttributeValue) bool {
	n, ok := item[AttrExpires].(*types.AttributeValueMemberN)
	if !ok {
		return false
	}
	exp, err := strconv.ParseInt(n.Value, 10, 64)
	return err == nil && !s.clock().Before(time.Unix(exp, 0))
}

// expiresAt is the expiry, in Unix seconds rounded up, of an entry set at
// now with ttl: DynamoDB's TTL attribute counts whole seconds, so an entry
// lives up to a second past its ttl.
func expiresAt(now time.Time, ttl time.Duration) int64 {
	t := now.Add(ttl)
	sec := t.Unix()
	if t.Nanosecond() != 0 {
		sec++
	}
	return sec
}

// itemSize is the size DynamoDB counts for an item: the UTF-8 bytes of
// each attribute's name and value, numbers counted at their largest.
func itemSize(pk string, digest bool, key string, value []byte, ttl time.Duration) int {
	n := len(AttrKey) + len(pk) + len(AttrBody) + len(value)
	if digest {
		n += len(AttrName) + len(key)
	}
	if ttl > 0 {
		n += len(AttrExpires) + 21
	}
	return n
}

// Set stores value under key as one item, replacing any previous one
// (PutItem). A ttl greater than zero sets "expires" to now + ttl in Unix
// seconds, rounded up; zero leaves it out, so the entry never expires. A
// negative ttl returns an error matching store.ErrNegativeTTL; an entry
// that would make an item above MaxItemBytes returns one matching
// ErrTooLarge (and store.ErrTooLarge), counted by TooLarge, after deleting
// the previous item under key. Set keeps no reference to value once it
// returns.
func (s *Store) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := s.begin(ctx, "set", key); err != nil {
		return err
	}
	if ttl < 0 {
		return store.Wrap(name, "set", key, store.ErrNegativeTTL)
	}
	pk, digest := partitionKey(key)
	if n := itemSize(pk, digest, key, value, ttl); n > MaxItemBytes {
		s.tooLarge.Add(1)
		// The entry it would have replaced is outdated: drop it, as every
		// store does for a value it cannot hold.
		if err := s.Delete(ctx, key); err != nil {
			return err
		}
		return store.Wrap(name, "set", key, fmt.Errorf("%w: the item would be %d bytes", ErrTooLarge, n))
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	_, err := s.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: s.table, Item: s.item(pk, digest, key, value, ttl, s.clock())})
	return s.fail("set", key, err)
}

// item is the DynamoDB item of key, whose partition key is pk.
func (s *Store) item(pk string, digest bool, key string, value []byte, ttl time.Duration, now time.Time) map[string]types.AttributeValue {
	item := map[string]types.AttributeValue{
		AttrKey:  &types.AttributeValueMemberS{Value: pk},
		AttrBody: &types.AttributeValueMemberB{Value: value},
	}
	if digest {
		item[AttrName] = &types.AttributeValueMemberB{Value: []byte(key)}
	}
	if ttl > 0 {
		item[AttrExpires] = &types.AttributeValueMemberN{Value: strconv.FormatInt(expiresAt(now, ttl), 10)}
	}
	return item
}

// batchLimit is the most requests one BatchWriteItem takes.
const batchLimit = 25

// SetMany stores the items as Set does, with BatchWriteItem, 25 items to
// a request, resending what DynamoDB leaves unprocessed (store.Batcher).
// One request may not name a key twice, so of two items with one key only
// the last is sent: the last wins. An item with a negative ttl is refused
// alone; an item too large for DynamoDB is not stored, its key's previous
// item is deleted in the batch, and its error matches ErrTooLarge, as
// with Set. When a request fails, each of its items fails with it (some
// may have been written).
func (s *Store) SetMany(ctx context.Context, items []store.Item[string, []byte]) error {
	if len(items) == 0 {
		return nil
	}
	if err := s.begin(ctx, "set", ""); err != nil {
		return err
	}
	errs := make([]error, len(items))
	last := make(map[string]int, len(items)) // the last item of each partition key
	pks := make([]string, len(items))
	for i, it := range items {
		if it.TTL < 0 {
			errs[i] = store.Wrap(name, "set", it.Key, store.ErrNegativeTTL)
			continue
		}
		pks[i], _ = partitionKey(it.Key)
		last[pks[i]] = i
	}
	now := s.clock()
	var reqs []types.WriteRequest
	var sent []int // the items of reqs
	flush := func() {
		if err := s.batchWrite(ctx, reqs, "writes"); err != nil {
			for _, i := range sent {
				errs[i] = s.fail("set", items[i].Key, err)
			}
		}
		reqs, sent = reqs[:0], sent[:0]
	}
	for i, it := range items {
		if errs[i] != nil || last[pks[i]] != i {
			continue // refused, or overwritten later in the batch
		}
		pk, digest := partitionKey(it.Key)
		var req types.WriteRequest
		if n := itemSize(pk, digest, it.Key, it.Value, it.TTL); n > MaxItemBytes {
			s.tooLarge.Add(1)
			req.DeleteRequest = &types.DeleteRequest{Key: keyOf(it.Key)}
			errs[i] = store.Wrap(name, "set", it.Key, fmt.Errorf("%w: the item would be %d bytes", ErrTooLarge, n))
		} else {
			req.PutRequest = &types.PutRequest{Item: s.item(pk, digest, it.Key, it.Value, it.TTL, now)}
		}
		reqs, sent = append(reqs, req), append(sent, i)
		if len(reqs) == batchLimit {
			flush()
		}
	}
	if len(reqs) > 0 {
		flush()
	}
	return store.BatchResult(errs)
}

// Delete removes key's item. Deleting a key that is not there succeeds.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.begin(ctx, "delete", key); err != nil {
		return err
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	_, err := s.api.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: s.table, Key: keyOf(key)})
	return s.fail("delete", key, err)
}

// scan reads the table page by page (Scan with Limit Options.PageSize,
// projected to the key attributes), passing each page's items to page
// until it returns false. With live set, expired items, by the store's
// clock, are filtered out by DynamoDB. It checks ctx and the closed state
// before each page.
func (s *Store) scan(ctx context.Context, op string, live bool, page func([]map[string]types.AttributeValue) bool) error {
	in := &dynamodb.ScanInput{
		TableName:                s.table,
		Limit:                    aws.Int32(s.pageSize),
		ConsistentRead:           s.consistent,
		ProjectionExpression:     aws.String("#k, #n"),
		ExpressionAttributeNames: map[string]string{"#k": AttrKey, "#n": AttrName},
	}
	if live {
		in.FilterExpression = aws.String("attribute_not_exists(#e) OR #e > :now")
		in.ExpressionAttributeNames["#e"] = AttrExpires
		in.ExpressionAttributeValues = map[string]types.AttributeValue{
			":now": &types.AttributeValueMemberN{Value: strconv.FormatInt(s.clock().Unix(), 10)},
		}
	}
	for {
		if err := s.begin(ctx, op, ""); err != nil {
			return err
		}
		bctx, cancel := s.bound(ctx)
		out, err := s.api.Scan(bctx, in)
		cancel()
		if err != nil {
			return s.fail(op, "", err)
		}
		if len(out.Items) > 0 && !page(out.Items) {
			return nil
		}
		if len(out.LastEvaluatedKey) == 0 {
			return nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// itemKey is the key of a scanned item.
func itemKey(item map[string]types.AttributeValue) (string, bool) {
	if n, ok := item[AttrName].(*types.AttributeValueMemberB); ok {
		return string(n.Value), true
	}
	pk, ok := item[AttrKey].(*types.AttributeValueMemberS)
	if !ok {
		return "", false
	}
	return pk.Value, true
}

// Keys yields the keys of the live items, by Options.Clock, with a
// paginated Scan: it holds one page (about Options.PageSize keys) at a
// time, never the whole key set, and a loop that breaks reads no further
// page. Each page is bounded by Options.Timeout. DynamoDB filters expired
// items out of each page, so a page may hold fewer keys than PageSize.
func (s *Store) Keys(ctx context.Context) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		err := s.scan(ctx, "keys", true, func(items []map[string]types.AttributeValue) bool {
			for _, it := range items {
				k, ok := itemKey(it)
				if !ok {
					continue
				}
				if !yield(k, nil) {
					return false
				}
			}
			return true
		})
		if err != nil {
			yield("", err)
		}
	}
}

// Clear deletes every item of the table, page by page: a Scan page of
// keys, then BatchWriteItem deletes of 25 items at a time, resending what
// DynamoDB leaves unprocessed. Items written while Clear runs may survive
// it. The table and its settings stay.
func (s *Store) Clear(ctx context.Context) error {
	var failed error
	err := s.scan(ctx, "clear", false, func(items []map[string]types.AttributeValue) bool {
		for len(items) > 0 {
			n := min(len(items), 25)
			reqs := make([]types.WriteRequest, n)
			for i, it := range items[:n] {
				reqs[i] = types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: map[string]types.AttributeValue{AttrKey: it[AttrKey]}}}
			}
			if err := s.batchWrite(ctx, reqs, "deletes"); err != nil {
				failed = store.Wrap(name, "clear", "", err)
				return false
			}
			items = items[n:]
		}
		return true
	})
	if err != nil {
		return err
	}
	return failed
}

// batchWrite sends reqs with BatchWriteItem, resending unprocessed ones
// up to five times with a growing pause; what names them in errors.
func (s *Store) batchWrite(ctx context.Context, reqs []types.WriteRequest, what string) error {
	pause := 50 * time.Millisecond
	for attempt := 0; ; attempt++ {
		bctx, cancel := s.bound(ctx)
		out, err := s.api.BatchWriteItem(bctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{*s.table: reqs}})
		cancel()
		if err != nil {
			return err
		}
		reqs = out.UnprocessedItems[*s.table]
		if len(reqs) == 0 {
			return nil
		}
		if attempt == 5 {
			return fmt.Errorf("DynamoDB left %d %s unprocessed after %d attempts", len(reqs), what, attempt+1)
		}
		t := time.NewTimer(pause) // backing off, as DynamoDB asks of unprocessed items
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		pause *= 2
	}
}

// Close marks the store closed: later calls return errors matching
// store.ErrClosed, and a second Close returns nil. An SDK client holds no
// resources to release, so nothing else is closed.
func (s *Store) Close() error {
	s.closed.Store(true)
	return nil
}
