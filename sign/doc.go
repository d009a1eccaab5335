// Package sign authenticates cache entries with HMAC-SHA256, so that an entry
// written by anyone but the cache — tampered with, truncated, planted
// unsigned, or copied from another key — is a miss, never served.
//
// A Signer holds the secrets, and comes in three forms:
//
//   - Middleware is the signing middleware of a cache stack: it signs every
//     entry the stack writes and verifies every entry it reads, bound to its
//     store key, whatever store sits beneath (a typed in-memory store, or a
//     byte store behind codec.Bind). The drop-in cache takes it as
//     cachestack.Options.Signer. This is the form to reach for.
//   - Wrap is the store-level form: it puts the Signer over one byte store,
//     binding each entry to its key, for code that uses the store without
//     the middleware.
//   - Codec puts it over a codec, binding entries to a fixed context string
//     instead, for bytes kept without their key.
//
// In a stack, or in the drop-in cache:
//
//	s, err := sign.New(secret)
//	...
//	signing, err := sign.Middleware(s)
//	...
//	client := &http.Client{Transport: middleware.Chain(signing, st)(nil)}
//	// or: cachestack.New(&cachestack.Options{Store: redis, Signer: s})
//
// and at the store level:
//
//	st := codec.Bind(sign.Wrap(redis, s), codec.Response())
//
// Use one form, not both: together they sign every entry twice.
//
// # What it protects against
//
// The threat is whoever can write the store but does not hold the secret: a
// shared Redis or database other services also reach, a disk directory
// other users can write, a backup restored from elsewhere. Such a writer can
// change, truncate, extend or plant entries, or copy one key's entry to
// another key (serving one URL's response for another); with Middleware or
// Wrap, every such entry fails verification. Verify compares MACs in constant time.
//
// It does not protect:
//
//   - Confidentiality. Entries are signed, not encrypted: whoever can read
//     the store reads the responses. Package seal encrypts them (and
//     authenticates them as well, so it needs no sign beneath it).
//   - Against replay under the same key. An older entry that was validly
//     signed for a key can be written back under that key, rolling it back
//     to an older response. The entry's own expiry is inside the signed
//     bytes and is still checked on read, so a replayed entry is fresh no
//     longer than when it was first stored.
//   - Availability. A writer can delete entries or overwrite them with
//     garbage; those become misses, and requests go to the network.
//   - With Codec, the binding to a key: a Codec entry may be moved to any
//     key that uses the same context.
//   - The store's own metadata (its ttl, its key listing), which is not
//     signed.
//   - Entries written beneath a misplaced Middleware: placed under the
//     Store middleware's foreign neighbour it does not reach the store (the
//     first request reports it in an error log), so entries are neither
//     signed nor verified. The drop-in cache places it for you.
//
// # Rejected entries
//
// Verify, Store.Get, the codec's Unmarshal and the middleware's
// Protector.Verify return an error matching ErrInvalid for an entry that
// fails verification; the middleware also rejects an entry that is not a
// signed envelope (an unsigned entry planted in the store). ErrInvalid also matches
// codec.ErrFormat, which the cache middleware treats as an undecodable
// entry: it counts it, deletes it and treats the lookup as a miss. The
// Signer counts every verification, accepted or rejected (Signer.Stats), so
// a rise in rejections — tampering, or a secret dropped too early — shows.
//
// # Format
//
// A signed entry, version 1, is:
//
//	offset  size  field
//	0       1     version, 0x01
//	1       4     key id: the first 4 bytes of SHA-256("cachestack/sign key id v1\x00" || secret)
//	5       32    MAC: HMAC-SHA256(secret, m)
//	37      n     data, to the end of the entry
//
// where m is the entry's first 5 bytes (version and key id), then a domain
// byte (0x01 for a key, given to Sign, Verify and Wrap; 0x02 for a Codec
// context; 0x03 for a key, given to Middleware), then the length of the key
// or context as a big-endian uint64, the key or context itself, and the
// data. The length prefix makes m
// unambiguous: no other key and data give the same m. The data runs to the
// end of the entry, so bytes appended to it change the MAC.
//
// Middleware stores, in place of an entry, a cached.KindSealed entry (the
// envelope) whose Body is a signed entry as above, bound to the store key
// in domain 0x03, over the entry's encoding by codec.Response. The
// envelope carries the entry's Method and URL in clear as well, so that a
// store can be inspected without the secret; signing hides nothing (the
// whole entry is readable in the signed bytes), and Verify rejects an
// envelope whose clear Method or URL differ from the signed ones. Through
// a byte store, the envelope is itself encoded by codec.Response.
//
// The key id lets Verify pick the secret to check with, instead of trying
// each; an entry whose key id matches no listed secret is rejected without
// computing a MAC. It is derived from the secret with a label of its own,
// and reveals nothing usable about it. Verify returns the data as a
// sub-slice of the entry, without copying; Sign allocates the entry once.
//
// # Secrets and rotation
//
// A secret is at least 32 bytes (MinSecretLen); generate 32 random bytes with
// crypto/rand, keep them where other credentials are kept (a secret manager,
// an environment variable set by the deployment), never in source. Every
// process sharing a store needs the same list. A Signer keeps a private copy
// of its secrets in memory; its String method prints key ids, never
// secrets.
//
// New takes secrets newest first: it signs with the first and verifies with
// any. To rotate without turning the shared cache into misses:
//
//  1. Deploy New(old, new) everywhere: every process can verify the new
//     secret before any signs with it.
//  2. Deploy New(new, old): new entries are signed with the new secret, old
//     ones still verify.
//  3. Once the longest ttl has passed, deploy New(new).
//
// An entry signed with a secret that is no longer listed is rejected, like
// any other invalid entry. To revoke a leaked secret, drop it at once: its
// entries become misses and are replaced as they are fetched again.
package sign
