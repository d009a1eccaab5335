package policy

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestParseVary covers RFC 9110 §12.5.5.
func TestParseVary(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		give     []string
		want     []string
		wantStar bool
	}{
		{name: "none"},
		{name: "empty", give: []string{"", " , ,"}},
		{name: "one", give: []string{"Accept-Encoding"}, want: []string{"Accept-Encoding"}},
		{name: "case and dedup", give: []string{"accept-encoding, ACCEPT-ENCODING", "Accept-encoding"}, want: []string{"Accept-Encoding"}},
		{name: "odd spacing sorted", give: []string{" \tuser-agent ,accept,,  accept-language\t"}, want: []string{"Accept", "Accept-Language", "User-Agent"}},
		{name: "multiple lines", give: []string{"Origin", "Accept"}, want: []string{"Accept", "Origin"}},
		{name: "star", give: []string{"*"}, wantStar: true},
		{name: "star among fields", give: []string{"Accept", " * "}, want: []string{"Accept"}, wantStar: true},
		{name: "invalid name is star", give: []string{"Accept Encoding, Origin"}, want: []string{"Origin"}, wantStar: true},
		{name: "star inside token is not star", give: []string{"x-*"}, want: []string{"X-*"}},
		{name: "oversize line is star", give: []string{"Origin," + strings.Repeat(" ", maxListBytes) + "Accept-Encoding"}, want: []string{"Origin"}, wantStar: true},
		{name: "oversize lines are star", give: []string{"Origin," + strings.Repeat(" ", maxListBytes-7), "Accept"}, want: []string{"Origin"}, wantStar: true},
		{name: "exactly the cap", give: []string{"Origin," + strings.Repeat(" ", maxListBytes-7)}, want: []string{"Origin"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fields, star := ParseVary(http.Header{"Vary": tt.give})
			assert.Equal(t, tt.want, fields)
			assert.Equal(t, tt.wantStar, star)

			fields, star = ParseVaryLines(tt.give...)
			assert.Equal(t, tt.want, fields, "ParseVaryLines")
			assert.Equal(t, tt.wantStar, star, "ParseVaryLines")
		})
	}
}

// TestNormalizeFieldValue covers RFC 9111 §4.1 and RFC 9110 §5.5.
func TestNormalizeFieldValue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		give   []string
		absent bool
		want   string
	}{
		{name: "absent", give: nil, absent: true, want: AbsentFieldValue},
		{name: "present no lines", give: nil, want: ""},
		{name: "empty", give: []string{""}, want: ""},
		{name: "spaces only", give: []string{" \t "}, want: ""},
		{name: "already normal", give: []string{"gzip,br"}, want: "gzip,br"},
		{name: "trailing space", give: []string{"gzip,br  "}, want: "gzip,br"},
		{name: "space around commas", give: []string{" gzip ,\tbr , deflate"}, want: "gzip,br,deflate"},
		{name: "collapse", give: []string{"en-GB;q=0.8   \t en"}, want: "en-GB;q=0.8 en"},
		{name: "lines combined", give: []string{"gzip", " br "}, want: "gzip,br"},
		{name: "empty lines kept", give: []string{"gzip", ""}, want: "gzip,"},
		{name: "case kept", give: []string{"GZIP"}, want: "GZIP"},
		{name: "NUL CR LF are spaces", give: []string{"a\x00b\r\nc"}, want: "a b c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := NormalizeFieldValue(tt.give, !tt.absent)
			assert.Equal(t, tt.want, got)
			if !tt.absent {
				assert.Equal(t, got, NormalizeFieldValue([]string{got}, true), "idempotent")
				assert.Equal(t, got, string(appendNormalized(nil, tt.give)), "appendNormalized")
			}
		})
	}
	assert.NotEqual(t, NormalizeFieldValue(nil, false), NormalizeFieldValue([]string{""}, true))
	assert.NotEqual(t, NormalizeFieldValue(nil, false), NormalizeFieldValue([]string{"\x00"}, true))
}

func TestNormalizeFieldValueNoAlloc(t *testing.T) {
	// A single line that is already normal, or only has trailing
	// whitespace, is returned as it is (or sliced).
	for _, v := range []string{"", "gzip,br", "gzip,br  ", "en-GB,en;q=0.9"} {
		assert.Zero(t, testing.AllocsPerRun(10, func() { _ = NormalizeFieldValue([]string{v}, true) }), v)
	}
	// VaryMatch normalises short values on the stack.
	stored := http.Header{"Accept-Encoding": {"gzip, deflate, br, zstd"}, "Accept-Language": {"en-GB,en;q=0.9"}}
	req := http.Header{"Accept-Encoding": {"gzip,deflate ,br,  zstd"}, "Accept-Language": {"en-GB,en;q=0.9"}}
	fields := []string{"Accept-Encoding", "Accept-Language"}
	assert.Zero(t, testing.AllocsPerRun(10, func() { _ = VaryMatch(fields, false, stored, req) }))
}

// TestVaryMatch covers RFC 9111 §4.1.
func TestVaryMatch(t *testing.T) {
	t.Parallel()
	fields := []string{"Accept-Encoding", "Accept-Language"}
	tests := []struct {
		name   string
		fields []string
		star   bool
		stored http.Header
		req    http.Header
		want   bool
	}{
		{name: "no fields", stored: http.Header{"Accept": {"a"}}, req: http.Header{}, want: true},
		{name: "star", star: true, stored: http.Header{}, req: http.Header{}},
		{name: "equal", fields: fields, stored: http.Header{"Accept-Encoding": {"gzip, br"}, "Accept-Language": {"en"}},
			req: http.Header{"Accept-Encoding": {"gzip, br"}, "Accept-Language": {"en"}, "Other": {"x"}}, want: true},
		{name: "odd spacing and lines", fields: fields, stored: http.Header{"Accept-Encoding": {"gzip,br"}},
			req: http.Header{"Accept-Encoding": {"  gzip ", "\tbr"}}, want: true},
		{name: "value differs", fields: fields, stored: http.Header{"Accept-Encoding": {"gzip"}}, req: http.Header{"Accept-Encoding": {"br"}}},
		{name: "value case differs", fields: []string{"X-Tenant"}, stored: http.Header{"X-Tenant": {"acme"}}, req: http.Header{"X-Tenant": {"ACME"}}},
		{name: "negotiation: token case does not count", fields: fields, stored: http.Header{"Accept-Encoding": {"gzip"}}, req: http.Header{"Accept-Encoding": {"GZIP"}}, want: true},
		{name: "negotiation: order of equal weights does not count", fields: fields, stored: http.Header{"Accept-Language": {"en, fr"}}, req: http.Header{"Accept-Language": {"fr,en"}}, want: true},
		{name: "negotiation: q=1 is the default", fields: fields, stored: http.Header{"Accept-Language": {"en, fr"}}, req: http.Header{"Accept-Language": {"fr;q=1.000, EN;Q=1"}}, want: true},
		{name: "negotiation: weights count", fields: fields, stored: http.Header{"Accept-Language": {"en, fr"}}, req: http.Header{"Accept-Language": {"fr;q=0.9, en"}}},
		{name: "negotiation: weighted member order does not count", fields: fields, stored: http.Header{"Accept-Language": {"en, fr;q=0.9"}}, req: http.Header{"Accept-Language": {"fr;q=0.90, en"}}, want: true},
		{name: "negotiation: media types and parameters", fields: []string{"Accept"}, stored: http.Header{"Accept": {"text/html;level=1, application/json;q=0.5"}},
			req: http.Header{"Accept": {"Application/JSON; q=0.5 ,TEXT/HTML; LEVEL=1"}}, want: true},
		{name: "negotiation: parameter values count", fields: []string{"Accept"}, stored: http.Header{"Accept": {"text/html;level=1"}},
			req: http.Header{"Accept": {"text/html;level=2"}}},
		{name: "negotiation: a bad weight compares as written", fields: fields, stored: http.Header{"Accept-Language": {"en;q=2, fr"}}, req: http.Header{"Accept-Language": {"fr, en;q=2"}}},
		{name: "absent matches absent", fields: fields, stored: http.Header{}, req: http.Header{}, want: true},
		{name: "absent vs empty", fields: fields, stored: http.Header{}, req: http.Header{"Accept-Language": {""}}},
		{name: "empty vs absent", fields: fields, stored: http.Header{"Accept-Language": {""}}, req: http.Header{}},
		{name: "empty slice is absent", fields: fields, stored: http.Header{"Accept-Language": {}}, req: http.Header{}, want: true},
		{name: "empty vs empty", fields: fields, stored: http.Header{"Accept-Language": {""}}, req: http.Header{"Accept-Language": {"  "}}, want: true},
		{name: "non-canonical field", fields: []string{"accept-language"}, stored: http.Header{"Accept-Language": {"en"}},
			req: http.Header{"Accept-Language": {"fr"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, VaryMatch(tt.fields, tt.star, tt.stored, tt.req))
			if !tt.star {
				assert.Equal(t, tt.want, VaryKey(tt.fields, tt.stored) == VaryKey(tt.fields, tt.req))
				assert.Equal(t, tt.want, VaryDigestsMatch(canonical(tt.fields), VaryDigests(tt.fields, tt.stored), tt.req))
			}
		})
	}
}

func TestVaryKey(t *testing.T) {
	t.Parallel()
	fields := []string{"Accept-Encoding", "Accept-Language"}
	tests := []struct {
		name string
		give http.Header
		want string
	}{
		{name: "absent", give: http.Header{}, want: "15:Accept-Encoding-15:Accept-Language-"},
		{name: "empty", give: http.Header{"Accept-Language": {""}}, want: "15:Accept-Encoding-15:Accept-Language0:"},
		{name: "values", give: http.Header{"Accept-Encoding": {"gzip ,  br"}, "Accept-Language": {"en"}},
			want: "15:Accept-Encoding7:br,gzip15:Accept-Language2:en"},
		{name: "weights", give: http.Header{"Accept-Language": {"fr;q=0.50, EN, de;q=0.9"}},
			want: "15:Accept-Encoding-15:Accept-Language20:en,de;q=0.9,fr;q=0.5"},
		{name: "value looks like encoding", give: http.Header{"Accept-Encoding": {"-15:Accept-Language-"}},
			want: "15:Accept-Encoding20:-15:accept-language-15:Accept-Language-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, VaryKey(fields, tt.give))
		})
	}
	assert.Empty(t, VaryKey(nil, http.Header{"A": {"b"}}))
}

// varyHeader builds a request header from fuzz input: each line of s is
// one field line, its first byte choosing the field among fields.
func varyHeader(fields []string, s string) http.Header {
	h := http.Header{}
	if len(fields) == 0 {
		return h
	}
	for _, line := range strings.Split(s, "\n") {
		if line == "" {
			continue
		}
		k := fields[int(line[0])%len(fields)]
		h[k] = append(h[k], line[1:])
	}
	return h
}

func FuzzVary(f *testing.F) {
	f.Add("Accept-Encoding, Accept-Language", "\x00gzip\n\x01en", "\x00 gzip \n\x01en")
	f.Add("accept, *", "\x00a", "\x00a")
	f.Add("A,B,C", "\x00\n\x01 x , y", "\x01x,y\n\x02")
	f.Add("Accept", "\x00a\x00b", "\x00a b")
	f.Add("Accept-Language", "\x00en, fr", "\x00FR;q=1.0,en")
	f.Add("Accept-Language", "\x00en, fr", "\x00fr;q=0.9, en")
	f.Add("Accept", "\x00text/html;level=1;q=0.5, */*", "\x00*/*,TEXT/HTML; Level=1; q=0.50")
	f.Fuzz(func(t *testing.T, vary, a, b string) {
		fields, _ := ParseVary(http.Header{"Vary": strings.Split(vary, "\n")})
		ha, hb := varyHeader(fields, a), varyHeader(fields, b)
		match := VaryMatch(fields, false, ha, hb)
		if keyEq := VaryKey(fields, ha) == VaryKey(fields, hb); keyEq != match {
			t.Fatalf("VaryKey equal %v, VaryMatch %v, for %v %q %q", keyEq, match, fields, ha, hb)
		}
		if got := VaryDigestsMatch(fields, VaryDigests(fields, ha), hb); got != match {
			t.Fatalf("VaryDigestsMatch %v, VaryMatch %v, for %v %q %q", got, match, fields, ha, hb)
		}
		for _, k := range fields {
			if vs := ha[k]; len(vs) > 0 {
				once := appendFieldValue(nil, k, vs)
				if twice := appendFieldValue(nil, k, []string{string(once)}); string(twice) != string(once) {
					t.Fatalf("%s: normalising %q twice gives %q, once %q", k, vs, twice, once)
				}
			}
		}
		if VaryMatch(fields, false, hb, ha) != match {
			t.Fatal("VaryMatch is not symmetric")
		}
		if !VaryMatch(fields, false, ha, ha) {
			t.Fatal("VaryMatch is not reflexive")
		}
		if VaryMatch(fields, true, ha, ha) {
			t.Fatal("star matched")
		}
		for _, k := range fields {
			n := NormalizeFieldValue(ha[k], len(ha[k]) > 0)
			if len(ha[k]) > 0 && string(appendNormalized(nil, ha[k])) != n {
				t.Fatalf("appendNormalized(%q) differs from NormalizeFieldValue %q", ha[k], n)
			}
			if len(ha[k]) > 0 && NormalizeFieldValue([]string{n}, true) != n {
				t.Fatalf("NormalizeFieldValue(%q) = %q is not idempotent", ha[k], n)
			}
		}
	})
}

func BenchmarkVary(b *testing.B) {
	resp := http.Header{"Vary": {"Accept-Encoding, Accept-Language"}}
	stored := http.Header{"Accept-Encoding": {"gzip, br"}, "Accept-Language": {"en-GB,en;q=0.9"}}
	req := http.Header{"Accept-Encoding": {"gzip, br"}, "Accept-Language": {"en-GB,en;q=0.9"}}
	fields, _ := ParseVary(resp)
	b.Run("ParseVary", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = ParseVary(resp)
		}
	})
	b.Run("VaryMatch", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = VaryMatch(fields, false, stored, req)
		}
	})
	b.Run("VaryKey", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = VaryKey(fields, req)
		}
	})
}

func ExampleVaryKey() {
	resp := http.Header{"Vary": {"accept-encoding", "Accept-Language, accept-encoding"}}
	fields, star := ParseVary(resp)
	fmt.Println(fields, star)

	stored := http.Header{"Accept-Encoding": {"gzip, br"}}
	req := http.Header{"Accept-Encoding": {"gzip ,br"}}
	fmt.Println(VaryMatch(fields, star, stored, req))
	fmt.Println(VaryKey(fields, req))

	req.Set("Accept-Language", "")
	fmt.Println(VaryMatch(fields, star, stored, req))
	fmt.Println(VaryKey(fields, req))
	// Output:
	// [Accept-Encoding Accept-Language] false
	// true
	// 15:Accept-Encoding7:br,gzip15:Accept-Language-
	// false
	// 15:Accept-Encoding7:br,gzip15:Accept-Language0:
}

// canonical returns fields in http.CanonicalHeaderKey form, as ParseVary
// gives them.
func canonical(fields []string) []string {
	out := make([]string, len(fields))
	for i, f := range fields {
		out[i] = http.CanonicalHeaderKey(f)
	}
	return out
}

// TestAppendVaryKey: AppendVaryKey is VaryKey into the caller's buffer,
// which it fills without allocating.
func TestAppendVaryKey(t *testing.T) {
	fields := []string{"Accept", "Accept-Encoding", "Accept-Language", "X-Absent"}
	for _, h := range []http.Header{
		{},
		{"Accept-Encoding": {"gzip"}},
		{"Accept-Encoding": {"br ,  GZIP;q=1"}, "Accept-Language": {"en-GB, en;q=0.9"}, "Accept": {"text/html", "application/json;q=0.5"}},
		{"Accept-Encoding": {strings.Repeat("x-encoding-long-name, ", 20)}},
	} {
		want := VaryKey(fields, h)
		assert.Equal(t, want, string(AppendVaryKey(nil, fields, h)))
		assert.Equal(t, "prefix"+want, string(AppendVaryKey([]byte("prefix"), fields, h)))
	}
	h := http.Header{"Accept-Encoding": {"gzip, deflate, br, zstd"}}
	buf := make([]byte, 0, 256)
	assert.Zero(t, testing.AllocsPerRun(10, func() { _ = AppendVaryKey(buf[:0], fields, h) }))
}
