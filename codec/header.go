package codec

import (
	"encoding/binary"
	"errors"
	"math"
	"net/http"

	"github.com/cachestack/cachestack/cached"
)

// wireHeader is http.Header as it sits in an entry: a CBOR map from text
// strings to arrays of text strings, or null for a nil header. Encoding is
// the library's (reflective, sorted keys); decoding is hand-written because
// the header is most of the metadata and generic reflective map decoding
// was three quarters of Unmarshal's time. decodeHeader does it, both for
// the library (UnmarshalCBOR, after the library has checked that the whole
// metadata is well-formed and within the limits) and for decodeFast (which
// has checked nothing, and asks it to enforce the limits); it checks every
// length itself either way.
type wireHeader http.Header

var errHeader = errors.New("header is not a map of text to arrays of text")

// CBOR major types and simple values used below (RFC 8949 §3.1, §3.3).
const (
	majorText  = 3
	majorArray = 4
	majorMap   = 5
	cborNull   = 0xf6
)

// UnmarshalCBOR implements cbor.Unmarshaler.
func (h *wireHeader) UnmarshalCBOR(b []byte) error {
	d := headDecoder{b: b}
	m, err := decodeHeader(&d, false)
	if err != nil {
		return err
	}
	if len(d.b) != 0 {
		return errHeader
	}
	*h = wireHeader(m)
	return nil
}

// decodeHeader decodes a header (a CBOR null, or a map of text strings to
// null or arrays of text strings) from the start of d and advances d past
// it. With limits set, it fails for a map or an array longer than the
// library decoder's limits (MaxMapPairs, MaxArrayElements) allow.
//
// A first pass checks the shape and counts the values; the second builds
// the header with three allocations whatever its size (as net/textproto
// does): the map, one backing array shared by all value slices (each capped,
// so an append to one cannot reach the next), and one string holding every
// key and value, which the header's strings are substrings of.
func decodeHeader(d *headDecoder, limits bool) (http.Header, error) {
	if d.null() {
		return nil, nil
	}
	b := d.b
	// Every pair takes at least two bytes and every value one, so counts
	// larger than what is left are lies, refused before any allocation.
	n, ok := d.head(majorMap)
	if !ok || n > uint64(len(d.b))/2 || limits && n > maxPairs {
		return nil, errHeader
	}
	var total uint64
	for range n {
		if !d.skipText() {
			return nil, errHeader
		}
		if d.null() {
			continue
		}
		c, ok := d.head(majorArray)
		if !ok || c > uint64(len(d.b)) || limits && c > maxElements {
			return nil, errHeader
		}
		for range c {
			if !d.skipText() {
				return nil, errHeader
			}
		}
		total += c
	}
	end := len(b) - len(d.b)

	all := string(b[:end])
	vals := make([]string, total)
	m := make(http.Header, n)
	d2 := headDecoder{b: b[:end]}
	d2.head(majorMap)
	for range n {
		k := d2.text(all)
		var vs []string
		if !d2.null() {
			c, _ := d2.head(majorArray)
			vs, vals = vals[:c:c], vals[c:]
			for i := range vs {
				vs[i] = d2.text(all)
			}
		}
		before := len(m)
		m[k] = vs
		if len(m) == before {
			return nil, errors.New("duplicate header field " + k)
		}
	}
	return m, nil
}

// headDecoder reads definite-length CBOR heads and text strings from b.
type headDecoder struct{ b []byte }

// head reads a data item head of the given major type and returns its
// argument (RFC 8949 §3). Indefinite lengths and reserved values fail.
func (d *headDecoder) head(major byte) (uint64, bool) {
	if len(d.b) == 0 || d.b[0]>>5 != major {
		return 0, false
	}
	ai := d.b[0] & 0x1f
	switch {
	case ai < 24:
		d.b = d.b[1:]
		return uint64(ai), true
	case ai == 24 && len(d.b) >= 2:
		v := uint64(d.b[1])
		d.b = d.b[2:]
		return v, true
	case ai == 25 && len(d.b) >= 3:
		v := uint64(binary.BigEndian.Uint16(d.b[1:]))
		d.b = d.b[3:]
		return v, true
	case ai == 26 && len(d.b) >= 5:
		v := uint64(binary.BigEndian.Uint32(d.b[1:]))
		d.b = d.b[5:]
		return v, true
	case ai == 27 && len(d.b) >= 9:
		v := binary.BigEndian.Uint64(d.b[1:])
		d.b = d.b[9:]
		return v, true
	}
	return 0, false
}

// null consumes a CBOR null if one is next.
func (d *headDecoder) null() bool {
	if len(d.b) > 0 && d.b[0] == cborNull {
		d.b = d.b[1:]
		return true
	}
	return false
}

// skipText consumes a text string. Like the rest of the entry
// (UTF8DecodeInvalid), it does not insist on UTF-8: header values may carry
// obs-text bytes.
func (d *headDecoder) skipText() bool {
	n, ok := d.head(majorText)
	if !ok || n > uint64(len(d.b)) {
		return false
	}
	d.b = d.b[n:]
	return true
}

// text consumes a text string that skipText has already accepted and
// returns it as a substring of all, which holds the bytes d started on.
func (d *headDecoder) text(all string) string {
	n, _ := d.head(majorText)
	off := len(all) - len(d.b)
	d.b = d.b[n:]
	return all[off : off+int(n)]
}

// binaryHeader is cached.Header as it sits in an entry: a CBOR byte string
// holding the header's binary form (cached.Header.AppendBinary). Anything
// else under its key, null and undefined included, is an error.
type binaryHeader cached.Header

var errBinaryHeader = errors.New("header is not a byte string holding a header's binary form")

func (h binaryHeader) MarshalCBOR() ([]byte, error) {
	bin, err := cached.Header(h).AppendBinary(nil)
	if err != nil {
		return nil, err
	}
	b := appendHead(make([]byte, 0, len(bin)+9), majorBytes, uint64(len(bin)))
	return append(b, bin...), nil
}

func (h *binaryHeader) UnmarshalCBOR(b []byte) error {
	d := headDecoder{b: b}
	bin, ok := d.bytes()
	if !ok || len(d.b) != 0 || (*cached.Header)(h).UnmarshalBinary(bin) != nil {
		return errBinaryHeader
	}
	return nil
}

// appendHead appends a CBOR data item head (RFC 8949 §3) of major type
// major and argument n, in its shortest form.
func appendHead(b []byte, major byte, n uint64) []byte {
	m := major << 5
	switch {
	case n < 24:
		return append(b, m|byte(n))
	case n <= math.MaxUint8:
		return append(b, m|24, byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, m|25), uint16(n))
	case n <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(b, m|26), uint32(n))
	}
	return binary.BigEndian.AppendUint64(append(b, m|27), n)
}
