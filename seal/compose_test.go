package seal_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/codec"
	"github.com/cachestack/cachestack/seal"
	"github.com/cachestack/cachestack/sign"
	"github.com/cachestack/cachestack/store"
)

// TestComposeWithSign stacks seal and sign both ways over one byte store
// and checks that values round-trip, and that a flipped byte anywhere, a
// truncation or an entry moved to another key is a rejection matching
// codec.ErrFormat, caught by the outer layer on the store.
func TestComposeWithSign(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		wrap func(s store.Store[string, []byte], sealer *seal.Sealer, signer *sign.Signer) store.Store[string, []byte]
		// outer is the sentinel of the layer next to the raw store,
		// which rejects what was changed there.
		outer error
	}{
		{"SealOverSign", func(s store.Store[string, []byte], sealer *seal.Sealer, signer *sign.Signer) store.Store[string, []byte] {
			return seal.Wrap(sign.Wrap(s, signer), sealer)
		}, sign.ErrInvalid},
		{"SignOverSeal", func(s store.Store[string, []byte], sealer *seal.Sealer, signer *sign.Signer) store.Store[string, []byte] {
			return sign.Wrap(seal.Wrap(s, sealer), signer)
		}, seal.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			sealer := newSealer(t, testKey(0))
			signer, err := sign.New(bytes.Repeat([]byte("s"), sign.MinSecretLen))
			require.NoError(t, err)
			inner := newMem(t, nil)
			st := tt.wrap(inner, sealer, signer)
			defer st.Close()

			data := []byte("a response")
			require.NoError(t, st.Set(ctx, "a", data, 0))
			require.NoError(t, st.Set(ctx, "b", []byte("b response"), 0))
			got, err := st.Get(ctx, "a")
			require.NoError(t, err)
			require.Equal(t, data, got)
			raw, err := inner.Get(ctx, "a")
			require.NoError(t, err)
			require.Len(t, raw, len(data)+seal.Overhead+37, "both layers' overhead")
			require.NotContains(t, string(raw), string(data))

			var bad [][]byte
			for i := range raw {
				b := bytes.Clone(raw)
				b[i] ^= 0x01
				bad = append(bad, b)
			}
			for n := range len(raw) {
				bad = append(bad, bytes.Clone(raw[:n]))
			}
			moved, err := inner.Get(ctx, "b")
			require.NoError(t, err)
			bad = append(bad, moved, data)
			for i, b := range bad {
				require.NoError(t, inner.Set(ctx, "a", b, 0))
				got, err := st.Get(ctx, "a")
				require.ErrorIs(t, err, codec.ErrFormat, "bad entry %d", i)
				require.ErrorIs(t, err, tt.outer, "bad entry %d: the layer on the store rejects it", i)
				require.Nil(t, got)
			}
			require.NoError(t, inner.Set(ctx, "a", raw, 0))
			got, err = st.Get(ctx, "a")
			require.NoError(t, err, "restored")
			require.Equal(t, data, got)
		})
	}
}

// TestSignVerifiesSealedWithoutKey shows the point of sign beneath seal:
// whoever holds the signing secret alone can check a stored entry, and
// learns nothing of its contents.
func TestSignVerifiesSealedWithoutKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sealer := newSealer(t, testKey(0))
	secret := bytes.Repeat([]byte("s"), sign.MinSecretLen)
	signer, err := sign.New(secret)
	require.NoError(t, err)
	inner := newMem(t, nil)
	st := seal.Wrap(sign.Wrap(inner, signer), sealer)
	require.NoError(t, st.Set(ctx, "a", []byte("private"), 0))

	auditor, err := sign.New(secret)
	require.NoError(t, err)
	checked, err := sign.Wrap(inner, auditor).Get(ctx, "a")
	require.NoError(t, err, "the entry verifies without the sealing key")
	require.NotContains(t, string(checked), "private")
	require.Len(t, checked, len("private")+seal.Overhead)
}
