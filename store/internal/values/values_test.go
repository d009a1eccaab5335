package values_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/cachestack/cachestack/store/internal/values"
)

type sized struct{ n int64 }

func (s sized) Size() int64 { return s.n }

type sizedPtr struct{ n int64 }

func (s *sizedPtr) Size() int64 { return s.n }

type unsized struct{ n int64 }

func TestSizeFunc(t *testing.T) {
	t.Parallel()
	assert.EqualValues(t, 5, values.SizeFunc[[]byte]()([]byte("hello")))
	assert.EqualValues(t, 0, values.SizeFunc[[]byte]()(nil))
	assert.EqualValues(t, 3, values.SizeFunc[string]()("abc"))
	assert.EqualValues(t, 42, values.SizeFunc[sized]()(sized{42}))
	assert.EqualValues(t, -7, values.SizeFunc[sized]()(sized{-7}), "negative sizes are the store's to clamp")
	assert.EqualValues(t, 42, values.SizeFunc[*sizedPtr]()(&sizedPtr{42}))
	assert.EqualValues(t, 1, values.SizeFunc[*sizedPtr]()(nil), "a nil pointer costs 1")
	assert.EqualValues(t, 1, values.SizeFunc[unsized]()(unsized{42}))
	assert.EqualValues(t, 1, values.SizeFunc[int]()(1<<20))
}

func TestIsBytes(t *testing.T) {
	t.Parallel()
	type myBytes []byte
	assert.True(t, values.IsBytes[[]byte]())
	assert.False(t, values.IsBytes[string]())
	assert.False(t, values.IsBytes[myBytes](), "only []byte itself is copied")
	assert.False(t, values.IsBytes[*sizedPtr]())
}

func TestClone(t *testing.T) {
	t.Parallel()
	in := make([]byte, 3, 16)
	copy(in, "abc")
	out := values.Clone(in)
	assert.Equal(t, []byte("abc"), out)
	in[0] = 'x'
	assert.Equal(t, []byte("abc"), out, "the copy shares no buffer with the original")
	_ = append(out, 'y')
	assert.Equal(t, []byte("xbc"), in[:3:3], "appending to the copy leaves the original alone")
	assert.Zero(t, in[:4][3], "appending to the copy leaves the original's spare capacity alone")

	assert.Nil(t, values.Clone[[]byte](nil), "nil stays nil")
	empty := values.Clone([]byte{})
	assert.NotNil(t, empty, "empty stays empty, not nil")
	assert.Empty(t, empty)

	assert.Panics(t, func() { values.Clone("not bytes") })
}
