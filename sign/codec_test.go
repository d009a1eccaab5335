package sign_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/codec"
	"github.com/cachestack/cachestack/sign"
)

type item struct {
	Name  string
	Count int
}

func TestCodecRoundTrip(t *testing.T) {
	t.Parallel()
	signer := newSigner(t, secret(0))
	c := sign.Codec(codec.CBOR[item](), signer, "items")
	want := item{Name: "a", Count: 3}
	b, err := c.Marshal(want)
	require.NoError(t, err)
	got, err := c.Unmarshal(b)
	require.NoError(t, err)
	require.Equal(t, want, got)

	plain, err := codec.CBOR[item]().Marshal(want)
	require.NoError(t, err)
	require.Equal(t, plain, b[37:], "the signed entry carries the inner codec's bytes")
}

func TestCodecRejected(t *testing.T) {
	t.Parallel()
	signer := newSigner(t, secret(0))
	c := sign.Codec(codec.CBOR[item](), signer, "items")
	signed, err := c.Marshal(item{Name: "a", Count: 3})
	require.NoError(t, err)

	plain, err := codec.CBOR[item]().Marshal(item{Name: "a", Count: 3})
	require.NoError(t, err)
	tamper := bytes.Clone(signed)
	tamper[len(tamper)-1] ^= 1
	otherContext, err := sign.Codec(codec.CBOR[item](), signer, "other").Marshal(item{Name: "a", Count: 3})
	require.NoError(t, err)
	tests := []struct {
		name string
		give []byte
	}{
		{"Unsigned", plain},
		{"Tampered", tamper},
		{"Truncated", signed[:len(signed)-1]},
		{"Extended", append(bytes.Clone(signed), 0)},
		{"OtherContext", otherContext},
		// A Store entry for a key equal to the context is not a Codec
		// entry, nor the reverse.
		{"SignedForKey", signer.Sign("items", plain)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Unmarshal(tt.give)
			require.ErrorIs(t, err, sign.ErrInvalid)
			require.ErrorIs(t, err, codec.ErrFormat)
			require.Zero(t, got)
		})
	}
	_, err = signer.Verify("items", signed)
	require.ErrorIs(t, err, sign.ErrInvalid, "a Codec entry verified as a key's entry")
	require.Equal(t, sign.Stats{Rejected: uint64(len(tests)) + 1}, signer.Stats())
}

// failing is a codec whose Marshal fails and whose Unmarshal must not be
// reached with unverified bytes.
type failing struct{}

var errMarshal = errors.New("marshal failed")

func (failing) Marshal(string) ([]byte, error) { return nil, errMarshal }

func (f failing) Unmarshal(b []byte) (string, error) { return string(b), nil }

func TestCodecErrors(t *testing.T) {
	t.Parallel()
	signer := newSigner(t, secret(0))
	c := sign.Codec[string](failing{}, signer, "ctx")
	_, err := c.Marshal("x")
	require.ErrorIs(t, err, errMarshal, "Marshal errors are the inner codec's")

	got, err := c.Unmarshal([]byte("forged"))
	require.ErrorIs(t, err, sign.ErrInvalid)
	require.Empty(t, got, "the inner codec never sees unverified bytes")
}

// TestCodecUnderBind stacks the codec as a cache would over a byte store it
// cannot wrap.
func TestCodecUnderBind(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	signer := newSigner(t, secret(0))
	inner := newMem(t, nil)
	st := codec.Bind(inner, sign.Codec(codec.CBOR[item](), signer, "items"))
	defer st.Close()
	require.NoError(t, st.Set(ctx, "a", item{Name: "a"}, 0))
	got, err := st.Get(ctx, "a")
	require.NoError(t, err)
	require.Equal(t, item{Name: "a"}, got)

	require.NoError(t, inner.Set(ctx, "a", []byte("forged"), 0))
	_, err = st.Get(ctx, "a")
	require.ErrorIs(t, err, codec.ErrFormat)
	require.ErrorIs(t, err, sign.ErrInvalid)
}
