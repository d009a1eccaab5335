package codec

import (
	"bytes"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/cached"
)

// fastSeeds are entries Marshal writes, and hand-made metadata that only
// the library decoder should take (or refuse).
func fastSeeds(t testing.TB) [][]byte {
	t0 := time.Date(2025, 6, 1, 12, 0, 0, 5, time.UTC)
	var seeds [][]byte
	for _, r := range []*cached.Response{
		{},
		{Method: "GET", URL: "https://a.example/x?y=1", StatusCode: 200, Proto: "HTTP/1.1",
			Header:     cached.NewHeader(http.Header{"Content-Type": {"text/plain"}, "Set-Cookie": {"a=1", "b=2"}, "X-Nil": nil}),
			VaryHeader: http.Header{}, Body: []byte("hello"),
			RequestTime: t0, ResponseTime: t0.Add(time.Millisecond), Created: time.Unix(0, 0), Expires: time.Unix(0, -1),
			InitialAge: -3 * time.Second},
		{Kind: cached.KindVariants, Vary: []string{"Accept", "Accept-Encoding"}, Ref: "g1", StatusCode: -7},
		{Kind: cached.KindRedirect, Ref: "k", StatusCode: 301, Header: cached.NewHeader(http.Header{"Location": {"/b"}})},
		{Kind: cached.KindSealed, Method: "GET", URL: "https://a.example/", Body: []byte("\x01sealed")},
		{Kind: cached.KindVariants, Vary: []string{"Accept"}, Ref: "g2", Variant: &cached.Response{
			Method: "GET", URL: "https://a.example/", StatusCode: 200, VaryHeader: http.Header{"Accept": {"sha256:00"}},
			Header: cached.NewHeader(http.Header{"Vary": {"Accept"}}), Body: []byte("inline"), Ref: "vk", Expires: t0}},
	} {
		b, err := Response().Marshal(r)
		require.NoError(t, err)
		seeds = append(seeds, b)
	}
	for _, meta := range []string{
		"\xa0",                 // empty map
		"\xa1\x01\x63GET",      // method only
		"\xa1\x01\x78\x03GET",  // non-minimal length
		"\xa1\x03\x19\x00\xc8", // non-minimal status 200
		"\xa1\x03\x38\x63",     // status -100
		"\xa1\x03\x1b\x80\x00\x00\x00\x00\x00\x00\x00", // status overflow
		"\xa1\x61\x31\x63GET",                          // text key "1"
		"\xa2\x01\x61A\x01\x61B",                       // duplicate key
		"\xa2\x02\x61A\x01\x61B",                       // keys out of order
		"\xa1\x11\x00",                                 // unknown key 17
		"\xa1\x10\x00",                                 // inline variant of the wrong type
		"\xa1\x10\x40",                                 // empty inline variant
		"\xa1\x10\x41\xa0",                             // empty inline variant map
		"\xa1\x10\x42\xa0x",                            // inline variant with a body it does not declare
		"\xa1\x10\x44\xa1\x10\x41\xa0",                 // inline variant with one of its own
		"\xa1\x07\xf6",                                 // null time
		"\xa1\x07\x3b\x7f\xff\xff\xff\xff\xff\xff\xff", // MinInt64 time: absent
		"\xa1\x0d\x19\x01\x00",                         // kind 256
		"\xa1\x0e\x80",                                 // empty vary
		"\xa1\x0e\xf6",                                 // null vary
		"\xa1\x05\xa1\x61A\xf6",                        // header with a nil value
		"\xa1\x05\xa2\x61A\x80\x61A\x80",               // duplicate header field
		"\xa1\x05\xbf\xff",                             // indefinite header
		"\xa1\x01\x7f\x61A\xff",                        // indefinite text
		"\xa1\x0b\x02",                                 // body length 2 (body follows)
		"\xa1\x01\x40",                                 // byte string method
		"\xa1\x03\xf9\x3c\x00",                         // float status
		"\xa1\x0c\x20",                                 // initial age -1
		"\xa1\x0f\xc0\x61A",                            // tagged ref
	} {
		seeds = append(seeds, sealedEntry(meta), sealedEntry(meta+"xy"))
	}
	return seeds
}

// sealedEntry returns an entry of the current version holding metadata and
// body, with a valid checksum.
func sealedEntry(metaAndBody string) []byte {
	b := append([]byte{magic[0], magic[1], magic[2], formatVersion, 0, 0, 0, 0}, metaAndBody...)
	seal(b)
	return b
}

// FuzzDecodeFast checks that whenever decodeFast accepts an entry, the
// library decoder accepts it too and returns the same response.
func FuzzDecodeFast(f *testing.F) {
	for _, s := range fastSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < prefixLen {
			return
		}
		meta := b[prefixLen:]
		orig := bytes.Clone(meta)
		fast, ok := decodeFast(meta)
		require.Equal(t, orig, meta, "decodeFast must not modify its input")
		if !ok {
			return
		}
		lib, err := decodeLibrary(meta, true)
		require.NoError(t, err, "decodeFast accepted what the library refuses")
		if !reflect.DeepEqual(lib, fast) {
			t.Fatalf("decoders differ:\nlibrary %#v\nfast    %#v", lib, fast)
		}
	})
}

// TestDecodeFastTakesMarshalOutput checks that the fast path is the one
// taken for what Marshal writes, so the benchmarks measure it.
func TestDecodeFastTakesMarshalOutput(t *testing.T) {
	t.Parallel()
	for i, s := range fastSeeds(t)[:5] {
		_, ok := decodeFast(s[prefixLen:])
		require.True(t, ok, "seed %d", i)
	}
}

// TestDecodersAgreeOnDamage changes every byte of the metadata and body of
// entries on both decoding paths, one at a time, with the checksum left as
// it was and with it recomputed. Left as it was, Unmarshal refuses every
// change with ErrChecksum, whichever decoder the entry would have taken.
// Recomputed, the change reaches the decoders: whatever decodeFast
// accepts, decodeLibrary accepts as the same response, and Unmarshal
// returns what they decide.
func TestDecodersAgreeOnDamage(t *testing.T) {
	t.Parallel()
	seeds := fastSeeds(t)
	entries := [][]byte{seeds[1], seeds[2], sealedEntry("\xa2\x01\x63GET\x10\x00")} // the last: unknown key 16, the library's
	_, ok := decodeFast(entries[2][prefixLen:])
	require.False(t, ok, "the last entry must take the library path")
	c := Response()
	for n, good := range entries {
		for i := prefixLen; i < len(good); i++ {
			for _, mask := range []byte{0x01, 0x80, 0xff} {
				b := bytes.Clone(good)
				b[i] ^= mask
				_, err := c.Unmarshal(bytes.Clone(b))
				require.ErrorIs(t, err, ErrChecksum, "entry %d, byte %d ^ %#x", n, i, mask)

				seal(b)
				got, err := c.Unmarshal(bytes.Clone(b))
				fast, fastOK := decodeFast(b[prefixLen:])
				lib, libErr := decodeLibrary(b[prefixLen:], true)
				if fastOK {
					require.NoError(t, libErr, "entry %d, byte %d ^ %#x: decodeFast accepted what the library refuses", n, i, mask)
					require.True(t, reflect.DeepEqual(lib, fast), "entry %d, byte %d ^ %#x: decoders differ:\nlibrary %#v\nfast    %#v", n, i, mask, lib, fast)
				}
				if err != nil {
					require.ErrorIs(t, err, ErrFormat)
					require.NotErrorIs(t, err, ErrChecksum, "the checksum was recomputed")
					require.False(t, fastOK)
					require.Error(t, libErr)
				} else {
					require.True(t, fastOK || libErr == nil)
					require.True(t, reflect.DeepEqual(lib, got) || reflect.DeepEqual(fast, got))
				}
			}
		}
	}
}
