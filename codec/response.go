package codec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"net/http"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/cachestack/cachestack/cached"
)

// Entry format, version 3:
//
//	"CSR"   3-byte magic
//	0x03    format version
//	crc     CRC-32C (Castagnoli) of the whole entry but these 4 bytes:
//	        the magic, the version, the metadata and the body; big endian
//	meta    one CBOR map (entry below), Core Deterministic Encoding
//	body    exactly meta[11] bytes, up to the end of the entry
//
// Version 3 added the checksum; version 2 holds the header (key 5) as a
// byte string, cached.Header's binary form, where version 1 held a CBOR
// map. Entries of versions 1 and 2 are refused as ErrFormat, which a cache
// treats as a miss. Keys 12–15 (initial age, kind, vary fields, ref) were
// added within version 1 before any release; a reader skips keys it does
// not know. Key 16 (a Vary index's inline variant: a byte string holding
// the variant's metadata and body, laid out as meta and body here) was
// added within version 3: a reader that skips it sees a plain index, and
// looks the variant up by its key.
const (
	magic         = "CSR"
	formatVersion = 3
	crcOffset     = len(magic) + 1
	prefixLen     = crcOffset + 4 // where the metadata starts
)

// castagnoli is the CRC-32C table: hash/crc32 computes it with the CPU's
// CRC instructions where there are some (SSE 4.2 on amd64, the CRC32
// extension on arm64). It is read-only after initialisation.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// checksum returns the CRC-32C of entry b without its checksum field.
func checksum(b []byte) uint32 {
	return crc32.Update(crc32.Checksum(b[:crcOffset], castagnoli), castagnoli, b[prefixLen:])
}

// seal writes the checksum of entry b into its checksum field.
func seal(b []byte) {
	binary.BigEndian.PutUint32(b[crcOffset:], checksum(b))
}

// entry is the CBOR metadata of a stored response. Keys are small integers
// so that a later version can add a field under a new key: older readers
// skip keys they do not know. Absent keys decode as zero values.
//
// Header is always written, as its binary form (an empty header too).
// VaryHeader is deliberately not omitempty, so that a nil header
// (encoded as CBOR null) and an empty one (an empty map) stay distinct.
// Times are *int64 Unix nanoseconds: absent is the zero time, so the Unix
// epoch itself (a common Expires value) stays distinct from zero.
// cached.Response.Reuse is not encoded: it is derived from the header, and
// a decoded entry has the zero Reuse, which tells the cache to read the
// header instead.
type entry struct {
	Method       string       `cbor:"1,keyasint,omitempty"`
	URL          string       `cbor:"2,keyasint,omitempty"`
	StatusCode   int          `cbor:"3,keyasint,omitempty"`
	Proto        string       `cbor:"4,keyasint,omitempty"`
	Header       binaryHeader `cbor:"5,keyasint"`
	VaryHeader   wireHeader   `cbor:"6,keyasint"`
	RequestTime  *int64       `cbor:"7,keyasint,omitempty"`
	ResponseTime *int64       `cbor:"8,keyasint,omitempty"`
	Created      *int64       `cbor:"9,keyasint,omitempty"`
	Expires      *int64       `cbor:"10,keyasint,omitempty"`
	BodyLen      uint64       `cbor:"11,keyasint,omitempty"`
	InitialAge   int64        `cbor:"12,keyasint,omitempty"` // nanoseconds
	Kind         uint8        `cbor:"13,keyasint,omitempty"`
	Vary         []string     `cbor:"14,keyasint,omitempty"`
	Ref          string       `cbor:"15,keyasint,omitempty"`
	Variant      []byte       `cbor:"16,keyasint,omitempty"` // inline variant: its meta and body

	ns [4]int64 // storage the time pointers point into
}

var (
	entryEnc = mustEncMode(cbor.EncOptions{
		Sort:        cbor.SortCoreDeterministic,
		IndefLength: cbor.IndefLengthForbidden,
		TagsMd:      cbor.TagsForbidden,
	})
	// entryDec bounds what hostile bytes can make the decoder do. The
	// metadata nests three deep (entry map, vary header map, value array);
	// 4 is the smallest limit the library accepts. Counts are checked
	// against the bytes actually present before anything is allocated.
	entryDec = mustDecMode(cbor.DecOptions{
		MaxNestedLevels:  4,
		MaxArrayElements: 4096,
		MaxMapPairs:      4096,
		IndefLength:      cbor.IndefLengthForbidden,
		TagsMd:           cbor.TagsForbidden,
		// Go strings, and HTTP header values (obs-text), need not be
		// UTF-8; the encoder does not check, so neither does the decoder.
		UTF8: cbor.UTF8DecodeInvalid,
	})
)

// absent marks a time field that the metadata did not contain. It is the
// one int64 that Marshal never writes.
const absent = math.MinInt64

// Range of instants Marshal can store: what int64 Unix nanoseconds can hold
// (years 1677–2262), less the absent marker.
var (
	minTime = time.Unix(0, absent+1)
	maxTime = time.Unix(0, math.MaxInt64)
)

// errTimeRange is returned by Marshal for a non-zero time outside
// [minTime, maxTime].
var errTimeRange = errors.New("codec: time outside the range of int64 Unix nanoseconds")

// Response returns the codec for the cached-entry format, *cached.Response.
//
// Marshal copies the body into the entry. Unmarshal does not copy it: the
// decoded Body aliases b (which Unmarshal takes ownership of), so a hit from a
// byte store costs no body copy beyond the store's own.
//
// Every entry carries a CRC-32C of its bytes, which Unmarshal verifies before
// it decodes anything: an entry damaged after Marshal (any single changed
// byte, any truncation, any burst of up to 32 changed bits, and all but
// about one in four billion other changes) returns ErrChecksum. Unmarshal of
// bytes that are not a well-formed entry of this version returns an error
// matching ErrFormat, as ErrChecksum does; it never panics.
//
// Round trip: strings, the status code and header keys and values come back
// as stored (keys are not re-canonicalised); the Header comes back equal
// (==). A nil VaryHeader decodes as nil and an empty one as empty; a nil
// value slice in it stays nil. An
// empty Body decodes as nil. Times keep nanosecond precision and come back in
// UTC without a monotonic reading; the zero time stays zero. Marshal fails for
// a nil *cached.Response and for a non-zero time outside the years 1677–2262.
func Response() Codec[*cached.Response] { return responseCodec{} }

type responseCodec struct{}

func (responseCodec) Marshal(r *cached.Response) ([]byte, error) {
	if r == nil {
		return nil, errors.New("codec: marshal nil *cached.Response")
	}
	// Size over-estimates the metadata in all but pathological cases,
	// so the entry is usually built in a single allocation.
	buf := bytes.NewBuffer(make([]byte, 0, prefixLen+int(r.Size())+32))
	buf.WriteString(magic)
	buf.Write([]byte{formatVersion, 0, 0, 0, 0}) // the checksum is sealed in last
	if err := marshalTail(buf, r); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	seal(b)
	return b, nil
}

// errNestedVariant is returned by Marshal for an inline variant that holds
// one of its own.
var errNestedVariant = errors.New("codec: marshal response: an inline Variant holds a Variant")

// marshalTail writes r's metadata and body to buf, after the entry's
// prefix, with its inline variant (key 16).
func marshalTail(buf *bytes.Buffer, r *cached.Response) error {
	v := r.Variant
	if v != nil && v.Variant != nil {
		return errNestedVariant
	}
	start := buf.Len()
	if err := marshalMeta(buf, r); err != nil {
		return err
	}
	if v != nil {
		// The inline variant (key 16, a byte string of its metadata and
		// body) sorts after every other key: it is appended to the map,
		// whose count (one byte: an entry has fewer than 24 keys) grows by
		// one, and its body is written straight into the entry.
		b := buf.Bytes()
		if b[start]>>5 != 5 || b[start]&0x1f >= 23 {
			return fmt.Errorf("codec: marshal response: unexpected map header %#x", b[start])
		}
		b[start]++
		buf.WriteByte(16) // the key
		// The variant's metadata is written first, then moved up by the
		// length of the byte string's head, which its length decides.
		at := buf.Len()
		if err := marshalMeta(buf, v); err != nil {
			return err
		}
		meta := buf.Len() - at
		var head [9]byte
		h := appendHead(head[:0], 2, uint64(meta+len(v.Body)))
		buf.Write(h)
		b = buf.Bytes()
		copy(b[at+len(h):], b[at:at+meta])
		copy(b[at:], h)
		buf.Write(v.Body)
	}
	buf.Write(r.Body)
	return nil
}

// marshalMeta writes r's metadata to buf, as a CBOR map: every field but
// its body and its inline variant.
func marshalMeta(buf *bytes.Buffer, r *cached.Response) error {
	e := &entry{
		Method:     r.Method,
		URL:        r.URL,
		StatusCode: r.StatusCode,
		Proto:      r.Proto,
		Header:     binaryHeader(r.Header),
		VaryHeader: wireHeader(r.VaryHeader),
		BodyLen:    uint64(len(r.Body)),
		InitialAge: int64(r.InitialAge),
		Kind:       uint8(r.Kind),
		Vary:       r.Vary,
		Ref:        r.Ref,
	}
	var err error
	if e.RequestTime, err = e.setTime(0, r.RequestTime); err != nil {
		return err
	}
	if e.ResponseTime, err = e.setTime(1, r.ResponseTime); err != nil {
		return err
	}
	if e.Created, err = e.setTime(2, r.Created); err != nil {
		return err
	}
	if e.Expires, err = e.setTime(3, r.Expires); err != nil {
		return err
	}
	if err := entryEnc.MarshalToBuffer(e, buf); err != nil {
		return fmt.Errorf("codec: marshal response: %w", err)
	}
	return nil
}

// setTime stores t's Unix nanoseconds in e.ns[i] and returns a pointer to
// it, or nil for the zero time.
func (e *entry) setTime(i int, t time.Time) (*int64, error) {
	if t.IsZero() {
		return nil, nil
	}
	if t.Before(minTime) || t.After(maxTime) {
		return nil, errTimeRange
	}
	e.ns[i] = t.UnixNano()
	return &e.ns[i], nil
}

func (responseCodec) Unmarshal(b []byte) (*cached.Response, error) {
	if len(b) < crcOffset || string(b[:len(magic)]) != magic {
		return nil, fmt.Errorf("%w: not a cached response (bad magic)", ErrFormat)
	}
	if v := b[len(magic)]; v != formatVersion {
		return nil, fmt.Errorf("%w: cached response version %d, want %d", ErrFormat, v, formatVersion)
	}
	if len(b) < prefixLen {
		return nil, fmt.Errorf("%w: cached response cut short in its checksum", ErrFormat)
	}
	// The checksum first: what follows decodes only bytes that are as
	// they were written.
	if checksum(b) != binary.BigEndian.Uint32(b[crcOffset:]) {
		return nil, ErrChecksum
	}
	return decodeEntry(b)
}

// unmarshalUnchecked is Unmarshal without the checksum, for bytes whose
// store has verified them (SelfChecking). It is as strict about the rest
// of the format: malformed metadata is still ErrFormat, never a panic.
func (responseCodec) unmarshalUnchecked(b []byte) (*cached.Response, error) {
	if len(b) < crcOffset || string(b[:len(magic)]) != magic {
		return nil, fmt.Errorf("%w: not a cached response (bad magic)", ErrFormat)
	}
	if v := b[len(magic)]; v != formatVersion {
		return nil, fmt.Errorf("%w: cached response version %d, want %d", ErrFormat, v, formatVersion)
	}
	if len(b) < prefixLen {
		return nil, fmt.Errorf("%w: cached response cut short in its checksum", ErrFormat)
	}
	return decodeEntry(b)
}

// decodeEntry decodes entry b, whose prefix has been checked, after its
// checksum field.
func decodeEntry(b []byte) (*cached.Response, error) {
	meta := b[prefixLen:]
	// The metadata must be a definite-length map; anything else (null, an
	// array...) would decode silently into an empty entry.
	if len(meta) == 0 || meta[0]>>5 != 5 {
		return nil, fmt.Errorf("%w: cached response metadata is not a CBOR map", ErrFormat)
	}
	if r, ok := decodeFast(meta); ok {
		return r, nil
	}
	return decodeLibrary(meta, true)
}

// decodeLibrary decodes the metadata with fxamacker/cbor, which checks
// well-formedness and the decoder's limits, and reports every error. It
// handles whatever decodeFast declines. outer is false for an inline
// variant, which may not hold one of its own.
func decodeLibrary(meta []byte, outer bool) (*cached.Response, error) {
	// Time pointers start out pointing at absent-marked storage, so that
	// decoding a present time allocates nothing.
	e := entry{ns: [4]int64{absent, absent, absent, absent}}
	e.RequestTime, e.ResponseTime, e.Created, e.Expires = &e.ns[0], &e.ns[1], &e.ns[2], &e.ns[3]
	body, err := entryDec.UnmarshalFirst(meta, &e)
	if err != nil {
		return nil, fmt.Errorf("%w: cached response metadata: %w", ErrFormat, err)
	}
	if e.BodyLen != uint64(len(body)) {
		return nil, fmt.Errorf("%w: cached response body is %d bytes, metadata says %d", ErrFormat, len(body), e.BodyLen)
	}
	r := &cached.Response{
		Method:       e.Method,
		URL:          e.URL,
		StatusCode:   e.StatusCode,
		Proto:        e.Proto,
		Header:       cached.Header(e.Header),
		VaryHeader:   http.Header(e.VaryHeader),
		RequestTime:  unixNano(e.RequestTime),
		ResponseTime: unixNano(e.ResponseTime),
		Created:      unixNano(e.Created),
		Expires:      unixNano(e.Expires),
		InitialAge:   time.Duration(e.InitialAge),
		Kind:         cached.Kind(e.Kind),
		Vary:         e.Vary,
		Ref:          e.Ref,
	}
	if len(body) > 0 {
		r.Body = body[:len(body):len(body)]
	}
	if len(e.Variant) > 0 {
		if !outer {
			return nil, fmt.Errorf("%w: cached response: an inline variant holds one of its own", ErrFormat)
		}
		if e.Variant[0]>>5 != 5 {
			return nil, fmt.Errorf("%w: cached response: inline variant metadata is not a CBOR map", ErrFormat)
		}
		v, ok := decodeFastAt(e.Variant, false)
		if !ok {
			if v, err = decodeLibrary(e.Variant, false); err != nil {
				return nil, err
			}
		}
		r.Variant = v
	}
	return r, nil
}

// unixNano turns a decoded time field into a time: nil (CBOR null) or the
// absent marker is the zero time.
func unixNano(p *int64) time.Time {
	if p == nil || *p == absent {
		return time.Time{}
	}
	return time.Unix(0, *p).UTC()
}
