package middleware

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"slices"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/policy"
)

// VariantKey is the key under which the variant of a varying response
// (RFC 9111 §4.1) that answers a request with header h is stored, given the
// request's key and the Vary index stored under it (an entry of kind
// cached.KindVariants): code that reads the stored response for a request
// (as Cache.Response does) finds it there.
func VariantKey(key string, index *cached.Response, h http.Header) string {
	return variantKey(key, index.Ref, policy.VaryKey(index.Vary, h))
}

// variantKey is the storage key of one variant of a response that varies
// (RFC 9111 §4.1): a digest of the URL's key, the generation of its Vary
// index, and the request's values for the Vary fields (policy.VaryKey,
// which is unambiguous). A new index generation orphans the variants of the
// old one, so deleting or replacing the index invalidates them all at once.
func variantKey(primary, ref, values string) string {
	h := sha256.New()
	for _, s := range [...]string{primary, ref, values} {
		var n [8]byte
		l := uint64(len(s))
		for i := range n {
			n[i] = byte(l >> (56 - 8*i))
		}
		h.Write(n[:])
		h.Write([]byte(s))
	}
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0])[:16])
}

// newRef returns a fresh generation for a Vary index.
func newRef() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func equalFields(a, b []string) bool { return slices.Equal(a, b) }
