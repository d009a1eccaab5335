package policy

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestParseRange covers RFC 9110 §14.2.
func TestParseRange(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give   string
		want   []RangeSpec
		wantOK bool
	}{
		{"bytes=0-499", []RangeSpec{{0, 499}}, true},
		{"bytes=500-", []RangeSpec{{500, -1}}, true},
		{"bytes=-500", []RangeSpec{{-1, 500}}, true},
		{"BYTES = 1-2, ,3-4", []RangeSpec{{1, 2}, {3, 4}}, true},
		{"bytes=5-4", nil, false},
		{"bytes=", nil, false},
		{"bytes=,", nil, false},
		{"bytes=1", nil, false},
		{"bytes=-", nil, false},
		{"bytes=+1-2", nil, false},
		{"bytes=1-2-3", nil, false},
		{"bytes=1234567890123456789-", nil, false},
		{"items=0-1", nil, false},
		{"bytes 0-1", nil, false},
	}
	for _, tt := range tests {
		got, ok := ParseRange(tt.give)
		assert.Equal(t, tt.wantOK, ok, tt.give)
		assert.Equal(t, tt.want, got, tt.give)
	}
	many := "bytes=0-0"
	for i := 1; i <= maxRangeSpecs; i++ {
		many += "," + strconv.Itoa(i) + "-" + strconv.Itoa(i)
	}
	_, ok := ParseRange(many)
	assert.False(t, ok, "more than 64 range-specs are not read")
}

// TestSatisfiableRanges covers RFC 9110 §14.1.1 and the coalescing §14.2
// allows.
func TestSatisfiableRanges(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give string
		size int64
		want []ByteRange
	}{
		{"bytes=0-4", 10, []ByteRange{{0, 4}}},
		{"bytes=5-100", 10, []ByteRange{{5, 9}}},
		{"bytes=-3", 10, []ByteRange{{7, 9}}},
		{"bytes=-30", 10, []ByteRange{{0, 9}}},
		{"bytes=-0", 10, nil},
		{"bytes=10-", 10, nil},
		{"bytes=0-", 0, nil},
		{"bytes=-1", 0, nil},
		{"bytes=6-7,0-1,1-3,4-4", 10, []ByteRange{{0, 4}, {6, 7}}},
		{"bytes=0-9,2-3", 10, []ByteRange{{0, 9}}},
	}
	for _, tt := range tests {
		specs, ok := ParseRange(tt.give)
		assert.True(t, ok, tt.give)
		got := SatisfiableRanges(specs, tt.size)
		if len(tt.want) == 0 {
			assert.Empty(t, got, tt.give)
			continue
		}
		assert.Equal(t, tt.want, got, tt.give)
	}
}

// TestParseContentRange covers RFC 9110 §14.4.
func TestParseContentRange(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give   string
		want   ContentRange
		wantOK bool
	}{
		{"bytes 0-499/1234", ContentRange{Range: ByteRange{0, 499}, Size: 1234}, true},
		{"bytes 0-499/*", ContentRange{Range: ByteRange{0, 499}, Size: -1}, true},
		{"bytes */1234", ContentRange{Size: 1234, Unsatisfied: true}, true},
		{"Bytes 1-1/2", ContentRange{Range: ByteRange{1, 1}, Size: 2}, true},
		{"bytes 0-1234/1234", ContentRange{}, false},
		{"bytes 5-4/10", ContentRange{}, false},
		{"bytes */*", ContentRange{}, false},
		{"bytes 0-1", ContentRange{}, false},
		{"bytes=0-1/2", ContentRange{}, false},
		{"items 0-1/2", ContentRange{}, false},
	}
	for _, tt := range tests {
		got, ok := ParseContentRange(tt.give)
		assert.Equal(t, tt.wantOK, ok, tt.give)
		assert.Equal(t, tt.want, got, tt.give)
	}
}

func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"bytes=0-499", "bytes=-5", "bytes=5-", "bytes=0-1,3-4,-2", "BYTES = 1-2, ,", "bytes=5-4", "items=1-2", ""} {
		f.Add(s, int64(10))
	}
	f.Fuzz(func(t *testing.T, s string, size int64) {
		specs, ok := ParseRange(s)
		if !ok {
			if specs != nil {
				t.Fatalf("%q: specs %v without ok", s, specs)
			}
			return
		}
		if len(specs) == 0 || len(specs) > maxRangeSpecs {
			t.Fatalf("%q: %d specs", s, len(specs))
		}
		for _, sp := range specs {
			if (sp.First < 0 && (sp.First != -1 || sp.Last < 0)) || (sp.First >= 0 && sp.Last != -1 && sp.Last < sp.First) {
				t.Fatalf("%q: bad spec %+v", s, sp)
			}
		}
		if size < 0 {
			size = -(size + 1)
		}
		prev := int64(-2)
		for _, r := range SatisfiableRanges(specs, size) {
			if r.First < 0 || r.Last >= size || r.Last < r.First || r.First <= prev+1 {
				t.Fatalf("%q size %d: range %+v after %d", s, size, r, prev)
			}
			prev = r.Last
		}
	})
}

func FuzzParseContentRange(f *testing.F) {
	for _, s := range []string{"bytes 0-499/1234", "bytes 0-1/*", "bytes */10", "bytes 5-4/10", "bytes 0-10/10", "bytes=0-1/2", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cr, ok := ParseContentRange(s)
		if !ok {
			return
		}
		var again string
		switch {
		case cr.Unsatisfied:
			again = "bytes */" + strconv.FormatInt(cr.Size, 10)
		case cr.Size < 0:
			again = "bytes " + strconv.FormatInt(cr.Range.First, 10) + "-" + strconv.FormatInt(cr.Range.Last, 10) + "/*"
		default:
			if cr.Range.Last >= cr.Size {
				t.Fatalf("%q: last-pos past the length", s)
			}
			again = "bytes " + strconv.FormatInt(cr.Range.First, 10) + "-" + strconv.FormatInt(cr.Range.Last, 10) + "/" + strconv.FormatInt(cr.Size, 10)
		}
		if cr.Range.Last < cr.Range.First {
			t.Fatalf("%q: %+v", s, cr)
		}
		if got, ok := ParseContentRange(again); !ok || got != cr {
			t.Fatalf("%q: %+v does not survive %q: %+v", s, cr, again, got)
		}
	})
}
