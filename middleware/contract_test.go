package middleware_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/codec"
	"github.com/cachestack/cachestack/keyer"
	"github.com/cachestack/cachestack/middleware"
	"github.com/cachestack/cachestack/policy"
	"github.com/cachestack/cachestack/store"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBodyNotReadToEOFIsNotStored(t *testing.T) {
	t.Parallel()
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("x", 10000))
	})
	rt, n := newStack(t, newClock(), stackOptions{})
	resp, err := rt.RoundTrip(mustRequest(t, context.Background(), http.MethodGet, o.URL, nil))
	require.NoError(t, err)
	_, err = io.ReadFull(resp.Body, make([]byte, 100))
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	resp, body := get(t, rt, o.URL)
	assert.False(t, middleware.InfoOf(resp).FromCache)
	assert.Len(t, body, 10000)
	assert.Equal(t, int64(1), n.Stored.Load(), "only the response read to EOF is stored")
	resp, body = get(t, rt, o.URL)
	assert.True(t, middleware.InfoOf(resp).FromCache)
	assert.Len(t, body, 10000)
}

func TestBodyOverCapStreamsThrough(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		contentLength bool
	}{{"with Content-Length", true}, {"chunked", false}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			payload := bytes.Repeat([]byte("0123456789"), 1000) // 10,000 bytes
			o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
				if tt.contentLength {
					w.Header().Set("Content-Length", fmt.Sprint(len(payload)))
				}
				for i := 0; i < len(payload); i += 1000 {
					w.Write(payload[i : i+1000])
					w.(http.Flusher).Flush()
				}
			})
			rt, n := newStack(t, newClock(), stackOptions{store: &middleware.StoreOptions{MaxBodyBytes: 4096}})
			for range 2 {
				resp, body := get(t, rt, o.URL)
				assert.Equal(t, string(payload), body, "the whole body reaches the caller")
				assert.False(t, middleware.InfoOf(resp).FromCache)
			}
			assert.Equal(t, int64(2), o.hits.Load())
			assert.Zero(t, n.Stored.Load())
		})
	}
}

func TestHeadIsStoredWithoutBody(t *testing.T) {
	t.Parallel()
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "42")
	})
	rt, _ := newStack(t, newClock(), stackOptions{})
	req := func() *http.Response {
		resp, err := rt.RoundTrip(mustRequest(t, context.Background(), http.MethodHead, o.URL, nil))
		require.NoError(t, err)
		require.NotNil(t, resp.Body)
		resp.Body.Close() // a HEAD caller need not read the body
		return resp
	}
	req()
	resp := req()
	assert.True(t, middleware.InfoOf(resp).FromCache)
	assert.Equal(t, int64(42), resp.ContentLength)
	assert.Equal(t, int64(1), o.hits.Load())
}

func TestConcurrentHits(t *testing.T) {
	t.Parallel()
	o := newOrigin(t, nil)
	rt, n := newStack(t, newClock(), stackOptions{})
	get(t, rt, o.URL+"/shared")
	var wg sync.WaitGroup
	var bad atomic.Int64
	for range 32 {
		wg.Go(func() {
			for range 50 {
				resp, err := rt.RoundTrip(mustRequest(t, context.Background(), http.MethodGet, o.URL+"/shared", nil))
				if err != nil {
					bad.Add(1)
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				resp.Header.Set("X-Mine", "scribble") // each caller owns its header
				if string(b) != "body of /shared" {
					bad.Add(1)
				}
			}
		})
	}
	wg.Wait()
	assert.Zero(t, bad.Load())
	assert.Equal(t, int64(1), o.hits.Load())
	assert.Equal(t, int64(32*50), n.Hits.Load())
}

// trackingBody records whether it was closed.
type trackingBody struct {
	io.Reader
	closed atomic.Bool
}

func (b *trackingBody) Close() error { b.closed.Store(true); return nil }

func TestRoundTripperContract(t *testing.T) {
	t.Parallel()
	o := newOrigin(t, nil)
	rt, _ := newStack(t, newClock(), stackOptions{
		keyer:  &keyer.Options{IgnoredParams: []string{"token"}},
		filter: &middleware.FilterOptions{Methods: []string{"GET", "POST"}},
	})
	for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodPut} {
		for round := range 2 { // a miss, then a hit where cacheable
			t.Run(fmt.Sprintf("%s/%d", method, round), func(t *testing.T) {
				body := &trackingBody{Reader: strings.NewReader("payload")}
				req := mustRequest(t, context.Background(), method, o.URL+"/c?token=1", nil)
				req.Body = body
				req.ContentLength = int64(len("payload"))
				req.Header.Set("X-Before", "1")
				wantHeader := req.Header.Clone()
				wantURL := req.URL.String()
				resp, err := rt.RoundTrip(req)
				require.NoError(t, err)
				require.NotNil(t, resp)
				require.NotNil(t, resp.Body, "a response always has a body")
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				assert.True(t, body.closed.Load(), "the request body is closed")
				assert.Equal(t, wantHeader, req.Header, "the request header is not mutated")
				assert.Equal(t, wantURL, req.URL.String(), "the request URL is not mutated")
				assert.Same(t, body, req.Body, "the request's Body field is not replaced")
			})
		}
	}
	t.Run("error means no response", func(t *testing.T) {
		resp, err := rt.RoundTrip(mustRequest(t, context.Background(), http.MethodGet, "http://127.0.0.1:1/unreachable", nil))
		assert.Error(t, err)
		assert.Nil(t, resp)
	})
}

func TestFailingStoreStepsAside(t *testing.T) {
	t.Parallel()
	o := newOrigin(t, nil)
	n := new(middleware.Counters)
	st, err := middleware.Store(failingStore{err: errors.New("connection refused")}, &middleware.StoreOptions{Logger: quiet, Counters: n})
	require.NoError(t, err)
	rt := st(nil)
	for range 2 {
		resp, body := get(t, rt, o.URL+"/x")
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, "body of /x", body)
	}
	assert.Equal(t, int64(2), o.hits.Load())
	assert.Equal(t, int64(4), n.StoreErrors.Load(), "two failed gets and two failed sets")
}

func TestUndecodableEntryIsAMiss(t *testing.T) {
	t.Parallel()
	o := newOrigin(t, nil)
	n := new(middleware.Counters)
	st, err := middleware.Store(failingStore{err: fmt.Errorf("redisstore get: %w", codec.ErrFormat)}, &middleware.StoreOptions{Logger: quiet, Counters: n})
	require.NoError(t, err)
	_, body := get(t, st(nil), o.URL+"/x")
	assert.Equal(t, "body of /x", body)
	assert.Equal(t, int64(1), n.Corrupt.Load())
}

func TestDisableAndForceRefresh(t *testing.T) {
	t.Parallel()
	var version atomic.Int64
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "v", version.Add(1))
	})
	rt, _ := newStack(t, newClock(), stackOptions{})
	_, body := get(t, rt, o.URL)
	assert.Equal(t, "v1", body)

	_, body = do(t, rt, mustRequest(t, middleware.Disable(context.Background()), http.MethodGet, o.URL, nil))
	assert.Equal(t, "v2", body, "disabled: goes to the origin")
	_, body = get(t, rt, o.URL)
	assert.Equal(t, "v1", body, "disabled: stores nothing")

	_, body = do(t, rt, mustRequest(t, middleware.ForceRefresh(context.Background()), http.MethodGet, o.URL, nil))
	assert.Equal(t, "v3", body, "force refresh: goes to the origin")
	_, body = get(t, rt, o.URL)
	assert.Equal(t, "v3", body, "force refresh: stores the new response")
}

// foreign is a middleware that is not the cache's, e.g. a user's logger.
func foreign(seen *atomic.Int64) middleware.Middleware {
	return func(next http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			seen.Add(1)
			return next.RoundTrip(r)
		})
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestForeignMiddlewareBetween(t *testing.T) {
	t.Parallel()
	// No freshness from the origin: the user's expiry decides.
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	c := newClock()
	k, err := keyer.New(&keyer.Options{IgnoredParams: []string{"t"}})
	require.NoError(t, err)
	ex, err := middleware.Expiry(&middleware.ExpiryOptions{ExpireAfter: policy.After(time.Minute)})
	require.NoError(t, err)
	st, err := middleware.Store(newMemstore(t, c), &middleware.StoreOptions{Clock: c.Now, Logger: quiet})
	require.NoError(t, err)
	var seen atomic.Int64
	rt := middleware.Chain(middleware.Key(k), foreign(&seen), ex, st)(testTransport(t))
	get(t, rt, o.URL+"/a?t=1")
	resp, _ := get(t, rt, o.URL+"/a?t=2")
	info := middleware.InfoOf(resp)
	assert.True(t, info.FromCache, "the keyer above the foreign layer still applies")
	assert.Equal(t, c.Now().Add(time.Minute), info.Expires)
	assert.Equal(t, int64(2), seen.Load())
}

func TestConstructorErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		build   func() error
		wantErr string
	}{
		{"nil store", func() error {
			_, err := middleware.Store(nil, nil)
			return err
		}, "store is nil"},
		{"negative body size", func() error {
			_, err := middleware.Store(failingStore{}, &middleware.StoreOptions{MaxBodyBytes: -1})
			return err
		}, "MaxBodyBytes"},
		{"bad method", func() error {
			_, err := middleware.Filter(&middleware.FilterOptions{Methods: []string{"GE T"}})
			return err
		}, "Methods"},
		{"bad code", func() error {
			_, err := middleware.Filter(&middleware.FilterOptions{Codes: []int{999}})
			return err
		}, "Codes"},
		{"malformed glob", func() error {
			_, err := middleware.Expiry(&middleware.ExpiryOptions{URLs: []policy.URLExpiry{{Pattern: "site.com/[a", Expiry: policy.Never()}}})
			return err
		}, "site.com/[a"},
		{"bad expiry", func() error {
			_, err := middleware.Expiry(&middleware.ExpiryOptions{ExpireAfter: policy.After(-time.Second)})
			return err
		}, "ExpireAfter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.build()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestInfoFromHeadersWhenBodyIsWrapped(t *testing.T) {
	t.Parallel()
	o := newOrigin(t, nil)
	ex, err := middleware.Expiry(&middleware.ExpiryOptions{ExpireAfter: policy.After(time.Hour)})
	require.NoError(t, err)
	st, err := middleware.Store(newMemstore(t, newClock()), &middleware.StoreOptions{Logger: quiet})
	require.NoError(t, err)
	client := &http.Client{Transport: middleware.Chain(ex, st)(testTransport(t)), Timeout: time.Minute} // Timeout wraps the body
	for range 2 {
		resp, err := client.Get(o.URL)
		require.NoError(t, err)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if info := middleware.InfoOf(resp); info.FromCache {
			assert.WithinDuration(t, time.Now().Add(time.Hour), info.Expires, 2*time.Second)
			assert.False(t, info.Stale)
			return
		}
	}
	t.Fatal("the second response was not recognised as a hit")
}

// ctxStore is a store whose writes fail once their context is done, as a
// network store's do.
type ctxStore struct {
	store.Store[string, *cached.Response]
}

func (s ctxStore) Set(ctx context.Context, key string, v *cached.Response, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.Store.Set(ctx, key, v, ttl)
}

// cancelAtEOF cancels a context as the body it wraps reaches its end.
type cancelAtEOF struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b cancelAtEOF) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.cancel()
	}
	return n, err
}

// TestWriteSurvivesCancelAtEOF: a body read to its end is stored even when
// the request's context is cancelled as it ends (a deadline, the caller
// leaving), and a request whose context can never be cancelled is stored
// too.
func TestWriteSurvivesCancelAtEOF(t *testing.T) {
	t.Parallel()
	o := newOrigin(t, nil)
	c := newClock()
	k, err := keyer.New(nil)
	require.NoError(t, err)
	so := &middleware.StoreOptions{Clock: c.Now, Logger: quiet, Counters: new(middleware.Counters)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tr := testTransport(t)
	next := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := tr.RoundTrip(r)
		if err == nil && r.Context() == ctx {
			resp.Body = cancelAtEOF{resp.Body, cancel}
		}
		return resp, err
	})
	rt := middleware.Chain(middleware.Key(k), mustMW(t)(middleware.Store(ctxStore{newMemstore(t, c)}, so)))(next)

	do(t, rt, mustRequest(t, ctx, http.MethodGet, o.URL+"/cancelled", nil))
	require.Error(t, ctx.Err(), "the context was cancelled at EOF")
	get(t, rt, o.URL+"/background")
	assert.Equal(t, int64(2), so.Counters.Stored.Load())
	for _, path := range []string{"/cancelled", "/background"} {
		resp, body := get(t, rt, o.URL+path)
		assert.True(t, middleware.InfoOf(resp).FromCache, path)
		assert.Equal(t, "body of "+path, body)
	}
}
