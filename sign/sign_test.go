package sign_test

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
	"github.com/cachestack/cachestack/sign"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// secret returns a distinct 32-byte secret for each i.
func secret(i int) []byte {
	return bytes.Repeat([]byte{byte('a' + i)}, sign.MinSecretLen)
}

func newSigner(t testing.TB, secrets ...[]byte) *sign.Signer {
	t.Helper()
	s, err := sign.New(secrets...)
	require.NoError(t, err)
	return s
}

// requireRejected requires that err is a rejection: it matches ErrInvalid
// and codec.ErrFormat, and nothing was returned.
func requireRejected(t testing.TB, got []byte, err error, msgAndArgs ...any) {
	t.Helper()
	require.ErrorIs(t, err, sign.ErrInvalid, msgAndArgs...)
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
		{"None", nil, "sign: no secrets, want at least one"},
		{"Empty", [][]byte{{}}, "sign: secret 0 is 0 bytes, want at least 32"},
		{"Nil", [][]byte{nil}, "sign: secret 0 is 0 bytes, want at least 32"},
		{"Short", [][]byte{secret(0)[:31]}, "sign: secret 0 is 31 bytes, want at least 32"},
		{"ShortOlder", [][]byte{secret(0), []byte("twelve bytes")}, "sign: secret 1 is 12 bytes, want at least 32"},
		{"One", [][]byte{secret(0)}, ""},
		{"Long", [][]byte{bytes.Repeat([]byte{7}, 200)}, ""}, // longer than SHA-256's block
		{"Several", [][]byte{secret(0), secret(1), secret(2)}, ""},
		{"Duplicate", [][]byte{secret(0), secret(0)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := sign.New(tt.give...)
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				require.Nil(t, s)
				return
			}
			require.NoError(t, err)
			got, err := s.Verify("k", s.Sign("k", []byte("data")))
			require.NoError(t, err)
			require.Equal(t, []byte("data"), got)
		})
	}
}

func TestNewCopiesSecrets(t *testing.T) {
	t.Parallel()
	sec := secret(0)
	s := newSigner(t, sec)
	signed := s.Sign("k", []byte("data"))
	clear(sec) // the caller wipes its copy
	_, err := s.Verify("k", signed)
	require.NoError(t, err)
	assert.Equal(t, s.Sign("k", []byte("data")), signed, "Sign after the caller's secret was wiped")
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	s := newSigner(t, secret(0))
	tests := []struct {
		name string
		key  string
		data []byte
	}{
		{"Empty", "k", []byte{}},
		{"Nil", "k", nil},
		{"EmptyKey", "", []byte("data")},
		{"Binary", "nul\x00key\xff", []byte{0, 1, 2, 0xff}},
		{"Large", strings.Repeat("k", 4<<10), bytes.Repeat([]byte{0xab}, 1<<20)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := bytes.Clone(tt.data)
			signed := s.Sign(tt.key, in)
			require.Len(t, signed, 37+len(tt.data), "a signed entry is 37 bytes longer than its data")
			clear(in) // Sign does not keep data
			got, err := s.Verify(tt.key, signed)
			require.NoError(t, err)
			require.Equal(t, len(tt.data), len(got))
			require.True(t, bytes.Equal(tt.data, got))
			require.NotNil(t, got, "Verify returns a non-nil slice for empty data")
			require.Equal(t, len(got), cap(got), "the returned slice has no spare capacity")
			if len(got) > 0 {
				require.Same(t, &signed[37], &got[0], "Verify returns a sub-slice of its input")
			}
		})
	}
}

func TestSignIsDeterministic(t *testing.T) {
	t.Parallel()
	a, b := newSigner(t, secret(0)), newSigner(t, secret(0))
	require.Equal(t, a.Sign("k", []byte("data")), b.Sign("k", []byte("data")))
	require.NotEqual(t, a.Sign("k", []byte("data")), newSigner(t, secret(1)).Sign("k", []byte("data")))
}

func TestRotation(t *testing.T) {
	t.Parallel()
	old := newSigner(t, secret(0))
	rotated := newSigner(t, secret(1), secret(0))
	next := newSigner(t, secret(1))
	data := []byte("response")

	signedOld := old.Sign("k", data)
	got, err := rotated.Verify("k", signedOld)
	require.NoError(t, err, "an entry signed with the old secret, after a new one is prepended")
	require.Equal(t, data, got)

	signedNew := rotated.Sign("k", data)
	require.Equal(t, next.Sign("k", data), signedNew, "Sign uses the newest secret")
	got, err = next.Verify("k", signedNew)
	require.NoError(t, err)
	require.Equal(t, data, got)
	got, err = old.Verify("k", signedNew)
	requireRejected(t, got, err, "an entry signed with a secret the verifier does not list")

	got, err = next.Verify("k", signedOld)
	requireRejected(t, got, err, "an entry signed with a secret no longer listed")

	// A three-step rollout: verify-only first, then sign with the new one.
	phase1 := newSigner(t, secret(0), secret(1))
	require.Equal(t, old.Sign("k", data), phase1.Sign("k", data), "phase 1 still signs with the old secret")
	_, err = phase1.Verify("k", signedNew)
	require.NoError(t, err, "phase 1 verifies entries signed with the new secret")
}

func TestBoundToKey(t *testing.T) {
	t.Parallel()
	s := newSigner(t, secret(0))
	tests := []struct {
		name          string
		key, otherKey string
		data          []byte
	}{
		{"OtherKey", "a", "b", []byte("data")},
		{"Prefix", "ab", "a", []byte("data")},
		{"Extension", "a", "ab", []byte("data")},
		// Without a length prefix, key "ab" with data "c" and key "a"
		// with data "bc" would MAC the same bytes.
		{"KeyDataBoundary", "ab", "a", []byte("c")},
		{"Empty", "", "\x00", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := s.Verify(tt.otherKey, s.Sign(tt.key, tt.data))
			requireRejected(t, got, err)
		})
	}
	// The boundary case, spelled out: the same key||data, split apart
	// differently, is a different entry.
	signed := s.Sign("ab", []byte("c"))
	forged := s.Sign("a", []byte("bc"))
	require.NotEqual(t, signed[5:37], forged[5:37])
}

// sample is a signed entry for the rejection tests, and its key and data.
func sample(t testing.TB, s *sign.Signer) (key string, data, signed []byte) {
	key = "GET https://example.com/a"
	data = []byte("CSR\x01 a response of sixty-four bytes or so, with a body at the end")
	return key, data, s.Sign(key, data)
}

// TestRejected checks that tampered, truncated, extended and unsigned
// entries are rejected and counted, and nothing of them returned.
func TestRejected(t *testing.T) {
	t.Parallel()
	s := newSigner(t, secret(0))
	key, data, signed := sample(t, s)
	rejects := 0
	reject := func(t *testing.T, b []byte, what string, args ...any) {
		t.Helper()
		in := bytes.Clone(b)
		got, err := s.Verify(key, b)
		rejects++
		requireRejected(t, got, err, append([]any{what}, args...)...)
		require.Equal(t, in, b, "Verify must not modify its input")
	}

	t.Run("Flipped", func(t *testing.T) {
		for i := range signed {
			for _, mask := range []byte{0xff, 0x01, 0x80} {
				b := bytes.Clone(signed)
				b[i] ^= mask
				reject(t, b, "byte %d xor %#x", i, mask)
			}
		}
	})
	t.Run("Truncated", func(t *testing.T) {
		for n := range len(signed) {
			reject(t, signed[:n], "truncated to %d bytes", n)
			reject(t, signed[len(signed)-n:], "first %d bytes cut", len(signed)-n)
		}
	})
	t.Run("Extended", func(t *testing.T) {
		for _, extra := range [][]byte{{0}, {0xff}, []byte("x"), signed, bytes.Repeat([]byte{0}, 1024)} {
			reject(t, append(bytes.Clone(signed), extra...), "extended by %d bytes", len(extra))
		}
	})
	t.Run("Unsigned", func(t *testing.T) {
		for _, b := range [][]byte{
			nil, {}, data, []byte("CSR\x01"), bytes.Repeat([]byte{0}, 37), bytes.Repeat([]byte{1}, 100),
			append([]byte{1}, signed[1:37]...), // a header with no data, for non-empty data
		} {
			reject(t, b, "unsigned %q", b)
		}
	})
	t.Run("OtherVersion", func(t *testing.T) {
		for _, v := range []byte{0, 2, 0xff} {
			b := bytes.Clone(signed)
			b[0] = v
			reject(t, b, "version %d", v)
		}
	})
	t.Run("Swapped", func(t *testing.T) {
		// The MAC of one entry with the data of another.
		other := s.Sign(key, []byte("another response"))
		reject(t, append(bytes.Clone(signed[:37]), other[37:]...), "header of one entry, data of another")
		reject(t, append(bytes.Clone(other[:37]), signed[37:]...), "header of one entry, data of another")
	})

	// The original still verifies, and every rejection was counted.
	got, err := s.Verify(key, signed)
	require.NoError(t, err)
	require.Equal(t, data, got)
	require.Equal(t, sign.Stats{Verified: 1, Rejected: uint64(rejects)}, s.Stats())
}

func TestErrors(t *testing.T) {
	t.Parallel()
	s := newSigner(t, secret(0))
	key, _, signed := sample(t, s)
	other := newSigner(t, secret(1))
	tamper := bytes.Clone(signed)
	tamper[len(tamper)-1] ^= 1
	version := bytes.Clone(signed)
	version[0] = 2
	tests := []struct {
		name string
		give []byte
		want string
	}{
		{"Short", signed[:36], "sign: entry too short to be signed"},
		{"Version", version, "sign: unknown signed entry version"},
		{"UnknownKey", other.Sign(key, nil), "sign: entry signed with a secret that is not listed"},
		{"Tampered", tamper, "sign: signature mismatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := s.Verify(key, tt.give)
			require.EqualError(t, err, tt.want)
			require.ErrorIs(t, err, sign.ErrInvalid)
			require.ErrorIs(t, err, codec.ErrFormat)
		})
	}
	require.ErrorIs(t, sign.ErrInvalid, codec.ErrFormat, "ErrInvalid itself matches codec.ErrFormat")
	require.False(t, errors.Is(codec.ErrFormat, sign.ErrInvalid), "a codec error is not a signature error")
	require.EqualError(t, sign.ErrInvalid, "sign: invalid signed entry")
}

func TestVerifyDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	s := newSigner(t, secret(0), secret(1))
	key, _, signed := sample(t, s)
	bad := bytes.Clone(signed)
	bad[40] ^= 1
	_, _ = s.Verify(key, signed) // fill the pool
	require.Zero(t, testing.AllocsPerRun(100, func() { _, _ = s.Verify(key, signed) }), "Verify of a valid entry")
	require.Zero(t, testing.AllocsPerRun(100, func() { _, _ = s.Verify(key, bad) }), "Verify of a tampered entry")
	require.Equal(t, 1.0, testing.AllocsPerRun(100, func() { _ = s.Sign(key, signed) }), "Sign allocates its result only")
}

func TestConcurrent(t *testing.T) {
	t.Parallel()
	s := newSigner(t, secret(0), secret(1))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				key := fmt.Sprintf("key-%d-%d", g, i)
				data := bytes.Repeat([]byte{byte(i)}, i)
				got, err := s.Verify(key, s.Sign(key, data))
				if !assert.NoError(t, err) || !assert.Equal(t, data, got) {
					return
				}
				_, err = s.Verify(key+"x", s.Sign(key, data))
				if !assert.ErrorIs(t, err, sign.ErrInvalid) {
					return
				}
			}
		})
	}
	wg.Wait()
	require.Equal(t, sign.Stats{Verified: 8 * 200, Rejected: 8 * 200}, s.Stats())
}

func TestStringHidesSecrets(t *testing.T) {
	t.Parallel()
	s := newSigner(t, secret(0), secret(1))
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(format, s)
		require.NotContains(t, out, string(secret(0)[:8]), format)
		require.NotContains(t, out, string(secret(1)[:8]), format)
		require.Regexp(t, `^sign\.Signer\{key ids: [0-9a-f]{8} [0-9a-f]{8}\}$`, out, format)
	}
	require.Equal(t, "sign.Signer(nil)", (*sign.Signer)(nil).String())
}
