package seal_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/codec"
	"github.com/cachestack/cachestack/internal/wraptest"
	"github.com/cachestack/cachestack/seal"
	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/diskstore"
	"github.com/cachestack/cachestack/store/memstore"
	"github.com/cachestack/cachestack/store/storetest"
)

func newMem(t testing.TB, clk *storetest.Clock) *memstore.Store[string, []byte] {
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
	clk := storetest.NewClock()
	sealer := newSealer(t, testKey(0), testKey(1))
	h := storetest.Bytes(func(t *testing.T) store.Store[string, []byte] {
		return seal.Wrap(newMem(t, clk), sealer)
	})
	h.Advance = clk.Advance
	storetest.Run(t, h)
	require.Zero(t, sealer.Stats().Rejected, "the suite only reads what it wrote")
	require.NotZero(t, sealer.Stats().Opened)
}

// TestConformanceDisk runs the suite over a sealed diskstore, a byte store
// that persists.
func TestConformanceDisk(t *testing.T) {
	clk := storetest.NewClock()
	sealer := newSealer(t, testKey(0))
	h := storetest.Bytes(func(t *testing.T) store.Store[string, []byte] {
		d, err := diskstore.New(t.TempDir(), &diskstore.Options{Clock: clk.Now})
		require.NoError(t, err)
		return seal.Wrap(d, sealer)
	})
	h.Advance = clk.Advance
	storetest.Run(t, h)
	require.Zero(t, sealer.Stats().Rejected, "the suite only reads what it wrote")
}

// TestConformanceMinimal runs the suite over a store that can neither list
// nor clear. Wrap always has Keys and Clear, which then say
// errors.ErrUnsupported; the suite sees the store through minimal, so that
// it skips listing and clearing.
func TestConformanceMinimal(t *testing.T) {
	clk := storetest.NewClock()
	sealer := newSealer(t, testKey(0))
	h := storetest.Bytes(func(t *testing.T) store.Store[string, []byte] {
		return minimal{seal.Wrap(minimal{newMem(t, clk)}, sealer)}
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
	st := seal.Wrap(minimal{newMem(t, nil)}, newSealer(t, testKey(0)))
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

// rawStore returns a sealed store and the store under it.
func rawStore(t testing.TB, sealer *seal.Sealer) (*seal.Store[string], *memstore.Store[string, []byte]) {
	t.Helper()
	inner := newMem(t, nil)
	st := seal.Wrap(inner, sealer)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	return st, inner
}

func TestStoreEntryMovedToAnotherKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sealer := newSealer(t, testKey(0))
	st, inner := rawStore(t, sealer)
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
	require.Equal(t, seal.Stats{Sealed: 2, Opened: 1, Rejected: 1}, sealer.Stats())
}

func TestStoreRejected(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sealer := newSealer(t, testKey(0))
	st, inner := rawStore(t, sealer)
	const key = "GET https://example.com/a"
	data := []byte("a response with a body")
	require.NoError(t, st.Set(ctx, key, data, 0))
	sealed, err := inner.Get(ctx, key)
	require.NoError(t, err)

	var bad [][]byte
	for i := range sealed { // every byte flipped in turn
		b := bytes.Clone(sealed)
		b[i] ^= 0xff
		bad = append(bad, b)
	}
	for n := range len(sealed) { // every truncation
		bad = append(bad, bytes.Clone(sealed[:n]))
	}
	bad = append(bad,
		append(bytes.Clone(sealed), 0),           // extended
		append(bytes.Clone(sealed), sealed...),   // doubled
		data,                                     // plaintext
		[]byte{},                                 // empty
		newSealer(t, testKey(1)).Seal(key, data), // an unknown key
		newSealer(t, testKey(1), testKey(0)).Seal("", data), // another store key
	)
	for i, b := range bad {
		require.NoError(t, inner.Set(ctx, key, b, 0), "raw Set %d", i)
		got, err := st.Get(ctx, key)
		requireRejected(t, got, err, "bad entry %d: %x", i, b)
		var se *store.Error
		require.ErrorAs(t, err, &se)
		require.Equal(t, "seal", se.Store)
		require.Equal(t, "get", se.Op)
		require.Equal(t, key, se.Key)
	}
	require.Equal(t, seal.Stats{Sealed: 1, Rejected: uint64(len(bad))}, sealer.Stats(), "every rejection is counted")

	// Restored, it opens again.
	require.NoError(t, inner.Set(ctx, key, sealed, 0))
	got, err := st.Get(ctx, key)
	require.NoError(t, err)
	require.Equal(t, data, got)
}

func TestStoreMissIsBare(t *testing.T) {
	st, _ := rawStore(t, newSealer(t, testKey(0)))
	_, err := st.Get(context.Background(), "missing")
	require.Same(t, store.ErrNotFound, err, "a miss is returned as the bare sentinel")
	require.Zero(t, testing.AllocsPerRun(100, func() { _, _ = st.Get(context.Background(), "missing") }))
}

// TestStoreGetAllocs checks that Get costs one allocation on a hit: over
// a store that copies (Get only), it decrypts in place, over that copy;
// over a store that lends its bytes (memstore, a store.Viewer), it
// decrypts them into a new slice instead of copying them first. A failed
// decryption adds nothing in place, and the output it was to fill when
// decrypting lent bytes.
func TestStoreGetAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	ctx := context.Background()
	sealer := newSealer(t, testKey(0))
	lending, inner := rawStore(t, sealer)
	copying := seal.Wrap(minimal{inner}, sealer)
	require.NoError(t, lending.Set(ctx, "a", bytes.Repeat([]byte{1}, 1<<10), 0))
	raw, err := inner.Get(ctx, "a")
	require.NoError(t, err)
	raw[len(raw)-1] ^= 1
	require.NoError(t, inner.Set(ctx, "bad", raw, 0))
	require.NoError(t, inner.Set(ctx, "short", []byte("short"), 0))
	_, _ = lending.Get(ctx, "a") // fill the pool
	require.Equal(t, 1.0, testing.AllocsPerRun(100, func() { _, _ = inner.Get(ctx, "a") }), "memstore's own copy")
	require.Zero(t, testing.AllocsPerRun(100, func() { _, _ = inner.View(ctx, "a") }), "memstore's View")
	for _, tt := range []struct {
		name      string
		st        *seal.Store[string]
		failExtra float64 // what a failed decryption allocates
	}{
		{"copying", copying, 0},
		{"lending", lending, 1},
	} {
		require.Equal(t, 1.0, testing.AllocsPerRun(100, func() { _, _ = tt.st.Get(ctx, "a") }), "%s: Get of an entry that opens", tt.name)
		// A rejection allocates its *store.Error as well (store.Wrap's
		// cost): compare with one rejected before decryption.
		_, err = tt.st.Get(ctx, "bad")
		require.ErrorIs(t, err, seal.ErrInvalid)
		require.Equal(t,
			testing.AllocsPerRun(100, func() { _, _ = tt.st.Get(ctx, "short") })+tt.failExtra,
			testing.AllocsPerRun(100, func() { _, _ = tt.st.Get(ctx, "bad") }),
			"%s: Get of an entry that fails authentication", tt.name)
	}
}

// TestStoreGetOwnsBytes checks that decrypting never writes into bytes the
// wrapped store still holds, those memstore lends through View included: a
// second Get returns the same value.
func TestStoreGetOwnsBytes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, inner := rawStore(t, newSealer(t, testKey(0)))
	require.NoError(t, st.Set(ctx, "a", []byte("value"), 0))
	before, err := inner.Get(ctx, "a")
	require.NoError(t, err)
	for range 3 {
		got, err := st.Get(ctx, "a")
		require.NoError(t, err)
		require.Equal(t, []byte("value"), got)
		got[0] = 'X' // the caller owns what Get returned
	}
	after, err := inner.Get(ctx, "a")
	require.NoError(t, err)
	require.Equal(t, before, after, "the stored entry is unchanged")
}

// TestStoreUnderCodec stacks the store the way a cache does and checks that
// a tampered entry reaches the cache as an undecodable entry.
func TestStoreUnderCodec(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sealer := newSealer(t, testKey(0))
	sealed, inner := rawStore(t, sealer)
	st := codec.Bind(sealed, codec.Response())
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
	require.Equal(t, want.URL, got.URL)

	raw, err := inner.Get(ctx, key)
	require.NoError(t, err)
	raw[len(raw)-20] ^= 1 // a ciphertext byte
	require.NoError(t, inner.Set(ctx, key, raw, 0))
	got, err = st.Get(ctx, key)
	require.ErrorIs(t, err, codec.ErrFormat, "the cache deletes and counts undecodable entries")
	require.ErrorIs(t, err, seal.ErrInvalid)
	require.Nil(t, got)
}

// hidden hides every capability of the store it holds but the Store
// methods.
// TestStoreDeclares: a sealed store never blocks when the store it wraps never
// blocks, and stands for its values (see wraptest.Declares).
func TestStoreDeclares(t *testing.T) {
	t.Parallel()
	k := newSealer(t, testKey(0))
	wraptest.Declares(t, func(s store.Store[string, []byte]) store.Store[string, []byte] { return seal.Wrap(s, k) })
}

// TestStoreTryGetter: the wrapper hands out a TryGetter only over a store
// that has one, and its TryGet answers as Get does, or not at all (see
// wraptest.TryGetter).
func TestStoreTryGetter(t *testing.T) {
	t.Parallel()
	k := newSealer(t, testKey(0))
	wraptest.TryGetter(t, func(s store.Store[string, []byte]) store.Store[string, []byte] { return seal.Wrap(s, k) }, seal.ErrInvalid)
}

// TestStoreVersionedTryGetter: the wrapper hands out a VersionedTryGetter
// only over a store that may block and has one, and passes its versions
// on (see wraptest.VersionedTryGetter).
func TestStoreVersionedTryGetter(t *testing.T) {
	t.Parallel()
	k := newSealer(t, testKey(0))
	wraptest.VersionedTryGetter(t, func(s store.Store[string, []byte]) store.Store[string, []byte] { return seal.Wrap(s, k) }, seal.ErrInvalid)
}
