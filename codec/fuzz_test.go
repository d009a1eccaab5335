package codec_test

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/codec"
)

// FuzzResponseUnmarshal checks that decoding never panics, that only an
// entry whose checksum matches decodes, that whatever decodes re-encodes,
// and that the re-encoding is stable: it decodes to the same response and
// encodes to the same bytes again.
//
// A fuzzer's mutations almost never keep a checksum valid, so each input is
// also decoded with its checksum recomputed (sealed), which takes the
// metadata decoders through the same mutations.
func FuzzResponseUnmarshal(f *testing.F) {
	c := codec.Response()
	// Seeds are kept small (short bodies): the fuzzer minimises every new
	// interesting input in time quadratic in its length, and the body's
	// content does not matter to the decoder anyway.
	sample := sampleResponse()
	sample.Body = sample.Body[:16]
	for _, r := range []*cached.Response{
		sample,
		{},
		{Method: "GET", StatusCode: 204, Header: cached.NewHeader(http.Header{}), VaryHeader: http.Header{"Accept": nil}},
		{StatusCode: 200, Header: cached.NewHeader(http.Header{"Set-Cookie": {"a=1", "b=2"}}), Body: binaryBody[:32]},
		{Expires: time.Unix(0, 0), Created: time.Unix(0, -1)},
		{Kind: cached.KindVariants, Vary: []string{"Accept"}, Ref: "g"},
		{Kind: cached.KindSealed, Body: binaryBody[:24]},
		{Kind: cached.KindVariants, Vary: []string{"Accept"}, Ref: "g", Variant: &cached.Response{
			StatusCode: 200, VaryHeader: http.Header{"Accept": {"d"}}, Body: binaryBody[:8], Ref: "k"}},
	} {
		b, err := c.Marshal(r)
		require.NoError(f, err)
		f.Add(b)
		b[len(b)/2] ^= 1
		f.Add(b) // the checksum fails
	}
	f.Add([]byte("CSR\x01\xa0"))
	f.Add([]byte("CSR\x02\xa0"))
	f.Add([]byte("CSR\x03\xa0"))
	f.Add(sealed([]byte("\xa0")))
	f.Add(sealed([]byte("\xa1\x05\x5a\x7f\xff\xff\xff")))
	f.Add(sealed([]byte("\xa1\x06\xa1\x61A\x9a\x7f\xff\xff\xff")))
	f.Add(sealed([]byte("\xa1\x11\x00"))) // unknown key: the library decoder

	f.Fuzz(func(t *testing.T, b []byte) {
		checkUnmarshal(t, c, b)
		if len(b) >= 8 && string(b[:4]) == "CSR\x03" {
			checkUnmarshal(t, c, sealed(b[8:]))
		}
	})
}

func checkUnmarshal(t *testing.T, c codec.Codec[*cached.Response], b []byte) {
	orig := bytes.Clone(b)
	r1, err := c.Unmarshal(b)
	require.Equal(t, orig, b, "Unmarshal must not modify its input")
	if err != nil {
		require.ErrorIs(t, err, codec.ErrFormat)
		require.Nil(t, r1)
		if len(b) >= 8 && string(b[:4]) == "CSR\x03" && !bytes.Equal(sealed(b[8:]), b) {
			require.ErrorIs(t, err, codec.ErrChecksum, "a current entry whose checksum fails")
		}
		return
	}
	require.Equal(t, sealed(b[8:]), b, "decoded an entry whose checksum fails")
	b2, err := c.Marshal(r1)
	require.NoError(t, err, "a decoded entry must re-encode")
	r2, err := c.Unmarshal(bytes.Clone(b2))
	require.NoError(t, err, "a re-encoded entry must decode")
	assertSameResponse(t, r1, r2)
	b3, err := c.Marshal(r2)
	require.NoError(t, err)
	require.Equal(t, b2, b3, "encoding is stable")
}
