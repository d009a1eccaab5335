package cachestack_test

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/cachestack/cachestack"
)

func TestVersionIsSemver(t *testing.T) {
	t.Parallel()
	// major.minor.patch, no leading zeros, no pre-release or build suffix.
	assert.Regexp(t, regexp.MustCompile(`^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$`), cachestack.Version)
}
