package sign_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

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
