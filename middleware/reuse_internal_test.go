package middleware

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/cachestack/cachestack/cached"
)

// TestMergeResetsReuse checks that a response updated by a 304 does not
// keep the Reuse recorded from the header it had: the merged header has
// its own, recorded when it is stored.
func TestMergeResetsReuse(t *testing.T) {
	t.Parallel()
	e := &cached.Response{
		StatusCode: http.StatusOK,
		Header:     cached.NewHeader(http.Header{"Cache-Control": {"max-age=60, no-cache"}, "Etag": {`"a"`}}),
		Reuse:      cached.Reuse{Recorded: true, NoCache: true},
	}
	u, h := merge(e, &http.Response{StatusCode: http.StatusNotModified, Header: http.Header{"Cache-Control": {"max-age=60"}}}, false)
	assert.Equal(t, []string{"max-age=60"}, h["Cache-Control"])
	assert.Equal(t, cached.Reuse{}, u.Reuse)
	assert.Equal(t, cached.Reuse{Recorded: true, NoCache: true}, e.Reuse, "the stored response is left as it was")
	assert.Equal(t, reuseOf(storedDirectives(u.Header)), cached.Reuse{Recorded: true})
}

// TestDirectivesOfOldEntries checks that an entry without a recorded Reuse
// (decoded from bytes, stored by an older version) is judged by its
// header, and one with a recorded Reuse by that.
func TestDirectivesOfOldEntries(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		cc   string
		want cached.Reuse
	}{
		{"", cached.Reuse{Recorded: true}},
		{"max-age=60, public", cached.Reuse{Recorded: true}},
		{"no-cache, must-revalidate", cached.Reuse{Recorded: true, NoCache: true, MustRevalidate: true}},
		{`no-cache="Set-Cookie"`, cached.Reuse{Recorded: true, NoCacheFields: true}},
		{"stale-while-revalidate=10, stale-if-error=5, stale-if-error=3", cached.Reuse{Recorded: true,
			StaleWhileRevalidate: 10 * time.Second, HasStaleWhileRevalidate: true, StaleIfError: 3 * time.Second, HasStaleIfError: true}},
	} {
		e := &cached.Response{Header: cached.NewHeader(http.Header{"Cache-Control": {tt.cc}})}
		assert.Equal(t, tt.want, (&exchange{}).directives(e), "parsed: %q", tt.cc)
		e.Reuse = cached.Reuse{Recorded: true, NoCache: !tt.want.NoCache}
		assert.Equal(t, e.Reuse, (&exchange{}).directives(e), "recorded: %q", tt.cc)
	}
}

// BenchmarkStoredDirectives is what one hit pays to learn what a stored
// response's Cache-Control says about its reuse: recorded (a typed store's
// entry, stored by this version) or parsed from its header (an entry
// decoded from bytes), for the header bench/'s origin sends.
func BenchmarkStoredDirectives(b *testing.B) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	h := cached.NewHeader(http.Header{
		"Cache-Control":  {"public, max-age=3600"},
		"Content-Length": {"1024"},
		"Content-Type":   {"application/octet-stream"},
		"Date":           {now.Format(http.TimeFormat)},
		"Etag":           {`"abc"`},
		"Last-Modified":  {now.Add(-time.Hour).Format(http.TimeFormat)},
		"Vary":           {"Accept-Encoding"},
	})
	for _, bb := range []struct {
		name  string
		reuse cached.Reuse
	}{{"recorded", reuseOf(storedDirectives(h))}, {"parsed", cached.Reuse{}}} {
		b.Run(bb.name, func(b *testing.B) {
			e := &cached.Response{Header: h, Reuse: bb.reuse}
			var sink cached.Reuse
			var x exchange
			for b.Loop() {
				x.sdOf = nil // a new request's exchange
				sink = x.directives(e)
			}
			_ = sink
		})
	}
}
