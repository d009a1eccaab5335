package codec

import (
	"math"
	"time"

	"github.com/cachestack/cachestack/cached"
)

// The library decoder's limits (entryDec), which decodeFast must not
// exceed: it declines anything larger, and the library then refuses it.
const (
	maxPairs    = 4096
	maxElements = 4096
)

// decodeFast decodes the metadata and body of an entry when the metadata
// has the shape Marshal writes: a definite-length map with integer keys in
// increasing order, each holding the type Marshal writes under it, with no
// unknown keys. It hand-decodes what the library would otherwise find by
// reflection, which was most of Unmarshal's time.
//
// For anything else (unknown or repeated keys, text keys, other types,
// indefinite lengths, limits exceeded, a body length that does not match,
// any malformed input) it returns ok false, decoding nothing, and the
// caller falls back to decodeLibrary, which decides and reports the error.
// When it accepts an input, it returns what decodeLibrary returns for it
// (FuzzDecodeFast checks this).
func decodeFast(meta []byte) (r *cached.Response, ok bool) { return decodeFastAt(meta, true) }

// decodeFastAt is decodeFast for an entry's metadata (outer) or an inline
// variant's (key 16), which may not hold one of its own.
func decodeFastAt(meta []byte, outer bool) (r *cached.Response, ok bool) {
	d := headDecoder{b: meta}
	n, ok := d.head(majorMap)
	if !ok || n > 16 {
		return nil, false
	}
	var (
		e      cached.Response
		ns     = [4]int64{absent, absent, absent, absent}
		last   uint64
		bodyLn uint64
	)
	for range n {
		k, ok := d.head(majorUint)
		if !ok || k <= last || k > 16 {
			return nil, false
		}
		last = k
		switch k {
		case 1, 2, 4, 15:
			s, ok := d.textBytes()
			if !ok {
				return nil, false
			}
			switch k {
			case 1:
				e.Method = common(s)
			case 2:
				e.URL = string(s)
			case 4:
				e.Proto = common(s)
			case 15:
				e.Ref = string(s)
			}
		case 3:
			v, ok := d.int64()
			if !ok || v < math.MinInt || v > math.MaxInt {
				return nil, false
			}
			e.StatusCode = int(v)
		case 5:
			b, ok := d.bytes()
			if !ok || e.Header.UnmarshalBinary(b) != nil {
				return nil, false
			}
		case 6:
			h, err := decodeHeader(&d, true)
			if err != nil {
				return nil, false
			}
			e.VaryHeader = h
		case 7, 8, 9, 10:
			if d.null() {
				continue // a nil *int64: the zero time, as absent
			}
			v, ok := d.int64()
			if !ok {
				return nil, false
			}
			ns[k-7] = v
		case 11:
			if bodyLn, ok = d.head(majorUint); !ok {
				return nil, false
			}
		case 12:
			v, ok := d.int64()
			if !ok {
				return nil, false
			}
			e.InitialAge = time.Duration(v)
		case 13:
			v, ok := d.head(majorUint)
			if !ok || v > math.MaxUint8 {
				return nil, false
			}
			e.Kind = cached.Kind(v)
		case 14:
			if d.null() {
				continue
			}
			c, ok := d.head(majorArray)
			// An empty array is declined: the library's empty
			// (non-nil) slice is not worth matching here.
			if !ok || c == 0 || c > maxElements || c > uint64(len(d.b)) {
				return nil, false
			}
			e.Vary = make([]string, c)
			for i := range e.Vary {
				b, ok := d.textBytes()
				if !ok {
					return nil, false
				}
				e.Vary[i] = string(b)
			}
		case 16:
			b, ok := d.bytes()
			if !ok || !outer || len(b) == 0 || b[0]>>5 != majorMap {
				return nil, false // the library decides
			}
			if e.Variant, ok = decodeFastAt(b, false); !ok {
				return nil, false
			}
		}
	}
	body := d.b
	if bodyLn != uint64(len(body)) {
		return nil, false
	}
	e.RequestTime, e.ResponseTime = unixNano(&ns[0]), unixNano(&ns[1])
	e.Created, e.Expires = unixNano(&ns[2]), unixNano(&ns[3])
	if len(body) > 0 {
		e.Body = body[:len(body):len(body)]
	}
	return &e, true
}

// Major types of integers (RFC 8949 §3.1).
const (
	majorUint = 0
	majorNeg  = 1
)

// int64 reads an unsigned or negative integer that fits in an int64.
func (d *headDecoder) int64() (int64, bool) {
	if len(d.b) == 0 {
		return 0, false
	}
	neg := d.b[0]>>5 == majorNeg
	major := byte(majorUint)
	if neg {
		major = majorNeg
	}
	v, ok := d.head(major)
	if !ok || v > math.MaxInt64 {
		return 0, false
	}
	if neg {
		return -1 - int64(v), true
	}
	return int64(v), true
}

// majorBytes is the major type of byte strings (RFC 8949 §3.1).
const majorBytes = 2

// bytes reads a definite-length byte string, aliasing d's input.
func (d *headDecoder) bytes() ([]byte, bool) { return d.chunk(majorBytes) }

// textBytes reads a definite-length text string, aliasing d's input.
func (d *headDecoder) textBytes() ([]byte, bool) { return d.chunk(majorText) }

// chunk reads the head of a definite-length string of the major type and
// returns its content, aliasing d's input.
func (d *headDecoder) chunk(major byte) ([]byte, bool) {
	n, ok := d.head(major)
	if !ok || n > uint64(len(d.b)) {
		return nil, false
	}
	b := d.b[:n]
	d.b = d.b[n:]
	return b, true
}

// common returns b as a string, without allocating when it is one of the
// methods and protocol versions nearly every entry holds.
func common(b []byte) string {
	switch string(b) {
	case "GET":
		return "GET"
	case "HEAD":
		return "HEAD"
	case "POST":
		return "POST"
	case "HTTP/1.1":
		return "HTTP/1.1"
	case "HTTP/2.0":
		return "HTTP/2.0"
	case "HTTP/1.0":
		return "HTTP/1.0"
	}
	return string(b)
}
