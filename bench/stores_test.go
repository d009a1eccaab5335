package bench

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"testing"

	"github.com/cachestack/cachestack/bench/internal/backends"
	"github.com/cachestack/cachestack/cached"
)

// TestSubjectsServeHits checks what the benchmarks rely on: every cache
// they measure answers its second request from the cache, with the
// origin's header fields, apiFields included. It runs in the normal test
// run, so a store that stops caching fails here rather than making a
// benchmark measure misses.
func TestSubjectsServeHits(t *testing.T) {
	t.Parallel()
	for _, s := range subjects() {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			o := newOrigin(t, 1<<10, apiFields)
			rt, url := warm(t, s, o, 0)
			before := o.hits.Load()
			for range 3 {
				resp := get(t, rt, newRequest(t, url))
				if !s.hit(resp) {
					t.Fatal("not a hit")
				}
				for k, vs := range apiFields {
					if got := resp.Header.Values(k); !slices.Equal(got, vs) {
						t.Errorf("hit's %s = %q, want %q", k, got, vs)
					}
				}
			}
			if o.hits.Load() != before {
				t.Fatal("a hit reached the origin")
			}
		})
	}
}

// BenchmarkStoreHit is a hit on each backend's typed store alone, without
// the cache around it: Get of one stored response (for byte stores: the
// store's read and the codec's decode), the store already holding
// fillBytes of other responses. What BenchmarkHit adds to it is the
// cache's own work, the same for every store but for the lookup's
// deadline (stores that may block are called on a goroutine of their
// own).
func BenchmarkStoreHit(b *testing.B) {
	for _, be := range backends.All() {
		for _, sz := range sizes {
			b.Run("store="+be.Name+"/body="+sz.name, func(b *testing.B) {
				in, err := be.Open(backends.Config{MaxBytes: budget, Dir: b.TempDir()})
				if errors.Is(err, backends.ErrUnavailable) {
					b.Skip(err)
				}
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { in.Close() })
				ctx := context.Background()
				h := cached.NewHeader(originHeader(sz.n, nil))
				body := bytes.Repeat([]byte("0123456789abcdef"), sz.n/16)
				for i := range fillBytes / sz.n {
					url := "https://origin.test/v1/other/" + strconv.Itoa(i)
					r := &cached.Response{Method: http.MethodGet, URL: url, StatusCode: http.StatusOK, Proto: "HTTP/1.1", Header: h, Body: body}
					if err := in.Store.Set(ctx, "GET "+url, r, 0); err != nil {
						b.Fatal(err)
					}
				}
				url := "https://origin.test/v1/items/42"
				r := &cached.Response{Method: http.MethodGet, URL: url, StatusCode: http.StatusOK, Proto: "HTTP/1.1", Header: h, Body: body}
				if err := in.Store.Set(ctx, "GET "+url, r, 0); err != nil {
					b.Fatal(err)
				}
				if in.Settle != nil {
					in.Settle()
				}
				b.ReportAllocs()
				for b.Loop() {
					got, err := in.Store.Get(ctx, "GET "+url)
					if err != nil {
						b.Fatal(err)
					}
					if len(got.Body) != len(body) {
						b.Fatalf("body of %d bytes, want %d", len(got.Body), len(body))
					}
				}
			})
		}
	}
}
