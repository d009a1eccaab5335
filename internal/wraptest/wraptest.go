// Package wraptest checks what a byte-store wrapper that authenticates
// the values it returns (sign.Wrap, seal.Wrap) declares about itself and
// passes on from the store it wraps. The tests of both run it.
package wraptest

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/codec"
	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/memstore"
)

// Wrap wraps a byte store, as sign.Wrap or seal.Wrap with a key does.
type Wrap func(store.Store[string, []byte]) store.Store[string, []byte]

// hidden hides every optional interface of the store it holds: it may
// block, lists nothing, checks nothing, answers no TryGet.
type hidden struct{ store.Store[string, []byte] }

// trying is a store that may block (hidden) and is a store.TryGetter:
// TryGet reads it, or, refusing, returns store.ErrWouldBlock.
type trying struct {
	hidden
	refuse bool
}

func (s trying) TryGet(ctx context.Context, key string) ([]byte, error) {
	if s.refuse {
		return nil, store.ErrWouldBlock
	}
	return s.Get(ctx, key)
}

func newMem(t *testing.T) *memstore.Store[string, []byte] {
	t.Helper()
	m, err := memstore.New[string, []byte](nil)
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	return m
}

// Declares checks that the wrapper never blocks when the store it wraps
// never blocks, so that the cache calls it without a guard; and that it
// stands for its values, which reach the caller only once authenticated,
// so that codec.Bind skips the entry's CRC-32C (shown by an entry whose
// checksum field was damaged before it was wrapped: decoded over the
// wrapper, refused over the same wrapper with its capabilities hidden).
func Declares(t *testing.T, wrap Wrap) {
	t.Helper()
	ctx := t.Context()
	inner := newMem(t)
	require.True(t, store.NeverBlocks(wrap(inner)))
	require.False(t, store.NeverBlocks(wrap(hidden{inner})))

	r := &cached.Response{Method: http.MethodGet, URL: "https://example.com/a", StatusCode: http.StatusOK, Proto: "HTTP/1.1", Body: []byte("hello")}
	b, err := codec.Response().Marshal(r)
	require.NoError(t, err)
	b[5] ^= 0xff // in the checksum field
	wrapped := wrap(hidden{inner})
	require.NoError(t, wrapped.Set(ctx, "k", b, 0))
	got, err := codec.Bind(wrapped, codec.Response()).Get(ctx, "k")
	require.NoError(t, err)
	require.Equal(t, r.Body, got.Body)
	_, err = codec.Bind(hidden{wrapped}, codec.Response()).Get(ctx, "k")
	require.ErrorIs(t, err, codec.ErrChecksum)
}

// TryGetter checks that the wrapper hands out a store.TryGetter only over
// a store that may block and has one, and that its TryGet answers as Get
// does (a value it did not write is invalid, matching invalid), or not at
// all.
func TryGetter(t *testing.T, wrap Wrap, invalid error) {
	t.Helper()
	ctx := t.Context()
	inner := newMem(t)
	_, ok := store.TryGetterOf[string, []byte](wrap(inner))
	require.False(t, ok, "over a store that never blocks")
	_, ok = store.TryGetterOf[string, []byte](wrap(hidden{inner}))
	require.False(t, ok, "over a store without TryGet")

	s := wrap(trying{hidden: hidden{inner}})
	require.NoError(t, s.Set(ctx, "k", []byte("v"), 0))
	require.NoError(t, inner.Set(ctx, "forged", []byte("not protected"), 0))
	g, ok := store.TryGetterOf[string, []byte](s)
	require.True(t, ok)
	v, err := g.TryGet(ctx, "k")
	require.NoError(t, err)
	require.Equal(t, "v", string(v))
	_, err = g.TryGet(ctx, "missing")
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = g.TryGet(ctx, "forged")
	require.ErrorIs(t, err, invalid)

	g, ok = store.TryGetterOf[string, []byte](wrap(trying{hidden: hidden{inner}, refuse: true}))
	require.True(t, ok)
	_, err = g.TryGet(ctx, "k")
	require.ErrorIs(t, err, store.ErrWouldBlock)
}

// versioned is a store that may block (hidden) and is a
// store.VersionedTryGetter: each key's version is the count of its Sets
// through it, plus one.
type versioned struct {
	hidden
	vers map[string]store.Version
}

func (s *versioned) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	s.vers[key]++
	return s.hidden.Set(ctx, key, value, ttl)
}

func (s *versioned) TryGetVersion(ctx context.Context, key string, have store.Version) ([]byte, store.Version, error) {
	cur := s.vers[key] + 1
	if have != 0 && have == cur {
		return nil, cur, store.ErrUnchanged
	}
	v, err := s.Get(ctx, key)
	if err != nil {
		return nil, 0, err
	}
	return v, cur, nil
}

// VersionedTryGetter checks that the wrapper hands out a
// store.VersionedTryGetter only over a store that may block and has one;
// that its TryGetVersion answers as Get does, with the wrapped store's
// version, passes store.ErrUnchanged on for that version, and returns no
// version with a value it did not write (invalid); and that codec.Bind
// over it decodes an unchanged entry once.
func VersionedTryGetter(t *testing.T, wrap Wrap, invalid error) {
	t.Helper()
	ctx := t.Context()
	inner := newMem(t)
	_, ok := store.VersionedTryGetterOf[string](wrap(inner))
	require.False(t, ok, "over a store that never blocks")
	_, ok = store.VersionedTryGetterOf[string](wrap(trying{hidden: hidden{inner}}))
	require.False(t, ok, "over a store without TryGetVersion")

	vs := &versioned{hidden: hidden{inner}, vers: map[string]store.Version{}}
	s := wrap(vs)
	require.NoError(t, s.Set(ctx, "k", []byte("v"), 0))
	require.NoError(t, vs.Set(ctx, "forged", []byte("not protected"), 0))
	g, ok := store.VersionedTryGetterOf[string](s)
	require.True(t, ok)
	v, ver, err := g.TryGetVersion(ctx, "k", 0)
	require.NoError(t, err)
	require.Equal(t, "v", string(v))
	require.Equal(t, vs.vers["k"]+1, ver)
	_, got, err := g.TryGetVersion(ctx, "k", ver)
	require.ErrorIs(t, err, store.ErrUnchanged)
	require.Equal(t, ver, got)
	_, _, err = g.TryGetVersion(ctx, "missing", 0)
	require.ErrorIs(t, err, store.ErrNotFound)
	_, ver, err = g.TryGetVersion(ctx, "forged", 0)
	require.ErrorIs(t, err, invalid)
	require.Zero(t, ver)

	r := &cached.Response{Method: http.MethodGet, URL: "https://example.com/a", StatusCode: http.StatusOK, Proto: "HTTP/1.1", Body: []byte("hello")}
	b := codec.Bind(s, codec.Response())
	require.NoError(t, b.Set(ctx, "r", r, 0))
	tg, ok := store.TryGetterOf[string, *cached.Response](b)
	require.True(t, ok)
	first, err := tg.TryGet(ctx, "r")
	require.NoError(t, err)
	require.Equal(t, r.Body, first.Body)
	again, err := tg.TryGet(ctx, "r")
	require.NoError(t, err)
	require.Same(t, first, again, "codec.Bind over the wrapper keeps what it decoded")
}
