package sign_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/sign"
)

var benchSizes = []int{1 << 10, 64 << 10}

const benchKey = "GET https://example.com/some/path?q=1"

func BenchmarkSign(b *testing.B) {
	s := newSigner(b, secret(1), secret(0))
	for _, n := range benchSizes {
		data := bytes.Repeat([]byte{0xab}, n)
		b.Run(fmt.Sprintf("%dKiB", n>>10), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(n))
			for b.Loop() {
				_ = s.Sign(benchKey, data)
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	s := newSigner(b, secret(1), secret(0))
	for _, n := range benchSizes {
		signed := s.Sign(benchKey, bytes.Repeat([]byte{0xab}, n))
		b.Run(fmt.Sprintf("%dKiB", n>>10), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(n))
			for b.Loop() {
				if _, err := s.Verify(benchKey, signed); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerifyParallel shows that the shared counters and pools do not
// serialise concurrent readers.
func BenchmarkVerifyParallel(b *testing.B) {
	s := newSigner(b, secret(0))
	signed := s.Sign(benchKey, bytes.Repeat([]byte{0xab}, 1<<10))
	b.ReportAllocs()
	b.SetBytes(1 << 10)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Verify(benchKey, signed); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkStoreGet is a hit through Wrap over memstore (whose Get copies).
func BenchmarkStoreGet(b *testing.B) {
	ctx := context.Background()
	st := sign.Wrap(newMem(b, nil), newSigner(b, secret(0)))
	defer st.Close()
	if err := st.Set(ctx, benchKey, bytes.Repeat([]byte{0xab}, 1<<10), 0); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := st.Get(ctx, benchKey); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProtectorVerify is the middleware's cost on a hit: verifying
// (and decoding) a protected 1 KiB response.
func BenchmarkProtectorVerify(b *testing.B) {
	p, err := sign.Protector(newSigner(b, secret(0)))
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
