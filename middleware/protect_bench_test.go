package middleware_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/codec"
	"github.com/cachestack/cachestack/middleware"
	"github.com/cachestack/cachestack/seal"
	"github.com/cachestack/cachestack/sign"
	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/memstore"
)

// BenchmarkProtectedHit is a fresh hit of a 1 KiB response called on the
// stack as a bare RoundTripper, body read to EOF, over a typed and a byte
// memstore, unprotected, with sign.Middleware and seal.Middleware, and
// (byte store) with the store-level sign.Wrap and seal.Wrap for
// comparison.
func BenchmarkProtectedHit(b *testing.B) {
	body := bytes.Repeat([]byte{'x'}, 1<<10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Write(body)
	}))
	defer srv.Close()
	signer, err := sign.New(bytes.Repeat([]byte("s"), sign.MinSecretLen))
	if err != nil {
		b.Fatal(err)
	}
	sealer, err := seal.New(bytes.Repeat([]byte("k"), seal.KeySize))
	if err != nil {
		b.Fatal(err)
	}
	signing, err := sign.Middleware(signer)
	if err != nil {
		b.Fatal(err)
	}
	sealing, err := seal.Middleware(sealer)
	if err != nil {
		b.Fatal(err)
	}
	typed := func() store.Store[string, *cached.Response] {
		m, err := memstore.New[string, *cached.Response](nil)
		if err != nil {
			b.Fatal(err)
		}
		return m
	}
	byteStore := func() store.Store[string, []byte] {
		m, err := memstore.New[string, []byte](nil)
		if err != nil {
			b.Fatal(err)
		}
		return m
	}
	cases := []struct {
		name  string
		store func() store.Store[string, *cached.Response]
		mw    middleware.Middleware
	}{
		{"store=typed/protect=none", typed, nil},
		{"store=typed/protect=sign.Middleware", typed, signing},
		{"store=typed/protect=seal.Middleware", typed, sealing},
		{"store=bytes/protect=none", func() store.Store[string, *cached.Response] { return codec.Bind(byteStore(), codec.Response()) }, nil},
		{"store=bytes/protect=sign.Middleware", func() store.Store[string, *cached.Response] { return codec.Bind(byteStore(), codec.Response()) }, signing},
		{"store=bytes/protect=sign.Wrap", func() store.Store[string, *cached.Response] {
			return codec.Bind(sign.Wrap(byteStore(), signer), codec.Response())
		}, nil},
		{"store=bytes/protect=seal.Middleware", func() store.Store[string, *cached.Response] { return codec.Bind(byteStore(), codec.Response()) }, sealing},
		{"store=bytes/protect=seal.Wrap", func() store.Store[string, *cached.Response] {
			return codec.Bind(seal.Wrap(byteStore(), sealer), codec.Response())
		}, nil},
	}
	for _, tt := range cases {
		b.Run(tt.name, func(b *testing.B) {
			st, err := middleware.Store(tt.store(), &middleware.StoreOptions{Logger: quiet})
			if err != nil {
				b.Fatal(err)
			}
			tr := &http.Transport{}
			defer tr.CloseIdleConnections()
			rt := middleware.Chain(tt.mw, st)(tr)
			req, err := http.NewRequest(http.MethodGet, srv.URL+"/item", nil)
			if err != nil {
				b.Fatal(err)
			}
			hit := func() bool {
				resp, err := rt.RoundTrip(req)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				return middleware.InfoOf(resp).FromCache
			}
			hit()
			if !hit() {
				b.Fatal("not a hit")
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				hit()
			}
		})
	}
}
