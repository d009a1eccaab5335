package middleware_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
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
	"github.com/cachestack/cachestack/keyer"
	"github.com/cachestack/cachestack/middleware"
)

// tagger is a Protector that marks what it protects with its name and the
// key, and records its calls in a shared log. It stands in for a real one
// (package sign, package seal) where the test is about the engine.
type tagger struct {
	name   string
	calls  *callLog
	reject atomic.Bool // Verify refuses everything
	fail   atomic.Bool // Protect fails
}

type callLog struct {
	mu    sync.Mutex
	calls []string
}

func (l *callLog) add(s string) {
	l.mu.Lock()
	l.calls = append(l.calls, s)
	l.mu.Unlock()
}

func (l *callLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.calls
	l.calls = nil
	return c
}

func (p *tagger) Protect(key string, e *cached.Response) (*cached.Response, error) {
	p.calls.add(p.name + ".Protect")
	if p.fail.Load() {
		return nil, errors.New(p.name + " cannot protect")
	}
	b, err := codec.Response().Marshal(e)
	if err != nil {
		return nil, err
	}
	return &cached.Response{Kind: cached.KindSealed, Ref: p.name + "|" + key, Body: b}, nil
}

func (p *tagger) Verify(key string, e *cached.Response) (*cached.Response, error) {
	p.calls.add(p.name + ".Verify")
	if p.reject.Load() || e.Kind != cached.KindSealed || e.Ref != p.name+"|"+key {
		return nil, errors.New(p.name + " rejects the entry")
	}
	return codec.Response().Unmarshal(bytes.Clone(e.Body))
}

func keyFor(t *testing.T, url string) string {
	t.Helper()
	k, err := keyer.New(nil)
	require.NoError(t, err)
	id, err := k.KeyOf(http.MethodGet, url)
	require.NoError(t, err)
	return id.Key
}

// TestProtectorsNest stacks two Protect middlewares in every arrangement
// the docs describe: the outer one protects first and verifies last,
// whether they are adjacent, split by a foreign middleware, or on either
// side of the Store middleware.
func TestProtectorsNest(t *testing.T) {
	t.Parallel()
	fgn := func(next http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) { return next.RoundTrip(r) })
	}
	stacks := map[string]func(p1, p2, st middleware.Middleware) []middleware.Middleware{
		"adjacent": func(p1, p2, st middleware.Middleware) []middleware.Middleware {
			return []middleware.Middleware{p1, p2, st}
		},
		"around the store": func(p1, p2, st middleware.Middleware) []middleware.Middleware {
			return []middleware.Middleware{p1, st, p2}
		},
		"beneath the store": func(p1, p2, st middleware.Middleware) []middleware.Middleware {
			return []middleware.Middleware{st, p1, p2}
		},
		"across a foreign": func(p1, p2, st middleware.Middleware) []middleware.Middleware {
			return []middleware.Middleware{p1, fgn, p2, st}
		},
		"both across a foreign": func(p1, p2, st middleware.Middleware) []middleware.Middleware {
			return []middleware.Middleware{p1, p2, fgn, st}
		},
		"across two foreign": func(p1, p2, st middleware.Middleware) []middleware.Middleware {
			return []middleware.Middleware{p1, fgn, p2, fgn, st}
		},
	}
	for name, build := range stacks {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			o := newOrigin(t, nil)
			c := newClock()
			m := mustMW(t)
			calls := new(callLog)
			p1, p2 := &tagger{name: "p1", calls: calls}, &tagger{name: "p2", calls: calls}
			mem := newMemstore(t, c)
			st := m(middleware.Store(mem, &middleware.StoreOptions{Clock: c.Now, Logger: quiet}))
			rt := middleware.Chain(build(m(middleware.Protect(p1)), m(middleware.Protect(p2)), st)...)(testTransport(t))

			_, body := get(t, rt, o.URL+"/a")
			require.Equal(t, "body of /a", body)
			require.Equal(t, []string{"p1.Protect", "p2.Protect"}, calls.take(), "outermost protects first")
			stored, err := mem.Get(context.Background(), keyFor(t, o.URL+"/a"))
			require.NoError(t, err)
			require.Equal(t, "p2|"+keyFor(t, o.URL+"/a"), stored.Ref, "the innermost layer is the one on the store")

			resp, body := get(t, rt, o.URL+"/a")
			require.Equal(t, "body of /a", body)
			require.True(t, middleware.InfoOf(resp).FromCache)
			require.Equal(t, []string{"p2.Verify", "p1.Verify"}, calls.take(), "and verifies last")
		})
	}
}

// TestRejectedEntriesAreMisses: an entry that fails Verify is a miss,
// counted, deleted and fetched again; the warnings are limited to one a
// minute, the rest logged at debug level, and the next warning says how
// many were held back.
func TestRejectedEntriesAreMisses(t *testing.T) {
	t.Parallel()
	o := newOrigin(t, nil)
	c := newClock()
	m := mustMW(t)
	var logs syncBuf
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	counters := new(middleware.Counters)
	p := &tagger{name: "p", calls: new(callLog)}
	mem := newMemstore(t, c)
	st := m(middleware.Store(mem, &middleware.StoreOptions{Clock: c.Now, Logger: logger, Counters: counters}))
	rt := middleware.Chain(m(middleware.Protect(p)), st)(testTransport(t))

	paths := []string{"/1", "/2", "/3", "/4", "/5"}
	for _, path := range paths {
		get(t, rt, o.URL+path)
	}
	require.EqualValues(t, 5, counters.Stored.Load())
	p.reject.Store(true)
	for _, path := range paths {
		resp, body := get(t, rt, o.URL+path)
		require.Equal(t, "body of "+path, body)
		require.False(t, middleware.InfoOf(resp).FromCache)
	}
	require.EqualValues(t, 10, o.hits.Load(), "every rejected entry went to the network")
	require.EqualValues(t, 5, counters.Corrupt.Load())
	require.Zero(t, counters.Hits.Load())
	warn := func() int { return strings.Count(logs.String(), "level=WARN") }
	require.Equal(t, 1, warn(), logs.String())
	require.Equal(t, 4, strings.Count(logs.String(), "level=DEBUG msg=\"cachestack: stored entry failed verification"))
	require.Contains(t, logs.String(), "p rejects the entry")

	c.Advance(time.Minute)
	get(t, rt, o.URL+"/1")
	require.Equal(t, 2, warn())
	require.Contains(t, logs.String(), "suppressed=4")

	// A rejected entry is deleted; what replaced it is protected anew.
	p.reject.Store(false)
	resp, _ := get(t, rt, o.URL+"/1")
	require.True(t, middleware.InfoOf(resp).FromCache)
}

// TestProtectFailureIsNotStored: an entry the Protector cannot protect is
// not stored, and the failure is counted; the caller gets the response.
func TestProtectFailureIsNotStored(t *testing.T) {
	t.Parallel()
	o := newOrigin(t, nil)
	c := newClock()
	m := mustMW(t)
	counters := new(middleware.Counters)
	p := &tagger{name: "p", calls: new(callLog)}
	p.fail.Store(true)
	mem := newMemstore(t, c)
	st := m(middleware.Store(mem, &middleware.StoreOptions{Clock: c.Now, Logger: quiet, Counters: counters}))
	rt := middleware.Chain(st, m(middleware.Protect(p)))(testTransport(t))
	for range 2 {
		_, body := get(t, rt, o.URL+"/a")
		require.Equal(t, "body of /a", body)
	}
	require.EqualValues(t, 2, o.hits.Load())
	require.Zero(t, counters.Stored.Load())
	require.EqualValues(t, 2, counters.StoreErrors.Load())
	require.Zero(t, mem.Len())
}

// TestSealedEntryWithoutProtector: a stack with no Protector never serves
// a protected envelope (one written by a stack that has one): it is a
// counted miss.
func TestSealedEntryWithoutProtector(t *testing.T) {
	t.Parallel()
	o := newOrigin(t, nil)
	c := newClock()
	m := mustMW(t)
	counters := new(middleware.Counters)
	mem := newMemstore(t, c)
	st := m(middleware.Store(mem, &middleware.StoreOptions{Clock: c.Now, Logger: quiet, Counters: counters}))
	rt := st(testTransport(t))
	require.NoError(t, mem.Set(context.Background(), keyFor(t, o.URL+"/a"), &cached.Response{Kind: cached.KindSealed, Body: []byte("protected")}, 0))
	resp, body := get(t, rt, o.URL+"/a")
	require.Equal(t, "body of /a", body)
	require.False(t, middleware.InfoOf(resp).FromCache)
	require.EqualValues(t, 1, counters.Corrupt.Load())
	resp, _ = get(t, rt, o.URL+"/a")
	require.True(t, middleware.InfoOf(resp).FromCache, "replaced by a plain entry")
}

func TestProtectNil(t *testing.T) {
	t.Parallel()
	_, err := middleware.Protect(nil)
	assert.EqualError(t, err, "middleware.Protect: protector is nil")
}

// syncBuf is a goroutine-safe log sink.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
