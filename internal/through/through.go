// Package through hands out the lookups a byte-store wrapper that only
// computes on what it reads (sign, seal) offers over the store it wraps:
// the wrapped store's TryGetter or VersionedTryGetter, with each value it
// answers passed through the wrapper's check.
package through

import (
	"context"

	"github.com/cachestack/cachestack/store"
)

// Check turns a value the wrapped store answered for key into what the
// wrapper returns for it, or an error. It owns raw, and may change it.
type Check[K comparable] func(key K, raw []byte) ([]byte, error)

// TryGetter returns a store.TryGetter that passes what inner's TryGetter
// answers through check, when inner has one (store.TryGetterOf). Errors,
// store.ErrWouldBlock included, are returned unchanged.
func TryGetter[K comparable](inner any, check Check[K]) (store.TryGetter[K, []byte], bool) {
	t, ok := store.TryGetterOf[K, []byte](inner)
	if !ok {
		return nil, false
	}
	return &tryGetter[K]{inner: t, check: check}, true
}

type tryGetter[K comparable] struct {
	inner store.TryGetter[K, []byte]
	check Check[K]
}

func (t *tryGetter[K]) TryGet(ctx context.Context, key K) ([]byte, error) {
	raw, err := t.inner.TryGet(ctx, key)
	if err != nil {
		return nil, err
	}
	return t.check(key, raw)
}

// VersionedTryGetter returns a store.VersionedTryGetter that passes what
// inner's VersionedTryGetter answers through check, with the version it
// names, when inner has one (store.VersionedTryGetterOf). Errors,
// store.ErrUnchanged and store.ErrWouldBlock included, are returned
// unchanged; a value that fails check is returned with no version. An
// entry inner answers is unchanged holds the very bytes that passed check
// when its version was handed out: the wrapper's keys being fixed, they
// would pass again.
func VersionedTryGetter[K comparable](inner any, check Check[K]) (store.VersionedTryGetter[K], bool) {
	t, ok := store.VersionedTryGetterOf[K](inner)
	if !ok {
		return nil, false
	}
	return &versionedTryGetter[K]{inner: t, check: check}, true
}

type versionedTryGetter[K comparable] struct {
	inner store.VersionedTryGetter[K]
	check Check[K]
}

func (t *versionedTryGetter[K]) TryGetVersion(ctx context.Context, key K, have store.Version) ([]byte, store.Version, error) {
	raw, ver, err := t.inner.TryGetVersion(ctx, key, have)
	if err != nil {
		return nil, ver, err
	}
	v, err := t.check(key, raw)
	if err != nil {
		return nil, 0, err
	}
	return v, ver, nil
}
