package middleware

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
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
// (as Cache.Response does) finds it there, unless the index holds it
// inline (cached.Response.Variant, whose Ref is this key).
func VariantKey(key string, index *cached.Response, h http.Header) string {
	return variantKey(key, index.Ref, policy.VaryKey(index.Vary, h))
}

// variantKey is the storage key of one variant of a response that varies
// (RFC 9111 §4.1): a digest of the URL's key, the generation of its Vary
// index, and the request's values for the Vary fields (policy.VaryKey,
// which is unambiguous). A new index generation orphans the variants of the
// old one, so deleting or replacing the index invalidates them all at once.
func variantKey[S ~string | ~[]byte](primary, ref string, values S) string {
	// The digest of the three length-prefixed parts, written into one
	// buffer (on the stack for the usual sizes): the hex key is the only
	// allocation.
	var buf [256]byte
	m := buf[:0]
	m = appendPart(m, primary)
	m = appendPart(m, ref)
	m = appendPart(m, values)
	sum := sha256.Sum256(m)
	var hx [32]byte
	hex.Encode(hx[:], sum[:16])
	return string(hx[:])
}

// appendPart appends s to dst after its length as 8 big-endian bytes.
func appendPart[S ~string | ~[]byte](dst []byte, s S) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(len(s)))
	return append(dst, s...)
}

// variantKeyOf is the variant key of req's variant of the URL keyed
// primary, whose Vary index lists fields under generation ref.
func variantKeyOf(primary, ref string, fields []string, req http.Header) string {
	var buf [128]byte
	return variantKey(primary, ref, policy.AppendVaryKey(buf[:0], fields, req))
}

// newRef returns a fresh generation for a Vary index.
func newRef() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func equalFields(a, b []string) bool { return slices.Equal(a, b) }
