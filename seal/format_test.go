package seal_test

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/seal"
)

// openByRecipe opens an entry following the package documentation's
// format alone, without package seal: another implementation reading the
// same store would do this.
func openByRecipe(t *testing.T, key []byte, domain byte, binding string, entry []byte) []byte {
	t.Helper()
	id, err := hkdf.Key(sha256.New, key, nil, "cachestack/seal key id v1", 4)
	require.NoError(t, err)
	enc, err := hkdf.Key(sha256.New, key, nil, "cachestack/seal aes-256-gcm v1", 32)
	require.NoError(t, err)
	block, err := aes.NewCipher(enc)
	require.NoError(t, err)
	gcm, err := cipher.NewGCM(block)
	require.NoError(t, err)

	require.Equal(t, byte(1), entry[0], "version")
	require.Equal(t, id, entry[1:5], "key id")
	ad := append(append(append([]byte{}, entry[:5]...), domain), binding...)
	data, err := gcm.Open(nil, entry[5:17], entry[17:], ad)
	require.NoError(t, err)
	return data
}

// TestFormat checks the documented format: what Seal and Codec write opens
// by the recipe, under the documented domains.
func TestFormat(t *testing.T) {
	t.Parallel()
	s := newSealer(t, testKey(0))
	const key = "GET https://example.com/a"
	data := []byte("a response")
	require.Equal(t, data, openByRecipe(t, testKey(0), 0x01, key, s.Seal(key, data)))

	b, err := seal.Codec[[]byte](raw{}, s, "responses").Marshal(data)
	require.NoError(t, err)
	require.Equal(t, data, openByRecipe(t, testKey(0), 0x02, "responses", b))
}

// TestFormatStable opens an entry sealed by an earlier build: a change to
// the format or to what is derived from a key must not make stored entries
// unreadable without a version change.
func TestFormatStable(t *testing.T) {
	t.Parallel()
	const golden = "01841648219cdb695deac271a1be477927d67bb6442ef84d1b5b7a482ae72a4647f8e6761a7a78c26495388396757ac4012495a074e42c540e258eba51786c"
	entry, err := hex.DecodeString(golden)
	require.NoError(t, err)
	const key = "GET https://example.com/"
	want := []byte("a response sealed in version 1")

	got, err := newSealer(t, testKey(0)).Open(key, entry)
	require.NoError(t, err)
	require.Equal(t, want, got)
	require.Equal(t, want, openByRecipe(t, testKey(0), 0x01, key, entry))
	got, err = newSealer(t, testKey(1), testKey(0)).Open(key, entry)
	require.NoError(t, err, "after a rotation")
	require.Equal(t, want, got)
}
