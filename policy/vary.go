package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
)

// AbsentFieldValue is what NormalizeFieldValue returns for a field the
// request does not carry: a single NUL, which no normalised value
// contains (NUL is replaced by a space, RFC 9110 §5.5), so an absent
// field never compares equal to one with an empty value.
const AbsentFieldValue = "\x00"

// ParseVary returns the field names listed by every Vary field line of h
// (RFC 9110 §12.5.5: Vary = #( "*" / field-name )), in
// http.CanonicalHeaderKey form, deduplicated and sorted so that the result
// is stable; star reports a "*" member, which no request matches (RFC
// 9111 §4.1). Names compare case-insensitively, whitespace and empty
// members are skipped.
//
// A member that is not a valid field name (a token, §5.6.2), such as
// "Accept Encoding", is taken as "*": what the origin meant to vary on is
// unknown, so the stored response is never selected. For the same reason,
// Vary lines longer than 64 KiB in all are read up to that point and star
// is true.
func ParseVary(h http.Header) (fields []string, star bool) {
	return ParseVaryLines(h["Vary"]...)
}

// ParseVaryLines is ParseVary for the field lines of a response's Vary
// given on their own, such as a stored response's (cached.Header.Values).
func ParseVaryLines(lines ...string) (fields []string, star bool) {
	budget := maxListBytes
	for _, line := range lines {
		if budget <= 0 {
			star = true // lines left unread
			break
		}
		cut := len(line) > budget
		if cut {
			line, star = line[:budget], true
		}
		budget -= len(line) + 1
		for line != "" {
			i := 0
			for i < len(line) && line[i] != ',' {
				i++
			}
			if i == len(line) && cut {
				break // the member may continue past the budget
			}
			f := trimOWS(line[:i])
			line = line[min(i+1, len(line)):]
			switch {
			case f == "":
			case f == "*":
				star = true
			case isToken(f):
				fields = append(fields, http.CanonicalHeaderKey(f))
			default:
				star = true
			}
		}
	}
	return sortFields(fields), star
}

// NormalizeFieldValue combines the field lines of one request field into a
// single normalised value for comparing with a stored request's (RFC 9111
// §4.1: "normalized by ... combining multiple header fields with the same
// field name ... removing whitespace around commas, collapsing linear
// whitespace"):
//
//   - lines are joined with commas (RFC 9110 §5.3);
//   - NUL, CR and LF are replaced by a space (RFC 9110 §5.5);
//   - whitespace (SP, HTAB) at either end and around commas is removed,
//     and every other run of whitespace becomes one space.
//
// Case, empty list members and quoted-strings are left alone: a field
// whose values differ only there does not match, which costs a miss
// rather than serving the wrong variant. When present is false the result
// is AbsentFieldValue, unequal to any present value, the empty one
// included. A present field with no lines is the empty value. When the
// value is already normal, trailing whitespace aside, the result is a
// slice of the first line and nothing is allocated.
func NormalizeFieldValue(values []string, present bool) string {
	if !present {
		return AbsentFieldValue
	}
	if len(values) == 0 {
		return ""
	}
	var buf [128]byte
	b := appendNormalized(buf[:0], values)
	if v := values[0]; len(b) <= len(v) && string(b) == v[:len(b)] {
		return v[:len(b)] // normal already, but perhaps for trailing whitespace
	}
	return string(b)
}

// normState is the state of the normalisation NormalizeFieldValue
// describes, one input byte at a time.
type normState struct {
	space bool // whitespace is pending
	last  byte // the last byte output, 0 before any
}

// next consumes the input byte c and returns what to output: a space
// first when sp, then out unless it is 0.
func (s *normState) next(c byte) (sp bool, out byte) {
	switch c {
	case 0, '\r', '\n', ' ', '\t':
		s.space = true
		return false, 0
	case ',':
		s.space = false
	default:
		sp = s.space && s.last != 0 && s.last != ','
		s.space = false
	}
	s.last = c
	return sp, c
}

// appendNormalized appends the normalised value of the present field
// values to dst.
func appendNormalized(dst []byte, values []string) []byte {
	var s normState
	for i, v := range values {
		for j := -1; j < len(v); j++ {
			c := byte(',')
			if j >= 0 {
				c = v[j]
			} else if i == 0 {
				continue
			}
			sp, out := s.next(c)
			if sp {
				dst = append(dst, ' ')
			}
			if out != 0 {
				dst = append(dst, out)
			}
		}
	}
	return dst
}

// VaryMatch reports whether a request matches a stored variant (RFC 9111
// §4.1): for every field in fields (as ParseVary returns them), the
// normalised value in req equals the one in stored (NormalizeFieldValue;
// Accept, Accept-Encoding and Accept-Language are also read by their
// semantics: case, the order of equally weighted members and q=1 do not
// count, so "en, fr" matches "FR, en" but not "fr;q=0.9, en"), the header of the
// request that the stored response answered. An absent field only matches
// an absent one (a field whose value slice is empty is absent). star never
// matches. With no fields and no star every request matches.
func VaryMatch(fields []string, star bool, stored, req http.Header) bool {
	if star {
		return false
	}
	var bufS, bufR [128]byte // values this short are compared without allocating
	for _, f := range fields {
		k := http.CanonicalHeaderKey(f)
		s, r := stored[k], req[k]
		if (len(s) == 0) != (len(r) == 0) {
			return false // absent only matches absent
		}
		if string(appendFieldValue(bufS[:0], k, s)) != string(appendFieldValue(bufR[:0], k, r)) {
			return false
		}
	}
	return true
}

// VaryKey encodes req's normalised values of fields as a string usable as
// a secondary cache key (one entry per variant, RFC 9111 §4.1). For two
// requests a and b, VaryKey(fields, a) == VaryKey(fields, b) exactly when
// VaryMatch(fields, false, a, b). Each field is encoded, in the order of
// fields, as its length-prefixed canonical name followed by "-" when it
// is absent or by its length-prefixed NormalizeFieldValue, so no two
// different sets of values collide: for Vary "Accept-Encoding,
// Accept-Language", a request with "Accept-Encoding: gzip" and no
// Accept-Language gives "15:Accept-Encoding4:gzip15:Accept-Language-".
// VaryKey has no star: a response whose Vary has "*" must not be reused.
func VaryKey(fields []string, req http.Header) string {
	var buf [128]byte
	return string(AppendVaryKey(buf[:0], fields, req))
}

// AppendVaryKey appends VaryKey(fields, req) to dst, so that a caller with
// a buffer of its own computes it without allocating.
func AppendVaryKey(dst []byte, fields []string, req http.Header) []byte {
	for _, f := range fields {
		k := http.CanonicalHeaderKey(f)
		dst = strconv.AppendInt(dst, int64(len(k)), 10)
		dst = append(dst, ':')
		dst = append(dst, k...)
		v := req[k]
		if len(v) == 0 {
			dst = append(dst, '-')
			continue
		}
		// The normalised value goes straight into dst, after room for
		// its length, which is then written in front of it.
		n := len(dst)
		dst = appendFieldValue(dst, k, v)
		nv := len(dst) - n
		var lb [20]byte
		l := strconv.AppendInt(lb[:0], int64(nv), 10)
		l = append(l, ':')
		dst = append(dst, l...) // grow by len(l)
		copy(dst[n+len(l):], dst[n:n+nv])
		copy(dst[n:], l)
	}
	return dst
}

// varyDigestDomain starts what VaryDigests hashes, so its digests can never
// equal a digest made for another purpose.
const varyDigestDomain = "cachestack/vary-digest/v1\x00"

// VaryDigests returns what a cache stores with a variant to match later
// requests against it (RFC 9111 §4.1) without keeping the request's field
// values: for each field in fields that req carries, a digest of its
// normalised value (NormalizeFieldValue) bound to the field's name, as
// "sha256:" and 32 hex digits. Fields req does not carry are left out. The
// values themselves (an Authorization or Cookie a response varies on, an
// ignored parameter sent as a header) never reach the store.
func VaryDigests(fields []string, req http.Header) http.Header {
	out := make(http.Header, len(fields))
	var buf [128]byte
	for _, f := range fields {
		k := http.CanonicalHeaderKey(f)
		if vs := req[k]; len(vs) > 0 {
			out[k] = []string{varyDigest(k, appendFieldValue(buf[:0], k, vs))}
		}
	}
	return out
}

// VaryDigestsMatch is VaryMatch for a variant stored with VaryDigests: for
// every field in fields, req carries it exactly when the variant's request
// did, with a value whose digest is the stored one.
func VaryDigestsMatch(fields []string, stored, req http.Header) bool {
	var buf [128]byte
	for _, f := range fields {
		k := http.CanonicalHeaderKey(f)
		s, r := stored[k], req[k]
		if (len(s) == 0) != (len(r) == 0) {
			return false // absent only matches absent
		}
		if len(s) > 0 && (len(s) != 1 || s[0] != varyDigest(k, appendFieldValue(buf[:0], k, r))) {
			return false
		}
	}
	return true
}

func varyDigest(name string, normalized []byte) string {
	h := sha256.New()
	h.Write([]byte(varyDigestDomain))
	h.Write([]byte(name))
	h.Write([]byte{0})
	h.Write(normalized)
	var sum [sha256.Size]byte
	var out [7 + 32]byte
	copy(out[:], "sha256:")
	hex.Encode(out[7:], h.Sum(sum[:0])[:16])
	return string(out[:])
}
