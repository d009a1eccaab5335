package codec

import (
	"encoding/binary"
	"errors"
	"net/http"
)

// wireHeader is http.Header as it sits in an entry: a CBOR map from text
// strings to arrays of text strings, or null for a nil header. Encoding is
// the library's (reflective, sorted keys); decoding is hand-written because
// the header is most of the metadata and generic reflective map decoding
// was three quarters of Unmarshal's time. It runs after the library has
// checked that the whole metadata is well-formed and within the limits, but
// checks every length itself all the same.
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
//
// A first pass checks the shape and counts the values; the second builds
// the header with three allocations whatever its size (as net/textproto
// does): the map, one backing array shared by all value slices (each capped,
// so an append to one cannot reach the next), and one string holding every
// key and value, which the header's strings are substrings of.
func (h *wireHeader) UnmarshalCBOR(b []byte) error {
	if len(b) == 1 && b[0] == cborNull {
		*h = nil
		return nil
	}
	d := headDecoder{b: b}
	// Every pair takes at least two bytes and every value one, so counts
	// larger than what is left are lies, refused before any allocation.
	n, ok := d.head(majorMap)
	if !ok || n > uint64(len(d.b))/2 {
		return errHeader
	}
	var total uint64
	for range n {
		if !d.skipText() {
			return errHeader
		}
		if d.null() {
			continue
		}
		c, ok := d.head(majorArray)
		if !ok || c > uint64(len(d.b)) {
			return errHeader
		}
		for range c {
			if !d.skipText() {
				return errHeader
			}
		}
		total += c
	}
	if len(d.b) != 0 {
		return errHeader
	}

	all := string(b)
	vals := make([]string, total)
	m := make(http.Header, n)
	d = headDecoder{b: b}
	d.head(majorMap)
	for range n {
		k := d.text(all)
		var vs []string
		if !d.null() {
			c, _ := d.head(majorArray)
			vs, vals = vals[:c:c], vals[c:]
			for i := range vs {
				vs[i] = d.text(all)
			}
		}
		before := len(m)
		m[k] = vs
		if len(m) == before {
			return errors.New("duplicate header field " + k)
		}
	}
	*h = wireHeader(m)
	return nil
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
