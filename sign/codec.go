package sign

import (
	"github.com/cachestack/cachestack/codec"
)

// Codec returns a codec that signs what c marshals and verifies before c
// unmarshals, for places where bytes are stored without their key (a
// codec.Bind over a store you cannot wrap, a file, a message queue).
//
// Entries are bound to context, a fixed string naming their purpose (such
// as "responses"), not to the key they are stored under: an entry copied to
// another key of the same store still verifies. Use Wrap where entries must
// stay under their own key. A Codec entry never verifies as a Store entry,
// or the reverse, even when context and key are equal; entries signed for
// another context never verify.
//
// Unmarshal of an entry that fails verification returns an error matching
// ErrInvalid and codec.ErrFormat, and does not call c; the signer counts it
// (Stats). Unmarshal hands c a sub-slice of its input, so c's ownership rules
// carry over; verifying only reads it, so the codec is
// codec.InputPreserving when c is. Marshal errors are c's, unchanged.
// signer must not be nil.
func Codec[V any](c codec.Codec[V], signer *Signer, context string) codec.Codec[V] {
	return signedCodec[V]{c: c, signer: signer, context: context}
}

type signedCodec[V any] struct {
	c       codec.Codec[V]
	signer  *Signer
	context string
}

func (sc signedCodec[V]) Marshal(v V) ([]byte, error) {
	b, err := sc.c.Marshal(v)
	if err != nil {
		return nil, err
	}
	return sc.signer.sign(domainContext, sc.context, b), nil
}

func (sc signedCodec[V]) Unmarshal(b []byte) (V, error) {
	data, err := sc.signer.verify(domainContext, sc.context, b)
	if err != nil {
		var zero V
		return zero, err
	}
	return sc.c.Unmarshal(data)
}

// PreservesInput reports whether c preserves its input
// (codec.InputPreserving): verifying does not write into it.
func (sc signedCodec[V]) PreservesInput() bool {
	p, ok := sc.c.(codec.InputPreserving)
	return ok && p.PreservesInput()
}
