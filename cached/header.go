package cached

import (
	"encoding/binary"
	"errors"
	"iter"
	"net/http"
	"net/textproto"
	"slices"
	"strings"
)

// Header is the header of a stored response: immutable, and held as one
// string, so that an entry's header is a single object without pointers
// for the garbage collector to follow. A cache holds many entries, and an
// http.Header (a map, a slice of values per field and a string per value)
// costs every collection cycle the time to mark each of them.
//
// The zero Header has no fields. Build one with NewHeader; read it with
// Get, Values and All; turn it back into an http.Header of the caller's
// own with HTTP. Fields keep their names as given (http.Header's are
// canonical) and are held in name order, so Headers built from equal
// http.Headers are equal (==).
type Header struct {
	// s is the fields packed as uvarint-prefixed items: the number of
	// fields, the number of values, then for each field its name and
	// the number of its values, then each value.
	s string
}

// NewHeader returns h as a Header. Fields without values are left out: they
// have nothing to send (http.Header.Write skips them too).
func NewHeader(h http.Header) Header { return NewHeaderFunc(h, nil) }

// NewHeaderFunc is NewHeader keeping only the fields for whose names keep
// reports true; a nil keep keeps every field.
func NewHeaderFunc(h http.Header, keep func(name string) bool) Header {
	if len(h) == 0 {
		return Header{}
	}
	var keysBuf [32]string
	keys := keysBuf[:0]
	size, values := 0, 0
	for k, vs := range h {
		if len(vs) == 0 || keep != nil && !keep(k) {
			continue
		}
		keys = append(keys, k)
		size += uvarintLen(uint64(len(k))) + len(k) + uvarintLen(uint64(len(vs)))
		for _, v := range vs {
			size += uvarintLen(uint64(len(v))) + len(v)
		}
		values += len(vs)
	}
	if len(keys) == 0 {
		return Header{}
	}
	slices.Sort(keys)
	var b strings.Builder
	b.Grow(size + uvarintLen(uint64(len(keys))) + uvarintLen(uint64(values))) // exactly: the string keeps no spare room
	writeUvarint(&b, len(keys))
	writeUvarint(&b, values)
	for _, k := range keys {
		writeItem(&b, k)
		vs := h[k]
		writeUvarint(&b, len(vs))
		for _, v := range vs {
			writeItem(&b, v)
		}
	}
	return Header{s: b.String()}
}

func writeUvarint(b *strings.Builder, n int) {
	var buf [binary.MaxVarintLen64]byte
	b.Write(binary.AppendUvarint(buf[:0], uint64(n)))
}

func writeItem(b *strings.Builder, s string) {
	writeUvarint(b, len(s))
	b.WriteString(s)
}

// AppendBinary appends the header's binary form to b (encoding.BinaryAppender):
// uvarints and strings, each string preceded by its length as a uvarint:
// the number of fields, the number of values, then for each field in name
// order its name, the number of its values and each value. Codecs store
// it as it is; UnmarshalBinary reads it back.
func (h Header) AppendBinary(b []byte) ([]byte, error) {
	if h.s == "" {
		return append(b, 0, 0), nil
	}
	return append(b, h.s...), nil
}

// MarshalBinary returns the header's binary form (see AppendBinary).
func (h Header) MarshalBinary() ([]byte, error) { return h.AppendBinary(nil) }

// errBinary is returned by UnmarshalBinary for bytes that are not a
// header's binary form.
var errBinary = errors.New("cached: not a header in binary form")

// UnmarshalBinary sets h to the header whose binary form (see AppendBinary)
// is data, copying it. It checks the form completely, counts, lengths,
// names in strictly increasing order, no field without values and every
// uvarint in its shortest form (so that equal headers stay ==), and
// returns an error for anything else, leaving h unchanged.
func (h *Header) UnmarshalBinary(data []byte) error {
	fields, ok := checkBinary(data)
	if !ok {
		return errBinary
	}
	if fields == 0 {
		*h = Header{}
		return nil
	}
	*h = Header{s: string(data)}
	return nil
}

// HeaderFromBinary returns the header whose binary form (see AppendBinary)
// is s, checked as UnmarshalBinary checks it, sharing s rather than copying
// it. It is for stores that keep the binary form in memory of their own and
// build a header for each read without allocating: s must never change
// afterwards (a string built with unsafe.String over bytes that are written
// later breaks the Header's immutability).
func HeaderFromBinary(s string) (Header, error) {
	fields, ok := checkBinary(s)
	if !ok {
		return Header{}, errBinary
	}
	if fields == 0 {
		return Header{}, nil
	}
	return Header{s: s}, nil
}

// checkBinary reports whether data is a header's binary form, and its
// number of fields.
func checkBinary[T string | []byte](data T) (fields int, ok bool) {
	d := data
	next := func() (int, bool) {
		v, n := uvarintOf(d)
		if n <= 0 || v > uint64(len(data)) || n != uvarintLen(v) {
			return 0, false
		}
		d = d[n:]
		return int(v), true
	}
	item := func() (T, bool) {
		n, ok := next()
		if !ok || n > len(d) {
			return d[:0], false
		}
		s := d[:n]
		d = d[n:]
		return s, true
	}
	fields, ok1 := next()
	values, ok2 := next()
	if !ok1 || !ok2 {
		return 0, false
	}
	var prev T
	seen := 0
	for i := range fields {
		k, ok := item()
		if !ok || i > 0 && string(k) <= string(prev) {
			return 0, false
		}
		prev = k
		c, ok := next()
		if !ok || c == 0 {
			return 0, false
		}
		for range c {
			if _, ok := item(); !ok {
				return 0, false
			}
		}
		seen += c
	}
	if len(d) != 0 || seen != values {
		return 0, false
	}
	return fields, true
}

// uvarintOf is binary.Uvarint over a string or a byte slice.
func uvarintOf[T string | []byte](b T) (uint64, int) {
	var x uint64
	var s uint
	for i := 0; i < len(b); i++ {
		if i == binary.MaxVarintLen64 {
			return 0, -(i + 1) // overflow
		}
		c := b[i]
		if c < 0x80 {
			if i == binary.MaxVarintLen64-1 && c > 1 {
				return 0, -(i + 1) // overflow
			}
			return x | uint64(c)<<s, i + 1
		}
		x |= uint64(c&0x7f) << s
		s += 7
	}
	return 0, 0
}

// Len returns the number of fields.
func (h Header) Len() int {
	r := reader{s: h.s}
	return r.uvarint()
}

// NumValues returns the number of values of all fields together.
func (h Header) NumValues() int {
	r := reader{s: h.s}
	r.uvarint()
	return r.uvarint()
}

// All yields each field's name and value, a field of several values once
// for each in order, the fields in name order.
func (h Header) All() iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		r := reader{s: h.s}
		n := r.uvarint()
		r.uvarint()
		for range n {
			k := r.item()
			for range r.uvarint() {
				if !yield(k, r.item()) {
					return
				}
			}
		}
	}
}

// Get returns the first value of the field named key, or "". Like
// http.Header.Get, it canonicalizes key.
func (h Header) Get(key string) string {
	key = textproto.CanonicalMIMEHeaderKey(key)
	for k, v := range h.All() {
		if k == key {
			return v
		}
	}
	return ""
}

// Values returns the values of the field named key, in a new slice; nil
// when there is none. Like http.Header.Values, it canonicalizes key.
func (h Header) Values(key string) []string {
	key = textproto.CanonicalMIMEHeaderKey(key)
	var vs []string
	for k, v := range h.All() {
		if k == key {
			vs = append(vs, v)
		} else if vs != nil {
			break
		}
	}
	return vs
}

// HTTP returns the fields as a new http.Header, the caller's to change.
// Its values share one backing array, each field's slice capped at its
// own length so that appending to one never writes over another.
func (h Header) HTTP() http.Header {
	out := make(http.Header, h.Len())
	values := make([]string, h.NumValues())
	i, start, field := 0, 0, ""
	for k, v := range h.All() {
		if k != field && i > start {
			out[field], start = values[start:i:i], i
		}
		field, values[i] = k, v
		i++
	}
	if i > start {
		out[field] = values[start:i:i]
	}
	return out
}

// String returns the fields in the form of an HTTP/1.1 header section,
// "Name: value" lines ending in CRLF, for logs and test failures.
func (h Header) String() string {
	var b strings.Builder
	for k, v := range h.All() {
		b.WriteString(k)
		b.WriteString(": ")
		b.WriteString(v)
		b.WriteString("\r\n")
	}
	return b.String()
}

// uvarintLen is the length of v's shortest uvarint form.
func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// size is the bytes the header occupies.
func (h Header) size() int64 { return int64(len(h.s)) + 16 }

// reader reads the items of a packed header.
type reader struct {
	s string
	i int
}

func (r *reader) uvarint() int {
	if r.i >= len(r.s) {
		return 0
	}
	if c := r.s[r.i]; c < 0x80 {
		r.i++
		return int(c)
	}
	var x uint64
	var shift uint
	for r.i < len(r.s) {
		c := r.s[r.i]
		r.i++
		x |= uint64(c&0x7f) << shift
		if c < 0x80 {
			break
		}
		shift += 7
	}
	return int(x)
}

func (r *reader) item() string {
	n := r.uvarint()
	s := r.s[r.i : r.i+n]
	r.i += n
	return s
}

// Fields returns a cursor over the header's fields, in name order: a
// loop over Next and Value reads them without the closure an iterator
// (All) costs, for the code that reads a stored header on every hit.
func (h Header) Fields() Fields {
	r := reader{s: h.s}
	n := r.uvarint()
	r.uvarint()
	return Fields{r: r, left: n}
}

// Fields is a cursor over a Header's fields; see Header.Fields. Its zero
// value has no fields.
type Fields struct {
	r      reader
	left   int // fields not yet reached
	values int // values of the current field not yet read
}

// Next moves to the next field, skipping the values of the current one
// that were not read, and returns its name and number of values (at least
// one); ok is false past the last field.
func (f *Fields) Next() (name string, values int, ok bool) {
	for ; f.values > 0; f.values-- {
		f.r.item()
	}
	if f.left == 0 {
		return "", 0, false
	}
	f.left--
	name = f.r.item()
	f.values = f.r.uvarint()
	return name, f.values, true
}

// Value returns the next value of the current field, "" when all of them
// have been read.
func (f *Fields) Value() string {
	if f.values == 0 {
		return ""
	}
	f.values--
	return f.r.item()
}
