package middleware_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachestack/cachestack/middleware"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestVaryMatching is RFC 9111 §4.1: a stored response is used for a later
// request only when the fields its Vary names match, after normalisation
// (lines combined, whitespace around commas removed, runs of whitespace
// collapsed), between the request that stored it and the new one; an
// absent field matches only an absent one; "Vary: *" never matches.
func TestVaryMatching(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		vary   []string // the response's Vary field lines
		first  http.Header
		second http.Header
		want   bool // the second request is answered with the first's response
	}{
		{"same value", []string{"Accept-Language"}, header("Accept-Language", "en"), header("Accept-Language", "en"), true},
		{"different value", []string{"Accept-Language"}, header("Accept-Language", "en"), header("Accept-Language", "fr"), false},
		{"values differ in case", []string{"X-Tenant"}, header("X-Tenant", "acme"), header("X-Tenant", "ACME"), false},
		{"whitespace around commas", []string{"Accept-Language"}, header("Accept-Language", "en,fr"), header("Accept-Language", "en ,  fr"), true},
		{"runs of whitespace", []string{"Accept-Language"}, header("Accept-Language", "en  q"), header("Accept-Language", "en \t q"), true},
		{"lines combined", []string{"Accept-Language"}, header("Accept-Language", "en, fr"), header("Accept-Language", "en", "Accept-Language", "fr"), true},
		{"absent matches absent", []string{"Accept-Language"}, nil, nil, true},
		{"absent does not match empty", []string{"X-Flag"}, nil, header("X-Flag", ""), false},
		{"absent does not match present", []string{"Accept-Language"}, nil, header("Accept-Language", "en"), false},
		{"unnamed fields do not matter", []string{"Accept-Language"}, header("Accept-Language", "en", "X-Other", "1"), header("Accept-Language", "en", "X-Other", "2"), true},
		{"Vary names are case-insensitive with odd spacing", []string{"  accept-LANGUAGE ,, X-FLAG  "}, header("Accept-Language", "en", "X-Flag", "1"), header("Accept-Language", "en", "X-Flag", "1"), true},
		{"Vary with odd spacing still varies", []string{"  accept-LANGUAGE ,, X-FLAG  "}, header("Accept-Language", "en", "X-Flag", "1"), header("Accept-Language", "en", "X-Flag", "2"), false},
		{"several Vary lines", []string{"Accept-Language", "X-Flag"}, header("Accept-Language", "en", "X-Flag", "1"), header("Accept-Language", "en", "X-Flag", "2"), false},
		{"Vary: * never matches", []string{"*"}, nil, nil, false},
		{"Vary with * among fields", []string{"Accept-Language, *"}, header("Accept-Language", "en"), header("Accept-Language", "en"), false},
		{"Vary member that is not a field name", []string{"Accept Language"}, header("Accept-Language", "en"), header("Accept-Language", "en"), false},
		{"empty Vary varies on nothing", []string{""}, header("Accept-Language", "en"), header("Accept-Language", "fr"), true},
		// §4.1 lets a cache normalise by the field's semantics: the
		// content-negotiation fields' tokens are case-insensitive, q=1 is
		// the default, and equally weighted members are unordered.
		{"Accept-Language: order of equal weights", []string{"Accept-Language"}, header("Accept-Language", "en, fr"), header("Accept-Language", "fr, en"), true},
		{"Accept-Language: case", []string{"Accept-Language"}, header("Accept-Language", "en-GB"), header("Accept-Language", "EN-gb"), true},
		{"Accept-Language: q=1 is the default", []string{"Accept-Language"}, header("Accept-Language", "en, fr"), header("Accept-Language", "fr;q=1.0, en"), true},
		{"Accept-Language: different weights differ", []string{"Accept-Language"}, header("Accept-Language", "en, fr"), header("Accept-Language", "fr;q=0.9, en"), false},
		{"Accept-Encoding: order and case", []string{"Accept-Encoding"}, header("Accept-Encoding", "gzip, br"), header("Accept-Encoding", "BR,gzip"), true},
		{"Accept: media ranges", []string{"Accept"}, header("Accept", "application/json, text/*;q=0.5"), header("Accept", "Text/*; Q=0.50, application/JSON"), true},
		{"Accept: different media ranges differ", []string{"Accept"}, header("Accept", "application/json"), header("Accept", "application/xml"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newClock()
			var n atomic.Int64
			o := newOrigin(t, dated(c, func(w http.ResponseWriter, r *http.Request) {
				w.Header()["Vary"] = tt.vary
				w.Header().Set("Cache-Control", "max-age=60")
				fmt.Fprint(w, "v", n.Add(1))
			}))
			rt, _ := newCCStack(t, c, ccOptions{})
			_, body, _ := fetch(t, rt, o, o.URL, tt.first)
			require.Equal(t, "v1", body)
			_, body, contacted := fetch(t, rt, o, o.URL, tt.second)
			assert.Equal(t, tt.want, !contacted)
			if tt.want {
				assert.Equal(t, "v1", body)
			}
		})
	}
}

// TestVaryVariants checks that several variants of one URL are stored side
// by side, each served to the requests it matches, and that the variant
// key is unambiguous: values that would collide if simply concatenated
// select different variants.
func TestVaryVariants(t *testing.T) {
	t.Parallel()
	c := newClock()
	o := newOrigin(t, dated(c, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Vary", "X-A, X-B")
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprintf(w, "a=%q b=%q", r.Header.Values("X-A"), r.Header.Values("X-B"))
	}))
	rt, _ := newCCStack(t, c, ccOptions{})
	variants := []http.Header{
		header("X-A", "1"),
		header("X-A", "1", "X-B", "2"),
		header("X-A", "1,X-B:2"),
		header("X-B", "1"),
		header("X-A", ""),
		nil,
		header("X-A", "1", "X-B", ""),
	}
	want := make([]string, len(variants))
	for i, h := range variants {
		_, body, contacted := fetch(t, rt, o, o.URL, h)
		require.True(t, contacted, "variant %d is new", i)
		want[i] = body
	}
	for round := range 2 {
		for i, h := range variants {
			_, body, contacted := fetch(t, rt, o, o.URL, h)
			assert.False(t, contacted, "round %d: variant %d is stored", round, i)
			assert.Equal(t, want[i], body, "round %d: variant %d", round, i)
		}
	}
	assert.Equal(t, int64(len(variants)), o.hits.Load())
}

// TestVaryChanges checks that a response whose Vary differs from the stored
// ones replaces them (its own index generation), and that a response that
// no longer varies replaces the variants.
func TestVaryChanges(t *testing.T) {
	t.Parallel()
	c := newClock()
	var vary atomic.Value
	vary.Store("X-A")
	var n atomic.Int64
	o := newOrigin(t, dated(c, func(w http.ResponseWriter, r *http.Request) {
		if v := vary.Load().(string); v != "" {
			w.Header().Set("Vary", v)
		}
		w.Header().Set("Cache-Control", "max-age=10")
		fmt.Fprint(w, "v", n.Add(1))
	}))
	rt, _ := newCCStack(t, c, ccOptions{})
	a1, b1 := header("X-A", "1", "X-B", "1"), header("X-A", "1", "X-B", "2")
	fetch(t, rt, o, o.URL, a1)                       // v1 under X-A=1
	_, body, contacted := fetch(t, rt, o, o.URL, b1) // same X-A: a hit
	assert.False(t, contacted)
	assert.Equal(t, "v1", body)

	c.Advance(20 * time.Second)
	vary.Store("X-B")
	fetch(t, rt, o, o.URL, a1) // v2, now varying on X-B
	_, body, contacted = fetch(t, rt, o, o.URL, b1)
	assert.True(t, contacted, "X-B differs: the old X-A variant must not be used")
	assert.Equal(t, "v3", body)
	_, body, contacted = fetch(t, rt, o, o.URL, a1)
	assert.False(t, contacted)
	assert.Equal(t, "v2", body)

	c.Advance(20 * time.Second)
	vary.Store("")
	fetch(t, rt, o, o.URL, a1) // v4, varies on nothing
	_, body, contacted = fetch(t, rt, o, o.URL, header("X-B", "other"))
	assert.False(t, contacted)
	assert.Equal(t, "v4", body)
}

// TestVaryRevalidation checks that a stale variant is revalidated for the
// request it matches and updated in place, leaving the other variants
// alone (RFC 9111 §4.3.4 with §4.1).
func TestVaryRevalidation(t *testing.T) {
	t.Parallel()
	c := newClock()
	o := newOrigin(t, dated(c, func(w http.ResponseWriter, r *http.Request) {
		lang := r.Header.Get("Accept-Language")
		w.Header().Set("Vary", "Accept-Language")
		w.Header().Set("Cache-Control", "max-age=10")
		w.Header().Set("Etag", `"`+lang+`"`)
		if r.Header.Get("If-None-Match") == `"`+lang+`"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		io.WriteString(w, "in "+lang)
	}))
	rt, n := newCCStack(t, c, ccOptions{})
	for _, lang := range []string{"en", "fr"} {
		fetch(t, rt, o, o.URL, header("Accept-Language", lang))
	}
	c.Advance(20 * time.Second)
	for _, lang := range []string{"en", "fr", "en", "fr"} {
		resp, body, _ := fetch(t, rt, o, o.URL, header("Accept-Language", lang))
		assert.Equal(t, "in "+lang, body)
		assert.True(t, middleware.InfoOf(resp).FromCache)
	}
	assert.Equal(t, int64(2), n.Revalidated.Load())
	assert.Equal(t, int64(4), o.hits.Load(), "two stores and two revalidations")
}

// TestVaryOversize checks that a hostile Vary (very long, many members)
// neither breaks the request nor is matched by a request it should not.
func TestVaryOversize(t *testing.T) {
	t.Parallel()
	c := newClock()
	long := strings.Repeat("X-Field, ", 20000) + "Accept-Language"
	o := newOrigin(t, dated(c, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Vary", long)
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, r.Header.Get("Accept-Language"))
	}))
	rt, _ := newCCStack(t, c, ccOptions{})
	_, body, _ := fetch(t, rt, o, o.URL, header("Accept-Language", "en"))
	assert.Equal(t, "en", body)
	_, body, contacted := fetch(t, rt, o, o.URL, header("Accept-Language", "fr"))
	assert.Equal(t, "fr", body)
	assert.True(t, contacted)
}
