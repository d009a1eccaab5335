package middleware_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/keyer"
	"github.com/cachestack/cachestack/middleware"
	"github.com/cachestack/cachestack/store/memstore"
	"github.com/stretchr/testify/require"
)

// ccOptions configure newCCStack: the four seed middlewares plus
// CacheControl, and optionally Redirect and Coalesce, over a fresh memstore
// driven by the test's fake clock.
type ccOptions struct {
	keyer    *keyer.Options
	filter   *middleware.FilterOptions
	expiry   *middleware.ExpiryOptions
	cc       *middleware.CacheControlOptions
	store    *middleware.StoreOptions
	coalesce *middleware.CoalesceOptions
	redirect bool
	noCC     bool              // the header-blind mode: IgnoreCacheControl instead of CacheControl
	next     http.RoundTripper // the transport beneath; nil means testTransport
}

func newCCStack(t *testing.T, c *clock, o ccOptions) (http.RoundTripper, *middleware.Counters) {
	t.Helper()
	k, err := keyer.New(o.keyer)
	require.NoError(t, err)
	so := middleware.StoreOptions{}
	if o.store != nil {
		so = *o.store
	}
	so.Clock, so.Logger = c.Now, quiet
	so.Counters = new(middleware.Counters)
	m := mustMW(t)
	mws := []middleware.Middleware{
		middleware.Key(k),
		m(middleware.Filter(o.filter)),
		m(middleware.Expiry(o.expiry)),
	}
	if o.noCC {
		mws = append(mws, middleware.IgnoreCacheControl())
	} else {
		mws = append(mws, m(middleware.CacheControl(o.cc)))
	}
	if o.redirect {
		mws = append(mws, middleware.Redirect())
	}
	if o.coalesce != nil {
		mws = append(mws, m(middleware.Coalesce(o.coalesce)))
	}
	mws = append(mws, m(middleware.Store(newMemstore(t, c), &so)))
	next := o.next
	if next == nil {
		next = testTransport(t)
	}
	return middleware.Chain(mws...)(next), so.Counters
}

// newWorkers returns a Workers closed when the test ends.
func newWorkers(t *testing.T, n int) *middleware.Workers {
	t.Helper()
	w, err := middleware.NewWorkers(n)
	require.NoError(t, err)
	t.Cleanup(func() { w.Close() })
	return w
}

// httpDate formats t as an IMF-fixdate.
func httpDate(t time.Time) string { return t.UTC().Format(http.TimeFormat) }

// dated wraps an origin handler so that every response carries a Date
// from the fake clock (the real server would stamp the real time, and
// ages would be computed against the wrong clock). A handler may override
// it.
func dated(c *clock, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", httpDate(c.Now()))
		h(w, r)
	}
}

// header builds an http.Header from name, value pairs; a name may repeat.
func header(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

// fetch sends a GET for url with extra request header fields through rt,
// reads the body and reports whether the origin was contacted.
func fetch(t *testing.T, rt http.RoundTripper, o *origin, url string, h http.Header) (resp *http.Response, body string, contacted bool) {
	t.Helper()
	return fetchCtx(t, context.Background(), rt, o, url, h)
}

func fetchCtx(t *testing.T, ctx context.Context, rt http.RoundTripper, o *origin, url string, h http.Header) (resp *http.Response, body string, contacted bool) {
	t.Helper()
	req := mustRequest(t, ctx, http.MethodGet, url, nil)
	for k, vs := range h {
		req.Header[k] = vs
	}
	before := o.hits.Load()
	resp, body = do(t, rt, req)
	return resp, body, o.hits.Load() != before
}

// newMemstoreReal is a memstore on the real clock.
func newMemstoreReal(t *testing.T) *memstore.Store[string, *cached.Response] {
	t.Helper()
	s, err := memstore.New[string, *cached.Response](&memstore.Options[*cached.Response]{MaxBytes: 8 << 20})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// waitFor blocks an origin handler until ch is closed, for at most 10s, so
// that a test whose cache misbehaves fails instead of hanging.
func waitFor(ch <-chan struct{}) {
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
	}
}
