package seal

import (
	"github.com/cachestack/cachestack/codec"
)

// Codec returns a codec that seals what c marshals and opens before c
// unmarshals, for places where bytes are stored without their key (a
// codec.Bind over a store you cannot wrap, a file, a message queue).
//
// Entries are bound to context, a fixed string naming their purpose (such
// as "responses"), not to the key they are stored under: an entry copied
// to another key of the same store still opens. Use Wrap where entries
// must stay under their own key. A Codec entry never opens as a Store
// entry, or the reverse, even when context and key are equal; entries
// sealed for another context never open.
//
// Unmarshal of an entry that fails to open returns an error matching
// ErrInvalid and codec.ErrFormat, and does not call c; the sealer counts
// it (Stats). Unmarshal takes ownership of its input, as codec.Codec
// allows: it decrypts in place and hands c a sub-slice of it, so c's
// ownership rules carry over; after a failure the input's contents are
// undefined. Marshal errors are c's, unchanged. sealer must not be nil.
func Codec[V any](c codec.Codec[V], sealer *Sealer, context string) codec.Codec[V] {
	return sealedCodec[V]{c: c, sealer: sealer, context: context}
}

type sealedCodec[V any] struct {
	c       codec.Codec[V]
	sealer  *Sealer
	context string
}

func (sc sealedCodec[V]) Marshal(v V) ([]byte, error) {
	b, err := sc.c.Marshal(v)
	if err != nil {
		return nil, err
	}
	return sc.sealer.seal(domainContext, sc.context, b), nil
}

func (sc sealedCodec[V]) Unmarshal(b []byte) (V, error) {
	data, err := sc.sealer.open(domainContext, sc.context, b, true)
	if err != nil {
		var zero V
		return zero, err
	}
	return sc.c.Unmarshal(data)
}
