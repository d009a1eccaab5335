package codec

import (
	"context"
	"errors"
	"iter"
	"time"

	"github.com/cachestack/cachestack/store"
)

// Bound is a typed store over a byte store: it encodes values with a Codec
// on Set and decodes them on Get. It is safe for concurrent use when the
// byte store and the codec are.
type Bound[K comparable, V any] struct {
	s store.Store[K, []byte]
	c Codec[V]
	// unchecked decodes without the codec's checksum: set when the
	// byte store checks its values itself (SelfChecking) and the codec
	// can skip its own check.
	unchecked func([]byte) (V, error)
	// view is the byte store's View, set when it is a store.Viewer and
	// the codec preserves its input (InputPreserving): Get then decodes
	// the store's own bytes, without the copy its Get makes.
	view func(context.Context, K) ([]byte, error)
}

// SelfChecking is implemented by byte stores that stand for the integrity
// of the bytes their Get returns: diskstore verifies a CRC-32C of every
// value it reads; bigcachestore's bytes never leave the process's memory,
// where a typed store's entries are not checked either. Bind over such a
// store decodes Response entries without verifying their checksum a
// second time, which for a large body is most of a hit's cost. Entries
// still carry the checksum, so they stay verifiable when copied elsewhere.
type SelfChecking interface {
	// ChecksValues reports whether the store verifies, or never exposes
	// to damage, the bytes Get returns.
	ChecksValues() bool
}

// InputPreserving is implemented by codecs whose Unmarshal never writes
// into the bytes it is given: it may keep references into them (Response
// does, for the body), but it neither modifies them nor appends to them.
// Bind hands such a codec the bytes of a store.Viewer as the store holds
// them, shared and read-only, instead of a copy of them. Response is
// InputPreserving; sign.Codec is when the codec it wraps is; seal.Codec,
// which decrypts in place, is not.
type InputPreserving interface {
	// PreservesInput reports whether Unmarshal leaves its input as it
	// was.
	PreservesInput() bool
}

// PreservesInput reports true (InputPreserving): Unmarshal only reads its
// input, and its Body aliases it.
func (responseCodec) PreservesInput() bool { return true }

// uncheckedCodec is implemented by codecs that can decode without their
// integrity check, for a store that makes its own (SelfChecking).
type uncheckedCodec[V any] interface {
	unmarshalUnchecked(b []byte) (V, error)
}

var (
	_ store.Store[string, int] = (*Bound[string, int])(nil)
	_ store.Lister[string]     = (*Bound[string, int])(nil)
	_ store.Clearer            = (*Bound[string, int])(nil)
	_ store.Clocked            = (*Bound[string, int])(nil)

	_ store.TryGetterSource[string, int] = (*Bound[string, int])(nil)
)

// Bind lifts a byte store into a typed one. The returned store also has
// Keys and Clear, which pass through to the byte store when it implements
// store.Lister[K] or store.Clearer and otherwise yield or return
// errors.ErrUnsupported.
//
// Ownership: Get hands the bytes the store returned to the codec, which may
// keep references into them (Response does, for the body); the byte store
// contract guarantees those bytes are the caller's. When the byte store is a
// store.Viewer[K, []byte] and the codec is InputPreserving, Get reads
// through View instead, so that a hit copies nothing: the value it returns
// may then share memory with the store (Response's Body does), read-only,
// as a typed in-memory store's values do. Set hands the store the freshly
// encoded bytes.
//
// Over a store that is SelfChecking, Response's entries are decoded
// without verifying their checksum again (the store has). Over a store
// that can answer some lookups without blocking (store.TryGetter, such as
// diskstore), the returned store hands out a TryGetter too (see
// TryGetter), so that the cache decodes such a hit on the request's
// goroutine; over one that can also tell an entry is unchanged
// (store.VersionedTryGetter, diskstore on Linux), that TryGetter keeps
// what it decoded, and a hit of an unchanged entry is neither read nor
// decoded again.
func Bind[K comparable, V any](s store.Store[K, []byte], c Codec[V]) *Bound[K, V] {
	b := &Bound[K, V]{s: s, c: c}
	if v, ok := s.(store.Viewer[K, []byte]); ok {
		if p, ok := c.(InputPreserving); ok && p.PreservesInput() {
			b.view = v.View
		}
	}
	if sc, ok := s.(SelfChecking); ok && sc.ChecksValues() {
		if u, ok := c.(uncheckedCodec[V]); ok {
			b.unchecked = u.unmarshalUnchecked
		}
	}
	return b
}

// Get returns the decoded value stored under key. Errors from the byte store
// are returned unchanged (a miss stays a bare store.ErrNotFound). A value
// that fails to decode is returned as a *store.Error matching ErrFormat,
// which the caller treats as a miss.
func (b *Bound[K, V]) Get(ctx context.Context, key K) (V, error) {
	var (
		raw []byte
		err error
	)
	if b.view != nil {
		raw, err = b.view(ctx, key)
	} else {
		raw, err = b.s.Get(ctx, key)
	}
	return b.decode(key, raw, err)
}

// decode returns the value raw holds, as Get returns it: err, the byte
// store's, unchanged; a value that fails to decode as a *store.Error
// matching ErrFormat.
func (b *Bound[K, V]) decode(key K, raw []byte, err error) (V, error) {
	if err != nil {
		var zero V
		return zero, err
	}
	var v V
	if b.unchecked != nil {
		v, err = b.unchecked(raw)
	} else {
		v, err = b.c.Unmarshal(raw)
	}
	if err != nil {
		var zero V
		return zero, store.Wrap("codec", "get", key, formatError(err))
	}
	return v, nil
}

// Set encodes value and stores it under key with the given ttl. An encoding
// failure is returned as a *store.Error and nothing is stored.
func (b *Bound[K, V]) Set(ctx context.Context, key K, value V, ttl time.Duration) error {
	raw, err := b.c.Marshal(value)
	if err != nil {
		return store.Wrap("codec", "set", key, err)
	}
	return b.s.Set(ctx, key, raw, ttl)
}

// Delete removes key from the byte store.
func (b *Bound[K, V]) Delete(ctx context.Context, key K) error {
	return b.s.Delete(ctx, key)
}

// Close closes the byte store.
func (b *Bound[K, V]) Close() error { return b.s.Close() }

// Keys passes through to the byte store's Keys when it is a store.Lister[K];
// otherwise it yields errors.ErrUnsupported once, with the zero key.
func (b *Bound[K, V]) Keys(ctx context.Context) iter.Seq2[K, error] {
	if l, ok := b.s.(store.Lister[K]); ok {
		return l.Keys(ctx)
	}
	return func(yield func(K, error) bool) {
		var zero K
		yield(zero, errors.ErrUnsupported)
	}
}

// NeverBlocks reports whether the byte store declares that its calls never
// block (store.NonBlocking); decoding itself does not wait.
func (b *Bound[K, V]) NeverBlocks() bool { return store.NeverBlocks(b.s) }

// Clear passes through to the byte store's Clear when it is a
// store.Clearer; otherwise it returns errors.ErrUnsupported.
func (b *Bound[K, V]) Clear(ctx context.Context) error {
	if c, ok := b.s.(store.Clearer); ok {
		return c.Clear(ctx)
	}
	return errors.ErrUnsupported
}

// UseClock gives now to the byte store when it is a store.Clocked, and
// reports whether the byte store uses it; see store.Clocked.
func (b *Bound[K, V]) UseClock(now func() time.Time) bool { return store.UseClock(b.s, now) }

// Leaser hands out the byte store's store.Leaser, when it has one, so that
// a typed store over a shared one can take part in coalescing across
// processes (see store.LeaserOf).
func (b *Bound[K, V]) Leaser() (store.Leaser[K], bool) { return store.LeaserOf[K](b.s) }

// TryGetter hands out a store.TryGetter that decodes what the byte
// store's TryGetter answers, when the byte store has one (see
// store.TryGetterOf): decoding only computes, so it answers whenever the
// byte store does, with what Get would return.
//
// When the byte store can tell that an entry is unchanged
// (store.VersionedTryGetter, as diskstore can), the TryGetter keeps the
// values it decoded, up to MemoEntries values and MemoBytes of their
// encoded size, and hands the same value out again, without reading or
// decoding the entry, for as long as the byte store answers
// store.ErrUnchanged. Such values are shared between callers, as a typed
// in-memory store's are, and must not be changed (cached.Response never
// is once stored). A change to the entry, through this store or any
// other, gives it a new version, so nothing needs to be let go by hand.
func (b *Bound[K, V]) TryGetter() (store.TryGetter[K, V], bool) {
	if vt, ok := store.VersionedTryGetterOf[K](b.s); ok {
		return &memoTryGetter[K, V]{b: b, inner: vt, memo: newMemo[K, V](MemoEntries, MemoBytes)}, true
	}
	t, ok := store.TryGetterOf[K, []byte](b.s)
	if !ok {
		return nil, false
	}
	return &boundTryGetter[K, V]{b: b, inner: t}, true
}

type boundTryGetter[K comparable, V any] struct {
	b     *Bound[K, V]
	inner store.TryGetter[K, []byte]
}

// TryGet decodes the byte store's answer to TryGet; store.ErrWouldBlock is
// returned unchanged.
func (t *boundTryGetter[K, V]) TryGet(ctx context.Context, key K) (V, error) {
	raw, err := t.inner.TryGet(ctx, key)
	return t.b.decode(key, raw, err)
}

// Batcher hands out a store.Batcher that encodes each item and writes the
// batch with the byte store's SetMany, when the byte store is (or wraps)
// a store.Batcher (see store.BatcherOf). An item that fails to encode is
// refused alone, as Set refuses it.
func (b *Bound[K, V]) Batcher() (store.Batcher[K, V], bool) {
	inner, ok := store.BatcherOf[K, []byte](b.s)
	if !ok {
		return nil, false
	}
	return &boundBatcher[K, V]{b: b, inner: inner}, true
}

type boundBatcher[K comparable, V any] struct {
	b     *Bound[K, V]
	inner store.Batcher[K, []byte]
}

// SetMany encodes the items and stores those that encode in one SetMany
// of the byte store.
func (bb *boundBatcher[K, V]) SetMany(ctx context.Context, items []store.Item[K, V]) error {
	raw := make([]store.Item[K, []byte], 0, len(items))
	var errs []error // nil until an item fails to encode
	for i, it := range items {
		v, err := bb.b.c.Marshal(it.Value)
		if err != nil {
			if errs == nil {
				errs = make([]error, len(items))
			}
			errs[i] = store.Wrap("codec", "set", it.Key, err)
			continue
		}
		raw = append(raw, store.Item[K, []byte]{Key: it.Key, Value: v, TTL: it.TTL})
	}
	if errs == nil {
		return bb.inner.SetMany(ctx, raw)
	}
	if len(raw) == 0 {
		return store.BatchResult(errs)
	}
	// Spread the byte store's answer over the items that were encoded.
	inner := store.ItemErrors(bb.inner.SetMany(ctx, raw), len(raw))
	j := 0
	for i := range errs {
		if errs[i] == nil {
			errs[i] = inner[j]
			j++
		}
	}
	return store.BatchResult(errs)
}
