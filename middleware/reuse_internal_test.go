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
