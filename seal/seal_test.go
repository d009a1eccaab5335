package seal_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/cachestack/cachestack/codec"
	"github.com/cachestack/cachestack/seal"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testKey returns a distinct 32-byte key for each i.
func testKey(i int) []byte {
	return bytes.Repeat([]byte{byte('a' + i)}, seal.KeySize)
}

func newSealer(t testing.TB, keys ...[]byte) *seal.Sealer {
	t.Helper()
	s, err := seal.New(keys...)
	require.NoError(t, err)
	return s
}

// requireRejected requires that err is a rejection: it matches ErrInvalid
// and codec.ErrFormat, and nothing was returned.
func requireRejected(t testing.TB, got []byte, err error, msgAndArgs ...any) {
	t.Helper()
	require.ErrorIs(t, err, seal.ErrInvalid, msgAndArgs...)
	require.ErrorIs(t, err, codec.ErrFormat, msgAndArgs...)
	require.Nil(t, got, msgAndArgs...)
}

func TestNew(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		give    [][]byte
		wantErr string
	}{
		{"None", nil, "seal: no keys, want at least one"},
		{"Empty", [][]byte{{}}, "seal: key 0 is 0 bytes, want 32"},
		{"Nil", [][]byte{nil}, "seal: key 0 is 0 bytes, want 32"},
		{"Short", [][]byte{testKey(0)[:31]}, "seal: key 0 is 31 bytes, want 32"},
		{"Long", [][]byte{append(testKey(0), 0)}, "seal: key 0 is 33 bytes, want 32"},
		{"Hex", [][]byte{bytes.Repeat([]byte("a1"), 32)}, "seal: key 0 is 64 bytes, want 32 (decode a hex or base64 key to its bytes first)"},
		{"Base64", [][]byte{bytes.Repeat([]byte("A"), 44)}, "seal: key 0 is 44 bytes, want 32 (decode a hex or base64 key to its bytes first)"},
		{"ShortOlder", [][]byte{testKey(0), []byte("twelve bytes")}, "seal: key 1 is 12 bytes, want 32"},
		{"Zero", [][]byte{testKey(0), make([]byte, 32)}, "seal: key 1 is all zero bytes, want 32 random bytes"},
		{"Duplicate", [][]byte{testKey(0), testKey(1), testKey(0)}, "seal: key 2 repeats key 0"},
		{"One", [][]byte{testKey(0)}, ""},
		{"Several", [][]byte{testKey(0), testKey(1), testKey(2)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := seal.New(tt.give...)
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				require.Nil(t, s)
				return
			}
			require.NoError(t, err)
			got, err := s.Open("k", s.Seal("k", []byte("data")))
			require.NoError(t, err)
			require.Equal(t, []byte("data"), got)
		})
	}
}

func TestNewKeepsNoKey(t *testing.T) {
	t.Parallel()
	k := testKey(0)
	s := newSealer(t, k)
	sealed := s.Seal("k", []byte("data"))
	clear(k) // the caller wipes its copy
	k[0] = 1 // (not all zero, so New takes it)
	got, err := s.Open("k", sealed)
	require.NoError(t, err)
	require.Equal(t, []byte("data"), got)
	got, err = s.Open("k", s.Seal("k", []byte("again")))
	require.NoError(t, err, "Seal after the caller's key was wiped")
	require.Equal(t, []byte("again"), got)
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	s := newSealer(t, testKey(0))
	tests := []struct {
		name string
		key  string
		data []byte
	}{
		{"Empty", "k", []byte{}},
		{"Nil", "k", nil},
		{"EmptyKey", "", []byte("data")},
		{"Binary", "nul\x00key\xff", []byte{0, 1, 2, 0xff}},
		{"Large", strings.Repeat("k", 8<<10), bytes.Repeat([]byte{0xab}, 1<<20)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := bytes.Clone(tt.data)
			sealed := s.Seal(tt.key, in)
			require.Len(t, sealed, seal.Overhead+len(tt.data), "a sealed entry is Overhead bytes longer than its data")
			require.Equal(t, 33, seal.Overhead)
			clear(in) // Seal does not keep data
			before := bytes.Clone(sealed)
			got, err := s.Open(tt.key, sealed)
			require.NoError(t, err)
			require.Equal(t, before, sealed, "Open does not modify its input")
			require.True(t, bytes.Equal(tt.data, got))
			require.NotNil(t, got, "Open returns a non-nil slice for empty data")
			require.Equal(t, len(got), cap(got), "the returned slice has no spare capacity")
		})
	}
}

func TestSealIsRandomized(t *testing.T) {
	t.Parallel()
	s := newSealer(t, testKey(0))
	seen := map[string]bool{}
	for range 1000 {
		b := s.Seal("k", []byte("same data"))
		nonce := string(b[5:17])
		require.False(t, seen[nonce], "a nonce repeated")
		seen[nonce] = true
	}
	a, b := s.Seal("k", []byte("data")), s.Seal("k", []byte("data"))
	require.Equal(t, a[:5], b[:5], "same version and key id")
	require.NotEqual(t, a[17:], b[17:], "equal data seals to different bytes")
}

func TestKeyID(t *testing.T) {
	t.Parallel()
	a, b := newSealer(t, testKey(0)), newSealer(t, testKey(0))
	require.Equal(t, a.Seal("k", nil)[:5], b.Seal("k", nil)[:5], "the key id depends on the key alone")
	c := newSealer(t, testKey(1))
	require.NotEqual(t, a.Seal("k", nil)[1:5], c.Seal("k", nil)[1:5])
	require.NotEqual(t, testKey(0)[:4], a.Seal("k", nil)[1:5], "the key id is not the key")
}

func TestRotation(t *testing.T) {
	t.Parallel()
	old := newSealer(t, testKey(0))
	rotated := newSealer(t, testKey(1), testKey(0))
	next := newSealer(t, testKey(1))
	data := []byte("response")

	sealedOld := old.Seal("k", data)
	got, err := rotated.Open("k", sealedOld)
	require.NoError(t, err, "an entry sealed with the old key, after a new one is prepended")
	require.Equal(t, data, got)

	sealedNew := rotated.Seal("k", data)
	require.Equal(t, next.Seal("k", nil)[:5], sealedNew[:5], "Seal uses the newest key")
	got, err = next.Open("k", sealedNew)
	require.NoError(t, err)
	require.Equal(t, data, got)
	got, err = old.Open("k", sealedNew)
	requireRejected(t, got, err, "an entry sealed with a key the opener does not list")

	got, err = next.Open("k", sealedOld)
	requireRejected(t, got, err, "an entry sealed with a key no longer listed")

	// A three-step rollout: open-only first, then seal with the new one.
	phase1 := newSealer(t, testKey(0), testKey(1))
	require.Equal(t, old.Seal("k", nil)[:5], phase1.Seal("k", nil)[:5], "phase 1 still seals with the old key")
	_, err = phase1.Open("k", sealedNew)
	require.NoError(t, err, "phase 1 opens entries sealed with the new key")

	require.Equal(t, seal.Stats{Sealed: 1, Opened: 1, OldKey: 1}, rotated.Stats(), "the old entry counts in OldKey")
	require.Equal(t, seal.Stats{Sealed: 1, Opened: 1, OldKey: 1}, phase1.Stats())
	require.Equal(t, seal.Stats{Sealed: 1, Opened: 1, Rejected: 1}, next.Stats())
}

func TestBoundToKey(t *testing.T) {
	t.Parallel()
	s := newSealer(t, testKey(0))
	tests := []struct {
		name          string
		key, otherKey string
	}{
		{"OtherKey", "a", "b"},
		{"Prefix", "ab", "a"},
		{"Extension", "a", "ab"},
		{"Case", "GET https://example.com/A", "GET https://example.com/a"},
		{"Empty", "", "\x00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := s.Open(tt.otherKey, s.Seal(tt.key, []byte("data")))
			requireRejected(t, got, err)
		})
	}
}

// sample is a sealed entry for the rejection tests, and its key and data.
func sample(t testing.TB, s *seal.Sealer) (key string, data, sealed []byte) {
	key = "GET https://example.com/a"
	data = []byte("CSR\x01 a response of sixty-four bytes or so, with a body at the end")
	return key, data, s.Seal(key, data)
}

// TestRejected checks that tampered, truncated, extended and plaintext
// entries are rejected and counted, and nothing of them returned.
func TestRejected(t *testing.T) {
	t.Parallel()
	s := newSealer(t, testKey(0))
	key, data, sealed := sample(t, s)
	rejects := 0
	reject := func(t *testing.T, b []byte, what string, args ...any) {
		t.Helper()
		in := bytes.Clone(b)
		got, err := s.Open(key, b)
		rejects++
		requireRejected(t, got, err, append([]any{what}, args...)...)
		require.Equal(t, in, b, "Open must not modify its input")
	}

	t.Run("Flipped", func(t *testing.T) {
		for i := range sealed {
			for _, mask := range []byte{0xff, 0x01, 0x80} {
				b := bytes.Clone(sealed)
				b[i] ^= mask
				reject(t, b, "byte %d xor %#x", i, mask)
			}
		}
	})
	t.Run("Truncated", func(t *testing.T) {
		for n := range len(sealed) {
			reject(t, sealed[:n], "truncated to %d bytes", n)
			reject(t, sealed[len(sealed)-n:], "first %d bytes cut", len(sealed)-n)
		}
	})
	t.Run("Extended", func(t *testing.T) {
		for _, extra := range [][]byte{{0}, {0xff}, []byte("x"), sealed, bytes.Repeat([]byte{0}, 1024)} {
			reject(t, append(bytes.Clone(sealed), extra...), "extended by %d bytes", len(extra))
		}
	})
	t.Run("Plaintext", func(t *testing.T) {
		for _, b := range [][]byte{
			nil, {}, data, []byte("CSR\x01"), bytes.Repeat([]byte{0}, 33), bytes.Repeat([]byte{1}, 100),
			append(bytes.Clone(sealed[:17]), make([]byte, 16)...), // a header and a zero tag, for empty data
		} {
			reject(t, b, "not sealed: %q", b)
		}
	})
	t.Run("OtherVersion", func(t *testing.T) {
		for _, v := range []byte{0, 2, 0xff} {
			b := bytes.Clone(sealed)
			b[0] = v
			reject(t, b, "version %d", v)
		}
	})
	t.Run("Swapped", func(t *testing.T) {
		// The nonce of one entry with the ciphertext of another.
		other := s.Seal(key, data)
		reject(t, append(bytes.Clone(sealed[:17]), other[17:]...), "header of one entry, ciphertext of another")
		reject(t, append(bytes.Clone(other[:17]), sealed[17:]...), "header of one entry, ciphertext of another")
	})
	t.Run("WrongKey", func(t *testing.T) {
		// An entry sealed with another key, its key id rewritten to
		// this key's, so that Open decrypts with the wrong key.
		b := newSealer(t, testKey(1)).Seal(key, data)
		copy(b[1:5], sealed[1:5])
		reject(t, b, "sealed with another key, under this key's id")
	})
	t.Run("OtherContext", func(t *testing.T) {
		// A Codec entry for a context equal to the key is not a key's entry.
		b, err := seal.Codec[[]byte](raw{}, s, key).Marshal(data)
		require.NoError(t, err)
		reject(t, b, "sealed for a context")
	})

	// The original still opens, and every rejection was counted.
	got, err := s.Open(key, sealed)
	require.NoError(t, err)
	require.Equal(t, data, got)
	require.Equal(t, seal.Stats{Sealed: 3, Opened: 1, Rejected: uint64(rejects)}, s.Stats())
}

func TestErrors(t *testing.T) {
	t.Parallel()
	s := newSealer(t, testKey(0))
	key, _, sealed := sample(t, s)
	other := newSealer(t, testKey(1))
	tamper := bytes.Clone(sealed)
	tamper[len(tamper)-1] ^= 1
	version := bytes.Clone(sealed)
	version[0] = 2
	tests := []struct {
		name string
		give []byte
		want string
	}{
		{"Short", sealed[:32], "seal: entry too short to be sealed"},
		{"Version", version, "seal: unknown sealed entry version"},
		{"UnknownKey", other.Seal(key, nil), "seal: entry sealed with a key that is not listed"},
		{"Tampered", tamper, "seal: entry fails authentication"},
		{"OtherStoreKey", s.Seal("GET https://example.com/b", nil), "seal: entry fails authentication"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := s.Open(key, tt.give)
			require.EqualError(t, err, tt.want)
			require.ErrorIs(t, err, seal.ErrInvalid)
			require.ErrorIs(t, err, codec.ErrFormat)
		})
	}
	require.ErrorIs(t, seal.ErrInvalid, codec.ErrFormat, "ErrInvalid itself matches codec.ErrFormat")
	require.False(t, errors.Is(codec.ErrFormat, seal.ErrInvalid), "a codec error is not a seal error")
	require.EqualError(t, seal.ErrInvalid, "seal: invalid sealed entry")
}

// TestAllocs checks that opening allocates the result only, that a
// rejection before decryption allocates nothing, and that Seal allocates
// its result only. Wrap's Get decrypts in place: see TestStoreGetAllocs.
func TestAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	s := newSealer(t, testKey(0), testKey(1))
	key, data, sealed := sample(t, s)
	unknown := newSealer(t, testKey(2)).Seal(key, data)
	bad := bytes.Clone(sealed)
	bad[40] ^= 1
	_, _ = s.Open(key, sealed) // fill the pool
	require.Equal(t, 1.0, testing.AllocsPerRun(100, func() { _, _ = s.Open(key, sealed) }), "Open of a valid entry allocates its result")
	require.Equal(t, 1.0, testing.AllocsPerRun(100, func() { _, _ = s.Open(key, bad) }), "Open of a tampered entry")
	require.Zero(t, testing.AllocsPerRun(100, func() { _, _ = s.Open(key, unknown) }), "Open of an entry for an unknown key")
	require.Zero(t, testing.AllocsPerRun(100, func() { _, _ = s.Open(key, sealed[:10]) }), "Open of a short entry")
	require.Equal(t, 1.0, testing.AllocsPerRun(100, func() { _ = s.Seal(key, data) }), "Seal allocates its result only")
}

func TestConcurrent(t *testing.T) {
	t.Parallel()
	s := newSealer(t, testKey(0), testKey(1))
	old := newSealer(t, testKey(1))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				key := fmt.Sprintf("key-%d-%d", g, i)
				data := bytes.Repeat([]byte{byte(i)}, i)
				got, err := s.Open(key, s.Seal(key, data))
				if !assert.NoError(t, err) || !assert.Equal(t, data, got) {
					return
				}
				got, err = s.Open(key, old.Seal(key, data))
				if !assert.NoError(t, err) || !assert.Equal(t, data, got) {
					return
				}
				_, err = s.Open(key+"x", s.Seal(key, data))
				if !assert.ErrorIs(t, err, seal.ErrInvalid) {
					return
				}
			}
		})
	}
	wg.Wait()
	require.Equal(t, seal.Stats{Sealed: 2 * 8 * 200, Opened: 2 * 8 * 200, OldKey: 8 * 200, Rejected: 8 * 200}, s.Stats())
}

func TestStringHidesKeys(t *testing.T) {
	t.Parallel()
	s := newSealer(t, testKey(0), testKey(1))
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(format, s)
		require.NotContains(t, out, string(testKey(0)[:8]), format)
		require.NotContains(t, out, string(testKey(1)[:8]), format)
		require.Regexp(t, `^seal\.Sealer\{key ids: [0-9a-f]{8} [0-9a-f]{8}\}$`, out, format)
	}
	require.Equal(t, "seal.Sealer(nil)", (*seal.Sealer)(nil).String())
}

// raw is a codec that keeps bytes as they are.
type raw struct{}

func (raw) Marshal(b []byte) ([]byte, error)   { return bytes.Clone(b), nil }
func (raw) Unmarshal(b []byte) ([]byte, error) { return b, nil }
