package codec_test

import (
	"context"
	"errors"
	"iter"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/codec"
	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/memstore"
	"github.com/cachestack/cachestack/store/otterstore"
	"github.com/cachestack/cachestack/store/ristrettostore"
)

// must returns v, and panics on err: for stores made with valid options.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// byteStore is a minimal store.Store[string, []byte] for tests. It copies on
// Set and Get, as the store contract requires of byte stores, and ignores ttl.
type byteStore struct {
	mu     sync.Mutex
	m      map[string][]byte
	closed bool
}

func newByteStore() *byteStore { return &byteStore{m: map[string][]byte{}} }

func (s *byteStore) Get(_ context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, store.ErrClosed
	}
	b, ok := s.m[key]
	if !ok {
		return nil, store.ErrNotFound
	}
	return append([]byte(nil), b...), nil
}

func (s *byteStore) Set(_ context.Context, key string, value []byte, ttl time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	if ttl < 0 {
		return store.ErrNegativeTTL
	}
	s.m[key] = append([]byte(nil), value...)
	return nil
}

func (s *byteStore) Delete(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	delete(s.m, key)
	return nil
}

func (s *byteStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return nil
}

// listingStore adds store.Lister and store.Clearer.
type listingStore struct{ *byteStore }

func (s listingStore) Keys(context.Context) iter.Seq2[string, error] {
	s.mu.Lock()
	keys := slices.Sorted(maps.Keys(s.m))
	s.mu.Unlock()
	return func(yield func(string, error) bool) {
		for _, k := range keys {
			if !yield(k, nil) {
				return
			}
		}
	}
}

func (s listingStore) Clear(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.m)
	return nil
}

var (
	_ store.Store[string, []byte] = (*byteStore)(nil)
	_ store.Lister[string]        = listingStore{}
	_ store.Clearer               = listingStore{}
)

func TestBindRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	bs := newByteStore()
	s := codec.Bind[string](bs, codec.Response())

	_, err := s.Get(ctx, "missing")
	require.ErrorIs(t, err, store.ErrNotFound)
	assert.Same(t, store.ErrNotFound, err, "a miss is the bare sentinel")

	give := sampleResponse()
	require.NoError(t, s.Set(ctx, "k", give, time.Minute))
	got, err := s.Get(ctx, "k")
	require.NoError(t, err)
	assertSameResponse(t, give, got)

	got.Body[0] = 'X' // the caller owns what Get returned
	again, err := s.Get(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, give.Body, again.Body)

	require.ErrorIs(t, s.Set(ctx, "neg", give, -1), store.ErrNegativeTTL)

	require.NoError(t, s.Delete(ctx, "k"))
	require.NoError(t, s.Delete(ctx, "k"))
	_, err = s.Get(ctx, "k")
	require.ErrorIs(t, err, store.ErrNotFound)

	require.NoError(t, s.Close())
	require.NoError(t, s.Close())
	_, err = s.Get(ctx, "k")
	require.ErrorIs(t, err, store.ErrClosed)
}

func TestBindJunkIsErrFormat(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	bs := newByteStore()
	tests := []struct {
		name string
		give []byte
	}{
		{"empty", []byte{}},
		{"junk", []byte("not an entry at all")},
		{"future version", []byte("CSR\x03\xa0")},
		{"version 1", []byte("CSR\x01\xa0")},
	}
	resp := codec.Bind[string](bs, codec.Response())
	ints := codec.Bind[string](bs, codec.CBOR[int]())
	for _, tt := range tests {
		require.NoError(t, bs.Set(ctx, tt.name, tt.give, 0))
		_, err := resp.Get(ctx, tt.name)
		require.ErrorIs(t, err, codec.ErrFormat, tt.name)
		var se *store.Error
		require.ErrorAs(t, err, &se)
		assert.Equal(t, "get", se.Op)
		assert.Equal(t, tt.name, se.Key)

		_, err = ints.Get(ctx, tt.name)
		require.ErrorIs(t, err, codec.ErrFormat, tt.name)
	}
}

// failingCodec fails to decode with an error that does not match ErrFormat.
type failingCodec struct{}

func (failingCodec) Marshal(int) ([]byte, error)   { return nil, errors.New("no marshal") }
func (failingCodec) Unmarshal([]byte) (int, error) { return 0, errors.New("no unmarshal") }

func TestBindCodecErrors(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	bs := newByteStore()
	s := codec.Bind[string](bs, failingCodec{})
	require.NoError(t, bs.Set(ctx, "k", []byte{1}, 0))
	_, err := s.Get(ctx, "k")
	require.ErrorIs(t, err, codec.ErrFormat, "any decode failure is a format error")

	err = s.Set(ctx, "k2", 1, 0)
	require.Error(t, err)
	_, err = bs.Get(ctx, "k2")
	require.ErrorIs(t, err, store.ErrNotFound, "nothing stored on a marshal error")

	err = codec.Bind[string](bs, codec.Response()).Set(ctx, "nil", nil, 0)
	require.Error(t, err)
}

func TestBindUnsupported(t *testing.T) {
	t.Parallel()
	s := codec.Bind[string](newByteStore(), codec.CBOR[string]())
	n := 0
	for k, err := range s.Keys(t.Context()) {
		n++
		assert.Empty(t, k)
		require.ErrorIs(t, err, errors.ErrUnsupported)
	}
	assert.Equal(t, 1, n, "one error, then the sequence ends")
	require.ErrorIs(t, s.Clear(t.Context()), errors.ErrUnsupported)
}

func TestBindPassThrough(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := codec.Bind[string](listingStore{newByteStore()}, codec.CBOR[string]())
	for _, k := range []string{"b", "a", "c"} {
		require.NoError(t, s.Set(ctx, k, "v"+k, 0))
	}
	var keys []string
	for k, err := range s.Keys(ctx) {
		require.NoError(t, err)
		keys = append(keys, k)
		if len(keys) == 2 {
			break // early break is fine
		}
	}
	assert.Equal(t, []string{"a", "b"}, keys)

	v, err := s.Get(ctx, "c")
	require.NoError(t, err)
	assert.Equal(t, "vc", v)

	require.NoError(t, s.Clear(ctx))
	for _, err := range s.Keys(ctx) {
		t.Fatalf("key after Clear (err %v)", err)
	}
}

func TestBindConcurrent(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := codec.Bind[string](newByteStore(), codec.Response())
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			r := &cached.Response{StatusCode: 200 + i, Body: []byte{byte(i)}}
			for range 100 {
				assert.NoError(t, s.Set(ctx, "k", r, 0))
				got, err := s.Get(ctx, "k")
				if assert.NoError(t, err) {
					assert.Len(t, got.Body, 1)
				}
			}
		})
	}
	wg.Wait()
}

// checkingStore is a byteStore that declares it checks its values itself.
type checkingStore struct{ *byteStore }

func (checkingStore) ChecksValues() bool { return true }

// TestBindSelfChecking damages an entry's checksum field: Bind over a
// store that checks its own values decodes it (the codec does not verify
// it again), and over any other store it is ErrChecksum. Malformed
// metadata is ErrFormat either way.
func TestBindSelfChecking(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	r := &cached.Response{Method: "GET", URL: "https://example.test/", StatusCode: 200, Proto: "HTTP/1.1", Body: []byte("body")}
	b, err := codec.Response().Marshal(r)
	require.NoError(t, err)
	b[5] ^= 0xff // in the checksum field
	for _, tt := range []struct {
		name    string
		give    store.Store[string, []byte]
		wantErr error
	}{
		{"plain", newByteStore(), codec.ErrChecksum},
		{"self-checking", checkingStore{newByteStore()}, nil},
		// The in-memory stores: their bytes never leave the process.
		{"memstore", must(memstore.New[string, []byte](nil)), nil},
		{"otterstore", must(otterstore.New[string, []byte](nil)), nil},
		{"ristrettostore", must(ristrettostore.New[string](&ristrettostore.Options[[]byte]{Synchronous: true})), nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Cleanup(func() { _ = tt.give.Close() })
			require.NoError(t, tt.give.Set(ctx, "k", b, 0))
			require.NoError(t, tt.give.Set(ctx, "junk", append(slices.Clone(b[:8]), 0xa1, 0xff), 0))
			typed := codec.Bind(tt.give, codec.Response())
			got, err := typed.Get(ctx, "k")
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
			} else {
				require.NoError(t, err)
				assert.Equal(t, r.Body, got.Body)
				assert.Equal(t, r.URL, got.URL)
			}
			_, err = typed.Get(ctx, "junk")
			require.ErrorIs(t, err, codec.ErrFormat)
		})
	}
}

// lendingStore is a byteStore whose View lends the slice it holds
// (store.Viewer), and counts the reads of each kind.
type lendingStore struct {
	*byteStore
	gets, views atomic.Int32
}

func (s *lendingStore) Get(ctx context.Context, key string) ([]byte, error) {
	s.gets.Add(1)
	return s.byteStore.Get(ctx, key)
}

func (s *lendingStore) View(_ context.Context, key string) ([]byte, error) {
	s.views.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.m[key]
	if !ok {
		return nil, store.ErrNotFound
	}
	return b, nil
}

// scribbling is a codec that, as seal.Codec does, takes ownership of its
// input and writes into it (it decodes a byte, then zeroes it), and does
// not declare itself codec.InputPreserving.
type scribbling struct{}

func (scribbling) Marshal(v byte) ([]byte, error) { return []byte{v}, nil }
func (scribbling) Unmarshal(b []byte) (byte, error) {
	if len(b) != 1 {
		return 0, codec.ErrFormat
	}
	v := b[0]
	b[0] = 0
	return v, nil
}

// TestBindViews: over a store.Viewer, Bind decodes the store's own bytes
// (the decoded Body is the stored body, not a copy) when the codec only
// reads them, and reads a copy through Get for a codec that writes into
// its input, which then leaves the stored bytes as they were.
func TestBindViews(t *testing.T) {
	t.Parallel()
	ctx := t.Context()

	s := &lendingStore{byteStore: newByteStore()}
	typed := codec.Bind(s, codec.Response())
	r := &cached.Response{Method: "GET", URL: "https://example.test/", StatusCode: 200, Proto: "HTTP/1.1", Body: []byte("body")}
	require.NoError(t, typed.Set(ctx, "k", r, 0))
	got, err := typed.Get(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, r.Body, got.Body)
	stored := s.m["k"]
	assert.Same(t, &stored[len(stored)-1], &got.Body[len(got.Body)-1], "the decoded body is a copy of the stored one")
	assert.Equal(t, int32(1), s.views.Load(), "Views")
	assert.Zero(t, s.gets.Load(), "Gets")

	s = &lendingStore{byteStore: newByteStore()}
	raw := codec.Bind[string, byte](s, scribbling{})
	require.NoError(t, raw.Set(ctx, "k", 7, 0))
	for range 2 {
		v, err := raw.Get(ctx, "k")
		require.NoError(t, err)
		assert.Equal(t, byte(7), v, "the stored byte was zeroed by the previous decode")
	}
	assert.Zero(t, s.views.Load(), "Views")
	assert.Equal(t, int32(2), s.gets.Load(), "Gets")
}
