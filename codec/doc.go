// Package codec turns typed values into bytes and back, and lifts byte stores
// (disk, network) into typed stores.
//
// In-memory stores hold *cached.Response values directly; stores that hold
// bytes are wrapped with Bind and a Codec:
//
//	s := codec.Bind(diskStore, codec.Response())
//
// # Codecs
//
// CBOR is a general codec for any type (fxamacker/cbor, Core Deterministic
// Encoding, times with full precision). Response is the codec for the cached
// entry format, built for the hit path: Unmarshal does not copy the body.
//
// # Entry format
//
// A Response entry is, in order:
//
//	"CSR"      3-byte magic
//	0x03       format version
//	checksum   CRC-32C (Castagnoli) of every byte of the entry except
//	           these four, big endian
//	metadata   one definite-length CBOR map with small-integer keys:
//	             1 method, 2 URL, 3 status code, 4 proto,
//	             5 header (byte string: cached.Header's binary form),
//	             6 vary header (map of text to array of text, or null),
//	             7 request time, 8 response time, 9 created, 10 expires
//	               (int64 Unix nanoseconds; absent means the zero time;
//	               math.MinInt64 is never written and reads as absent),
//	             11 body length (uint), 12 initial age (int64 ns),
//	             13 kind, 14 vary fields (array of text), 15 ref,
//	             16 a Vary index's inline variant (byte string: the
//	               variant's metadata and body, laid out as these two
//	               parts are; it holds no inline variant of its own);
//	             absent keys are zero values, unknown keys are ignored
//	body       exactly "body length" raw bytes, to the end of the entry
//
// A reader of this version treats anything else as not an entry and
// returns an error matching ErrFormat: another magic or version, a truncated
// entry, trailing bytes, metadata that is not well-formed CBOR or not of
// the types above, and metadata beyond the decoder's limits (nesting deeper
// than 4, more than 4096 array elements or map pairs). A cache turns such an
// error into a miss. A later version may add metadata keys without bumping
// the version byte; a change readers cannot skip bumps it.
//
// # Integrity
//
// The checksum is verified before anything else is decoded. An entry
// changed after Marshal wrote it — one byte or a burst of up to 32 bits
// anywhere, cut short, or extended — fails it with ErrChecksum, which also
// matches ErrFormat: the cache counts the entry as corrupt, deletes it and
// goes to the network, so a damaged entry is a miss, never a wrong
// response. Other damage goes undetected with odds of about one in four
// billion. The checksum guards against accidents (disk, memory, torn
// writes); it is no defence against someone who can write to the store,
// who can compute it too. Package sign, which wraps this codec, is that
// defence. CRC-32C runs on the CPU's CRC instructions where it has them;
// see the package benchmarks for its cost.
//
// # Upgrading
//
// Version 3 added the checksum; version 2 made the header (key 5) a byte
// string where version 1 had a CBOR map. A reader refuses every other
// version with ErrFormat, so after an upgrade a persistent cache (disk,
// Redis, SQL) written by an older release answers each old entry once as a
// miss: the cache deletes it, fetches the response from the origin and
// stores it in the current format. Old entries never decode as wrong
// responses. Entries that are never requested again stay until their
// store's ttl or eviction removes them.
//
// # Ownership
//
// Unmarshal takes ownership of the bytes it is given and may keep
// references into them: the Body of a decoded Response aliases them. Byte
// stores return bytes the caller owns (see package store), so Bound.Get
// passes them straight to the codec. An in-memory byte store can also
// lend its own bytes, read-only (store.Viewer): Bound.Get reads those when
// the codec only reads its input (InputPreserving, as Response does), so
// a hit copies nothing and the decoded value is shared with the store, as
// a typed store's values are. Marshal returns fresh bytes that share
// nothing with the value, which Bound.Set hands to the store.
package codec
