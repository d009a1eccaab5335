package seal_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/codec"
	"github.com/cachestack/cachestack/middleware"
	"github.com/cachestack/cachestack/seal"
	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/memstore"
)

// TestMiddlewareOverAnyStore runs the sealing middleware over a typed and
// a byte store against a real origin: hits are served, and nothing of the
// response, its URL or its header fields is in clear in the store.
func TestMiddlewareOverAnyStore(t *testing.T) {
	t.Parallel()
	for _, typed := range []bool{true, false} {
		t.Run(map[bool]string{true: "typed", false: "bytes"}[typed], func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			var calls atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				w.Header().Set("Cache-Control", "max-age=600")
				w.Header().Set("X-Account", planted)
				io.WriteString(w, `{"balance":"`+planted+`"}`)
			}))
			defer srv.Close()

			// held returns every stored entry as the store holds it.
			var st store.Store[string, *cached.Response]
			var held func() []byte
			if typed {
				m, err := memstore.New[string, *cached.Response](nil)
				require.NoError(t, err)
				st = m
				held = func() []byte {
					var all []byte
					for k, err := range m.Keys(ctx) {
						require.NoError(t, err)
						e, err := m.Get(ctx, k)
						require.NoError(t, err)
						require.Equal(t, cached.Response{Kind: cached.KindSealed, Body: e.Body}, *e, "an envelope holds the sealed bytes alone")
						all = append(all, e.Body...)
					}
					return all
				}
			} else {
				m := newMem(t, nil)
				st = codec.Bind(m, codec.Response())
				held = func() []byte {
					var all []byte
					for k, err := range m.Keys(ctx) {
						require.NoError(t, err)
						b, err := m.Get(ctx, k)
						require.NoError(t, err)
						all = append(all, b...)
					}
					return all
				}
			}
			defer st.Close()
			sealer := newSealer(t, testKey(0))
			sealing, err := seal.Middleware(sealer)
			require.NoError(t, err)
			smw, err := middleware.Store(st, &middleware.StoreOptions{Logger: slog.New(slog.DiscardHandler)})
			require.NoError(t, err)
			tr := &http.Transport{}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: middleware.Chain(sealing, smw)(tr)}
			for i := range 3 {
				resp, err := client.Get(srv.URL + "/account?id=" + planted)
				require.NoError(t, err)
				b, err := io.ReadAll(resp.Body)
				require.NoError(t, err)
				resp.Body.Close()
				require.Equal(t, `{"balance":"`+planted+`"}`, string(b))
				require.Equal(t, planted, resp.Header.Get("X-Account"))
				require.Equal(t, i > 0, middleware.InfoOf(resp).FromCache)
			}
			require.EqualValues(t, 1, calls.Load())
			require.Equal(t, seal.Stats{Sealed: 1, Opened: 2}, sealer.Stats())

			all := held()
			require.NotEmpty(t, all)
			for _, clear := range []string{planted, "/account", "127.0.0.1", "X-Account", "max-age", "GET"} {
				require.NotContains(t, string(all), clear, "in clear in a sealed store")
			}
		})
	}
}

// TestProtectorRejects feeds the Protector's Verify every kind of entry
// that is not one it made for the key, and checks that opening leaves the
// stored envelope, which a typed store shares between readers, as it was.
func TestProtectorRejects(t *testing.T) {
	t.Parallel()
	sealer := newSealer(t, testKey(0))
	p, err := seal.Protector(sealer)
	require.NoError(t, err)
	e := secretResponse()
	env, err := p.Protect("ka", e)
	require.NoError(t, err)
	require.Equal(t, cached.Response{Kind: cached.KindSealed, Body: env.Body}, *env)
	stored := bytes.Clone(env.Body)

	for range 2 {
		got, err := p.Verify("ka", env)
		require.NoError(t, err)
		require.Equal(t, e.Body, got.Body)
		require.Equal(t, e.URL, got.URL)
		require.Equal(t, stored, env.Body, "Verify does not decrypt in place")
	}

	flipped := *env
	flipped.Body = bytes.Clone(env.Body)
	flipped.Body[len(flipped.Body)-1] ^= 1
	wrongDomain := *env // sealed with the same key by Seal, not by the middleware
	plain, err := codec.Response().Marshal(e)
	require.NoError(t, err)
	wrongDomain.Body = sealer.Seal("ka", plain)
	for name, bad := range map[string]*cached.Response{
		"plain entry":  e,
		"other key":    nil,
		"flipped":      &flipped,
		"Seal's entry": &wrongDomain,
		"empty":        {Kind: cached.KindSealed},
	} {
		key := "ka"
		if bad == nil {
			key, bad = "kb", env
		}
		got, err := p.Verify(key, bad)
		require.ErrorIs(t, err, seal.ErrInvalid, name)
		require.ErrorIs(t, err, codec.ErrFormat, name)
		require.Nil(t, got, name)
	}
	require.Equal(t, seal.Stats{Sealed: 2, Opened: 2, Rejected: 5}, sealer.Stats())

	_, err = seal.Middleware(nil)
	require.ErrorContains(t, err, "seal.New")
	_, err = seal.Protector(&seal.Sealer{})
	require.ErrorContains(t, err, "seal.New")
}
