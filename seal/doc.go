// Package seal encrypts cache entries at rest with AES-256-GCM, so that
// whoever can read the store cannot read the responses in it, and an entry
// written by anyone but the cache — tampered with, truncated, planted in
// clear, or copied from another key — is a miss, never served.
//
// It is the confidentiality counterpart of package sign and has its shape:
// a Sealer holds the keys, and comes in three forms:
//
//   - Middleware is the sealing middleware of a cache stack: it seals every
//     entry the stack writes and opens every entry it reads, bound to its
//     store key, whatever store sits beneath (a typed in-memory store, or a
//     byte store behind codec.Bind). The drop-in cache takes it as
//     cachestack.Options.Sealer. This is the form to reach for.
//   - Wrap is the store-level form: it puts the Sealer over one byte store,
//     binding each entry to its key, for code that uses the store without
//     the middleware.
//   - Codec puts it over a codec, binding entries to a fixed context string
//     instead, for bytes kept without their key.
//
// In a stack, or in the drop-in cache:
//
//	s, err := seal.New(key) // 32 random bytes
//	...
//	sealing, err := seal.Middleware(s)
//	...
//	client := &http.Client{Transport: middleware.Chain(sealing, st)(nil)}
//	// or: cachestack.New(&cachestack.Options{Store: redis, Sealer: s})
//
// and at the store level:
//
//	st := codec.Bind(seal.Wrap(redis, s), codec.Response())
//
// Use one form, not both: together they encrypt every entry twice.
//
// The reference library, aiohttp-client-cache, signs entries when given a
// secret_key but has no encryption; seal goes beyond it.
//
// # What it protects against
//
// The threat is whoever can read or write the store but does not hold the
// key: a shared Redis or database other services also reach, a disk
// directory other users can read, a backup or a snapshot that travels. Such
// a reader learns nothing of an entry's contents — status, header fields,
// body, URL, expiry — beyond its length. Such a writer can change, truncate,
// extend or plant entries, or copy one key's entry to another key; every
// such entry fails to open. Opening checks the GCM tag in constant time.
//
// Middleware leaves nothing of an entry in clear but the fact that it is
// one: its envelope (a cached.KindSealed entry) holds the sealed bytes and
// no method, URL, status or time. The URL is sealed even though the cache
// already redacts ignored parameters from it: what is left (paths, the
// parameters that key the response) still says what a user fetched.
//
// It does not protect:
//
//   - Store keys, and what they reveal. Keys are stored as given; the
//     cache's keys are unkeyed digests of the request (package keyer), so
//     whoever can list the store can test whether a guessed request is
//     cached. The store's own metadata (ttl, size, modification times) is
//     visible too.
//   - Lengths. A sealed entry is its data's length plus Overhead.
//   - Against replay under the same key. An older entry that was validly
//     sealed for a key can be written back under that key, rolling it back
//     to an older response. The entry's own expiry is inside the sealed
//     bytes and is still checked on read, so a replayed entry is fresh no
//     longer than when it was first stored.
//   - Availability. A writer can delete entries or overwrite them with
//     garbage; those become misses, and requests go to the network.
//   - With Codec, the binding to a key: a Codec entry may be moved to any
//     key that uses the same context.
//   - Data in memory, in the process that holds the key.
//   - Entries written beneath a misplaced Middleware: placed under the
//     Store middleware's foreign neighbour it does not reach the store (the
//     first request reports it in an error log), so entries are stored in
//     clear. The drop-in cache places it for you.
//
// # With sign
//
// A sealed entry is already authenticated: GCM's tag does for an entry what
// sign's MAC does, so a store behind seal needs no sign. Where both are
// wanted (keys held by different parties, or a tool that checks entries
// without being able to read them), put sign beneath seal:
//
//	seal.Wrap(sign.Wrap(raw, signer), sealer)
//
// or, as middlewares, seal outermost, since Protect middlewares nest as
// store wrappers do (the drop-in cache does this when given both a Sealer
// and a Signer):
//
//	middleware.Chain(sealing, signing, st)
//
// The store then holds signed ciphertext (encrypt-then-MAC): a tampered
// entry is rejected by its signature before any decryption is tried, and
// the signature can be checked by whoever holds the signing secret alone.
// The other order, sign.Wrap(seal.Wrap(raw, sealer), signer), also works and
// is as safe, since the inner layer is authenticated; it only hides the MAC.
//
// # Rejected entries
//
// Open, Store.Get, the codec's Unmarshal and the middleware's
// Protector.Verify return an error matching ErrInvalid for an entry that
// fails to open; the middleware also rejects an entry that is not a sealed
// envelope (a plaintext entry planted in the store). ErrInvalid also matches
// codec.ErrFormat, which the cache middleware treats as an undecodable
// entry: it counts it, deletes it and treats the lookup as a miss. The
// Sealer counts entries sealed, opened (and of those, opened with an older
// key) and rejected (Sealer.Stats), so a rise in rejections — tampering, or
// a key dropped too early — shows.
//
// # Format
//
// A sealed entry, version 1, is:
//
//	offset  size  field
//	0       1     version, 0x01
//	1       4     key id
//	5       12    nonce, random
//	17      n     data, encrypted with AES-256-GCM
//	17+n    16    GCM tag
//
// The AES-256 key is HKDF-SHA256(key, no salt, "cachestack/seal aes-256-gcm
// v1"); the key id is the first 4 bytes of HKDF-SHA256(key, no salt,
// "cachestack/seal key id v1"). Neither reveals the other or the key, and
// the same bytes used as a secret for package sign give unrelated keys.
// The GCM additional data is the entry's first 5 bytes (version and key id),
// a domain byte (0x01 for a key, given to Seal, Open and Wrap; 0x02 for a
// Codec context; 0x03 for a key, given to Middleware), then the key or
// context itself. Since the key or context is the last field and GCM
// authenticates the length of the additional data, no other key gives the
// same additional data.
//
// Middleware stores, in place of an entry, a cached.KindSealed entry (the
// envelope) with no field set but Body: a sealed entry as above, bound to
// the store key in domain 0x03, over the entry's encoding by
// codec.Response. Through a byte store, the envelope is itself encoded by
// codec.Response. Opening it decrypts into a new buffer, never in place,
// since a typed store shares the envelope between readers.
//
// The key id lets Open pick the key to try instead of trying each; an entry
// whose key id matches no listed key is rejected without decrypting. New
// refuses two keys with the same id.
//
// # Nonces
//
// Each Seal draws a fresh 96-bit nonce from crypto/rand. GCM is broken for
// a key if a nonce ever repeats under it, and random 96-bit nonces collide
// with probability about n²/2⁹⁷ after n entries sealed with one key: below
// 2⁻³² up to n = 2³², the limit NIST SP 800-38D §8.3 sets. So a key must
// seal at most 2³² (about four billion) entries, counted across every
// process that shares it; Stats.Sealed counts one process's share. A cache
// sealing a thousand entries a second across its fleet reaches the limit in
// about 50 days: rotate keys well within it (below). A misuse-resistant
// mode (AES-GCM-SIV) or a per-entry derived key (XAES-256-GCM) would lift
// the limit, but neither is in the standard library, and the second costs
// a key schedule on every Open; seal keeps to GCM as the standard library
// ships it, with no allocation on the read path, and documents the bound.
//
// # Keys and rotation
//
// A key is exactly KeySize (32) bytes; generate them with crypto/rand and
// keep them where other credentials are kept (a secret manager, an
// environment variable set by the deployment, base64- or hex-decoded
// before use), never in source. Every process sharing a store needs the
// same list. A Sealer keeps no copy of its keys, only what it derived from
// them; its String method prints key ids, never key material.
//
// New takes keys newest first: it seals with the first and opens with any.
// To rotate without turning the shared cache into misses:
//
//  1. Deploy New(old, new) everywhere: every process can open entries
//     sealed with the new key before any seals with it.
//  2. Deploy New(new, old): new entries are sealed with the new key, old
//     ones still open. Stats.OldKey counts entries opened with the old key.
//  3. Once the longest ttl has passed (or OldKey stops rising), deploy
//     New(new).
//
// An entry sealed with a key that is no longer listed is rejected, like any
// other invalid entry. To revoke a leaked key, drop it at once: its entries
// become misses and are replaced as they are fetched again; entries it
// sealed that an attacker already copied stay readable to the attacker.
package seal
