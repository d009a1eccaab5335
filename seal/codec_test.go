package seal_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/codec"
	"github.com/cachestack/cachestack/seal"
)

type item struct {
	Name  string
	Count int
}

func TestCodecRoundTrip(t *testing.T) {
	t.Parallel()
	sealer := newSealer(t, testKey(0))
	c := seal.Codec(codec.CBOR[item](), sealer, "items")
	want := item{Name: "a secret name", Count: 3}
	b, err := c.Marshal(want)
	require.NoError(t, err)
	plain, err := codec.CBOR[item]().Marshal(want)
	require.NoError(t, err)
	require.Len(t, b, len(plain)+seal.Overhead)
	require.NotContains(t, string(b), "a secret name")

	got, err := c.Unmarshal(b)
	require.NoError(t, err)
	require.Equal(t, want, got)
}

func TestCodecRejected(t *testing.T) {
	t.Parallel()
	sealer := newSealer(t, testKey(0))
	c := seal.Codec(codec.CBOR[item](), sealer, "items")
	sealed, err := c.Marshal(item{Name: "a", Count: 3})
	require.NoError(t, err)

	plain, err := codec.CBOR[item]().Marshal(item{Name: "a", Count: 3})
	require.NoError(t, err)
	tamper := bytes.Clone(sealed)
	tamper[len(tamper)-1] ^= 1
	otherContext, err := seal.Codec(codec.CBOR[item](), sealer, "other").Marshal(item{Name: "a", Count: 3})
	require.NoError(t, err)
	tests := []struct {
		name string
		give []byte
	}{
		{"Plaintext", plain},
		{"Tampered", tamper},
		{"Truncated", sealed[:len(sealed)-1]},
		{"Extended", append(bytes.Clone(sealed), 0)},
		{"OtherContext", otherContext},
		// A Store entry for a key equal to the context is not a Codec
		// entry, nor the reverse.
		{"SealedForKey", sealer.Seal("items", plain)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Unmarshal(bytes.Clone(tt.give))
			require.ErrorIs(t, err, seal.ErrInvalid)
			require.ErrorIs(t, err, codec.ErrFormat)
			require.Zero(t, got)
		})
	}
	_, err = sealer.Open("items", sealed)
	require.ErrorIs(t, err, seal.ErrInvalid, "a Codec entry opened as a key's entry")
	require.Equal(t, seal.Stats{Sealed: 3, Rejected: uint64(len(tests)) + 1}, sealer.Stats())
}

// failing is a codec whose Marshal fails and whose Unmarshal must not be
// reached with bytes that did not open.
type failing struct{}

var errMarshal = errors.New("marshal failed")

func (failing) Marshal(string) ([]byte, error) { return nil, errMarshal }

func (f failing) Unmarshal(b []byte) (string, error) { return string(b), nil }

func TestCodecErrors(t *testing.T) {
	t.Parallel()
	sealer := newSealer(t, testKey(0))
	c := seal.Codec[string](failing{}, sealer, "ctx")
	_, err := c.Marshal("x")
	require.ErrorIs(t, err, errMarshal, "Marshal errors are the inner codec's")
	require.Zero(t, sealer.Stats().Sealed)

	got, err := c.Unmarshal([]byte("forged, and long enough to hold a header and a tag"))
	require.ErrorIs(t, err, seal.ErrInvalid)
	require.Empty(t, got, "the inner codec never sees bytes that did not open")
}

// TestCodecUnderBind stacks the codec as a cache would over a byte store it
// cannot wrap.
func TestCodecUnderBind(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sealer := newSealer(t, testKey(0))
	inner := newMem(t, nil)
	st := codec.Bind(inner, seal.Codec(codec.CBOR[item](), sealer, "items"))
	defer st.Close()
	require.NoError(t, st.Set(ctx, "a", item{Name: "a"}, 0))
	got, err := st.Get(ctx, "a")
	require.NoError(t, err)
	require.Equal(t, item{Name: "a"}, got)
	got, err = st.Get(ctx, "a")
	require.NoError(t, err, "decrypting in place left the stored entry alone")
	require.Equal(t, item{Name: "a"}, got)

	raw, err := inner.Get(ctx, "a")
	require.NoError(t, err)
	require.NoError(t, inner.Set(ctx, "b", raw, 0))
	got, err = st.Get(ctx, "b")
	require.NoError(t, err, "a Codec entry is bound to its context, not its key")
	require.Equal(t, item{Name: "a"}, got)

	require.NoError(t, inner.Set(ctx, "a", []byte("forged"), 0))
	_, err = st.Get(ctx, "a")
	require.ErrorIs(t, err, codec.ErrFormat)
	require.ErrorIs(t, err, seal.ErrInvalid)
}
