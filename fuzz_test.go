package cachestack_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/cachestack/cachestack"
	"github.com/cachestack/cachestack/codec"
	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/memstore"
)

// stuckBytes is a byte store whose every lookup answers raw, whatever the
// key: what a damaged or hostile backend could hand the cache.
type stuckBytes struct {
	store.Store[string, []byte]
	raw []byte
}

func (s stuckBytes) Get(context.Context, string) ([]byte, error) {
	return append([]byte(nil), s.raw...), nil
}

// FuzzStoredBytes hands the cache arbitrary bytes for every lookup: the
// request must be answered, never fail or panic, and a response that was
// not served from the cache must be the origin's.
func FuzzStoredBytes(f *testing.F) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "origin body")
	}))
	f.Cleanup(origin.Close)
	// Seeds: a real entry for the URL, one for another URL, and garbage.
	raw, err := memstore.New[string, []byte](nil)
	if err != nil {
		f.Fatal(err)
	}
	seedCache, err := cachestack.New(&cachestack.Options{Store: codec.Bind(raw, codec.Response())})
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range []string{"/x", "/other"} {
		resp, err := seedCache.Client().Get(origin.URL + p)
		if err != nil {
			f.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	seedCache.Close()
	for k, err := range raw.Keys(context.Background()) {
		if err != nil {
			f.Fatal(err)
		}
		v, _ := raw.Get(context.Background(), k)
		f.Add(v)
		f.Add(v[:len(v)/2])
	}
	f.Add([]byte("CSR\x01\xa0"))
	f.Add([]byte{})

	tr := &http.Transport{}
	f.Cleanup(tr.CloseIdleConnections)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := memstore.New[string, []byte](nil)
		if err != nil {
			t.Fatal(err)
		}
		c, err := cachestack.New(&cachestack.Options{
			Store: codec.Bind(stuckBytes{Store: m, raw: b}, codec.Response()), Transport: tr,
			Logger: quietLogger, GetTimeout: time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		resp, err := c.Client().Get(origin.URL + "/x")
		if err != nil {
			t.Fatalf("request failed: %v", err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("reading the body: %v", err)
		}
		if !cachestack.InfoOf(resp).FromCache && string(body) != "origin body" {
			t.Fatalf("a response from the origin with another body: %q", body)
		}
	})
}
