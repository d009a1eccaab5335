package store

import (
	"context"
	"errors"
	"strconv"
	"time"
)

// Item is one entry of a batch written by Batcher.SetMany: what one Set
// call takes.
type Item[K comparable, V any] struct {
	Key   K
	Value V
	TTL   time.Duration // as Set's ttl: 0 for none, negative refused
}

// Batcher is implemented by stores that can write several entries for
// about the price of one: one round trip (redisstore's pipeline), one
// transaction (sqlitestore, pgstore). The cache's write-back queue hands
// such a store the writes that have piled up in one call (see
// middleware.StoreOptions.WriteBatch) rather than one Set each.
type Batcher[K comparable, V any] interface {
	// SetMany stores every item as Set would, each with its own ttl, in
	// the order given: of two items with one key, the last wins. An item
	// that Set would refuse (a negative ttl, a value too large) is
	// refused alone, and the others are stored. It returns nil when
	// every item was stored; otherwise either a *BatchError, which says
	// which items were not stored, or another error, which is every
	// item's (ItemErrors spreads either over the items). An empty batch
	// does nothing and returns nil. SetMany keeps no reference to the
	// values after it returns.
	SetMany(ctx context.Context, items []Item[K, V]) error
}

// BatchError is the error of a SetMany that did not store some of its
// items, saying which.
type BatchError struct {
	// Errs holds one error per item, in the items' order: nil for an
	// item stored, its error (as Set would have returned it) for one not.
	Errs []error
}

func (e *BatchError) Error() string {
	n, first := 0, error(nil)
	for _, err := range e.Errs {
		if err != nil {
			if n == 0 {
				first = err
			}
			n++
		}
	}
	if n == 0 {
		return "store: batch: no failures"
	}
	return strconv.Itoa(n) + " of " + strconv.Itoa(len(e.Errs)) + " items not stored; first: " + first.Error()
}

// Unwrap returns the items' errors, so that errors.Is matches any of
// them.
func (e *BatchError) Unwrap() []error { return e.Errs }

// ItemErrors returns the error of each of n items that a SetMany returning
// err was given: err's own when err is a *BatchError of n items, else err
// for every item (nil for all when err is nil).
func ItemErrors(err error, n int) []error {
	errs := make([]error, n)
	var be *BatchError
	if errors.As(err, &be) && len(be.Errs) == n {
		copy(errs, be.Errs)
		return errs
	}
	if err != nil {
		for i := range errs {
			errs[i] = err
		}
	}
	return errs
}

// BatchResult turns the error of each item into SetMany's error: nil when
// none failed, a *BatchError otherwise. Adapters use it to report the items
// they refused alone.
func BatchResult(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return &BatchError{Errs: errs}
		}
	}
	return nil
}

// BatcherSource is implemented by stores that wrap another (codec.Bind,
// tierstore) to hand out a Batcher for the store beneath them, if it has
// one.
type BatcherSource[K comparable, V any] interface {
	// Batcher returns a Batcher that writes through the wrapper to the
	// wrapped store, and false when that store has none.
	Batcher() (Batcher[K, V], bool)
}

// BatcherOf returns the Batcher s offers: s itself when it is a
// Batcher[K, V], or what its Batcher method returns when it is a
// BatcherSource[K, V]. ok is false when s cannot write in batches.
func BatcherOf[K comparable, V any](s any) (b Batcher[K, V], ok bool) {
	switch v := s.(type) {
	case Batcher[K, V]:
		return v, true
	case BatcherSource[K, V]:
		return v.Batcher()
	}
	return nil, false
}
