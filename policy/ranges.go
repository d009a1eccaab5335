package policy

import (
	"slices"
	"strings"
)

// ByteRange is a byte range of a representation, First to Last inclusive
// (RFC 9110 §14.1.2).
type ByteRange struct {
	First, Last int64
}

// Len is the number of bytes in r.
func (r ByteRange) Len() int64 { return r.Last - r.First + 1 }

// RangeSpec is one range-spec of a Range field (RFC 9110 §14.1.2):
//
//	int-range    = first-pos "-" [ last-pos ]   First >= 0, Last -1 when absent
//	suffix-range = "-" suffix-length            First -1, Last the length
type RangeSpec struct {
	First, Last int64
}

// maxRangeSpecs bounds how many range-specs ParseRange reads: a Range with
// more is not answered from the cache (RFC 9110 §14.2 lets a server
// ignore a Range field with many small ranges).
const maxRangeSpecs = 64

// ParseRange parses a Range field's value in the bytes unit (RFC 9110
// §14.2):
//
//	Range = "bytes" "=" 1#( int-range / suffix-range )
//
// The unit is matched case-insensitively; whitespace around commas and
// empty members are skipped. ok is false for another unit, a syntax error,
// an int-range whose last-pos is below its first-pos, a number past 18
// digits, or more than 64 range-specs: a server then ignores the field and
// sends the whole representation.
func ParseRange(s string) (specs []RangeSpec, ok bool) {
	s = trimOWS(s)
	if len(s) < 6 || !eqFold(s[:5], "bytes") {
		return nil, false
	}
	s = trimOWS(s[5:])
	if s == "" || s[0] != '=' {
		return nil, false
	}
	for m := range strings.SplitSeq(s[1:], ",") {
		m = trimOWS(m)
		if m == "" {
			continue
		}
		if len(specs) == maxRangeSpecs {
			return nil, false
		}
		first, last, found := strings.Cut(m, "-")
		if !found {
			return nil, false
		}
		var sp RangeSpec
		var good bool
		if first == "" {
			sp.First = -1
			if sp.Last, good = digits(last); !good {
				return nil, false
			}
		} else {
			if sp.First, good = digits(first); !good {
				return nil, false
			}
			sp.Last = -1
			if last != "" {
				if sp.Last, good = digits(last); !good || sp.Last < sp.First {
					return nil, false
				}
			}
		}
		specs = append(specs, sp)
	}
	return specs, len(specs) > 0
}

// digits parses 1*DIGIT of at most 18 digits, so that it fits an int64.
func digits(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int64(s[i]-'0')
	}
	return n, true
}

// SatisfiableRanges resolves specs against a representation of size bytes
// (RFC 9110 §14.1.1): an int-range is satisfiable when its first-pos is
// below size, its last-pos then capped at size-1; a suffix-range when its
// length is not zero and size is not zero, covering the last bytes. The
// result is sorted, with overlapping and adjacent ranges coalesced (§14.2
// lets a server coalesce them, whatever their order in the field); it is
// empty when none is satisfiable (416 Range Not Satisfiable).
func SatisfiableRanges(specs []RangeSpec, size int64) []ByteRange {
	var out []ByteRange
	for _, sp := range specs {
		var r ByteRange
		switch {
		case sp.First < 0:
			if sp.Last == 0 || size == 0 {
				continue
			}
			r = ByteRange{First: max(0, size-sp.Last), Last: size - 1}
		case sp.First >= size:
			continue
		default:
			r = ByteRange{First: sp.First, Last: size - 1}
			if sp.Last >= 0 && sp.Last < size-1 {
				r.Last = sp.Last
			}
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b ByteRange) int {
		switch {
		case a.First < b.First:
			return -1
		case a.First > b.First:
			return 1
		}
		return 0
	})
	merged := out[:0]
	for _, r := range out {
		if n := len(merged); n > 0 && r.First <= merged[n-1].Last+1 {
			merged[n-1].Last = max(merged[n-1].Last, r.Last)
			continue
		}
		merged = append(merged, r)
	}
	return merged
}

// ContentRange is a parsed Content-Range field (RFC 9110 §14.4) in the
// bytes unit. Size is -1 for an unknown complete length ("*"). An
// unsatisfied-range ("bytes */1234") has Unsatisfied set, Size known and
// Range zero.
type ContentRange struct {
	Range       ByteRange
	Size        int64
	Unsatisfied bool
}

// ParseContentRange parses a Content-Range value:
//
//	Content-Range      = range-unit SP ( range-resp / unsatisfied-range )
//	range-resp         = incl-range "/" ( complete-length / "*" )
//	incl-range         = first-pos "-" last-pos
//	unsatisfied-range  = "*/" complete-length
//
// in the bytes unit (matched case-insensitively). ok is false for anything
// else, and for a range-resp whose last-pos is below its first-pos or not
// below a known complete length (§14.4: such a field is invalid).
func ParseContentRange(s string) (ContentRange, bool) {
	s = trimOWS(s)
	if len(s) < 6 || !eqFold(s[:5], "bytes") || s[5] != ' ' {
		return ContentRange{}, false
	}
	s = s[6:]
	rng, size, found := strings.Cut(s, "/")
	if !found {
		return ContentRange{}, false
	}
	var cr ContentRange
	if rng == "*" {
		n, ok := digits(size)
		if !ok {
			return ContentRange{}, false
		}
		return ContentRange{Size: n, Unsatisfied: true}, true
	}
	first, last, found := strings.Cut(rng, "-")
	if !found {
		return ContentRange{}, false
	}
	var ok bool
	if cr.Range.First, ok = digits(first); !ok {
		return ContentRange{}, false
	}
	if cr.Range.Last, ok = digits(last); !ok || cr.Range.Last < cr.Range.First {
		return ContentRange{}, false
	}
	if size == "*" {
		cr.Size = -1
		return cr, true
	}
	if cr.Size, ok = digits(size); !ok || cr.Range.Last >= cr.Size {
		return ContentRange{}, false
	}
	return cr, true
}
