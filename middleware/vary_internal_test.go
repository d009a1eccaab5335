package middleware

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/cachestack/cachestack/policy"
)

// TestVariantKeyStable pins variant keys: stores written by earlier
// releases hold variants under them, and a change would turn every stored
// variant into a miss.
func TestVariantKeyStable(t *testing.T) {
	primary, ref := "0123456789abcdef0123456789abcdef", "00112233deadbeef"
	long := strings.Repeat("15:Accept-Encoding-", 40) // past the stack buffer
	for _, tt := range []struct {
		primary, ref, values, want string
	}{
		{primary, ref, "15:Accept-Encoding4:gzip", "f3ea48a6486e3734c7806158c8785fc9"},
		{"k", "partial content", "", "0b7c2561b17916e40488870a66d5bf45"},
		{primary, ref, long, "5cb3aff64d5cb00b6ff10dbba55b3cca"},
	} {
		assert.Equal(t, tt.want, variantKey(tt.primary, tt.ref, tt.values))
		assert.Equal(t, tt.want, variantKey(tt.primary, tt.ref, []byte(tt.values)))
	}
	h := http.Header{"Accept-Encoding": {"gzip"}}
	assert.Equal(t, "f3ea48a6486e3734c7806158c8785fc9", variantKeyOf(primary, ref, []string{"Accept-Encoding"}, h))
	assert.Equal(t, variantKey(primary, ref, policy.VaryKey([]string{"Accept-Encoding"}, h)), variantKeyOf(primary, ref, []string{"Accept-Encoding"}, h))
}

// TestVariantKeyAllocs: a variant's key costs one allocation, the key
// itself, for the usual Vary fields and values.
func TestVariantKeyAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	fields := []string{"Accept-Encoding", "Accept-Language"}
	h := http.Header{"Accept-Encoding": {"gzip, br"}, "Accept-Language": {"en-GB,en;q=0.9"}}
	assert.Equal(t, 1.0, testing.AllocsPerRun(100, func() {
		_ = variantKeyOf("0123456789abcdef0123456789abcdef", "00112233deadbeef", fields, h)
	}))
}
