package seal

import (
	"context"
	"errors"
	"iter"
	"time"

	"github.com/cachestack/cachestack/internal/through"
	"github.com/cachestack/cachestack/store"
)

// Store is a byte store whose entries are sealed for the key they are
// stored under: Set encrypts, Get decrypts. It is safe for concurrent use
// when the store it wraps is.
type Store[K ~string] struct {
	s      store.Store[K, []byte]
	sealer *Sealer
}

var (
	_ store.Store[string, []byte] = (*Store[string])(nil)
	_ store.Lister[string]        = (*Store[string])(nil)
	_ store.Clearer               = (*Store[string])(nil)
	_ store.NonBlocking           = (*Store[string])(nil)

	_ store.TryGetterSource[string, []byte]  = (*Store[string])(nil)
	_ store.VersionedTryGetterSource[string] = (*Store[string])(nil)
)

// Wrap returns a store that seals what it sets in s with sealer, binding
// each entry to its key, and opens what it gets. sealer must not be nil.
//
// An entry that fails to open — tampered with, truncated, written to s in
// clear, copied from another key, or sealed with a key no longer listed —
// is never returned: Get returns a *store.Error matching ErrInvalid and
// codec.ErrFormat, so a cache counts and deletes it and treats it as a
// miss; the sealer counts it too (Stats). Get does not remove the entry
// from s.
//
// The returned store also hands out a store.TryGetter when s has one
// (TryGetter), and a store.VersionedTryGetter when s has one
// (VersionedTryGetter), and has Keys and Clear, which pass through to s when
// it implements store.Lister[K] or store.Clearer and otherwise yield or
// return errors.ErrUnsupported. Keys are not encrypted: s holds and lists
// them as given.
//
// Ownership: Set stores a new sealed copy of the value, so the caller keeps
// its slice. Get decrypts in place, over the bytes s returned, which the
// caller owns (see package store), and returns a sub-slice of them; when s
// lends its bytes (store.Viewer), Get reads those instead and decrypts into
// a new slice, which saves s's copy. Either way the caller owns what Get
// returns.
func Wrap[K ~string](s store.Store[K, []byte], sealer *Sealer) *Store[K] {
	return &Store[K]{s: s, sealer: sealer}
}

// Get returns the opened value stored under key. Errors from the wrapped
// store are returned unchanged (a miss stays a bare store.ErrNotFound); an
// entry that fails to open is returned as a *store.Error matching
// ErrInvalid.
func (s *Store[K]) Get(ctx context.Context, key K) ([]byte, error) {
	var (
		sealed []byte
		err    error
	)
	v, lent := s.s.(store.Viewer[K, []byte])
	if lent {
		sealed, err = v.View(ctx, key) // read-only: not decrypted in place
	} else {
		sealed, err = s.s.Get(ctx, key)
	}
	if err != nil {
		return nil, err
	}
	data, err := s.sealer.open(domainKey, string(key), sealed, !lent)
	if err != nil {
		return nil, store.Wrap("seal", "get", key, err)
	}
	return data, nil
}

// Set seals value for key and stores it with the given ttl. Errors are the
// wrapped store's, unchanged.
func (s *Store[K]) Set(ctx context.Context, key K, value []byte, ttl time.Duration) error {
	return s.s.Set(ctx, key, s.sealer.seal(domainKey, string(key), value), ttl)
}

// Delete removes key from the wrapped store.
func (s *Store[K]) Delete(ctx context.Context, key K) error {
	return s.s.Delete(ctx, key)
}

// Close closes the wrapped store.
func (s *Store[K]) Close() error { return s.s.Close() }

// NeverBlocks reports whether the wrapped store never blocks
// (store.NonBlocking): sealing and opening only compute, so the cache may
// call the store directly, as it calls the one it wraps.
func (s *Store[K]) NeverBlocks() bool { return store.NeverBlocks(s.s) }

// TryGetter hands out a store.TryGetter that opens what the wrapped
// store's TryGetter answers, when it has one (see store.TryGetterOf):
// opening only computes, so it answers whenever the wrapped store does,
// with what Get would return.
func (s *Store[K]) TryGetter() (store.TryGetter[K, []byte], bool) {
	return through.TryGetter[K](s.s, s.openOwned)
}

// openOwned opens sealed, the wrapped store's answer for key, in place (the
// caller owns it), as Get opens what the wrapped store's Get returns.
func (s *Store[K]) openOwned(key K, sealed []byte) ([]byte, error) {
	data, err := s.sealer.open(domainKey, string(key), sealed, true)
	if err != nil {
		return nil, store.Wrap("seal", "get", key, err)
	}
	return data, nil
}

// ChecksValues reports true (codec.SelfChecking): Get returns only bytes that AES-256-GCM authenticated for their key, which stands for their integrity more strongly than the entry format's CRC-32C, so codec.Bind
// does not verify that checksum again.
func (s *Store[K]) ChecksValues() bool { return true }

// Keys passes through to the wrapped store's Keys when it is a
// store.Lister[K]; otherwise it yields errors.ErrUnsupported once, with the
// zero key. Keys are listed without opening their entries.
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

// VersionedTryGetter hands out a store.VersionedTryGetter that opens what
// the wrapped store's answers, when it has one (see
// store.VersionedTryGetterOf), so that codec.Bind over the wrapper keeps
// the values it decoded. An entry the wrapped store answers is unchanged
// holds the very bytes that were opened when its version was handed out,
// with the same keys: it is not opened again, nor counted in Stats again.
func (s *Store[K]) VersionedTryGetter() (store.VersionedTryGetter[K], bool) {
	return through.VersionedTryGetter[K](s.s, s.openOwned)
}
