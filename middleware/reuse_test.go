package middleware_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/codec"
	"github.com/cachestack/cachestack/middleware"
	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/memstore"
)

// keyRecorder is a store that remembers the key of the last response
// written, so that a test can reach the stored entry.
type keyRecorder struct {
	store.Store[string, *cached.Response]
	mu   sync.Mutex
	last string
}

func (r *keyRecorder) Set(ctx context.Context, key string, e *cached.Response, ttl time.Duration) error {
	if e.Kind == cached.KindResponse {
		r.mu.Lock()
		r.last = key
		r.mu.Unlock()
	}
	return r.Store.Set(ctx, key, e, ttl)
}

// stored returns the last response written and its key.
func (r *keyRecorder) stored(t *testing.T) (string, *cached.Response) {
	t.Helper()
	r.mu.Lock()
	key := r.last
	r.mu.Unlock()
	require.NotEmpty(t, key, "nothing stored")
	e, err := r.Get(context.Background(), key)
	require.NoError(t, err)
	return key, e
}

// newReuseStack is the default RFC 9111 stack over a memstore on c, the
// store's writes recorded.
func newReuseStack(t *testing.T, c *clock) (http.RoundTripper, *keyRecorder) {
	t.Helper()
	s := &keyRecorder{Store: newMemstore(t, c)}
	m := mustMW(t)
	rt := middleware.Chain(
		m(middleware.CacheControl(nil)),
		m(middleware.Store(s, &middleware.StoreOptions{Clock: c.Now, Logger: quiet})),
	)(testTransport(t))
	return rt, s
}

// TestReuseRecordedWhenStored checks that a stored response records what
// its Cache-Control says about its reuse.
func TestReuseRecordedWhenStored(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		cc   string
		want cached.Reuse
	}{
		{"max-age=60", cached.Reuse{Recorded: true}},
		{"max-age=60, no-cache", cached.Reuse{Recorded: true, NoCache: true}},
		{`max-age=60, no-cache="X-Token"`, cached.Reuse{Recorded: true, NoCacheFields: true}},
		{"max-age=60, must-revalidate, stale-while-revalidate=30, stale-if-error=90", cached.Reuse{
			Recorded: true, MustRevalidate: true,
			StaleWhileRevalidate: 30 * time.Second, HasStaleWhileRevalidate: true,
			StaleIfError: 90 * time.Second, HasStaleIfError: true,
		}},
	} {
		t.Run(tt.cc, func(t *testing.T) {
			t.Parallel()
			c := newClock()
			o := newOrigin(t, dated(c, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", tt.cc)
				w.Header().Set("Etag", `"v1"`)
				w.Write([]byte("body"))
			}))
			rt, s := newReuseStack(t, c)
			get(t, rt, o.URL)
			_, e := s.stored(t)
			assert.Equal(t, tt.want, e.Reuse)
		})
	}
}

// TestHitUsesRecordedReuse checks that a hit on a typed store decides from
// the entry's recorded Reuse, without parsing its header's Cache-Control
// again, and that an entry without one (stored by an older version, or
// decoded from bytes) is judged from its header.
func TestHitUsesRecordedReuse(t *testing.T) {
	t.Parallel()
	c := newClock()
	o := newOrigin(t, dated(c, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Etag", `"v1"`)
		w.Write([]byte("body"))
	}))
	rt, s := newReuseStack(t, c)
	_, _, contacted := fetch(t, rt, o, o.URL, nil)
	require.True(t, contacted)
	key, e := s.stored(t)
	require.True(t, e.Reuse.Recorded)

	// The same entry, its header now saying no-cache: a hit that read the
	// header would revalidate; one that reads the recorded Reuse serves it.
	h := e.Header.HTTP()
	h.Set("Cache-Control", "max-age=60, no-cache")
	planted := e.Clone()
	planted.Header = cached.NewHeader(h)
	require.NoError(t, s.Set(context.Background(), key, planted, time.Hour))
	_, body, contacted := fetch(t, rt, o, o.URL, nil)
	assert.False(t, contacted, "the hit parsed the stored header instead of using the recorded Reuse")
	assert.Equal(t, "body", body)

	// Without a recorded Reuse, the header decides: no-cache revalidates.
	old := planted.Clone()
	old.Reuse = cached.Reuse{}
	require.NoError(t, s.Set(context.Background(), key, old, time.Hour))
	_, body, contacted = fetch(t, rt, o, o.URL, nil)
	assert.True(t, contacted, "an entry without a recorded Reuse was served without reading its header's no-cache")
	assert.Equal(t, "body", body)
}

// TestRevalidationRecordsMergedReuse checks that a response updated by a
// 304 (RFC 9111 §4.3.4) records the Reuse of its merged header, not the
// one it was stored with: the 304's Cache-Control replaces the stored one.
func TestRevalidationRecordsMergedReuse(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name          string
		stored, in304 string
		thirdAsks     bool // the request after the revalidation reaches the origin
	}{
		{"304 adds no-cache", "max-age=0", "max-age=60, no-cache", true},
		{"304 drops no-cache", "max-age=60, no-cache", "max-age=60", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newClock()
			o := newOrigin(t, dated(c, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Etag", `"v1"`)
				if r.Header.Get("If-None-Match") == `"v1"` {
					w.Header().Set("Cache-Control", tt.in304)
					w.WriteHeader(http.StatusNotModified)
					return
				}
				w.Header().Set("Cache-Control", tt.stored)
				w.Write([]byte("body"))
			}))
			rt, s := newReuseStack(t, c)
			_, _, contacted := fetch(t, rt, o, o.URL, nil)
			require.True(t, contacted)
			c.Advance(time.Second)
			resp, body, contacted := fetch(t, rt, o, o.URL, nil)
			require.True(t, contacted, "revalidated")
			require.Equal(t, http.StatusOK, resp.StatusCode)
			require.Equal(t, "body", body)
			_, e := s.stored(t)
			assert.Equal(t, cached.Reuse{Recorded: true, NoCache: tt.thirdAsks}, e.Reuse)
			assert.Equal(t, tt.in304, e.Header.Get("Cache-Control"))

			_, body, contacted = fetch(t, rt, o, o.URL, nil)
			assert.Equal(t, tt.thirdAsks, contacted)
			assert.Equal(t, "body", body)
		})
	}
}

// TestReuseWithoutTypedEntries checks that responses which come back from
// the store decoded, and so without their recorded Reuse (a byte store
// through codec.Bind, a Protect middleware's sealed entries), are still
// judged by their header's Cache-Control: no-cache revalidates every hit.
func TestReuseWithoutTypedEntries(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		stack func(t *testing.T, c *clock) http.RoundTripper
	}{
		{"byte store", func(t *testing.T, c *clock) http.RoundTripper {
			raw, err := memstore.New[string, []byte](&memstore.Options[[]byte]{MaxBytes: 8 << 20, Clock: c.Now})
			require.NoError(t, err)
			t.Cleanup(func() { raw.Close() })
			m := mustMW(t)
			return middleware.Chain(
				m(middleware.Store(codec.Bind(raw, codec.Response()), &middleware.StoreOptions{Clock: c.Now, Logger: quiet})),
			)(testTransport(t))
		}},
		{"sealed entries", func(t *testing.T, c *clock) http.RoundTripper {
			m := mustMW(t)
			return middleware.Chain(
				m(middleware.Protect(&tagger{name: "p", calls: new(callLog)})),
				m(middleware.Store(newMemstore(t, c), &middleware.StoreOptions{Clock: c.Now, Logger: quiet})),
			)(testTransport(t))
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newClock()
			o := newOrigin(t, dated(c, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "max-age=60, no-cache")
				w.Header().Set("Etag", `"v1"`)
				if r.Header.Get("If-None-Match") == `"v1"` {
					w.WriteHeader(http.StatusNotModified)
					return
				}
				w.Write([]byte("body"))
			}))
			rt := tt.stack(t, c)
			for i := range 3 {
				resp, body, contacted := fetch(t, rt, o, o.URL, nil)
				assert.True(t, contacted, "request %d", i)
				assert.Equal(t, "body", body)
				if i > 0 {
					assert.True(t, middleware.InfoOf(resp).FromCache, "request %d: revalidated", i)
				}
			}
		})
	}
}
