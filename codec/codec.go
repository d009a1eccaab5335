package codec

import (
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// Codec turns values into bytes and back. Unmarshal may keep references into
// b (it takes ownership of b): the caller must not modify b afterwards.
type Codec[V any] interface {
	Marshal(v V) ([]byte, error)
	Unmarshal(b []byte) (V, error)
}

// ErrFormat matches (errors.Is) every error that means "these bytes are not
// an entry this version can read": wrong magic, unknown version, truncated,
// trailing garbage, bad CBOR. A cache treats such an entry as a miss.
var ErrFormat = errors.New("codec: bad format")

// ErrChecksum is returned by Response's Unmarshal for an entry of the
// current format whose checksum does not match its bytes: it was damaged
// after it was written (a flipped bit on disk or in memory, a torn or
// truncated write, another entry's bytes spliced in). It matches ErrFormat
// too, so a cache that handles ErrFormat treats it as a miss; test for it
// with errors.Is to count damaged entries apart from undecodable ones.
//
// A checksum catches accidents, not attacks: whoever can write to the store
// can write a valid checksum. Package sign is the guarantee against
// tampering.
var ErrChecksum = fmt.Errorf("%w: checksum mismatch", ErrFormat)

// formatError wraps err so that it matches ErrFormat, unless it already does.
func formatError(err error) error {
	if err == nil || errors.Is(err, ErrFormat) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrFormat, err)
}

// General-purpose CBOR modes used by CBOR. They are built once from constant
// options and never change.
var (
	generalEnc = mustEncMode(cbor.EncOptions{
		Sort:          cbor.SortCoreDeterministic,
		ShortestFloat: cbor.ShortestFloat16,
		NaNConvert:    cbor.NaNConvert7e00,
		InfConvert:    cbor.InfConvertFloat16,
		IndefLength:   cbor.IndefLengthForbidden,
		// Keep nanoseconds and the zone offset; the default (TimeUnix)
		// truncates to whole seconds.
		Time: cbor.TimeRFC3339Nano,
	})
	generalDec = mustDecMode(cbor.DecOptions{
		MaxNestedLevels:  32,
		MaxArrayElements: 1 << 17,
		MaxMapPairs:      1 << 17,
	})
)

func mustEncMode(o cbor.EncOptions) cbor.UserBufferEncMode {
	m, err := o.UserBufferEncMode()
	if err != nil {
		panic("codec: invalid cbor.EncOptions: " + err.Error()) // constant options: a programming error
	}
	return m
}

func mustDecMode(o cbor.DecOptions) cbor.DecMode {
	m, err := o.DecMode()
	if err != nil {
		panic("codec: invalid cbor.DecOptions: " + err.Error()) // constant options: a programming error
	}
	return m
}

// CBOR returns a general CBOR codec for any V, using fxamacker/cbor with
// Core Deterministic Encoding (RFC 8949 §4.2.1): equal values encode to equal
// bytes. time.Time values are encoded as RFC 3339 strings with nanoseconds
// and zone offset, so they round-trip with full precision. Decoding errors
// match ErrFormat.
//
// Decoding copies what it needs, so the returned value never aliases b.
func CBOR[V any]() Codec[V] { return cborCodec[V]{} }

type cborCodec[V any] struct{}

func (cborCodec[V]) Marshal(v V) ([]byte, error) {
	b, err := generalEnc.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("codec: marshal: %w", err)
	}
	return b, nil
}

func (cborCodec[V]) Unmarshal(b []byte) (V, error) {
	var v V
	if err := generalDec.Unmarshal(b, &v); err != nil {
		var zero V
		return zero, formatError(err)
	}
	return v, nil
}
