package codec_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/codec"
)

// The benchmarks use sampleResponse: 8 header fields, one vary field and
// four non-zero times, with a 1 KiB body (a typical API response) and a
// 64 KiB one (where work proportional to the body shows).

// benchBodies are the body sizes the Marshal and Unmarshal benchmarks run.
var benchBodies = []struct {
	name string
	size int
}{
	{"1KiB", 1 << 10},
	{"64KiB", 64 << 10},
}

// benchResponse is sampleResponse with a body of size bytes.
func benchResponse(size int) *cached.Response {
	r := sampleResponse()
	r.Body = bytes.Repeat([]byte("0123456789abcdef"), size/16)
	return r
}

func BenchmarkResponseMarshal(b *testing.B) {
	c := codec.Response()
	for _, bb := range benchBodies {
		b.Run(bb.name, func(b *testing.B) {
			r := benchResponse(bb.size)
			b.ReportAllocs()
			b.SetBytes(int64(bb.size))
			for b.Loop() {
				if _, err := c.Marshal(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkResponseUnmarshal(b *testing.B) {
	c := codec.Response()
	for _, bb := range benchBodies {
		b.Run(bb.name, func(b *testing.B) {
			enc, err := c.Marshal(benchResponse(bb.size))
			require.NoError(b, err)
			b.ReportAllocs()
			b.SetBytes(int64(len(enc)))
			for b.Loop() {
				if _, err := c.Unmarshal(enc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkResponseUnmarshalLowerBound decodes the same information from a
// minimal hand-rolled binary format (uvarint lengths, fixed-width times,
// body aliased): about the least work any decoder producing an equivalent
// *cached.Response with its own strings, slices and maps can do.
func BenchmarkResponseUnmarshalLowerBound(b *testing.B) {
	enc := handEncode(sampleResponse())
	b.ReportAllocs()
	b.SetBytes(int64(len(enc)))
	for b.Loop() {
		if _, err := handDecode(enc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkResponseMarshalLowerBound(b *testing.B) {
	r := sampleResponse()
	b.ReportAllocs()
	for b.Loop() {
		handEncode(r)
	}
}

func TestHandCodec(t *testing.T) {
	t.Parallel()
	give := sampleResponse()
	got, err := handDecode(handEncode(give))
	require.NoError(t, err)
	assertSameResponse(t, give, got)

	enc := handEncode(give)
	for n := range len(enc) {
		_, err := handDecode(enc[:n])
		require.Error(t, err)
	}
}

var errHand = errors.New("hand: bad input")

func handEncode(r *cached.Response) []byte {
	b := make([]byte, 0, r.Size())
	b = append(b, "HND\x01"...)
	str := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	hdr := func(h http.Header) {
		if h == nil {
			b = append(b, 0)
			return
		}
		b = binary.AppendUvarint(b, uint64(len(h))+1)
		for k, vs := range h {
			str(k)
			b = binary.AppendUvarint(b, uint64(len(vs)))
			for _, v := range vs {
				str(v)
			}
		}
	}
	str(r.Method)
	str(r.URL)
	b = binary.AppendVarint(b, int64(r.StatusCode))
	str(r.Proto)
	hb, _ := r.Header.AppendBinary(nil)
	str(string(hb))
	hdr(r.VaryHeader)
	for _, t := range []time.Time{r.RequestTime, r.ResponseTime, r.Created, r.Expires} {
		if t.IsZero() {
			b = append(b, 0)
			continue
		}
		b = append(b, 1)
		b = binary.LittleEndian.AppendUint64(b, uint64(t.UnixNano()))
	}
	b = binary.AppendUvarint(b, uint64(len(r.Body)))
	return append(b, r.Body...)
}

func handDecode(b []byte) (*cached.Response, error) {
	if len(b) < 4 || string(b[:4]) != "HND\x01" {
		return nil, errHand
	}
	b = b[4:]
	bad := false
	uv := func() uint64 {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			bad = true
			return 0
		}
		b = b[n:]
		return v
	}
	str := func() string {
		n := uv()
		if n > uint64(len(b)) {
			bad = true
			return ""
		}
		s := string(b[:n])
		b = b[n:]
		return s
	}
	hdr := func() http.Header {
		n := uv()
		if n == 0 || bad {
			return nil
		}
		n--
		if n > uint64(len(b)) {
			bad = true
			return nil
		}
		h := make(http.Header, n)
		for range n {
			k := str()
			m := uv()
			if bad || m > uint64(len(b)) {
				bad = true
				return nil
			}
			var vs []string
			if m > 0 {
				vs = make([]string, m)
				for i := range vs {
					vs[i] = str()
				}
			}
			h[k] = vs
		}
		return h
	}
	tm := func() time.Time {
		if len(b) < 1 {
			bad = true
			return time.Time{}
		}
		set := b[0]
		b = b[1:]
		if set == 0 {
			return time.Time{}
		}
		if len(b) < 8 {
			bad = true
			return time.Time{}
		}
		ns := int64(binary.LittleEndian.Uint64(b))
		b = b[8:]
		return time.Unix(0, ns).UTC()
	}
	r := &cached.Response{}
	r.Method = str()
	r.URL = str()
	status, n := binary.Varint(b)
	if n <= 0 {
		return nil, errHand
	}
	b = b[n:]
	r.StatusCode = int(status)
	r.Proto = str()
	n = int(uv())
	if bad || n > len(b) || r.Header.UnmarshalBinary(b[:n]) != nil {
		return nil, errHand
	}
	b = b[n:]
	r.VaryHeader = hdr()
	r.RequestTime = tm()
	r.ResponseTime = tm()
	r.Created = tm()
	r.Expires = tm()
	bodyLen := uv()
	if bad || bodyLen != uint64(len(b)) {
		return nil, errHand
	}
	if bodyLen > 0 {
		r.Body = b[:bodyLen:bodyLen]
	}
	return r, nil
}
