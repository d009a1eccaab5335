package seal_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/seal"
	"github.com/cachestack/cachestack/sign"
)

var benchSizes = []int{1 << 10, 64 << 10}

const benchKey = "GET https://example.com/some/path?q=1"

func BenchmarkSeal(b *testing.B) {
	s := newSealer(b, testKey(1), testKey(0))
	for _, n := range benchSizes {
		data := bytes.Repeat([]byte{0xab}, n)
		b.Run(fmt.Sprintf("%dKiB", n>>10), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(n))
			for b.Loop() {
				_ = s.Seal(benchKey, data)
			}
		})
	}
}

// BenchmarkOpen opens with Open, which allocates its result, and in place,
// as Wrap and Codec do (here through Codec, on a fresh copy each time: the
// copy is part of the time measured, as it would be a store's).
func BenchmarkOpen(b *testing.B) {
	s := newSealer(b, testKey(1), testKey(0))
	c := seal.Codec[[]byte](raw{}, s, "ctx")
	for _, n := range benchSizes {
		data := bytes.Repeat([]byte{0xab}, n)
		sealed := s.Seal(benchKey, data)
		b.Run(fmt.Sprintf("%dKiB", n>>10), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(n))
			for b.Loop() {
				if _, err := s.Open(benchKey, sealed); err != nil {
					b.Fatal(err)
				}
			}
		})
		enc, err := c.Marshal(data)
		if err != nil {
			b.Fatal(err)
		}
		buf := make([]byte, len(enc))
		b.Run(fmt.Sprintf("%dKiB/InPlace", n>>10), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(n))
			for b.Loop() {
				copy(buf, enc)
				if _, err := c.Unmarshal(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkOpenParallel shows that the shared counters and pool do not
// serialise concurrent readers.
func BenchmarkOpenParallel(b *testing.B) {
	s := newSealer(b, testKey(0))
	sealed := s.Seal(benchKey, bytes.Repeat([]byte{0xab}, 1<<10))
	b.ReportAllocs()
	b.SetBytes(1 << 10)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Open(benchKey, sealed); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkStoreGet is a hit through Wrap over memstore (whose Get
// copies), beside the same hit through sign.Wrap and through memstore
// alone, for scale.
func BenchmarkStoreGet(b *testing.B) {
	ctx := context.Background()
	signer, err := sign.New(bytes.Repeat([]byte("s"), sign.MinSecretLen))
	if err != nil {
		b.Fatal(err)
	}
	mem := newMem(b, nil)
	stores := []struct {
		name string
		st   interface {
			Get(context.Context, string) ([]byte, error)
			Set(context.Context, string, []byte, time.Duration) error
		}
	}{
		{"memstore", mem},
		{"sign", sign.Wrap(newMem(b, nil), signer)},
		{"seal", seal.Wrap(newMem(b, nil), newSealer(b, testKey(0)))},
	}
	for _, tt := range stores {
		if err := tt.st.Set(ctx, benchKey, bytes.Repeat([]byte{0xab}, 1<<10), 0); err != nil {
			b.Fatal(err)
		}
		b.Run(tt.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(1 << 10)
			for b.Loop() {
				if _, err := tt.st.Get(ctx, benchKey); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkProtectorVerify is the middleware's cost on a hit: verifying
// (and decoding) a protected 1 KiB response.
func BenchmarkProtectorVerify(b *testing.B) {
	p, err := seal.Protector(newSealer(b, testKey(0)))
	if err != nil {
		b.Fatal(err)
	}
	e := &cached.Response{
		Method: http.MethodGet, URL: "https://example.com/v1/items/42", StatusCode: http.StatusOK, Proto: "HTTP/1.1",
		Header: cached.NewHeader(http.Header{"Content-Type": {"application/json"}, "Cache-Control": {"max-age=3600"}}),
		Body:   bytes.Repeat([]byte{'x'}, 1<<10),
	}
	env, err := p.Protect(benchKey, e)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(1 << 10)
	for b.Loop() {
		if _, err := p.Verify(benchKey, env); err != nil {
			b.Fatal(err)
		}
	}
}
