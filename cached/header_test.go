package cached_test

import (
	"bytes"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/cached"
)

// sampleHeaders are headers of every shape NewHeader must keep: many
// fields (more than NewHeader's stack buffer), several values, values
// longer than one uvarint byte can count, empty values, names as given.
func sampleHeaders() map[string]http.Header {
	many := http.Header{}
	for i := range 40 {
		many["X-Field-"+strconv.Itoa(i)] = []string{strconv.Itoa(i)}
	}
	return map[string]http.Header{
		"one field": {"Content-Type": {"text/plain"}},
		"several values": {
			"Set-Cookie": {"a=1", "b=2", "c=3"},
			"Vary":       {"Accept", "Accept-Encoding"},
		},
		"long values":    {"Link": {strings.Repeat("l", 200), strings.Repeat("m", 70000)}},
		"empty value":    {"X-Empty": {""}, "Etag": {`"a"`}},
		"names as given": {"x-lower": {"1"}, "X-Upper": {"2"}},
		"not UTF-8":      {"X-Latin1": {"caf\xe9"}, "\x80": {"\xc3"}},
		"many fields":    many,
	}
}

func TestHeaderRoundTrip(t *testing.T) {
	t.Parallel()
	for name, h := range sampleHeaders() {
		t.Run(name, func(t *testing.T) {
			got := cached.NewHeader(h)
			assert.Equal(t, h, got.HTTP())
			assert.Equal(t, len(h), got.Len())
			n := 0
			for _, vs := range h {
				n += len(vs)
			}
			assert.Equal(t, n, got.NumValues())
		})
	}
}

func TestHeaderWithoutFields(t *testing.T) {
	t.Parallel()
	for _, h := range []http.Header{nil, {}, {"X-Nil": nil, "X-Empty": {}}} {
		got := cached.NewHeader(h)
		assert.Equal(t, cached.Header{}, got, "%v", h)
		assert.Zero(t, got.Len())
		assert.Equal(t, http.Header{}, got.HTTP())
		assert.Empty(t, got.Get("X-Nil"))
	}
	h := cached.NewHeader(http.Header{"X-Nil": nil, "A": {"1"}})
	assert.Equal(t, http.Header{"A": {"1"}}, h.HTTP(), "a field without values is left out")
}

func TestHeaderAllocations(t *testing.T) {
	h := sampleHeaders()["several values"]
	assert.Equal(t, 1.0, testing.AllocsPerRun(100, func() { _ = cached.NewHeader(h) }), "NewHeader: the string alone")
	packed := cached.NewHeader(h)
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = packed.Get("Vary") }))
	assert.Zero(t, testing.AllocsPerRun(100, func() {
		for range packed.All() {
		}
	}))
	// A map of up to eight fields is two allocations (map and group).
	assert.Equal(t, 3.0, testing.AllocsPerRun(100, func() { _ = packed.HTTP() }), "HTTP: the map and one array of values")
}

func TestHeaderGetAndValues(t *testing.T) {
	t.Parallel()
	h := cached.NewHeader(http.Header{
		"Cache-Control": {"max-age=60", "public"},
		"Etag":          {`"a"`},
		"Location":      {"/b"},
	})
	assert.Equal(t, "max-age=60", h.Get("Cache-Control"))
	assert.Equal(t, "max-age=60", h.Get("cache-control"), "Get canonicalizes the name, as http.Header.Get does")
	assert.Equal(t, `"a"`, h.Get("ETag"))
	assert.Empty(t, h.Get("Age"))
	assert.Equal(t, []string{"max-age=60", "public"}, h.Values("CACHE-CONTROL"))
	assert.Equal(t, []string{"/b"}, h.Values("Location"))
	assert.Nil(t, h.Values("Age"))
	assert.Nil(t, h.Values("Aaa"), "a name sorting before every field")
	assert.Nil(t, h.Values("Zzz"), "a name sorting after every field")

	vs := h.Values("Cache-Control")
	vs[0] = "no-store"
	assert.Equal(t, "max-age=60", h.Get("Cache-Control"), "Values returns the caller's own slice")
}

func TestHeaderAll(t *testing.T) {
	t.Parallel()
	h := cached.NewHeader(http.Header{"B": {"1", "2"}, "A": {"3"}, "C": {"4"}})
	var got []string
	for k, v := range h.All() {
		got = append(got, k+"="+v)
	}
	assert.Equal(t, []string{"A=3", "B=1", "B=2", "C=4"}, got, "name order, values in order")
	got = got[:0]
	for k := range h.All() {
		got = append(got, k)
		if len(got) == 2 {
			break
		}
	}
	assert.Equal(t, []string{"A", "B"}, got, "All stops when the loop does")
}

func TestHeaderEquality(t *testing.T) {
	t.Parallel()
	a := http.Header{}
	b := http.Header{}
	names := []string{"Content-Type", "Etag", "Date", "Cache-Control", "Vary"}
	for _, k := range names {
		a[k] = []string{k + " value"}
	}
	for _, k := range slices.Backward(names) {
		b[k] = []string{k + " value"}
	}
	assert.True(t, cached.NewHeader(a) == cached.NewHeader(b), "equal headers are == whatever the order they were built in")
	b["Vary"] = append(b["Vary"], "more")
	assert.False(t, cached.NewHeader(a) == cached.NewHeader(b))
}

func TestHeaderHTTPIsTheCallers(t *testing.T) {
	t.Parallel()
	stored := cached.NewHeader(http.Header{"A": {"1"}, "B": {"2", "3"}, "C": {"4"}})
	h := stored.HTTP()
	for k, vs := range h {
		vs[0] = "changed " + k
		h[k] = append(vs, "appended "+k)
	}
	assert.Equal(t, http.Header{
		"A": {"changed A", "appended A"},
		"B": {"changed B", "3", "appended B"},
		"C": {"changed C", "appended C"},
	}, h, "no field's append wrote over another's values")
	assert.Equal(t, http.Header{"A": {"1"}, "B": {"2", "3"}, "C": {"4"}}, stored.HTTP(), "the Header is unchanged")
}

func TestNewHeaderFunc(t *testing.T) {
	t.Parallel()
	h := http.Header{"Connection": {"close"}, "Keep-Alive": {"5"}, "A": {"1"}}
	got := cached.NewHeaderFunc(h, func(k string) bool { return k != "Connection" && k != "Keep-Alive" })
	assert.Equal(t, http.Header{"A": {"1"}}, got.HTTP())
	assert.Equal(t, cached.Header{}, cached.NewHeaderFunc(h, func(string) bool { return false }))
	assert.Equal(t, cached.NewHeader(h), cached.NewHeaderFunc(h, nil))
}

func TestHeaderString(t *testing.T) {
	t.Parallel()
	h := cached.NewHeader(http.Header{"B": {"1", "2"}, "A": {"3"}})
	assert.Equal(t, "A: 3\r\nB: 1\r\nB: 2\r\n", h.String())
	assert.Empty(t, cached.Header{}.String())
}

func TestHeaderBinaryRoundTrip(t *testing.T) {
	t.Parallel()
	for name, h := range sampleHeaders() {
		t.Run(name, func(t *testing.T) {
			want := cached.NewHeader(h)
			b, err := want.MarshalBinary()
			require.NoError(t, err)
			var got cached.Header
			require.NoError(t, got.UnmarshalBinary(b))
			assert.True(t, want == got)
			clear(b)
			assert.Equal(t, h, got.HTTP(), "UnmarshalBinary copies its input")

			prefixed, err := want.AppendBinary([]byte("prefix"))
			require.NoError(t, err)
			again, _ := want.MarshalBinary()
			assert.Equal(t, append([]byte("prefix"), again...), prefixed)
		})
	}
	b, err := cached.Header{}.MarshalBinary()
	require.NoError(t, err)
	assert.Equal(t, []byte{0, 0}, b, "no fields, no values")
	h := cached.NewHeader(http.Header{"A": {"1"}})
	require.NoError(t, h.UnmarshalBinary(b))
	assert.Equal(t, cached.Header{}, h)
}

func TestHeaderUnmarshalBinaryRefuses(t *testing.T) {
	t.Parallel()
	good, err := cached.NewHeader(http.Header{"A": {"1", "2"}, "B": {"3"}}).MarshalBinary()
	require.NoError(t, err)
	tests := map[string][]byte{
		"empty":                 {},
		"trailing bytes":        append(bytes.Clone(good), 0),
		"field without values":  {1, 0, 1, 'A', 0},
		"names out of order":    {2, 2, 1, 'B', 1, 1, 'x', 1, 'A', 1, 1, 'y'},
		"name repeated":         {2, 2, 1, 'A', 1, 1, 'x', 1, 'A', 1, 1, 'y'},
		"too few values":        {1, 2, 1, 'A', 1, 1, 'x'},
		"too many values":       {1, 1, 1, 'A', 2, 1, 'x', 1, 'y'},
		"length past the end":   {1, 1, 1, 'A', 1, 9, 'x'},
		"count past the input":  {0xff, 0xff, 0xff, 0xff, 0x0f, 0},
		"uvarint overflows":     {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
		"unterminated uvarint":  {0x80},
		"fields without a body": {3, 3},
		"uvarint not shortest":  {1, 1, 0x81, 0x00, 'A', 1, 1, 'x'},
	}
	for n := range len(good) {
		tests["truncated to "+strconv.Itoa(n)] = good[:n]
	}
	for name, b := range tests {
		h := cached.NewHeader(http.Header{"Kept": {"yes"}})
		assert.Error(t, h.UnmarshalBinary(b), name)
		assert.Equal(t, "yes", h.Get("Kept"), "%s: an error leaves the header as it was", name)
	}
}

func FuzzHeaderBinary(f *testing.F) {
	for _, h := range sampleHeaders() {
		if len(h) < 10 {
			b, _ := cached.NewHeader(h).MarshalBinary()
			f.Add(b)
		}
	}
	f.Add([]byte{2, 2, 1, 'B', 1, 1, 'x', 1, 'A', 1, 1, 'y'})
	f.Fuzz(func(t *testing.T, b []byte) {
		var h cached.Header
		err := h.UnmarshalBinary(b)
		shared, err2 := cached.HeaderFromBinary(string(b))
		require.Equal(t, err == nil, err2 == nil, "HeaderFromBinary accepts what UnmarshalBinary accepts")
		if err != nil {
			return
		}
		require.True(t, shared == h, "HeaderFromBinary and UnmarshalBinary agree")
		again, err := h.MarshalBinary()
		require.NoError(t, err)
		require.Equal(t, b, again, "what UnmarshalBinary accepts, MarshalBinary writes back as it was")
		m := h.HTTP()
		require.True(t, cached.NewHeader(m) == h, "HTTP and NewHeader are inverses")
		require.Equal(t, h.Len(), len(m))
		require.Equal(t, slices.Sorted(maps.Keys(m)), slices.Collect(func(yield func(string) bool) {
			last := ""
			for k := range h.All() {
				if k != last && !yield(k) {
					return
				}
				last = k
			}
		}))
	})
}

func ExampleHeader() {
	h := cached.NewHeader(http.Header{
		"Content-Type":  {"application/json"},
		"Cache-Control": {"max-age=60"},
		"Vary":          {"Accept", "Accept-Encoding"},
	})
	fmt.Println(h.Get("cache-control"))
	fmt.Println(h.Values("Vary"))
	for name, value := range h.All() {
		fmt.Printf("%s=%s\n", name, value)
	}
	mine := h.HTTP() // an http.Header to change
	mine.Set("Content-Type", "text/plain")
	fmt.Println(h.Get("Content-Type"), mine.Get("Content-Type"))
	// Output:
	// max-age=60
	// [Accept Accept-Encoding]
	// Cache-Control=max-age=60
	// Content-Type=application/json
	// Vary=Accept
	// Vary=Accept-Encoding
	// application/json text/plain
}

// TestFields: the cursor reads what All yields, with or without reading
// every value, and allocates nothing.
func TestFields(t *testing.T) {
	h := cached.NewHeader(http.Header{
		"Cache-Control": {"max-age=60", "public"},
		"Content-Type":  {"text/plain"},
		"Set-Cookie":    {"a=1", "b=2", "c=3"},
		"Age":           {"5"},
	})
	type kv struct{ k, v string }
	var want, got []kv
	for k, v := range h.All() {
		want = append(want, kv{k, v})
	}
	f := h.Fields()
	for {
		k, n, ok := f.Next()
		if !ok {
			break
		}
		for range n {
			got = append(got, kv{k, f.Value()})
		}
		assert.Equal(t, "", f.Value(), "past the field's values")
	}
	assert.Equal(t, want, got)

	// Values left unread are skipped.
	var names []string
	f = h.Fields()
	for k, _, ok := f.Next(); ok; k, _, ok = f.Next() {
		names = append(names, k)
	}
	assert.Equal(t, []string{"Age", "Cache-Control", "Content-Type", "Set-Cookie"}, names)

	var zero cached.Fields
	_, _, ok := zero.Next()
	assert.False(t, ok)
	empty := cached.Header{}.Fields()
	_, _, ok = empty.Next()
	assert.False(t, ok)

	assert.Zero(t, testing.AllocsPerRun(10, func() {
		f := h.Fields()
		for _, n, ok := f.Next(); ok; _, n, ok = f.Next() {
			for range n {
				_ = f.Value()
			}
		}
	}))
}

func ExampleHeader_Fields() {
	h := cached.NewHeader(http.Header{
		"Cache-Control": {"max-age=60", "public"},
		"Content-Type":  {"application/json"},
	})
	f := h.Fields()
	for name, n, ok := f.Next(); ok; name, n, ok = f.Next() {
		fmt.Print(name, ":")
		for range n {
			fmt.Print(" ", f.Value())
		}
		fmt.Println()
	}
	// Output:
	// Cache-Control: max-age=60 public
	// Content-Type: application/json
}
