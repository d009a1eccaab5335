package store

import (
	"context"
	"time"
)

// Leaser is implemented by stores shared between processes (redisstore)
// that can grant a short, exclusive, expiring claim on a key: a lease. The
// cache takes one before it sends a missed request to the origin, so that
// concurrent misses for one key in different processes send one request;
// the others wait for the holder's entry to appear in the store (see
// middleware.LeaseOptions).
//
// A lease is advisory: it guards no entry, and the store's other calls
// ignore it. It lives apart from the entries, so that listing and clearing
// never see it, and it ends by itself when its ttl passes, so that a
// holder that crashes holds it no longer than that.
type Leaser[K comparable] interface {
	// Acquire takes the lease on key for ttl (> 0) if no one holds it.
	// ok reports whether it was taken; token, then, is what Release
	// needs to end it, and identifies this holder among every other.
	// When another holder has the lease, ok is false and err nil.
	Acquire(ctx context.Context, key K, ttl time.Duration) (token string, ok bool, err error)
	// Release ends the lease on key if token still holds it, and does
	// nothing otherwise: a holder whose lease expired and was taken by
	// another never ends the other's.
	Release(ctx context.Context, key K, token string) error
	// AwaitRelease returns nil once no one holds the lease on key
	// (released or expired), at once if no one does, or ctx's error when
	// ctx ends first. It may poll, so it can return a little after the
	// release.
	AwaitRelease(ctx context.Context, key K) error
}

// LeaserSource is implemented by stores that wrap another (codec.Bind,
// tierstore) to hand out the Leaser of the store beneath them, if it has
// one.
type LeaserSource[K comparable] interface {
	// Leaser returns the Leaser of the wrapped store, and false when it
	// has none.
	Leaser() (Leaser[K], bool)
}

// LeaserOf returns the Leaser s offers: s itself when it is a Leaser[K],
// or what its Leaser method returns when it is a LeaserSource[K]. ok is
// false when s cannot lease.
func LeaserOf[K comparable](s any) (l Leaser[K], ok bool) {
	switch v := s.(type) {
	case Leaser[K]:
		return v, true
	case LeaserSource[K]:
		return v.Leaser()
	}
	return nil, false
}
