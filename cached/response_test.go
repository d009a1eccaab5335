package cached_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/cachestack/cachestack/cached"
)

// TestCloneKeepsReuse checks that a clone, which shares its original's
// Header, keeps the Reuse recorded from it.
func TestCloneKeepsReuse(t *testing.T) {
	t.Parallel()
	r := &cached.Response{
		StatusCode: 200,
		Header:     cached.NewHeader(http.Header{"Cache-Control": {"max-age=60, stale-if-error=30"}}),
		Reuse:      cached.Reuse{Recorded: true, StaleIfError: 30 * time.Second, HasStaleIfError: true},
	}
	c := r.Clone()
	assert.Equal(t, r.Header, c.Header)
	assert.Equal(t, r.Reuse, c.Reuse)
}
