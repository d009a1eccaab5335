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

// TestInline: only a Vary index's inline variant that is a stored response
// naming its variant key may answer.
func TestInline(t *testing.T) {
	v := &cached.Response{Kind: cached.KindResponse, Ref: "variant-key"}
	for _, tt := range []struct {
		name string
		r    *cached.Response
		want *cached.Response
	}{
		{"index with a variant", &cached.Response{Kind: cached.KindVariants, Variant: v}, v},
		{"index without one", &cached.Response{Kind: cached.KindVariants}, nil},
		{"variant without its key", &cached.Response{Kind: cached.KindVariants, Variant: &cached.Response{Kind: cached.KindResponse}}, nil},
		{"variant not a response", &cached.Response{Kind: cached.KindVariants, Variant: &cached.Response{Kind: cached.KindRedirect, Ref: "k"}}, nil},
		{"not an index", &cached.Response{Kind: cached.KindResponse, Variant: v}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.r.Inline(); got != tt.want {
				t.Fatalf("Inline() = %p, want %p", got, tt.want)
			}
		})
	}
}
