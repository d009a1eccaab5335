package policy

import (
	"bytes"
	"slices"
)

// appendFieldValue appends the normalised value of a request field, named
// k in http.CanonicalHeaderKey form, to dst: the content-negotiation
// fields by their semantics (appendNegotiation), every other field as
// NormalizeFieldValue describes. Every Vary comparison and key goes
// through it, so that VaryKey, VaryMatch and VaryDigestsMatch agree.
func appendFieldValue(dst []byte, k string, values []string) []byte {
	switch k {
	case "Accept", "Accept-Encoding", "Accept-Language":
		return appendNegotiation(dst, values)
	}
	return appendNormalized(dst, values)
}

// maxNegotiationMembers bounds the members appendNegotiation reorders; a
// longer list is compared as NormalizeFieldValue leaves it.
const maxNegotiationMembers = 32

// negMember is one member of a content-negotiation list, as a span of the
// canonical text and its weight in thousandths.
type negMember struct {
	start, end int
	q          int
}

// appendNegotiation appends the normalised value of Accept,
// Accept-Encoding or Accept-Language (RFC 9110 §12.5.1, §12.5.3,
// §12.5.4), read by their semantics as RFC 9111 §4.1 allows ("normalized
// ... according to the field's defined semantics"):
//
//   - tokens, media types, language ranges and parameter names compare
//     case-insensitively, so they are lower-cased;
//   - a member without a weight has q=1 (§12.4.2), and "q=1", "q=1.0" and
//     "Q=1.000" are the same weight; weights are written in thousandths
//     and q=1 is left out;
//   - the order of members with equal weights carries no meaning, so
//     members are sorted by weight, highest first, then by their text.
//
// So "en, fr" and "FR,en;q=1" normalise alike, while "fr;q=0.9, en" stays
// a different value: its weights differ. A value this does not read (a
// quoted-string, a malformed weight, more than 32 members) is normalised
// as any other field is, which can only cost a miss.
func appendNegotiation(dst []byte, values []string) []byte {
	var flat [256]byte
	v := appendNormalized(flat[:0], values)
	if bytes.IndexByte(v, '"') >= 0 {
		return append(dst, v...)
	}
	var textBuf [256]byte
	text := textBuf[:0]
	var memBuf [maxNegotiationMembers]negMember
	members := memBuf[:0]
	for len(v) > 0 {
		var m []byte
		if i := bytes.IndexByte(v, ','); i >= 0 {
			m, v = v[:i], v[i+1:]
		} else {
			m, v = v, nil
		}
		m = bytes.TrimSpace(m)
		if len(m) == 0 {
			continue
		}
		if len(members) == maxNegotiationMembers {
			return appendNormalized(dst, values)
		}
		nm := negMember{start: len(text), q: 1000}
		for j := 0; m != nil; j++ {
			var p []byte
			if i := bytes.IndexByte(m, ';'); i >= 0 {
				p, m = m[:i], m[i+1:]
			} else {
				p, m = m, nil
			}
			p = bytes.TrimSpace(p)
			if j > 0 && len(p) == 0 {
				continue
			}
			if j == 0 {
				text = appendLower(text, p)
				continue
			}
			name, val, _ := bytes.Cut(p, []byte{'='})
			name, val = bytes.TrimSpace(name), bytes.TrimSpace(val)
			if len(name) == 1 && (name[0] == 'q' || name[0] == 'Q') {
				q, ok := qvalue(val)
				if !ok {
					return appendNormalized(dst, values)
				}
				nm.q = q
				continue
			}
			text = append(text, ';')
			text = appendLower(text, name)
			if len(val) > 0 {
				text = append(text, '=')
				text = append(text, val...)
			}
		}
		nm.end = len(text)
		members = append(members, nm)
	}
	slices.SortStableFunc(members, func(a, b negMember) int {
		if a.q != b.q {
			return b.q - a.q
		}
		return bytes.Compare(text[a.start:a.end], text[b.start:b.end])
	})
	for i, m := range members {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, text[m.start:m.end]...)
		if m.q != 1000 {
			dst = append(dst, ";q=0."...)
			d := [3]byte{byte('0' + m.q/100), byte('0' + m.q/10%10), byte('0' + m.q%10)}
			n := 3
			for n > 1 && d[n-1] == '0' {
				n--
			}
			dst = append(dst, d[:n]...)
		}
	}
	return dst
}

// qvalue parses a weight (RFC 9110 §12.4.2) into thousandths:
//
//	qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
func qvalue(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 5 || (b[0] != '0' && b[0] != '1') {
		return 0, false
	}
	n := int(b[0]-'0') * 1000
	if len(b) == 1 {
		return n, true
	}
	if b[1] != '.' {
		return 0, false
	}
	scale := 100
	for _, c := range b[2:] {
		if c < '0' || c > '9' {
			return 0, false
		}
		n += int(c-'0') * scale
		scale /= 10
	}
	return n, n <= 1000
}

func appendLower(dst, s []byte) []byte {
	for _, c := range s {
		dst = append(dst, lowerASCII(c))
	}
	return dst
}
