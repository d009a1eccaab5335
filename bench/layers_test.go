package bench

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/cachestack/cachestack/bench/internal/backends"
	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/codec"
	"github.com/cachestack/cachestack/keyer"
	"github.com/cachestack/cachestack/policy"
	"github.com/cachestack/cachestack/store/memstore"
)

// entry is a stored response like the one the hit benchmarks serve.
func entry(size int) *cached.Response {
	now := time.Now()
	return &cached.Response{
		Method:     http.MethodGet,
		URL:        "http://127.0.0.1:1234/v1/items/42?expand=owner",
		StatusCode: http.StatusOK,
		Proto:      "HTTP/1.1",
		Header: cached.NewHeader(http.Header{
			"Content-Type":   {"application/json; charset=utf-8"},
			"Content-Length": {"1024"},
			"Cache-Control":  {"public, max-age=3600"},
			"Date":           {now.UTC().Format(http.TimeFormat)},
			"Last-Modified":  {now.UTC().Format(http.TimeFormat)},
			"Etag":           {`"33a64df551425fcc55e4d42a148795d9f25f89d4"`},
			"Server":         {"origin/1.0"},
		}),
		Body:         make([]byte, size),
		RequestTime:  now,
		ResponseTime: now,
		Created:      now,
	}
}

// BenchmarkLayer measures each layer of a hit alone. With
// BenchmarkHitRoundTripper/cache=cachestack-memory, what is left after
// keying, the store Get and (for byte stores) decoding is the engine's own
// work and building the caller's response.
func BenchmarkLayer(b *testing.B) {
	ctx := context.Background()
	b.Run("layer=key", func(b *testing.B) {
		k, err := keyer.New(nil)
		if err != nil {
			b.Fatal(err)
		}
		req := newRequest(b, "http://127.0.0.1:1234/v1/items/42?expand=owner")
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := k.Key(req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("layer=policy", func(b *testing.B) {
		p, err := policy.CompilePatterns([]policy.URLExpiry{
			{Pattern: "*.example.com/static/*", Expiry: policy.Never()},
			{Pattern: "api.example.com/v2/*", Expiry: policy.After(time.Minute)},
			{Pattern: "127.0.0.1:1234/v1/items/*", Expiry: policy.After(time.Hour)},
		})
		if err != nil {
			b.Fatal(err)
		}
		url := "http://127.0.0.1:1234/v1/items/42?expand=owner"
		session := policy.After(24 * time.Hour)
		now := time.Now()
		b.ReportAllocs()
		for b.Loop() {
			var d policy.Decisions
			d.Offer(policy.SourceSession, session)
			if e, ok := p.Match(url); ok {
				d.Offer(policy.SourceURL, e)
			}
			e, _ := d.Decide()
			if _, ok := e.ExpiresAt(now); !ok {
				b.Fatal("not stored")
			}
		}
	})
	for _, sz := range sizes {
		e := entry(sz.n)
		enc, err := codec.Response().Marshal(e)
		if err != nil {
			b.Fatal(err)
		}
		b.Run("layer=get/store=memory/body="+sz.name, func(b *testing.B) {
			s, err := memstore.New[string, *cached.Response](nil)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			if err := s.Set(ctx, "k", e, 0); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Get(ctx, "k"); err != nil {
					b.Fatal(err)
				}
			}
		})
		for _, be := range backends.All() {
			if be.Kind != backends.Bytes {
				continue
			}
			b.Run("layer=get/store="+be.Name+"/body="+sz.name, func(b *testing.B) {
				in, err := be.Open(backends.Config{MaxBytes: budget, Dir: b.TempDir()})
				if err != nil {
					b.Fatal(err)
				}
				defer in.Close()
				if err := in.Raw.Set(ctx, "k", enc, 0); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				b.SetBytes(int64(len(enc)))
				for b.Loop() {
					if _, err := in.Raw.Get(ctx, "k"); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		b.Run("layer=decode/body="+sz.name, func(b *testing.B) {
			c := codec.Response()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Unmarshal(enc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
