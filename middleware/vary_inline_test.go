package middleware_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/codec"
	"github.com/cachestack/cachestack/middleware"
	"github.com/cachestack/cachestack/sign"
	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/memstore"
)

// countingStore counts the lookups and writes made in the store it wraps.
type countingStore struct {
	store.Store[string, *cached.Response]
	gets, sets atomic.Int64
}

func (s *countingStore) Get(ctx context.Context, key string) (*cached.Response, error) {
	s.gets.Add(1)
	return s.Store.Get(ctx, key)
}

func (s *countingStore) Set(ctx context.Context, key string, e *cached.Response, ttl time.Duration) error {
	s.sets.Add(1)
	return s.Store.Set(ctx, key, e, ttl)
}

func (s *countingStore) NeverBlocks() bool { return true }

// varyStack is the default stack (RFC 9111) over a counting store, on the
// test's clock: typed (memstore), bytes (memstore of codec.Response
// entries) or signed.
func varyStack(t *testing.T, c *clock, kind string, so middleware.StoreOptions) (http.RoundTripper, *countingStore) {
	t.Helper()
	var s store.Store[string, *cached.Response]
	switch kind {
	case "bytes":
		b, err := memstore.New[string, []byte](&memstore.Options[[]byte]{MaxBytes: 8 << 20, Clock: c.Now})
		require.NoError(t, err)
		t.Cleanup(func() { b.Close() })
		s = codec.Bind[string](b, codec.Response())
	default:
		s = newMemstore(t, c)
	}
	cs := &countingStore{Store: s}
	so.Clock, so.Logger = c.Now, quiet
	m := mustMW(t)
	mws := []middleware.Middleware{m(middleware.CacheControl(nil)), m(middleware.Store(cs, &so))}
	if kind == "signed" {
		signer, err := sign.New([]byte("0123456789abcdef0123456789abcdef"))
		require.NoError(t, err)
		mws = append(mws, m(sign.Middleware(signer)))
	}
	return middleware.Chain(mws...)(testTransport(t)), cs
}

// encodingOrigin answers with Vary: Accept-Encoding, fresh for a minute, a
// body naming the request's Accept-Encoding and how many requests it has
// answered.
func encodingOrigin(t *testing.T, c *clock) *origin {
	var n atomic.Int64
	return newOrigin(t, dated(c, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Vary", "Accept-Encoding")
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprintf(w, "%s #%d", r.Header.Get("Accept-Encoding"), n.Add(1))
	}))
}

// TestVaryHitOneLookup is the point of the inline variant: a hit on a
// response that varies (RFC 9111 §4.1) costs one store lookup, the URL's
// Vary index, which holds the variant stored last, in typed and byte
// stores, signed or not.
func TestVaryHitOneLookup(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"typed", "bytes", "signed"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			c := newClock()
			o := encodingOrigin(t, c)
			rt, cs := varyStack(t, c, kind, middleware.StoreOptions{})
			_, body, contacted := fetch(t, rt, o, o.URL, header("Accept-Encoding", "gzip"))
			require.True(t, contacted)
			require.Equal(t, "gzip #1", body)

			before := cs.gets.Load()
			resp, body, contacted := fetch(t, rt, o, o.URL, header("Accept-Encoding", "gzip"))
			require.False(t, contacted)
			assert.Equal(t, "gzip #1", body)
			assert.Equal(t, int64(1), cs.gets.Load()-before, "store lookups for a hit on a varying response")
			assert.NotEmpty(t, middleware.InfoOf(resp).Key)
		})
	}
}

// TestVaryInlineAlternating: two variants of one URL asked in turn are
// both served, each its own: the one the index holds with one lookup, the
// other through its variant key, with two.
func TestVaryInlineAlternating(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"typed", "bytes"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			c := newClock()
			o := encodingOrigin(t, c)
			rt, cs := varyStack(t, c, kind, middleware.StoreOptions{})
			_, body, _ := fetch(t, rt, o, o.URL, header("Accept-Encoding", "gzip"))
			require.Equal(t, "gzip #1", body)
			resp, body, _ := fetch(t, rt, o, o.URL, header("Accept-Encoding", "br"))
			require.Equal(t, "br #2", body)
			brKey := middleware.InfoOf(resp).Key
			for range 3 {
				before := cs.gets.Load()
				resp, body, contacted := fetch(t, rt, o, o.URL, header("Accept-Encoding", "gzip"))
				assert.False(t, contacted)
				assert.Equal(t, "gzip #1", body)
				assert.Equal(t, int64(2), cs.gets.Load()-before, "the variant the index does not hold")
				assert.NotEqual(t, brKey, middleware.InfoOf(resp).Key)

				before = cs.gets.Load()
				resp, body, contacted = fetch(t, rt, o, o.URL, header("Accept-Encoding", "br"))
				assert.False(t, contacted)
				assert.Equal(t, "br #2", body)
				assert.Equal(t, int64(1), cs.gets.Load()-before, "the variant the index holds")
				assert.Equal(t, brKey, middleware.InfoOf(resp).Key, "the key of the inline variant is its variant key")
			}
			_, body, contacted := fetch(t, rt, o, o.URL, header("Accept-Encoding", "zstd"))
			assert.True(t, contacted)
			assert.Equal(t, "zstd #3", body)
		})
	}
}

// TestVaryInlineRefreshed: a 304 that refreshes the variant the index holds
// (RFC 9111 §4.3.4) refreshes the copy in the index too: the next request
// is a fresh hit with the updated fields, in one lookup.
func TestVaryInlineRefreshed(t *testing.T) {
	t.Parallel()
	c := newClock()
	var n atomic.Int64
	o := newOrigin(t, dated(c, func(w http.ResponseWriter, r *http.Request) {
		k := n.Add(1)
		w.Header().Set("Vary", "Accept-Encoding")
		w.Header().Set("Etag", `"a"`)
		w.Header().Set("Cache-Control", "max-age=10")
		w.Header().Set("X-Version", fmt.Sprint(k))
		if r.Header.Get("If-None-Match") == `"a"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		fmt.Fprint(w, "body")
	}))
	rt, cs := varyStack(t, c, "bytes", middleware.StoreOptions{})
	h := header("Accept-Encoding", "gzip")
	fetch(t, rt, o, o.URL, h)
	c.Advance(20 * time.Second)
	resp, body, contacted := fetch(t, rt, o, o.URL, h)
	require.True(t, contacted, "stale: revalidated")
	require.Equal(t, "body", body)
	require.Equal(t, "2", resp.Header.Get("X-Version"))

	c.Advance(5 * time.Second)
	before := cs.gets.Load()
	resp, body, contacted = fetch(t, rt, o, o.URL, h)
	assert.False(t, contacted, "fresh again after the 304")
	assert.Equal(t, "body", body)
	assert.Equal(t, "2", resp.Header.Get("X-Version"), "the refreshed copy")
	assert.Equal(t, int64(1), cs.gets.Load()-before)
}

// TestVaryInlineInvalidated: an unsafe request's success invalidates the
// URL (RFC 9111 §4.4), its Vary index with the variant it holds.
func TestVaryInlineInvalidated(t *testing.T) {
	t.Parallel()
	c := newClock()
	o := encodingOrigin(t, c)
	rt, _ := varyStack(t, c, "typed", middleware.StoreOptions{})
	h := header("Accept-Encoding", "gzip")
	fetch(t, rt, o, o.URL, h)
	_, _, contacted := fetch(t, rt, o, o.URL, h)
	require.False(t, contacted)

	req := mustRequest(t, context.Background(), http.MethodPost, o.URL, nil)
	do(t, rt, req)
	_, body, contacted := fetch(t, rt, o, o.URL, h)
	assert.True(t, contacted)
	assert.Equal(t, "gzip #3", body)
}

// TestVaryInlineDropped: a full response that may not be stored makes the
// stored one outdated (RFC 9111 §4.3.3), and the copy the index holds with
// it: it is not served stale when the origin then fails.
func TestVaryInlineDropped(t *testing.T) {
	t.Parallel()
	c := newClock()
	var n atomic.Int64
	o := newOrigin(t, dated(c, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Vary", "Accept-Encoding")
		switch n.Add(1) {
		case 1:
			w.Header().Set("Cache-Control", "max-age=10")
			fmt.Fprint(w, "old")
		case 2:
			w.Header().Set("Cache-Control", "no-store")
			fmt.Fprint(w, "new")
		default:
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	rt, cs := varyStack(t, c, "typed", middleware.StoreOptions{StaleIfError: time.Hour})
	h := header("Accept-Encoding", "gzip")
	_, body, _ := fetch(t, rt, o, o.URL, h)
	require.Equal(t, "old", body)
	c.Advance(20 * time.Second)
	_, body, contacted := fetch(t, rt, o, o.URL, h)
	require.True(t, contacted)
	require.Equal(t, "new", body)

	idx, err := cs.Store.Get(context.Background(), firstIndexKey(t, cs))
	require.NoError(t, err)
	assert.Nil(t, idx.Variant, "the index no longer holds the outdated variant")
	resp, _, contacted := fetch(t, rt, o, o.URL, h)
	assert.True(t, contacted)
	assert.Equal(t, http.StatusInternalServerError, resp.StatusCode, "nothing stale left to serve")
}

// TestVaryIndexWithoutVariant: an index written without an inline variant
// (by an earlier release, or after its variant was dropped) still leads to
// the variant, through its key.
func TestVaryIndexWithoutVariant(t *testing.T) {
	t.Parallel()
	c := newClock()
	o := encodingOrigin(t, c)
	rt, cs := varyStack(t, c, "bytes", middleware.StoreOptions{})
	h := header("Accept-Encoding", "gzip")
	fetch(t, rt, o, o.URL, h)
	ctx := context.Background()
	key := firstIndexKey(t, cs)
	idx, err := cs.Store.Get(ctx, key)
	require.NoError(t, err)
	require.NotNil(t, idx.Variant)
	// The variant under its own key and the index without it, as a store
	// that refused the index as too large with it holds them.
	require.NoError(t, cs.Store.Set(ctx, idx.Variant.Ref, idx.Variant, 0))
	old := *idx
	old.Variant = nil
	require.NoError(t, cs.Store.Set(ctx, key, &old, 0))

	before := cs.gets.Load()
	_, body, contacted := fetch(t, rt, o, o.URL, h)
	assert.False(t, contacted)
	assert.Equal(t, "gzip #1", body)
	assert.Equal(t, int64(2), cs.gets.Load()-before)
}

// firstIndexKey returns the key of the one Vary index in cs.
func firstIndexKey(t *testing.T, cs *countingStore) string {
	t.Helper()
	l, ok := cs.Store.(store.Lister[string])
	require.True(t, ok)
	for k, err := range l.Keys(context.Background()) {
		require.NoError(t, err)
		if e, err := cs.Store.Get(context.Background(), k); err == nil && e.Kind == cached.KindVariants {
			return k
		}
	}
	t.Fatal("no Vary index stored")
	return ""
}

// tooLargeIndexes refuses, as a store refuses what exceeds its budget, a
// Vary index holding a variant inline, removing what the key held.
type tooLargeIndexes struct {
	store.Store[string, *cached.Response]
	blocks bool // declare that it may block: writes go through the write-back queue
}

func (s tooLargeIndexes) Set(ctx context.Context, key string, e *cached.Response, ttl time.Duration) error {
	if e.Variant != nil {
		s.Store.Delete(ctx, key)
		return store.ErrTooLarge
	}
	return s.Store.Set(ctx, key, e, ttl)
}

func (s tooLargeIndexes) NeverBlocks() bool { return !s.blocks }

// TestVaryIndexTooLarge: an index the store refuses as too large with its
// inline variant is stored without it, so that its variants stay
// reachable, directly and through the write-back queue.
func TestVaryIndexTooLarge(t *testing.T) {
	t.Parallel()
	for _, writeBack := range []bool{false, true} {
		t.Run(fmt.Sprint("writeBack=", writeBack), func(t *testing.T) {
			t.Parallel()
			c := newClock()
			o := encodingOrigin(t, c)
			so := middleware.StoreOptions{Clock: c.Now, Logger: quiet, Counters: new(middleware.Counters), Monitor: new(middleware.Monitor)}
			if writeBack {
				so.Workers = newWorkers(t, 2)
			}
			st, err := middleware.Store(tooLargeIndexes{newMemstore(t, c), writeBack}, &so)
			require.NoError(t, err)
			m := mustMW(t)
			rt := middleware.Chain(m(middleware.CacheControl(nil)), st)(testTransport(t))
			h := header("Accept-Encoding", "gzip")
			fetch(t, rt, o, o.URL, h)
			require.NoError(t, so.Monitor.Flush(context.Background()))
			_, body, contacted := fetch(t, rt, o, o.URL, h)
			assert.False(t, contacted)
			assert.Equal(t, "gzip #1", body)
			assert.Zero(t, so.Counters.TooLarge.Load())
		})
	}
}

// gatedBatcher is tooLargeIndexes, blocking, with batches: its Set waits
// for gate, so that writes pile up behind the first, and SetMany writes
// each item as Set would, refusing alone each index too large with its
// variant.
type gatedBatcher struct {
	tooLargeIndexes
	gate    chan struct{}
	batches atomic.Int32
}

func (s *gatedBatcher) Set(ctx context.Context, key string, e *cached.Response, ttl time.Duration) error {
	<-s.gate
	return s.tooLargeIndexes.Set(ctx, key, e, ttl)
}

func (s *gatedBatcher) SetMany(ctx context.Context, items []store.Item[string, *cached.Response]) error {
	s.batches.Add(1)
	errs := make([]error, len(items))
	failed := false
	for i, it := range items {
		errs[i] = s.tooLargeIndexes.Set(ctx, it.Key, it.Value, it.TTL)
		failed = failed || errs[i] != nil
	}
	if failed {
		return &store.BatchError{Errs: errs}
	}
	return nil
}

// TestVaryIndexTooLargeInBatch: an index refused as too large with its
// inline variant in a batch of writes is written again without it, as a
// single write is, and not counted as too large.
func TestVaryIndexTooLargeInBatch(t *testing.T) {
	t.Parallel()
	c := newClock()
	o := encodingOrigin(t, c)
	s := &gatedBatcher{tooLargeIndexes: tooLargeIndexes{newMemstore(t, c), true}, gate: make(chan struct{})}
	so := middleware.StoreOptions{Clock: c.Now, Logger: quiet, Counters: new(middleware.Counters), Monitor: new(middleware.Monitor),
		Workers: newWorkers(t, 2), Writers: 1, SetTimeout: time.Minute}
	st, err := middleware.Store(s, &so)
	require.NoError(t, err)
	m := mustMW(t)
	rt := middleware.Chain(m(middleware.CacheControl(nil)), st)(testTransport(t))
	h := header("Accept-Encoding", "gzip")
	// The writer takes the first URL's write (its index, holding its
	// variant) and waits at the gate; what piles up meanwhile goes in one
	// batch once the gate opens.
	urls := []string{"/a", "/b", "/c"}
	for _, u := range urls {
		fetch(t, rt, o, o.URL+u, h)
	}
	close(s.gate)
	require.NoError(t, so.Monitor.Flush(context.Background()))
	require.Positive(t, s.batches.Load(), "the writes went in a batch")
	for _, u := range urls {
		_, body, contacted := fetch(t, rt, o, o.URL+u, h)
		assert.False(t, contacted, u)
		assert.Contains(t, body, "gzip", u)
	}
	assert.Zero(t, so.Counters.TooLarge.Load())
	assert.Zero(t, so.Counters.StoreErrors.Load())
}

// TestVaryMissOneWrite: a miss on a response that varies writes it once,
// inline in the URL's Vary index; a miss on another variant writes the
// index again, holding it, and the variant the index held under its own
// key (displaced, not lost); a refresh of the variant the index holds
// writes the index alone.
func TestVaryMissOneWrite(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"typed", "bytes", "signed"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			c := newClock()
			var n atomic.Int64
			o := newOrigin(t, dated(c, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Vary", "Accept-Encoding")
				w.Header().Set("Etag", `"a"`)
				w.Header().Set("Cache-Control", "max-age=10")
				k := n.Add(1)
				if r.Header.Get("If-None-Match") == `"a"` {
					w.WriteHeader(http.StatusNotModified)
					return
				}
				fmt.Fprintf(w, "%s #%d", r.Header.Get("Accept-Encoding"), k)
			}))
			rt, cs := varyStack(t, c, kind, middleware.StoreOptions{})
			writes := func(h http.Header, want string) int64 {
				t.Helper()
				before := cs.sets.Load()
				_, body, contacted := fetch(t, rt, o, o.URL, h)
				require.True(t, contacted)
				require.Equal(t, want, body)
				return cs.sets.Load() - before
			}
			gzip, br := header("Accept-Encoding", "gzip"), header("Accept-Encoding", "br")
			assert.Equal(t, int64(1), writes(gzip, "gzip #1"), "a varying miss: its index, holding it")
			assert.Equal(t, int64(2), writes(br, "br #2"), "another variant: the index, and the variant it displaced")
			c.Advance(20 * time.Second)
			assert.Equal(t, int64(1), writes(br, "br #2"), "a 304 for the variant the index holds: the index")

			assert.Equal(t, int64(2), writes(gzip, "gzip #1"), "a 304 for the displaced variant: the index holding it, and br displaced")
			// Both variants are served, each its own, without the origin.
			for range 2 {
				for _, h := range []http.Header{gzip, br} {
					_, body, contacted := fetch(t, rt, o, o.URL, h)
					assert.False(t, contacted)
					assert.Equal(t, h.Get("Accept-Encoding")+map[string]string{"gzip": " #1", "br": " #2"}[h.Get("Accept-Encoding")], body)
				}
			}
		})
	}
}

// TestVaryDisplacedRefreshed: a 304 for the variant stored under its own
// key (displaced from the index by another) refreshes it, inline in the
// index now, and the variant the index held moves out under its own key:
// both are then fresh hits.
func TestVaryDisplacedRefreshed(t *testing.T) {
	t.Parallel()
	c := newClock()
	var n atomic.Int64
	o := newOrigin(t, dated(c, func(w http.ResponseWriter, r *http.Request) {
		k := n.Add(1)
		w.Header().Set("Vary", "Accept-Encoding")
		w.Header().Set("Etag", `"`+r.Header.Get("Accept-Encoding")+`"`)
		w.Header().Set("Cache-Control", "max-age=10")
		w.Header().Set("X-Version", fmt.Sprint(k))
		if r.Header.Get("If-None-Match") != "" {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		fmt.Fprint(w, r.Header.Get("Accept-Encoding"))
	}))
	rt, cs := varyStack(t, c, "bytes", middleware.StoreOptions{})
	gzip, br := header("Accept-Encoding", "gzip"), header("Accept-Encoding", "br")
	fetch(t, rt, o, o.URL, gzip)
	fetch(t, rt, o, o.URL, br) // the index holds br; gzip is under its own key
	c.Advance(20 * time.Second)
	resp, body, contacted := fetch(t, rt, o, o.URL, gzip)
	require.True(t, contacted, "stale: revalidated")
	require.Equal(t, "gzip", body)
	require.Equal(t, "3", resp.Header.Get("X-Version"))

	before := cs.gets.Load()
	resp, body, contacted = fetch(t, rt, o, o.URL, gzip)
	assert.False(t, contacted, "fresh after the 304")
	assert.Equal(t, "gzip", body)
	assert.Equal(t, "3", resp.Header.Get("X-Version"))
	assert.Equal(t, int64(1), cs.gets.Load()-before, "gzip is the index's now")

	resp, body, contacted = fetch(t, rt, o, o.URL, br)
	assert.True(t, contacted, "br is stale, and still stored: revalidated")
	assert.Equal(t, "br", body)
	assert.Equal(t, "4", resp.Header.Get("X-Version"))
	for _, h := range []http.Header{gzip, br} {
		_, _, contacted = fetch(t, rt, o, o.URL, h)
		assert.False(t, contacted)
	}
}

// TestVaryConcurrentVariants: concurrent misses for several variants of one
// URL, each saving its own into the index and displacing another, may lose
// a variant (a later origin fetch) but never serve one for another's
// request.
func TestVaryConcurrentVariants(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"typed", "bytes"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			c := newClock()
			o := encodingOrigin(t, c)
			rt, _ := varyStack(t, c, kind, middleware.StoreOptions{})
			encodings := []string{"gzip", "br", "zstd", "identity"}
			for range 3 {
				var wg sync.WaitGroup
				for _, enc := range encodings {
					for range 4 {
						wg.Go(func() {
							_, body, _ := fetch(t, rt, o, o.URL, header("Accept-Encoding", enc))
							assert.True(t, strings.HasPrefix(body, enc+" #"), "%s answered with %q", enc, body)
						})
					}
				}
				wg.Wait()
			}
			for _, enc := range encodings {
				_, body, _ := fetch(t, rt, o, o.URL, header("Accept-Encoding", enc))
				assert.True(t, strings.HasPrefix(body, enc+" #"), "%s answered with %q", enc, body)
			}
		})
	}
}
