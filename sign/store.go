package sign

import (
	"context"
	"errors"
	"iter"
	"time"

	"github.com/cachestack/cachestack/internal/through"
	"github.com/cachestack/cachestack/store"
)

// Store is a byte store whose entries are signed for the key they are stored
// under: Set signs, Get verifies. It is safe for concurrent use when the
// store it wraps is.
type Store[K ~string] struct {
	s      store.Store[K, []byte]
	signer *Signer
}

var (
	_ store.Store[string, []byte]  = (*Store[string])(nil)
	_ store.Viewer[string, []byte] = (*Store[string])(nil)
	_ store.Lister[string]         = (*Store[string])(nil)
	_ store.Clearer                = (*Store[string])(nil)
	_ store.NonBlocking            = (*Store[string])(nil)

	_ store.TryGetterSource[string, []byte]  = (*Store[string])(nil)
	_ store.VersionedTryGetterSource[string] = (*Store[string])(nil)
)

// Wrap returns a store that signs what it sets in s with signer, binding
// each entry to its key, and verifies what it gets. signer must not be nil.
//
// An entry that fails verification — tampered with, truncated, written to s
// unsigned, or copied from another key — is never returned: Get returns a
// *store.Error matching ErrInvalid and codec.ErrFormat, so a cache counts and
// deletes it and treats it as a miss; the signer counts it too (Stats).
// Verification does not remove the entry from s.
//
// The returned store also hands out a store.TryGetter when s has one
// (TryGetter), and a store.VersionedTryGetter when s has one
// (VersionedTryGetter), and has Keys and Clear, which pass through to s when it
// implements store.Lister[K] or store.Clearer and otherwise yield or return
// errors.ErrUnsupported. Keys lists keys as s holds them, without verifying
// their entries.
//
// Ownership: Set stores a new signed copy of the value, so the caller keeps
// its slice. Get returns a sub-slice of the bytes s returned, which the
// caller owns (see package store). View (store.Viewer) verifies the bytes
// of s's View, when s has one, and returns a sub-slice of them, shared and
// read-only: codec.Bind over the returned store reads through it.
func Wrap[K ~string](s store.Store[K, []byte], signer *Signer) *Store[K] {
	return &Store[K]{s: s, signer: signer}
}

// Get returns the verified value stored under key. Errors from the wrapped
// store are returned unchanged (a miss stays a bare store.ErrNotFound); an
// entry that fails verification is returned as a *store.Error matching
// ErrInvalid.
func (s *Store[K]) Get(ctx context.Context, key K) ([]byte, error) {
	signed, err := s.s.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	return s.verify(key, signed)
}

// View is Get over the wrapped store's View when it is a
// store.Viewer[K, []byte], and Get otherwise: it returns a sub-slice of the
// bytes the wrapped store lends, which must not be modified (see
// store.Viewer). Verifying only reads them.
func (s *Store[K]) View(ctx context.Context, key K) ([]byte, error) {
	v, ok := s.s.(store.Viewer[K, []byte])
	if !ok {
		return s.Get(ctx, key)
	}
	signed, err := v.View(ctx, key)
	if err != nil {
		return nil, err
	}
	return s.verify(key, signed)
}

// verify returns the value of the entry signed under key.
func (s *Store[K]) verify(key K, signed []byte) ([]byte, error) {
	data, err := s.signer.verify(domainKey, string(key), signed)
	if err != nil {
		return nil, store.Wrap("sign", "get", key, err)
	}
	return data, nil
}

// Set signs value for key and stores it with the given ttl. Errors are the
// wrapped store's, unchanged.
func (s *Store[K]) Set(ctx context.Context, key K, value []byte, ttl time.Duration) error {
	return s.s.Set(ctx, key, s.signer.sign(domainKey, string(key), value), ttl)
}

// Delete removes key from the wrapped store.
func (s *Store[K]) Delete(ctx context.Context, key K) error {
	return s.s.Delete(ctx, key)
}

// Close closes the wrapped store.
func (s *Store[K]) Close() error { return s.s.Close() }

// NeverBlocks reports whether the wrapped store never blocks
// (store.NonBlocking): signing and verifying only compute, so the cache may
// call the store directly, as it calls the one it wraps.
func (s *Store[K]) NeverBlocks() bool { return store.NeverBlocks(s.s) }

// TryGetter hands out a store.TryGetter that verifies what the wrapped
// store's TryGetter answers, when it has one (see store.TryGetterOf):
// verifying only computes, so it answers whenever the wrapped store does,
// with what Get would return.
func (s *Store[K]) TryGetter() (store.TryGetter[K, []byte], bool) {
	return through.TryGetter[K](s.s, s.verify)
}

// ChecksValues reports true (codec.SelfChecking): Get and View return only bytes whose HMAC-SHA256 verified for their key, which stands for their integrity more strongly than the entry format's CRC-32C, so codec.Bind
// does not verify that checksum again.
func (s *Store[K]) ChecksValues() bool { return true }

// Keys passes through to the wrapped store's Keys when it is a
// store.Lister[K]; otherwise it yields errors.ErrUnsupported once, with the
// zero key. Keys are listed without verifying their entries.
func (s *Store[K]) Keys(ctx context.Context) iter.Seq2[K, error] {
	if l, ok := s.s.(store.Lister[K]); ok {
		return l.Keys(ctx)
	}
	return func(yield func(K, error) bool) {
		var zero K
		yield(zero, errors.ErrUnsupported)
	}
}

// Clear passes through to the wrapped store's Clear when it is a
// store.Clearer; otherwise it returns errors.ErrUnsupported.
func (s *Store[K]) Clear(ctx context.Context) error {
	if c, ok := s.s.(store.Clearer); ok {
		return c.Clear(ctx)
	}
	return errors.ErrUnsupported
}

// VersionedTryGetter hands out a store.VersionedTryGetter that verifies what
// the wrapped store's answers, when it has one (see
// store.VersionedTryGetterOf), so that codec.Bind over the wrapper keeps
// the values it decoded. An entry the wrapped store answers is unchanged
// holds the very bytes that were verified when its version was handed out,
// with the same keys: it is not verified again, nor counted in Stats again.
func (s *Store[K]) VersionedTryGetter() (store.VersionedTryGetter[K], bool) {
	return through.VersionedTryGetter[K](s.s, s.verify)
}
