package codec_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/codec"
	"github.com/cachestack/cachestack/store"
)

// versionedStore is a byteStore that is a store.VersionedTryGetter: each
// Set gives the key a new version; TryGetVersion answers ErrUnchanged for
// the current one, and otherwise reads the value, counting reads.
type versionedStore struct {
	*byteStore
	mu     sync.Mutex
	vers   map[string]store.Version
	next   store.Version
	refuse bool
	reads  atomic.Int64
}

func newVersionedStore() *versionedStore {
	return &versionedStore{byteStore: newByteStore(), vers: map[string]store.Version{}}
}

func (s *versionedStore) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	s.vers[key] = s.next
	return s.byteStore.Set(ctx, key, value, ttl)
}

func (s *versionedStore) Delete(ctx context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.vers, key)
	return s.byteStore.Delete(ctx, key)
}

func (s *versionedStore) TryGet(ctx context.Context, key string) ([]byte, error) {
	v, _, err := s.TryGetVersion(ctx, key, 0)
	return v, err
}

func (s *versionedStore) TryGetVersion(ctx context.Context, key string, have store.Version) ([]byte, store.Version, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refuse {
		return nil, 0, store.ErrWouldBlock
	}
	cur := s.vers[key]
	if have != 0 && have == cur {
		return nil, cur, store.ErrUnchanged
	}
	v, err := s.byteStore.Get(ctx, key)
	if err != nil {
		return nil, 0, err
	}
	s.reads.Add(1)
	return v, cur, nil
}

// countingCodec counts the values it decodes.
type countingCodec struct {
	codec.Codec[*cached.Response]
	decodes atomic.Int64
}

func (c *countingCodec) Unmarshal(b []byte) (*cached.Response, error) {
	c.decodes.Add(1)
	return c.Codec.Unmarshal(b)
}

func memoSetup(t *testing.T) (*versionedStore, *countingCodec, *codec.Bound[string, *cached.Response], store.TryGetter[string, *cached.Response]) {
	t.Helper()
	bs := newVersionedStore()
	c := &countingCodec{Codec: codec.Response()}
	s := codec.Bind[string](bs, codec.Codec[*cached.Response](c))
	g, ok := store.TryGetterOf[string, *cached.Response](s)
	require.True(t, ok)
	_, _, ok = codec.MemoLen(g)
	require.True(t, ok, "over a VersionedTryGetter, Bind's TryGetter keeps what it decodes")
	return bs, c, s, g
}

func response(body string) *cached.Response {
	return &cached.Response{Method: "GET", URL: "https://example.com/", StatusCode: 200, Body: []byte(body)}
}

// TestMemoUnchanged: a second TryGet of an unchanged entry reads and
// decodes nothing and returns the very value the first decoded; an entry
// changed since (through the store, or behind it) is decoded again.
func TestMemoUnchanged(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	bs, c, s, g := memoSetup(t)
	require.NoError(t, s.Set(ctx, "k", response("one"), 0))

	first, err := g.TryGet(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, "one", string(first.Body))
	for range 3 {
		got, err := g.TryGet(ctx, "k")
		require.NoError(t, err)
		assert.Same(t, first, got, "the value decoded first")
	}
	assert.EqualValues(t, 1, c.decodes.Load())
	assert.EqualValues(t, 1, bs.reads.Load())

	require.NoError(t, s.Set(ctx, "k", response("two"), 0))
	got, err := g.TryGet(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, "two", string(got.Body), "a new version is decoded")
	assert.EqualValues(t, 2, c.decodes.Load())
	again, err := g.TryGet(ctx, "k")
	require.NoError(t, err)
	assert.Same(t, got, again)
	assert.EqualValues(t, 2, c.decodes.Load())
}

// TestMemoDropsOnErrors: a miss, a lookup that would block, and a value
// that fails to decode let go of the kept value.
func TestMemoDropsOnErrors(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	bs, _, s, g := memoSetup(t)
	fill := func() {
		t.Helper()
		require.NoError(t, s.Set(ctx, "k", response("v"), 0))
		_, err := g.TryGet(ctx, "k")
		require.NoError(t, err)
		n, _, _ := codec.MemoLen(g)
		require.Equal(t, 1, n)
	}
	requireEmpty := func(msg string) {
		t.Helper()
		n, size, _ := codec.MemoLen(g)
		require.Zero(t, n, msg)
		require.Zero(t, size, msg)
	}

	fill()
	require.NoError(t, bs.Delete(ctx, "k"))
	_, err := g.TryGet(ctx, "k")
	require.ErrorIs(t, err, store.ErrNotFound)
	requireEmpty("a miss")

	fill()
	bs.mu.Lock()
	bs.refuse = true
	bs.mu.Unlock()
	_, err = g.TryGet(ctx, "k")
	require.ErrorIs(t, err, store.ErrWouldBlock)
	requireEmpty("would block")
	bs.mu.Lock()
	bs.refuse = false
	bs.mu.Unlock()

	fill()
	require.NoError(t, bs.Set(ctx, "k", []byte("junk"), 0))
	_, err = g.TryGet(ctx, "k")
	require.ErrorIs(t, err, codec.ErrFormat)
	requireEmpty("a value that fails to decode")
}

// TestMemoBounded: no more than codec.MemoEntries values are kept, nor
// more than codec.MemoBytes of their encoded size; the oldest go first.
func TestMemoBounded(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	_, c, s, g := memoSetup(t)
	key := func(i int) string { return fmt.Sprint("k", i) }
	for i := range codec.MemoEntries + 1 {
		require.NoError(t, s.Set(ctx, key(i), response("v"), 0))
		_, err := g.TryGet(ctx, key(i))
		require.NoError(t, err)
	}
	n, _, _ := codec.MemoLen(g)
	require.Equal(t, codec.MemoEntries, n)
	before := c.decodes.Load()
	_, err := g.TryGet(ctx, key(codec.MemoEntries))
	require.NoError(t, err)
	require.Equal(t, before, c.decodes.Load(), "the newest is kept")
	_, err = g.TryGet(ctx, key(0))
	require.NoError(t, err)
	require.Equal(t, before+1, c.decodes.Load(), "the oldest was let go")

	_, c, s, g = memoSetup(t)
	big := string(make([]byte, codec.MemoBytes/3))
	for i := range 4 {
		require.NoError(t, s.Set(ctx, key(i), response(big), 0))
		_, err := g.TryGet(ctx, key(i))
		require.NoError(t, err)
	}
	n, size, _ := codec.MemoLen(g)
	require.Equal(t, 2, n, "two of a third of MemoBytes each, with their metadata, fit")
	require.LessOrEqual(t, size, codec.MemoBytes)
	before = c.decodes.Load()
	_, err = g.TryGet(ctx, key(0))
	require.NoError(t, err)
	require.Equal(t, before+1, c.decodes.Load(), "the oldest was let go")

	require.NoError(t, s.Set(ctx, "huge", response(string(make([]byte, codec.MemoBytes))), 0))
	before = c.decodes.Load()
	for range 2 {
		_, err = g.TryGet(ctx, "huge")
		require.NoError(t, err)
	}
	require.Equal(t, before+2, c.decodes.Load(), "a value larger than MemoBytes is not kept")
	n2, size2, _ := codec.MemoLen(g)
	require.Equal(t, n, n2, "nor does it push others out")
	require.Equal(t, size, size2)
}

// TestMemoConcurrent: TryGets, Sets and misses from many goroutines, under
// the race detector, return a value that was stored for the key.
func TestMemoConcurrent(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	_, _, s, g := memoSetup(t)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 200 {
				k := fmt.Sprint("k", i%7)
				if (i+w)%5 == 0 {
					assert.NoError(t, s.Set(ctx, k, response(k), 0))
					continue
				}
				got, err := g.TryGet(ctx, k)
				if err == nil {
					assert.Equal(t, k, string(got.Body))
				} else {
					assert.ErrorIs(t, err, store.ErrNotFound)
				}
			}
		})
	}
	wg.Wait()
}
