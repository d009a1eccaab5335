package sign_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/codec"
	"github.com/cachestack/cachestack/internal/wraptest"
	"github.com/cachestack/cachestack/sign"
	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/memstore"
	"github.com/cachestack/cachestack/store/storetest"
)

// clock is a fake clock for memstore.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newMem(t testing.TB, clk *clock) *memstore.Store[string, []byte] {
	t.Helper()
	opts := &memstore.Options[[]byte]{}
	if clk != nil {
		opts.Clock = clk.Now
	}
	m, err := memstore.New[string](opts)
	require.NoError(t, err)
	return m
}

func TestConformance(t *testing.T) {
	clk := newClock()
	signer := newSigner(t, secret(0), secret(1))
	h := storetest.Bytes(func(t *testing.T) store.Store[string, []byte] {
		return sign.Wrap(newMem(t, clk), signer)
	})
	h.Advance = clk.Advance
	storetest.Run(t, h)
	require.Zero(t, signer.Stats().Rejected, "the suite only reads what it wrote")
}

// TestConformanceMinimal runs the suite over a store that can neither list
// nor clear. Wrap always has Keys and Clear, which then say
// errors.ErrUnsupported; the suite sees the store through minimal, so that
// it skips listing and clearing.
func TestConformanceMinimal(t *testing.T) {
	clk := newClock()
	signer := newSigner(t, secret(0))
	h := storetest.Bytes(func(t *testing.T) store.Store[string, []byte] {
		return minimal{sign.Wrap(minimal{newMem(t, clk)}, signer)}
	})
	h.Advance = clk.Advance
	h.Lacks = map[storetest.Capability]string{
		storetest.Listing:  "the wrapped store cannot list",
		storetest.Clearing: "the wrapped store cannot clear",
	}
	storetest.Run(t, h)
}

func TestStoreUnsupported(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := sign.Wrap(minimal{newMem(t, nil)}, newSigner(t, secret(0)))
	defer st.Close()
	require.ErrorIs(t, st.Clear(ctx), errors.ErrUnsupported)
	n := 0
	for k, err := range st.Keys(ctx) {
		require.ErrorIs(t, err, errors.ErrUnsupported)
		require.Empty(t, k)
		n++
	}
	require.Equal(t, 1, n, "Keys yields one error")
}

// minimal hides everything but store.Store.
type minimal struct{ store.Store[string, []byte] }

// rawStore returns a signed store and the store under it.
func rawStore(t testing.TB, signer *sign.Signer) (*sign.Store[string], *memstore.Store[string, []byte]) {
	t.Helper()
	inner := newMem(t, nil)
	st := sign.Wrap(inner, signer)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	return st, inner
}

func TestStoreEntryMovedToAnotherKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	signer := newSigner(t, secret(0))
	st, inner := rawStore(t, signer)
	require.NoError(t, st.Set(ctx, "GET https://example.com/a", []byte("response a"), 0))
	require.NoError(t, st.Set(ctx, "GET https://example.com/b", []byte("response b"), 0))

	// Someone with write access copies a's entry over b's.
	raw, err := inner.Get(ctx, "GET https://example.com/a")
	require.NoError(t, err)
	require.NoError(t, inner.Set(ctx, "GET https://example.com/b", raw, 0))

	got, err := st.Get(ctx, "GET https://example.com/b")
	requireRejected(t, got, err, "an entry copied from another key")
	got, err = st.Get(ctx, "GET https://example.com/a")
	require.NoError(t, err, "the original is untouched")
	require.Equal(t, []byte("response a"), got)
	require.Equal(t, sign.Stats{Verified: 1, Rejected: 1}, signer.Stats())
}

func TestStoreRejected(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	signer := newSigner(t, secret(0))
	st, inner := rawStore(t, signer)
	const key = "GET https://example.com/a"
	data := []byte("a response with a body")
	require.NoError(t, st.Set(ctx, key, data, 0))
	signed, err := inner.Get(ctx, key)
	require.NoError(t, err)

	var bad [][]byte
	for i := range signed { // every byte flipped in turn
		b := bytes.Clone(signed)
		b[i] ^= 0xff
		bad = append(bad, b)
	}
	for n := range len(signed) { // every truncation
		bad = append(bad, bytes.Clone(signed[:n]))
	}
	bad = append(bad,
		append(bytes.Clone(signed), 0),          // extended
		append(bytes.Clone(signed), signed...),  // doubled
		data,                                    // unsigned
		[]byte{},                                // unsigned, empty
		newSigner(t, secret(1)).Sign(key, data), // an unknown secret
		newSigner(t, secret(1), secret(0)).Sign("", data), // another key
	)
	for i, b := range bad {
		require.NoError(t, inner.Set(ctx, key, b, 0), "raw Set %d", i)
		got, err := st.Get(ctx, key)
		requireRejected(t, got, err, "bad entry %d: %x", i, b)
		var se *store.Error
		require.ErrorAs(t, err, &se)
		require.Equal(t, "sign", se.Store)
		require.Equal(t, "get", se.Op)
		require.Equal(t, key, se.Key)
	}
	require.Equal(t, sign.Stats{Rejected: uint64(len(bad))}, signer.Stats(), "every rejection is counted")

	// Restored, it verifies again.
	require.NoError(t, inner.Set(ctx, key, signed, 0))
	got, err := st.Get(ctx, key)
	require.NoError(t, err)
	require.Equal(t, data, got)
}

func TestStoreMissIsBare(t *testing.T) {
	st, _ := rawStore(t, newSigner(t, secret(0)))
	_, err := st.Get(context.Background(), "missing")
	require.Same(t, store.ErrNotFound, err, "a miss is returned as the bare sentinel")
	require.Zero(t, testing.AllocsPerRun(100, func() { _, _ = st.Get(context.Background(), "missing") }))
}

// TestStoreUnderCodec stacks the store the way a cache does and checks that
// a tampered entry reaches the cache as an undecodable entry.
func TestStoreUnderCodec(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	signer := newSigner(t, secret(0))
	signed, inner := rawStore(t, signer)
	st := codec.Bind(signed, codec.Response())
	const key = "GET https://example.com/a"
	want := &cached.Response{
		Method: http.MethodGet, URL: "https://example.com/a", StatusCode: http.StatusOK, Proto: "HTTP/1.1",
		Header: cached.NewHeader(http.Header{"Content-Type": {"text/plain"}}), Body: []byte("hello"),
	}
	require.NoError(t, st.Set(ctx, key, want, 0))
	got, err := st.Get(ctx, key)
	require.NoError(t, err)
	require.Equal(t, want.Body, got.Body)
	require.Equal(t, want.Header, got.Header)

	// Change the body in place: still a well-formed codec entry, but not
	// the one that was signed.
	raw, err := inner.Get(ctx, key)
	require.NoError(t, err)
	raw[len(raw)-1] = '!'
	require.NoError(t, inner.Set(ctx, key, raw, 0))
	got, err = st.Get(ctx, key)
	require.ErrorIs(t, err, codec.ErrFormat, "the cache deletes and counts undecodable entries")
	require.ErrorIs(t, err, sign.ErrInvalid)
	require.Nil(t, got)
}

// TestStoreView: over a store that lends its bytes (memstore), View
// verifies them and returns a sub-slice of them, not a copy; over one that
// does not, it is Get. Codec over a codec that preserves its input
// preserves it too, so codec.Bind reads either through View.
func TestStoreView(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	signer := newSigner(t, secret(0))
	inner := newMem(t, nil)
	st := sign.Wrap(inner, signer)
	value := bytes.Repeat([]byte("v"), 1<<10)
	require.NoError(t, st.Set(ctx, "k", value, 0))
	a, err := st.View(ctx, "k")
	require.NoError(t, err)
	b, err := st.View(ctx, "k")
	require.NoError(t, err)
	require.Equal(t, value, a)
	require.Same(t, &a[0], &b[0], "View copies")
	lent, err := inner.View(ctx, "k")
	require.NoError(t, err)
	require.Same(t, &lent[len(lent)-1], &a[len(a)-1], "View's value is not the wrapped store's bytes")
	require.Equal(t, len(a), cap(a), "View's value may be appended to in the store's memory")

	plain := sign.Wrap(struct{ store.Store[string, []byte] }{inner}, signer)
	c, err := plain.View(ctx, "k")
	require.NoError(t, err)
	require.Equal(t, value, c)
	require.NotSame(t, &a[0], &c[0], "View of a store without View lent bytes")

	require.True(t, sign.Codec(codec.Response(), signer, "r").(codec.InputPreserving).PreservesInput())
	require.False(t, sign.Codec(codec.CBOR[int](), signer, "r").(codec.InputPreserving).PreservesInput())
}

// hidden hides every capability of the store it holds but the Store
// methods.
// TestStoreDeclares: a signed store never blocks when the store it wraps never
// blocks, and stands for its values (see wraptest.Declares).
func TestStoreDeclares(t *testing.T) {
	t.Parallel()
	k := newSigner(t, secret(0))
	wraptest.Declares(t, func(s store.Store[string, []byte]) store.Store[string, []byte] { return sign.Wrap(s, k) })
}

// TestStoreTryGetter: the wrapper hands out a TryGetter only over a store
// that has one, and its TryGet answers as Get does, or not at all (see
// wraptest.TryGetter).
func TestStoreTryGetter(t *testing.T) {
	t.Parallel()
	k := newSigner(t, secret(0))
	wraptest.TryGetter(t, func(s store.Store[string, []byte]) store.Store[string, []byte] { return sign.Wrap(s, k) }, sign.ErrInvalid)
}

// TestStoreVersionedTryGetter: the wrapper hands out a VersionedTryGetter
// only over a store that may block and has one, and passes its versions
// on (see wraptest.VersionedTryGetter).
func TestStoreVersionedTryGetter(t *testing.T) {
	t.Parallel()
	k := newSigner(t, secret(0))
	wraptest.VersionedTryGetter(t, func(s store.Store[string, []byte]) store.Store[string, []byte] { return sign.Wrap(s, k) }, sign.ErrInvalid)
}
