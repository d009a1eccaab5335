package policy

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestParseETagList covers RFC 9110 §8.8.3 and §13.1.2.
func TestParseETagList(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give     []string
		want     []ETag
		wantStar bool
		wantOK   bool
	}{
		{[]string{`"a"`}, []ETag{{Opaque: "a"}}, false, true},
		{[]string{`W/"a", "b"`}, []ETag{{Weak: true, Opaque: "a"}, {Opaque: "b"}}, false, true},
		{[]string{`"a"`, ` , "b" ,`}, []ETag{{Opaque: "a"}, {Opaque: "b"}}, false, true},
		{[]string{`""`}, []ETag{{Opaque: ""}}, false, true},
		{[]string{`"a,b"`}, []ETag{{Opaque: "a,b"}}, false, true},
		{[]string{`*`}, nil, true, true},
		{[]string{` * `}, nil, true, true},
		{[]string{`*, "a"`}, nil, false, false},
		{[]string{`w/"a"`}, nil, false, false},
		{[]string{`a`}, nil, false, false},
		{[]string{`"a`}, nil, false, false},
		{[]string{`"a" "b"`}, nil, false, false},
		{[]string{`"a"b`}, nil, false, false},
		{[]string{`"a b"`}, nil, false, false},
		{[]string{""}, nil, false, false},
		{nil, nil, false, false},
	}
	for _, tt := range tests {
		tags, star, ok := ParseETagList(tt.give...)
		assert.Equal(t, tt.wantOK, ok, tt.give)
		assert.Equal(t, tt.wantStar, star, tt.give)
		assert.Equal(t, tt.want, tags, tt.give)
	}
	_, _, ok := ParseETagList(strings.Repeat(`"a",`, maxETagMembers+1))
	assert.False(t, ok, "too many members")
}

// TestETagComparison is RFC 9110 §8.8.3.2's table.
func TestETagComparison(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b         string
		strong, weak bool
	}{
		{`W/"1"`, `W/"1"`, false, true},
		{`W/"1"`, `W/"2"`, false, false},
		{`W/"1"`, `"1"`, false, true},
		{`"1"`, `"1"`, true, true},
	}
	for _, tt := range tests {
		a, _ := ParseETag(tt.a)
		b, _ := ParseETag(tt.b)
		assert.Equal(t, tt.strong, StrongMatch(a, b), tt.a+" "+tt.b)
		assert.Equal(t, tt.weak, WeakMatch(a, b), tt.a+" "+tt.b)
	}
}

func FuzzParseETagList(f *testing.F) {
	for _, s := range []string{`"a"`, `W/"a", "b"`, `*`, `*, "a"`, `"a`, ` , "x" ,`, `w/"a"`, `""`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tags, star, ok := ParseETagList(s)
		if !ok {
			if tags != nil || star {
				t.Fatalf("%q: result without ok", s)
			}
			return
		}
		if star {
			if len(tags) != 0 {
				t.Fatalf("%q: star with tags", s)
			}
			return
		}
		parts := make([]string, len(tags))
		for i, tg := range tags {
			if strings.IndexByte(tg.Opaque, '"') >= 0 {
				t.Fatalf("%q: quote inside %+v", s, tg)
			}
			parts[i] = `"` + tg.Opaque + `"`
			if tg.Weak {
				parts[i] = "W/" + parts[i]
			}
			if one, ok := ParseETag(parts[i]); !ok || one != tg {
				t.Fatalf("%q: %q does not parse back to %+v", s, parts[i], tg)
			}
		}
		again, star2, ok2 := ParseETagList(strings.Join(parts, ", "))
		if !ok2 || star2 || len(again) != len(tags) {
			t.Fatalf("%q: does not survive a round trip", s)
		}
		for i := range tags {
			if again[i] != tags[i] {
				t.Fatalf("%q: member %d: %+v != %+v", s, i, again[i], tags[i])
			}
		}
	})
}
