// Package store defines the storage contract that every cachestack backend
// implements, its sentinel errors, and the optional capabilities (listing,
// clearing, leases, writes in batches) that the cache uses when a backend
// offers them.
//
// A Store is deliberately small: adapters (memstore, ristrettostore,
// diskstore, redisstore, ...) only translate these calls to their backend.
// Logic that every backend would otherwise repeat — checking a cached
// response's own expiry on read, logging and counting failures, stepping
// aside when the store is down — lives once, in the middleware above it.
//
// # Ownership
//
// Values passed to Set belong to the store afterwards: the caller must not
// modify them. Values returned by Get belong to the caller, but a typed
// in-memory store returns the value it holds, not a copy, so callers treat
// them as read-only. Byte stores return a slice the caller may keep and
// modify: it is never shared with the store's own buffers.
//
// A byte store that can hand out its bytes without that copy says so by
// implementing Viewer: View returns the stored slice itself, shared and
// read-only, as a typed store's values are. codec.Bind reads through View
// when it can, so a hit from an in-memory byte store costs no copy of its
// value.
package store

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"time"
)

// Sentinel errors, matched with errors.Is.
var (
	// ErrNotFound is returned by Get when the key has no live entry. It is
	// returned unwrapped on the hot path, so a miss never allocates.
	ErrNotFound = errors.New("store: not found")
	// ErrClosed is returned by every call made after Close.
	ErrClosed = errors.New("store: closed")
)

// Store is a key-value store with per-entry time to live.
//
// Every method takes a context and honours its cancellation where the
// backend can. Implementations are safe for concurrent use.
type Store[K comparable, V any] interface {
	// Get returns the value stored under key, or an error matching
	// ErrNotFound when there is none or it has expired.
	Get(ctx context.Context, key K) (V, error)
	// Set stores value under key, replacing any previous value. A ttl
	// greater than zero lets the store drop the entry once ttl has passed;
	// zero keeps it until it is deleted or evicted. A negative ttl is an
	// error. Use TTL to turn an absolute expiry into a ttl.
	Set(ctx context.Context, key K, value V, ttl time.Duration) error
	// Delete removes key. Deleting a key that is not there succeeds.
	Delete(ctx context.Context, key K) error
	// Close releases the store's resources. Calls after Close return
	// ErrClosed; a second Close returns nil.
	Close() error
}

// Lister is implemented by stores that can enumerate their keys.
//
// Keys yields every key that was live when iteration reached it, in no
// particular order, without loading the whole key set in memory where the
// backend allows. An error is yielded once, with the zero key, and ends the
// sequence. Breaking out of the loop early releases what the iteration held.
// The store may be used, and changed, from inside the loop (the cache
// deletes expired entries while listing): keys set or deleted during
// iteration may or may not be yielded.
type Lister[K comparable] interface {
	Keys(ctx context.Context) iter.Seq2[K, error]
}

// Clearer is implemented by stores that can drop every entry at once.
type Clearer interface {
	Clear(ctx context.Context) error
}

// TTL converts an absolute expiry into the ttl that Set takes. A zero expires
// means no expiry and returns 0; an expiry at or before now returns a
// negative duration, which callers treat as "do not store".
func TTL(now, expires time.Time) time.Duration {
	if expires.IsZero() {
		return 0
	}
	d := expires.Sub(now)
	if d <= 0 {
		return -1
	}
	return d
}

// Error reports a failed store operation: the adapter, the operation, and the
// key it was about. It unwraps to the cause, so errors.Is(err, ErrClosed)
// and errors.Is(err, context.Canceled) work through it.
type Error struct {
	Store string // adapter name, e.g. "redisstore"
	Op    string // "get", "set", "delete", "keys", "clear", "close"
	Key   string // the key, formatted; empty for operations without one
	Err   error
}

func (e *Error) Error() string {
	if e.Key == "" {
		return e.Store + " " + e.Op + ": " + e.Err.Error()
	}
	return fmt.Sprintf("%s %s %q: %v", e.Store, e.Op, e.Key, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Wrap wraps err in an *Error, unless err is nil or is ErrNotFound itself
// (a miss stays a bare sentinel so that it does not allocate).
func Wrap[K comparable](storeName, op string, key K, err error) error {
	if err == nil || err == ErrNotFound {
		return err
	}
	return &Error{Store: storeName, Op: op, Key: fmt.Sprint(key), Err: err}
}

// ErrTooLarge is returned by Set when the value is larger than the store
// can hold (its budget, or its backend's item size limit). The previous
// value under the key, if any, is removed: a later Get misses.
var ErrTooLarge = errors.New("store: value too large")

// ErrNegativeTTL is returned by Set when ttl is negative.
var ErrNegativeTTL = errors.New("store: negative ttl")

// Viewer is implemented by stores that can return a value without copying
// it: the in-memory stores (memstore, ristrettostore, otterstore), whose
// []byte values are copied once on Set and never written afterwards.
//
// View returns what Get would, but for []byte values it returns the
// store's own slice instead of a copy, shared with the store and with every
// other caller. The caller must treat it as read-only: it must not write
// into it, nor append to it (its capacity may be the store's). In return
// the value stays as it was for as long as the caller holds it, even after
// the key is overwritten, deleted or evicted: a store implements View only
// if it never reuses or changes the memory of a value it has handed out.
// A store whose bytes live in buffers it reuses (bigcache's ring, a read
// buffer) cannot implement it.
//
// Values of other types are returned as Get returns them. A wrapper may
// implement View by passing it on, and fall back to Get where what it
// wraps has no View: a value the caller owns is read-only too.
type Viewer[K comparable, V any] interface {
	View(ctx context.Context, key K) (V, error)
}

// NonBlocking is implemented by stores whose calls never wait on I/O, a
// lock held across I/O, or another process: in-memory stores. The cache
// calls a store that reports true directly on the request's goroutine,
// with no deadline of its own, which costs nothing on a hit; any other
// store is called under a per-operation deadline that the request can walk
// away from, so that a hung backend cannot hold it. A wrapper (codec.Bind,
// tierstore) reports what the stores it wraps report.
type NonBlocking interface {
	NeverBlocks() bool
}

// NeverBlocks reports whether s declares that its calls never block (see
// NonBlocking).
func NeverBlocks(s any) bool {
	nb, ok := s.(NonBlocking)
	return ok && nb.NeverBlocks()
}

// ErrWouldBlock is returned by TryGet when it cannot answer without a call
// that may block; the caller then makes the ordinary Get. No other method
// returns it.
var ErrWouldBlock = errors.New("store: lookup would block")

// TryGetter is implemented by stores that may block (they are not
// NonBlocking) but can answer some lookups without waiting: diskstore,
// for an entry whose file it keeps open and whose bytes are in the page
// cache. The cache asks TryGet first, on the request's goroutine with no
// deadline of its own, and makes the ordinary Get, under its deadline,
// only when TryGet returns ErrWouldBlock; so a hit that needs no I/O costs
// no hand-over to another goroutine.
//
// TryGet must not make any call that may wait on a device, the network,
// another process, or a lock held across such a call. When it would have
// to, it returns ErrWouldBlock and leaves the store as it found it, but
// for what a lookup notes for itself, such as recency. Otherwise it
// returns exactly what Get would have returned: the value, an error
// matching ErrNotFound, or the error.
type TryGetter[K comparable, V any] interface {
	TryGet(ctx context.Context, key K) (V, error)
}

// TryGetterSource is implemented by stores that wrap another (codec.Bind,
// sign, seal, tierstore) to hand out a TryGetter that reads through them,
// when the store beneath them has one.
type TryGetterSource[K comparable, V any] interface {
	// TryGetter returns a TryGetter that reads through the wrapper, and
	// false when the wrapped store has none.
	TryGetter() (TryGetter[K, V], bool)
}

// TryGetterOf returns the TryGetter s offers: s itself when it is a
// TryGetter[K, V], or what its TryGetter method returns when it is a
// TryGetterSource[K, V]. ok is false when s cannot answer any lookup
// without blocking, or never blocks (NonBlocking), so that its Get is the
// call to make.
func TryGetterOf[K comparable, V any](s any) (t TryGetter[K, V], ok bool) {
	if NeverBlocks(s) {
		return nil, false
	}
	switch v := s.(type) {
	case TryGetter[K, V]:
		return v, true
	case TryGetterSource[K, V]:
		return v.TryGetter()
	}
	return nil, false
}

// Version names one stored value of one key, as a store that offers
// VersionedTryGetter hands it out. The zero Version names nothing.
type Version uint64

// ErrUnchanged is returned by TryGetVersion when the entry is still the
// very value the version it was given names: the caller may use the value
// it already holds. No other method returns it.
var ErrUnchanged = errors.New("store: entry unchanged")

// VersionedTryGetter is implemented by byte stores whose TryGet can tell
// that an entry is unchanged since a version the caller already holds,
// without reading it: diskstore, for an entry whose file it keeps open.
// codec.Bind uses it to keep the values it decoded, and to decode an entry
// again only when it has changed.
//
// TryGetVersion follows TryGet's contract (store.ErrWouldBlock when it
// would have to wait; otherwise exactly what Get would return), and also:
// when have is not zero and the entry is still the value have names, the
// same bytes for certain, it returns ErrUnchanged without reading them;
// otherwise it returns the value and a Version naming it, or the zero
// Version if it cannot name one. A store never hands out the same
// Version for different bytes while it is open.
type VersionedTryGetter[K comparable] interface {
	TryGetVersion(ctx context.Context, key K, have Version) (value []byte, v Version, err error)
}

// VersionedTryGetterSource is implemented by byte stores that wrap
// another (sign, seal) to hand out a VersionedTryGetter that reads through
// them, when the store beneath them has one.
type VersionedTryGetterSource[K comparable] interface {
	// VersionedTryGetter returns a VersionedTryGetter that reads through
	// the wrapper, and false when the wrapped store has none.
	VersionedTryGetter() (VersionedTryGetter[K], bool)
}

// VersionedTryGetterOf returns the VersionedTryGetter s offers: s itself
// when it is one, or what its VersionedTryGetter method returns when it
// is a VersionedTryGetterSource. ok is false when it offers none, or
// never blocks (NonBlocking), so that its Get is the call to make.
func VersionedTryGetterOf[K comparable](s any) (t VersionedTryGetter[K], ok bool) {
	if NeverBlocks(s) {
		return nil, false
	}
	switch v := s.(type) {
	case VersionedTryGetter[K]:
		return v, true
	case VersionedTryGetterSource[K]:
		return v.VersionedTryGetter()
	}
	return nil, false
}
