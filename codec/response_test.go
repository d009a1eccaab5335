package codec_test

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/codec"
)

var (
	t0         = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	binaryBody = func() []byte {
		b := make([]byte, 512)
		for i := range b {
			b[i] = byte(i * 7)
		}
		return b
	}()
)

// sampleResponse is a representative entry: 1 KiB body, 8 header fields,
// one vary field, all four times set with sub-second precision.
func sampleResponse() *cached.Response {
	return &cached.Response{
		Method:     http.MethodGet,
		URL:        "https://api.example.com/v1/items/42?expand=owner",
		StatusCode: http.StatusOK,
		Proto:      "HTTP/1.1",
		Header: cached.NewHeader(http.Header{
			"Content-Type":   {"application/json; charset=utf-8"},
			"Content-Length": {"1024"},
			"Cache-Control":  {"public, max-age=300, stale-while-revalidate=60"},
			"Date":           {"Sun, 01 Jun 2025 12:00:00 GMT"},
			"Etag":           {`"33a64df551425fcc55e4d42a148795d9f25f89d4"`},
			"Last-Modified":  {"Sat, 31 May 2025 08:15:00 GMT"},
			"Vary":           {"Accept-Encoding"},
			"Server":         {"nginx/1.27.0"},
		}),
		Body:         bytes.Repeat([]byte("0123456789abcdef"), 64),
		VaryHeader:   http.Header{"Accept-Encoding": {"gzip, br"}},
		RequestTime:  t0.Add(-250 * time.Millisecond),
		ResponseTime: t0.Add(-3 * time.Millisecond),
		Created:      t0,
		Expires:      t0.Add(300*time.Second + 1),
	}
}

// assertSameResponse compares two responses field by field, times with Equal.
func assertSameResponse(t testing.TB, want, got *cached.Response) {
	t.Helper()
	assert.Equal(t, want.Method, got.Method, "Method")
	assert.Equal(t, want.URL, got.URL, "URL")
	assert.Equal(t, want.StatusCode, got.StatusCode, "StatusCode")
	assert.Equal(t, want.Proto, got.Proto, "Proto")
	assert.Equal(t, want.Header, got.Header, "Header")
	assert.Equal(t, want.VaryHeader, got.VaryHeader, "VaryHeader")
	assert.Equal(t, want.Body, got.Body, "Body")
	assert.Equal(t, want.Reuse, got.Reuse, "Reuse")
	for _, tm := range []struct {
		name      string
		want, got time.Time
	}{
		{"RequestTime", want.RequestTime, got.RequestTime},
		{"ResponseTime", want.ResponseTime, got.ResponseTime},
		{"Created", want.Created, got.Created},
		{"Expires", want.Expires, got.Expires},
	} {
		assert.True(t, tm.want.Equal(tm.got), "%s: want %v, got %v", tm.name, tm.want, tm.got)
		assert.Equal(t, tm.want.IsZero(), tm.got.IsZero(), "%s zero-ness", tm.name)
	}
	assert.Equal(t, want.Kind, got.Kind, "Kind")
	assert.Equal(t, want.Ref, got.Ref, "Ref")
	if assert.Equal(t, want.Variant == nil, got.Variant == nil, "Variant") && want.Variant != nil {
		assertSameResponse(t, want.Variant, got.Variant)
	}
}

// castagnoli is the CRC-32C table, for the tests' own checksums.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// sealed returns an entry of the current format, version 3, holding
// metadata and body, with its checksum computed as the package
// documentation says: CRC-32C of the whole entry but the checksum field,
// big endian, after the version byte.
func sealed(metaAndBody []byte) []byte {
	b := append([]byte("CSR\x03\x00\x00\x00\x00"), metaAndBody...)
	sum := crc32.Update(crc32.Checksum(b[:4], castagnoli), castagnoli, b[8:])
	binary.BigEndian.PutUint32(b[4:], sum)
	return b
}

func TestResponseRoundTrip(t *testing.T) {
	t.Parallel()
	many := http.Header{}
	for i := range 200 {
		many[http.CanonicalHeaderKey("X-Field-"+strings.Repeat("a", i%7)+string(rune('a'+i%26)))] = []string{strings.Repeat("v", i)}
	}
	tests := []struct {
		name string
		give *cached.Response
		want *cached.Response // nil: same as give
	}{
		{name: "representative", give: sampleResponse()},
		{name: "zero value", give: &cached.Response{}},
		{
			name: "empty body decodes as nil",
			give: &cached.Response{Method: "GET", StatusCode: 204, Body: []byte{}},
			want: &cached.Response{Method: "GET", StatusCode: 204},
		},
		{name: "binary body", give: &cached.Response{StatusCode: 200, Body: binaryBody, Header: cached.NewHeader(http.Header{"Content-Type": {"application/octet-stream"}})}},
		{name: "many headers", give: &cached.Response{StatusCode: 200, Header: cached.NewHeader(many)}},
		{name: "multi-value headers", give: &cached.Response{StatusCode: 200, Header: cached.NewHeader(http.Header{
			"Set-Cookie": {"a=1; Path=/", "b=2; HttpOnly", ""},
			"Link":       {"</a>; rel=preload", "</b>; rel=preload"},
			"Empty":      {},
			"Nil":        nil,
		})}},
		{name: "no header, nil vary header stays nil", give: &cached.Response{StatusCode: 200, VaryHeader: nil}},
		{name: "empty vary header stays empty", give: &cached.Response{StatusCode: 200, Header: cached.NewHeader(http.Header{}), VaryHeader: http.Header{}}},
		{name: "vary field absent from request", give: &cached.Response{StatusCode: 200, VaryHeader: http.Header{"Accept-Language": nil}}},
		{name: "zero times", give: &cached.Response{Method: "GET", StatusCode: 200, Created: t0}},
		{name: "sub-second times", give: &cached.Response{
			RequestTime:  t0.Add(1),
			ResponseTime: t0.Add(999_999_999),
			Created:      time.Date(2025, 1, 2, 3, 4, 5, 6, time.FixedZone("CET", 3600)),
			Expires:      t0.Add(-1),
		}},
		{name: "unix epoch is not the zero time", give: &cached.Response{Expires: time.Unix(0, 0), Created: time.Unix(0, -1)}},
		{name: "extreme times", give: &cached.Response{RequestTime: time.Unix(0, math.MinInt64+1), ResponseTime: time.Unix(0, math.MaxInt64)}},
		{name: "not UTF-8", give: &cached.Response{URL: "http://h/\xff", Header: cached.NewHeader(http.Header{"X-Latin1": {"caf\xe9"}, "\x80": {"\xc3"}})}},
		{name: "initial age", give: &cached.Response{StatusCode: 200, InitialAge: 1500 * time.Millisecond}},
		{name: "variants index", give: &cached.Response{Kind: cached.KindVariants, URL: "http://h/", Vary: []string{"Accept", "Accept-Language"}, Ref: "6f1c"}},
		{name: "variants index with its inline variant", give: &cached.Response{Kind: cached.KindVariants, URL: "http://h/", Vary: []string{"Accept"}, Ref: "6f1c",
			Expires: t0, Variant: sampleResponse()}},
		{name: "redirect alias", give: &cached.Response{Kind: cached.KindRedirect, StatusCode: 301, Header: cached.NewHeader(http.Header{"Location": {"/new"}}), Ref: "0123abcd"}},
		{name: "sealed envelope", give: &cached.Response{Kind: cached.KindSealed, Method: "GET", URL: "http://h/", Body: []byte("\x01protected\x00bytes")}},
		{
			// Reuse is derived from Header: not encoded, and read from the
			// header again after decoding.
			name: "reuse is not encoded",
			give: &cached.Response{StatusCode: 200, Header: cached.NewHeader(http.Header{"Cache-Control": {"no-cache"}}), Reuse: cached.Reuse{Recorded: true, NoCache: true}},
			want: &cached.Response{StatusCode: 200, Header: cached.NewHeader(http.Header{"Cache-Control": {"no-cache"}})},
		},
		{name: "odd strings", give: &cached.Response{Method: "PURGE", URL: "http://h/ü?x=%00", Proto: "HTTP/2.0", StatusCode: 999}},
	}
	c := codec.Response()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, err := c.Marshal(tt.give)
			require.NoError(t, err)
			got, err := c.Unmarshal(b)
			require.NoError(t, err)
			want := tt.want
			if want == nil {
				want = tt.give
			}
			assertSameResponse(t, want, got)
			for _, tm := range []time.Time{got.RequestTime, got.ResponseTime, got.Created, got.Expires} {
				if !tm.IsZero() {
					assert.Equal(t, time.UTC, tm.Location())
				}
			}

			again, err := c.Marshal(got)
			require.NoError(t, err)
			assert.Equal(t, b, again, "re-encoding a decoded entry gives the same bytes")
		})
	}
}

func TestResponseBodyAliasesInput(t *testing.T) {
	t.Parallel()
	c := codec.Response()
	give := sampleResponse()
	b, err := c.Marshal(give)
	require.NoError(t, err)
	assert.Equal(t, give.Body, b[len(b)-len(give.Body):], "body is the tail of the entry")

	give.Body[0] = 'X' // Marshal copied the body
	assert.NotEqual(t, give.Body[0], b[len(b)-len(give.Body)])

	got, err := c.Unmarshal(b)
	require.NoError(t, err)
	require.NotEmpty(t, got.Body)
	assert.Same(t, &b[len(b)-len(got.Body)], &got.Body[0], "decoded Body aliases the input")
	assert.Equal(t, len(got.Body), cap(got.Body), "appending to Body cannot write into the input")
}

func TestResponseMarshalErrors(t *testing.T) {
	t.Parallel()
	c := codec.Response()
	_, err := c.Marshal(nil)
	require.Error(t, err)

	for _, tm := range []time.Time{
		time.Unix(0, math.MinInt64),
		time.Unix(0, math.MaxInt64).Add(1),
		time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC),
	} {
		_, err := c.Marshal(&cached.Response{Expires: tm})
		require.Error(t, err, "%v", tm)
		assert.NotErrorIs(t, err, codec.ErrFormat)
	}
}

// TestResponseFormat pins the wire format: a change here is a format change
// and needs a new version byte unless old readers can still read it.
func TestResponseFormat(t *testing.T) {
	t.Parallel()
	give := &cached.Response{
		Method:     "GET",
		URL:        "http://x/",
		StatusCode: 200,
		Proto:      "HTTP/1.1",
		Header:     cached.NewHeader(http.Header{"A": {"1", "2"}}),
		Created:    time.Unix(1, 5),
		Body:       []byte("hi"),
	}
	b, err := codec.Response().Marshal(give)
	require.NoError(t, err)
	want := "435352" + "03" + // "CSR", version 3
		"CRC_____" + // checksum, below
		"a8" + // map, 8 pairs
		"01" + "63474554" + // 1: "GET"
		"02" + "69687474703a2f2f782f" + // 2: "http://x/"
		"03" + "18c8" + // 3: 200
		"04" + "6848545450 2f312e31" + // 4: "HTTP/1.1"
		"05" + "49" + "01" + "02" + "0141" + "02" + "0131" + "0132" + // 5: the header's binary form, 9 bytes: 1 field, 2 values, "A", 2 values, "1", "2"
		"06" + "f6" + // 6: null
		"09" + "1a3b9aca05" + // 9: 1_000_000_005 ns
		"0b" + "02" + // 11: body length 2
		"6869" // body "hi"
	// CRC-32C of the entry without its checksum field, big endian,
	// computed here and pinned, so that another polynomial or byte order
	// fails the test.
	want = strings.ReplaceAll(want, " ", "")
	unsealed, err := hex.DecodeString(strings.Replace(want, "CRC_____", "", 1))
	require.NoError(t, err)
	sum := crc32.Checksum(unsealed, castagnoli)
	assert.Equal(t, "0bedd9a0", fmt.Sprintf("%08x", sum), "the checksum")
	want = strings.Replace(want, "CRC_____", fmt.Sprintf("%08x", sum), 1)
	assert.Equal(t, want, hex.EncodeToString(b))
}

func TestResponseUnknownKeysIgnored(t *testing.T) {
	t.Parallel()
	meta, err := cbor.Marshal(map[int]any{1: "GET", 3: 200, 11: 2, 99: []any{"future", 1}})
	require.NoError(t, err)
	b := sealed(append(meta, "ok"...))
	got, err := codec.Response().Unmarshal(b)
	require.NoError(t, err)
	assert.Equal(t, "GET", got.Method)
	assert.Equal(t, 200, got.StatusCode)
	assert.Equal(t, []byte("ok"), got.Body)
}

// TestResponseInlineVariant checks the Vary index's inline variant (key
// 16): its body aliases the entry like the entry's own, an index written
// without it decodes without it, an index with it reads, for a decoder that
// does not know key 16, as the plain index, and a variant that holds one
// of its own is refused.
func TestResponseInlineVariant(t *testing.T) {
	t.Parallel()
	c := codec.Response()
	v := sampleResponse()
	v.Ref = "0123456789abcdef0123456789abcdef"
	plain := &cached.Response{Kind: cached.KindVariants, Method: "GET", URL: v.URL, Vary: []string{"Accept-Encoding"}, Ref: "6f1c", Expires: v.Expires}
	idx := *plain
	idx.Variant = v

	b, err := c.Marshal(&idx)
	require.NoError(t, err)
	got, err := c.Unmarshal(b)
	require.NoError(t, err)
	assertSameResponse(t, &idx, got)
	require.NotNil(t, got.Variant)
	assert.Same(t, &b[len(b)-len(v.Body)], &got.Variant.Body[0], "the inline body aliases the entry")
	assert.Nil(t, got.Body)
	// Written straight into the entry, key 16 is what the library writes:
	// canonical CBOR, last, its length in the shortest form.
	enc, err := cbor.EncOptions{Sort: cbor.SortCoreDeterministic}.EncMode()
	require.NoError(t, err)
	for _, n := range []int{0, 1, 23, 24, 255, 256, 70000} {
		w := *v
		w.Body = nil
		if n > 0 {
			w.Body = bytes.Repeat([]byte("x"), n)
		}
		idx.Variant = &w
		b, err := c.Marshal(&idx)
		require.NoError(t, err)
		var m map[int]cbor.RawMessage
		_, err = cbor.UnmarshalFirst(b[8:], &m)
		require.NoError(t, err)
		want, err := enc.Marshal(m)
		require.NoError(t, err)
		assert.Equal(t, want, b[8:], "body of %d bytes", n)
		got, err := c.Unmarshal(b)
		require.NoError(t, err)
		assertSameResponse(t, &idx, got)
	}
	idx.Variant = v

	old, err := c.Marshal(plain) // as written before key 16
	require.NoError(t, err)
	got, err = c.Unmarshal(old)
	require.NoError(t, err)
	assert.Nil(t, got.Variant)
	assertSameResponse(t, plain, got)

	// A reader that knows keys 1–15 only, as the previous release's.
	type oldEntry struct {
		Method  string   `cbor:"1,keyasint,omitempty"`
		URL     string   `cbor:"2,keyasint,omitempty"`
		BodyLen uint64   `cbor:"11,keyasint,omitempty"`
		Kind    uint8    `cbor:"13,keyasint,omitempty"`
		Vary    []string `cbor:"14,keyasint,omitempty"`
		Ref     string   `cbor:"15,keyasint,omitempty"`
	}
	var oe oldEntry
	rest, err := cbor.UnmarshalFirst(b[8:], &oe)
	require.NoError(t, err)
	assert.Equal(t, oldEntry{Method: "GET", URL: v.URL, Kind: uint8(cached.KindVariants), Vary: []string{"Accept-Encoding"}, Ref: "6f1c"}, oe)
	assert.Empty(t, rest, "no body follows the index's metadata: its body length (0) holds")

	nested := *v
	nested.Variant = &cached.Response{StatusCode: 200}
	idx.Variant = &nested
	_, err = c.Marshal(&idx)
	require.Error(t, err, "an inline variant with one of its own")
	inner, err := cbor.Marshal(map[int]any{3: 200, 16: []byte("\xa1\x03\x18\xc8")})
	require.NoError(t, err)
	meta, err := cbor.Marshal(map[int]any{13: 1, 16: inner})
	require.NoError(t, err)
	_, err = c.Unmarshal(sealed(meta))
	require.ErrorIs(t, err, codec.ErrFormat, "an inline variant with one of its own")
}

func TestResponseBadInput(t *testing.T) {
	t.Parallel()
	good, err := codec.Response().Marshal(sampleResponse())
	require.NoError(t, err)
	withByte := func(i int, v byte) []byte {
		b := bytes.Clone(good)
		b[i] = v
		return b
	}
	metaWith := func(m map[int]any) []byte {
		meta, err := cbor.Marshal(m)
		require.NoError(t, err)
		return sealed(meta)
	}
	tests := []struct {
		name string
		give []byte
	}{
		{"nil", nil},
		{"magic only", []byte("CSR")},
		{"version only", []byte("CSR\x03")},
		{"checksum cut short", []byte("CSR\x03\x00\x00\x00")},
		{"prefix only", sealed(nil)},
		{"version 2 (no checksum)", append([]byte("CSR\x02"), good[8:]...)},
		{"bad magic", withByte(0, 'X')},
		{"version 0", withByte(3, 0)},
		{"version 1 (header as a CBOR map)", withByte(3, 1)},
		{"version 4", withByte(3, 4)},
		{"version 255", withByte(3, 255)},
		{"trailing garbage", append(bytes.Clone(good), 0)},
		{"trailing garbage, checksum recomputed", sealed(append(bytes.Clone(good[8:]), 0))},
		{"metadata is null", sealed([]byte("\xf6"))},
		{"metadata is an array", sealed([]byte("\x80"))},
		{"metadata indefinite map", sealed([]byte("\xbf\xff"))},
		{"wrong field type", metaWith(map[int]any{3: "200"})},
		{"negative body length", metaWith(map[int]any{11: -1})},
		{"status overflows int", sealed(append([]byte("\xa1\x03\x1b"), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff))},
		{"time overflows int64", sealed(append([]byte("\xa1\x07\x1b"), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff))},
		{"header is a map (version 1's form)", metaWith(map[int]any{5: map[string]any{"A": []string{"1"}}})},
		{"header is text", metaWith(map[int]any{5: "\x00\x00"})},
		{"header undefined", sealed([]byte("\xa1\x05\xf7"))},
		{"header binary form empty", metaWith(map[int]any{5: []byte{}})},
		{"header binary form truncated", metaWith(map[int]any{5: []byte{1, 1, 1, 'A', 1, 2, 'x'}})},
		{"header binary form with trailing bytes", metaWith(map[int]any{5: []byte{1, 1, 1, 'A', 1, 1, 'x', 0}})},
		{"header value count wrong", metaWith(map[int]any{5: []byte{1, 2, 1, 'A', 1, 1, 'x'}})},
		{"header field without values", metaWith(map[int]any{5: []byte{1, 0, 1, 'A', 0}})},
		{"header names out of order", metaWith(map[int]any{5: []byte{2, 2, 1, 'B', 1, 0, 1, 'A', 1, 0}})},
		{"header names repeated", metaWith(map[int]any{5: []byte{2, 2, 1, 'A', 1, 0, 1, 'A', 1, 0}})},
		{"header count too large", metaWith(map[int]any{5: []byte{0xff, 0xff, 0x03, 0}})},
		{"vary header value not array", metaWith(map[int]any{6: map[string]any{"A": "1"}})},
		{"vary header key not text", metaWith(map[int]any{6: map[int]any{1: []string{"x"}}})},
		{"vary header value byte string", metaWith(map[int]any{6: map[string]any{"A": []any{[]byte("x")}}})},
		{"vary header is an array", metaWith(map[int]any{6: []string{"A"}})},
		{"vary header undefined", sealed([]byte("\xa1\x06\xf7"))},
		{"duplicate vary header field", sealed([]byte("\xa1\x06\xa2\x61A\xf6\x61A\xf6"))},
		{"vary header count too large", sealed([]byte("\xa1\x06\xb9\x0f\xff\x61A\xf6"))},
		{"tag", sealed([]byte("\xa1\x07\xc1\x00"))},
		{"huge array count", sealed([]byte("\xa1\x06\xa1\x61A\x9a\x7f\xff\xff\xff"))},
		{"huge map count", sealed([]byte("\xa1\x06\xba\x7f\xff\xff\xff"))},
		{"huge header length", sealed([]byte("\xa1\x05\x5a\x7f\xff\xff\xff"))},
		{"huge string length", sealed([]byte("\xa1\x01\x7b\x7f\xff\xff\xff\xff\xff\xff\xff"))},
		{"huge body length", sealed(append([]byte("\xa1\x0b\x1b"), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff))},
		{"array in vary header value", metaWith(map[int]any{6: map[string]any{"A": []any{[]any{"x"}}}})},
		{"too deep", metaWith(map[int]any{6: map[string]any{"A": []any{[]any{[]any{"x"}}}}})},
	}
	c := codec.Response()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := c.Unmarshal(tt.give)
			require.ErrorIs(t, err, codec.ErrFormat)
			assert.Nil(t, got)
		})
	}
}

func TestResponseTruncatedAtEveryLength(t *testing.T) {
	t.Parallel()
	c := codec.Response()
	for _, give := range []*cached.Response{sampleResponse(), {}, {Body: []byte("x")}} {
		b, err := c.Marshal(give)
		require.NoError(t, err)
		for n := range len(b) {
			_, err := c.Unmarshal(bytes.Clone(b[:n]))
			require.ErrorIs(t, err, codec.ErrFormat, "truncated to %d of %d bytes", n, len(b))
		}
	}
}

func TestResponseUnmarshalAllocs(t *testing.T) {
	// Hostile counts fail before anything proportional to them is allocated.
	c := codec.Response()
	for _, b := range [][]byte{
		sealed([]byte("\xa1\x06\xa1\x61A\x9a\x7f\xff\xff\xff")), // a vary header value of 2³¹ elements
		sealed([]byte("\xa1\x05\x5a\x7f\xff\xff\xff")),          // a header of 2³¹ bytes
	} {
		allocs := testing.AllocsPerRun(100, func() { _, _ = c.Unmarshal(b) })
		assert.Less(t, allocs, 20.0)
	}
}

func TestResponseUnmarshalCommonStrings(t *testing.T) {
	c := codec.Response()
	for _, give := range []*cached.Response{
		{Method: "GET", Proto: "HTTP/1.1", StatusCode: 200, Body: []byte("x")},
		{Method: "HEAD", Proto: "HTTP/2.0", StatusCode: 200},
		{Method: "POST", Proto: "HTTP/1.0", StatusCode: 200},
		{Method: "PURGE", Proto: "HTTP/3.0", StatusCode: 200}, // not among them: still decoded
		{Method: "get", Proto: "HTTP/1.1\x00", StatusCode: 200},
	} {
		b, err := c.Marshal(give)
		require.NoError(t, err)
		got, err := c.Unmarshal(b)
		require.NoError(t, err)
		assertSameResponse(t, give, got)
	}

	// The method and protocol nearly every entry holds are constants: the
	// Response is the only allocation of an entry holding nothing else.
	b, err := c.Marshal(&cached.Response{Method: "GET", Proto: "HTTP/1.1", StatusCode: 200, Body: []byte("x")})
	require.NoError(t, err)
	assert.Equal(t, 1.0, testing.AllocsPerRun(100, func() { _, _ = c.Unmarshal(b) }))
}

// integrityEntries are the entries the integrity tests damage: a small one
// and one with a 64 KiB body, both on the fast decoding path, and one with
// an unknown metadata key, which only the library decoder takes.
func integrityEntries(t *testing.T) map[string][]byte {
	t.Helper()
	c := codec.Response()
	small, err := c.Marshal(&cached.Response{Method: "GET", URL: "http://x/", StatusCode: 200, Body: []byte("hi")})
	require.NoError(t, err)
	large := sampleResponse()
	large.Body = bytes.Repeat([]byte("0123456789abcdef"), 4<<10)
	big, err := c.Marshal(large)
	require.NoError(t, err)
	meta, err := cbor.Marshal(map[int]any{1: "GET", 3: 200, 11: 2, 99: "future"})
	require.NoError(t, err)
	return map[string][]byte{"small": small, "64KiB": big, "library path": sealed(append(meta, "ok"...))}
}

// TestResponseChecksumFlippedBytes changes every byte of an entry, one at a
// time, each of three ways: every change is refused as ErrFormat, and every
// change past the magic and version as ErrChecksum.
func TestResponseChecksumFlippedBytes(t *testing.T) {
	t.Parallel()
	c := codec.Response()
	for name, good := range integrityEntries(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := c.Unmarshal(bytes.Clone(good))
			require.NoError(t, err, "the undamaged entry")
			b := bytes.Clone(good)
			for i := range b {
				for _, mask := range []byte{0x01, 0x80, 0xff} {
					b[i] ^= mask
					got, err := c.Unmarshal(b)
					b[i] ^= mask
					if err == nil || got != nil || !errors.Is(err, codec.ErrFormat) || i >= 4 && !errors.Is(err, codec.ErrChecksum) {
						t.Fatalf("byte %d of %d ^ %#x: got %v, %v", i, len(b), mask, got, err)
					}
				}
			}
			require.Equal(t, good, b)
		})
	}
}

// TestResponseChecksumTruncatedAndExtended cuts an entry at every length
// and appends to it: every one is refused, as ErrChecksum once the cut
// leaves the checksum whole.
func TestResponseChecksumTruncatedAndExtended(t *testing.T) {
	t.Parallel()
	c := codec.Response()
	for name, good := range integrityEntries(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for n := range len(good) {
				got, err := c.Unmarshal(good[:n:n])
				if got != nil || !errors.Is(err, codec.ErrFormat) || n >= 8 && !errors.Is(err, codec.ErrChecksum) {
					t.Fatalf("cut to %d of %d bytes: got %v, %v", n, len(good), got, err)
				}
			}
			for _, tail := range []string{"\x00", "x", string(good)} {
				_, err := c.Unmarshal(append(bytes.Clone(good), tail...))
				require.ErrorIs(t, err, codec.ErrChecksum, "%d bytes appended", len(tail))
			}
		})
	}
}

// TestResponseChecksumSwappedEntries splices the body of one entry onto
// the metadata of another with the same body length: refused.
func TestResponseChecksumSwappedEntries(t *testing.T) {
	t.Parallel()
	c := codec.Response()
	a, err := c.Marshal(&cached.Response{URL: "http://x/a", StatusCode: 200, Body: []byte("alice's page")})
	require.NoError(t, err)
	b, err := c.Marshal(&cached.Response{URL: "http://x/b", StatusCode: 200, Body: []byte("bobby's page")})
	require.NoError(t, err)
	spliced := append(bytes.Clone(a[:len(a)-12]), b[len(b)-12:]...)
	_, err = c.Unmarshal(spliced)
	require.ErrorIs(t, err, codec.ErrChecksum)
}

func TestErrChecksumMatchesErrFormat(t *testing.T) {
	t.Parallel()
	require.ErrorIs(t, codec.ErrChecksum, codec.ErrFormat)
	require.NotErrorIs(t, codec.ErrFormat, codec.ErrChecksum, "not every format error is a checksum error")
	_, err := codec.Response().Unmarshal([]byte("CSR\x02\xa0"))
	require.ErrorIs(t, err, codec.ErrFormat)
	require.NotErrorIs(t, err, codec.ErrChecksum, "an entry of an older version is not damaged")
}

// TestResponseChecksumAllocs: a damaged entry is refused without
// allocating, whatever its size.
func TestResponseChecksumAllocs(t *testing.T) {
	c := codec.Response()
	for name, good := range integrityEntries(t) {
		b := bytes.Clone(good)
		b[len(b)-1] ^= 1
		assert.Zero(t, testing.AllocsPerRun(100, func() { _, _ = c.Unmarshal(b) }), name)
	}
}
