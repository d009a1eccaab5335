// Package dynamostore is a store.Store[string, []byte] kept in an Amazon
// DynamoDB table, through the AWS SDK for Go v2
// (github.com/aws/aws-sdk-go-v2/service/dynamodb).
//
// It is the Go counterpart of the DynamoDB backend of aiohttp-client-cache
// (the reference library), whose cache name is the table: New and Open
// take the table's name. Lift it to typed responses with codec.Bind(s,
// codec.Response()), or open one in a line with OpenResponses.
//
// It lives in its own Go module, github.com/cachestack/cachestack/store/dynamostore,
// so that users of the core do not download the AWS SDK.
//
// # Items
//
// Each entry is one item:
//
//	{key: S <key>, body: B <value>, expires: N <Unix seconds>}
//
// key is the table's partition key (a string); expires, absent when the
// entry has no ttl, is now + ttl rounded up to the second. A key that is
// not valid UTF-8, is empty, is longer than 1024 bytes (DynamoDB allows
// 2048 bytes of partition key) or starts with "#sha256:" is stored under
// "#sha256:<hex SHA-256 of the key>", with the whole key in a binary
// "name" attribute, so that every key round-trips. Cache keys are short
// hex digests and are stored as they are.
//
// DynamoDB refuses items above 400 KB, attribute names included. Set
// checks the size first and refuses a larger entry with ErrTooLarge,
// without a request; TooLarge counts those refusals. A cache over the
// store answers such a response from the network every time; a cache
// whose MaxBodyBytes is below about 400 KB never tries to store one.
//
// # Expiry
//
// Get and Keys never return an entry whose expiry, by Options.Clock, has
// passed. DynamoDB's own TTL, enabled on the expires attribute, deletes
// expired items within days, not seconds, and costs no write capacity;
// Setup enables it (see CreateTable), and NativeExpiry reports whether it
// is on.
//
// # Tables
//
// With Options.CreateTable, the first call creates the table when it is
// missing (on-demand billing, partition key "key"), waits until it is
// active and enables TTL on "expires": for development and tests. In
// production, create the table with your infrastructure; the store then
// changes no table settings unless you call Setup.
//
// # Listing and clearing
//
// Keys reads the table with a paginated Scan (Limit Options.PageSize,
// projected to the key attributes, expired items filtered out by
// DynamoDB): it holds one page, never the whole key set, and a loop that
// breaks reads no further page. A Scan reads, and bills, the whole table.
// Clear deletes page by page with BatchWriteItem, 25 items at a time,
// resending what DynamoDB leaves unprocessed. SetMany (store.Batcher)
// writes the same way, for the cache's write-back queue, and refuses what
// Set refuses item by item; since a request may not name a key twice, of
// two items with one key only the last is sent.
//
// # Clients, timeouts and errors
//
// New takes the caller's client (anything with the methods of API, such as
// *dynamodb.Client); Open builds one from the SDK's default configuration
// (environment, shared config, SSO, instance roles), with Options.Region,
// Endpoint and static credentials taking precedence, for DynamoDB Local
// and other local servers. An SDK client holds nothing to close, so Close
// only marks the store closed. Reads are strongly consistent unless
// Options.EventuallyConsistent. Every call is bounded by Options.Timeout
// (default 5 s, the SDK's retries included; one page for Keys and
// Clear), so a DynamoDB that cannot be reached costs a cache at most that
// much per lookup before the request goes to the network. A miss is the
// bare store.ErrNotFound; every other failure is a *store.Error
// ("dynamostore get …") that unwraps to the SDK's error. Get returns the
// slice the SDK decoded, which is the caller's; Set keeps no reference to
// its value.
package dynamostore
