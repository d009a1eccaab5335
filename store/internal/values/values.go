// Package values holds what the typed in-memory stores (memstore,
// ristrettostore, otterstore) do alike with the values they hold: cost them
// in bytes for their budgets, and copy []byte values in and out so that a
// caller's slice is never the store's own buffer.
package values

import (
	"bytes"
	"reflect"
)

// SizeFunc returns the cost function a store uses when its Options.Size is
// nil: V's Size() int64 method if it has one (a nil pointer costs 1), len
// for []byte and string, and 1 for anything else.
//
// It looks at V once, so that the function it returns does no reflection
// on the hot path; call it when the store is made, not on every Set.
func SizeFunc[V any]() func(V) int64 {
	type sizer interface{ Size() int64 }
	t := reflect.TypeFor[V]()
	switch {
	case t.Implements(reflect.TypeFor[sizer]()):
		isPointer := t.Kind() == reflect.Pointer
		return func(v V) int64 {
			s, ok := any(v).(sizer)
			if !ok || isPointer && reflect.ValueOf(s).IsNil() {
				return 1
			}
			return s.Size()
		}
	case t == reflect.TypeFor[[]byte]():
		return func(v V) int64 { return int64(len(any(v).([]byte))) }
	case t == reflect.TypeFor[string]():
		return func(v V) int64 { return int64(len(any(v).(string))) }
	default:
		return func(V) int64 { return 1 }
	}
}

// IsBytes reports whether V is []byte, the one value type the stores copy
// on Set and Get. Stores call it once, when they are made, and call Clone
// only when it is true.
func IsBytes[V any]() bool {
	return reflect.TypeFor[V]() == reflect.TypeFor[[]byte]()
}

// Clone returns a copy of v, which must be a []byte (see IsBytes): a new
// backing array with v's contents, shared with nothing, or nil for nil (as
// bytes.Clone). It panics for any other V.
func Clone[V any](v V) V {
	b := any(&v).(*[]byte)
	*b = bytes.Clone(*b)
	return v
}
