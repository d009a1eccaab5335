package slabstore

import (
	"encoding/binary"
	"errors"
	"net/http"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/cachestack/cachestack/cached"
)

// A record is one entry in a segment, 8-byte aligned, little endian:
//
//	0   u32  record length, padded to 8
//	4   u32  use count (atomic; 0 to maxUses)
//	8   u64  key hash
//	16  i64  store deadline, Unix nanoseconds; 0 means none
//	24  i64  StatusCode
//	32  i64  InitialAge
//	40  4 × (i64 seconds, i64 nanoseconds): RequestTime, ResponseTime,
//	         Created, Expires
//	104 u8   Kind
//	105 u8   flags: bits 0–3 each time is set, 4 VaryHeader is not nil,
//	         5 Vary is not nil
//	106 u16  zero
//	108 10 × u32 lengths: key, Method, URL, Proto, Header, Ref,
//	         VaryHeader, Vary, Body, Variant
//	148 the ten fields in that order, then zero padding
//
// Header is cached.Header's binary form. VaryHeader is a u32 field count,
// then each field as a u32-prefixed name, a u32 value count and each value
// u32-prefixed; Vary is a u32 count, then each u32-prefixed. Variant, a
// Vary index's inline variant (cached.Response.Variant), is a record of its
// own, with no key, hash, deadline or Variant.
const (
	offLen      = 0
	offUses     = 4
	offHash     = 8
	offDeadline = 16
	offStatus   = 24
	offAge      = 32
	offTimes    = 40
	offKind     = 104
	offFlags    = 105
	offLens     = 108
	headerLen   = 148

	flagVaryHeader = 1 << 4
	flagVary       = 1 << 5

	numLens = 10
)

// Indexes of the lengths at offLens.
const (
	lenKey = iota
	lenMethod
	lenURL
	lenProto
	lenHeader
	lenRef
	lenVaryHeader
	lenVary
	lenBody
	lenVariant
)

// maxUses is where a record's use count stops.
const maxUses = 3

// errRecord reports a record that does not decode: a bug in the store,
// never a stored response's fault.
var errRecord = errors.New("slabstore: corrupt record")

// encoded is a response measured for writing: its lengths, its header's
// binary form and its total record length, and its inline variant's.
type encoded struct {
	lens    [numLens]uint32
	header  []byte
	total   int
	variant *encoded
}

// measure fills e for writing key and r; hdr is scratch for the header's
// binary form. It fails for a field longer than a u32 can count, and for
// an inline variant that holds one of its own.
func measure(e *encoded, key string, r *cached.Response, hdr []byte) bool {
	e.header, _ = r.Header.AppendBinary(hdr[:0])
	variant := 0
	if v := r.Variant; v != nil {
		e.variant = new(encoded)
		if v.Variant != nil || !measure(e.variant, "", v, nil) {
			return false
		}
		variant = e.variant.total
	}
	vh := 0
	if r.VaryHeader != nil {
		vh = 4
		for k, vs := range r.VaryHeader {
			vh += 4 + len(k) + 4
			for _, v := range vs {
				vh += 4 + len(v)
			}
		}
	}
	vary := 0
	if r.Vary != nil {
		vary = 4
		for _, v := range r.Vary {
			vary += 4 + len(v)
		}
	}
	lens := [numLens]int{len(key), len(r.Method), len(r.URL), len(r.Proto), len(e.header), len(r.Ref), vh, vary, len(r.Body), variant}
	total := headerLen
	for i, n := range lens {
		if uint64(n) > 1<<31 {
			return false
		}
		e.lens[i] = uint32(n)
		total += n
	}
	e.total = align(total)
	return total <= 1<<31
}

func align(n int) int { return (n + 7) &^ 7 }

// write writes the record of key and r, measured in e, at the start of b,
// which is e.total bytes long and zeroed.
func write(b []byte, e *encoded, h uint64, deadline int64, key string, r *cached.Response) {
	le := binary.LittleEndian
	le.PutUint32(b[offLen:], uint32(e.total))
	le.PutUint64(b[offHash:], h)
	le.PutUint64(b[offDeadline:], uint64(deadline))
	le.PutUint64(b[offStatus:], uint64(int64(r.StatusCode)))
	le.PutUint64(b[offAge:], uint64(r.InitialAge))
	var flags byte
	for i, t := range [4]time.Time{r.RequestTime, r.ResponseTime, r.Created, r.Expires} {
		if t.IsZero() {
			continue
		}
		flags |= 1 << i
		le.PutUint64(b[offTimes+16*i:], uint64(t.Unix()))
		le.PutUint64(b[offTimes+16*i+8:], uint64(t.Nanosecond()))
	}
	if r.VaryHeader != nil {
		flags |= flagVaryHeader
	}
	if r.Vary != nil {
		flags |= flagVary
	}
	b[offKind] = byte(r.Kind)
	b[offFlags] = flags
	for i, n := range e.lens {
		le.PutUint32(b[offLens+4*i:], n)
	}
	p := b[headerLen:headerLen]
	p = append(p, key...)
	p = append(p, r.Method...)
	p = append(p, r.URL...)
	p = append(p, r.Proto...)
	p = append(p, e.header...)
	p = append(p, r.Ref...)
	if r.VaryHeader != nil {
		p = le.AppendUint32(p, uint32(len(r.VaryHeader)))
		for k, vs := range r.VaryHeader {
			p = appendString(p, k)
			p = le.AppendUint32(p, uint32(len(vs)))
			for _, v := range vs {
				p = appendString(p, v)
			}
		}
	}
	if r.Vary != nil {
		p = le.AppendUint32(p, uint32(len(r.Vary)))
		for _, v := range r.Vary {
			p = appendString(p, v)
		}
	}
	p = append(p, r.Body...) // in place: b has the room
	if e.variant != nil {
		write(p[len(p):len(p)+e.variant.total], e.variant, 0, 0, "", r.Variant)
	}
}

func appendString(b []byte, s string) []byte {
	return append(binary.LittleEndian.AppendUint32(b, uint32(len(s))), s...)
}

// recordLen returns the length of the record at the start of b.
func recordLen(b []byte) int { return int(binary.LittleEndian.Uint32(b[offLen:])) }

// recordHash returns the key hash of the record at the start of b.
func recordHash(b []byte) uint64 { return binary.LittleEndian.Uint64(b[offHash:]) }

// recordDeadline returns the store deadline of the record at the start of
// b, Unix nanoseconds, 0 for none.
func recordDeadline(b []byte) int64 { return int64(binary.LittleEndian.Uint64(b[offDeadline:])) }

// recordKey returns the key of the record at the start of b, aliasing b.
func recordKey(b []byte) []byte {
	n := binary.LittleEndian.Uint32(b[offLens+4*lenKey:])
	return b[headerLen : headerLen+int(n)]
}

// uses returns the record's use count word. Records start 8-byte aligned
// in a segment, whose memory is 8-byte aligned, so the word is aligned.
func uses(b []byte) *uint32 { return (*uint32)(unsafe.Pointer(&b[offUses])) }

// touch counts a use of the record at the start of b, up to maxUses: a
// record at the top is not written at all, so hits on a hot entry from
// many goroutines share its cache line without writing it.
func touch(b []byte) {
	p := uses(b)
	if n := atomic.LoadUint32(p); n < maxUses {
		atomic.CompareAndSwapUint32(p, n, n+1)
	}
}

// withVariant is a Vary index and its inline variant, decoded in one
// allocation with room for the usual short lists of strings: the index's
// Vary fields and the variant's VaryHeader values.
type withVariant struct {
	index, variant cached.Response
	strs           [4]string
}

// decode returns the response in record b (exactly one record). Its
// strings and body alias b: b must never be written again, except its use
// count, which decode does not read.
func decode(b []byte) (*cached.Response, error) {
	if len(b) < headerLen {
		return nil, errRecord
	}
	if binary.LittleEndian.Uint32(b[offLens+4*lenVariant:]) == 0 {
		r := new(cached.Response)
		if err := decodeInto(r, nil, b, nil); err != nil {
			return nil, err
		}
		return r, nil
	}
	w := new(withVariant)
	strs := w.strs[:]
	if err := decodeInto(&w.index, &w.variant, b, &strs); err != nil {
		return nil, err
	}
	return &w.index, nil
}

// decodeInto decodes record b into r, and its inline variant, if it has
// one, into v, which is nil where a record may not have one. Lists of
// strings are carved from *strs while it has room.
func decodeInto(r, v *cached.Response, b []byte, strs *[]string) error {
	if len(b) < headerLen {
		return errRecord
	}
	le := binary.LittleEndian
	var lens [numLens]int
	p := headerLen
	for i := range lens {
		lens[i] = int(le.Uint32(b[offLens+4*i:]))
		p += lens[i]
	}
	if p > len(b) {
		return errRecord
	}
	*r = cached.Response{
		StatusCode: int(int64(le.Uint64(b[offStatus:]))),
		InitialAge: time.Duration(le.Uint64(b[offAge:])),
		Kind:       cached.Kind(b[offKind]),
	}
	flags := b[offFlags]
	for i, t := range [4]*time.Time{&r.RequestTime, &r.ResponseTime, &r.Created, &r.Expires} {
		if flags&(1<<i) != 0 {
			*t = time.Unix(int64(le.Uint64(b[offTimes+16*i:])), int64(le.Uint64(b[offTimes+16*i+8:]))).UTC()
		}
	}
	field := [numLens][]byte{}
	p = headerLen
	for i, n := range lens {
		field[i] = b[p : p+n : p+n]
		p += n
	}
	r.Method = str(field[lenMethod])
	r.URL = str(field[lenURL])
	r.Proto = str(field[lenProto])
	r.Ref = str(field[lenRef])
	h, err := cached.HeaderFromBinary(str(field[lenHeader]))
	if err != nil {
		return errRecord
	}
	r.Header = h
	if flags&flagVaryHeader != 0 {
		if r.VaryHeader, err = decodeVaryHeader(field[lenVaryHeader], strs); err != nil {
			return err
		}
	}
	if flags&flagVary != 0 {
		if r.Vary, err = decodeStrings(field[lenVary], strs); err != nil {
			return err
		}
	}
	if len(field[lenBody]) > 0 {
		r.Body = field[lenBody]
	}
	if vb := field[lenVariant]; len(vb) > 0 {
		if v == nil {
			return errRecord
		}
		if err := decodeInto(v, nil, vb, strs); err != nil {
			return err
		}
		r.Variant = v
	}
	return nil
}

// str returns b as a string sharing its memory: b is never written again.
func str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// fieldReader reads the u32-prefixed items of a VaryHeader or Vary field.
type fieldReader struct {
	b   []byte
	bad bool
}

func (f *fieldReader) u32() int {
	if len(f.b) < 4 {
		f.bad = true
		return 0
	}
	n := binary.LittleEndian.Uint32(f.b)
	f.b = f.b[4:]
	if uint64(n) > uint64(len(f.b))+1 { // a count or length cannot exceed what is left
		f.bad = true
		return 0
	}
	return int(n)
}

func (f *fieldReader) item() string {
	n := f.u32()
	if f.bad || n > len(f.b) {
		f.bad = true
		return ""
	}
	s := str(f.b[:n])
	f.b = f.b[n:]
	return s
}

// carve returns a list of n strings: the next n of *strs when strs is not
// nil and has room (the list's capacity is n, so appending to it cannot
// reach the next), else a new one.
func carve(strs *[]string, n int) []string {
	if strs != nil && n <= len(*strs) {
		vs := (*strs)[:n:n]
		*strs = (*strs)[n:]
		return vs
	}
	return make([]string, n)
}

func decodeVaryHeader(b []byte, strs *[]string) (http.Header, error) {
	f := fieldReader{b: b}
	n := f.u32()
	h := make(http.Header, n)
	for range n {
		k := f.item()
		c := f.u32()
		if f.bad {
			return nil, errRecord
		}
		vs := carve(strs, c)
		for i := range vs {
			vs[i] = f.item()
		}
		h[k] = vs
	}
	if f.bad || len(f.b) != 0 {
		return nil, errRecord
	}
	return h, nil
}

func decodeStrings(b []byte, strs *[]string) ([]string, error) {
	f := fieldReader{b: b}
	n := f.u32()
	if f.bad {
		return nil, errRecord
	}
	vs := carve(strs, n)
	for i := range vs {
		vs[i] = f.item()
	}
	if f.bad || len(f.b) != 0 {
		return nil, errRecord
	}
	return vs, nil
}
