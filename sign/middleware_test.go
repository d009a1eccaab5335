package sign_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/codec"
	"github.com/cachestack/cachestack/keyer"
	"github.com/cachestack/cachestack/middleware"
	"github.com/cachestack/cachestack/policy"
	"github.com/cachestack/cachestack/sign"
	"github.com/cachestack/cachestack/store/memstore"
)

var quiet = slog.New(slog.DiscardHandler)

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// foreign is a middleware of the user's own (logging, say): not a cache
// middleware, so it splits the cache middlewares around it.
func foreign(next http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(r *http.Request) (*http.Response, error) { return next.RoundTrip(r) })
}

// origin answers every path with its name, fresh for a minute, and counts
// the requests it answers.
func origin(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "body of "+r.URL.Path)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func getBody(t *testing.T, client *http.Client, url string) (string, bool) {
	t.Helper()
	resp, err := client.Get(url)
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	return string(b), middleware.InfoOf(resp).FromCache
}

// outcome is what a stack did with a fixed sequence of requests and a
// tampered entry; every placement of the signing middleware must give the
// same.
type outcome struct {
	FromCache   []bool
	Origin      int64
	Sealed      int // stored entries that are signed envelopes
	Plain       int // stored entries that are not
	Corrupt     int64
	Stats       sign.Stats
	AfterPlant  string
	AfterPlantC bool
}

// TestMiddlewareOrder places the signing middleware at every position
// among adjacent cache middlewares, and above foreign middlewares that
// split them, and requires the same outcome from each: entries signed,
// hits verified, a planted unsigned entry a counted miss.
func TestMiddlewareOrder(t *testing.T) {
	t.Parallel()
	mw := func(m middleware.Middleware, err error) middleware.Middleware {
		require.NoError(t, err)
		return m
	}
	type build func(signing, st middleware.Middleware) []middleware.Middleware
	others := func() []middleware.Middleware {
		k, err := keyer.New(nil)
		require.NoError(t, err)
		return []middleware.Middleware{
			middleware.Key(k),
			mw(middleware.Filter(nil)),
			mw(middleware.Expiry(&middleware.ExpiryOptions{ExpireAfter: policy.After(time.Hour)})),
			middleware.Redirect(),
		}
	}
	stacks := map[string]build{}
	for i := range 6 {
		stacks[fmt.Sprintf("adjacent at %d", i)] = func(signing, st middleware.Middleware) []middleware.Middleware {
			return slices.Insert(append(others(), st), i, signing)
		}
	}
	stacks["above a foreign middleware"] = func(signing, st middleware.Middleware) []middleware.Middleware {
		return append([]middleware.Middleware{signing, foreign}, append(others(), st)...)
	}
	stacks["above foreign middlewares, between cache middlewares"] = func(signing, st middleware.Middleware) []middleware.Middleware {
		o := others()
		return []middleware.Middleware{o[0], signing, foreign, o[1], foreign, o[2], o[3], st}
	}
	stacks["alone above the store, across a foreign middleware"] = func(signing, st middleware.Middleware) []middleware.Middleware {
		return append(append(others(), signing, foreign), st)
	}

	run := func(t *testing.T, b build) outcome {
		ctx := context.Background()
		srv, calls := origin(t)
		signer := newSigner(t, secret(0))
		signing, err := sign.Middleware(signer)
		require.NoError(t, err)
		mem, err := memstore.New[string, *cached.Response](nil)
		require.NoError(t, err)
		counters := new(middleware.Counters)
		st := mw(middleware.Store(mem, &middleware.StoreOptions{Counters: counters, Logger: quiet}))
		tr := &http.Transport{}
		t.Cleanup(tr.CloseIdleConnections)
		client := &http.Client{Transport: middleware.Chain(b(signing, st)...)(tr)}

		var o outcome
		for _, path := range []string{"/a", "/b", "/a", "/b"} {
			body, hit := getBody(t, client, srv.URL+path)
			require.Equal(t, "body of "+path, body)
			o.FromCache = append(o.FromCache, hit)
		}
		for k, err := range mem.Keys(ctx) {
			require.NoError(t, err)
			e, err := mem.Get(ctx, k)
			require.NoError(t, err)
			if e.Kind == cached.KindSealed {
				o.Sealed++
			} else {
				o.Plain++
			}
		}
		k, err := keyer.New(nil)
		require.NoError(t, err)
		id, err := k.KeyOf(http.MethodGet, srv.URL+"/a")
		require.NoError(t, err)
		require.NoError(t, mem.Set(ctx, id.Key, &cached.Response{
			Method: http.MethodGet, URL: id.URL, StatusCode: http.StatusOK, Proto: "HTTP/1.1",
			Header: cached.NewHeader(http.Header{}), Body: []byte("planted"), ResponseTime: time.Now(),
		}, 0))
		o.AfterPlant, o.AfterPlantC = getBody(t, client, srv.URL+"/a")
		o.Origin, o.Corrupt, o.Stats = calls.Load(), counters.Corrupt.Load(), signer.Stats()
		return o
	}
	want := outcome{
		FromCache: []bool{false, false, true, true}, Origin: 3, Sealed: 2,
		Corrupt: 1, Stats: sign.Stats{Verified: 2, Rejected: 1},
		AfterPlant: "body of /a",
	}
	for name, b := range stacks {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, want, run(t, b))
		})
	}
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestMisplacedMiddlewareIsReported: beneath the Store middleware's foreign
// neighbour, the signing middleware cannot reach the store. Entries are
// then stored unsigned, and the first request says so in an error log. It
// sets the default logger, so it does not run in parallel.
func TestMisplacedMiddlewareIsReported(t *testing.T) {
	var logs syncBuffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })

	srv, _ := origin(t)
	signing, err := sign.Middleware(newSigner(t, secret(0)))
	require.NoError(t, err)
	mem, err := memstore.New[string, *cached.Response](nil)
	require.NoError(t, err)
	st, err := middleware.Store(mem, &middleware.StoreOptions{Logger: quiet})
	require.NoError(t, err)
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: middleware.Chain(st, foreign, signing)(tr)}
	getBody(t, client, srv.URL+"/a")
	getBody(t, client, srv.URL+"/b")
	assert.Contains(t, logs.String(), "level=ERROR")
	assert.Contains(t, logs.String(), "middlewares=Protect")
	assert.Equal(t, 1, bytes.Count([]byte(logs.String()), []byte("no effect")), "reported once")
}

// TestProtectorRejects feeds the Protector's Verify every kind of entry
// that is not one it made for the key.
func TestProtectorRejects(t *testing.T) {
	t.Parallel()
	signer := newSigner(t, secret(0))
	p, err := sign.Protector(signer)
	require.NoError(t, err)
	e := &cached.Response{Method: http.MethodGet, URL: "https://example.com/a", StatusCode: 200, Body: []byte("a")}
	env, err := p.Protect("ka", e)
	require.NoError(t, err)
	require.Equal(t, cached.KindSealed, env.Kind)
	require.Equal(t, e.URL, env.URL, "the URL stays in clear on a signed envelope")

	got, err := p.Verify("ka", env)
	require.NoError(t, err)
	require.Equal(t, e.Body, got.Body)
	require.Equal(t, e.URL, got.URL)

	changedURL := *env
	changedURL.URL = "https://example.com/b"
	changedMethod := *env
	changedMethod.Method = http.MethodPost
	flipped := *env
	flipped.Body = bytes.Clone(env.Body)
	flipped.Body[len(flipped.Body)-1] ^= 1
	wrongDomain := *env // signed with the same secret by Sign, not by the middleware
	wrongDomain.Body = signer.Sign("ka", env.Body[37:])
	for name, bad := range map[string]*cached.Response{
		"plain entry":  e,
		"other key":    nil,
		"URL changed":  &changedURL,
		"method":       &changedMethod,
		"flipped":      &flipped,
		"Sign's entry": &wrongDomain,
		"empty":        {Kind: cached.KindSealed},
	} {
		key := "ka"
		if bad == nil {
			key, bad = "kb", env
		}
		got, err := p.Verify(key, bad)
		require.ErrorIs(t, err, sign.ErrInvalid, name)
		require.ErrorIs(t, err, codec.ErrFormat, name)
		require.Nil(t, got, name)
	}
	require.Equal(t, sign.Stats{Verified: 1, Rejected: 7}, signer.Stats())

	_, err = sign.Middleware(nil)
	require.ErrorContains(t, err, "sign.New")
	_, err = sign.Protector(&sign.Signer{})
	require.ErrorContains(t, err, "sign.New")
}
