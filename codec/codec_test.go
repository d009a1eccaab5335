package codec_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/codec"
)

type record struct {
	Name  string
	When  time.Time
	Tags  []string
	Count int
}

func TestCBORRoundTrip(t *testing.T) {
	t.Parallel()
	c := codec.CBOR[record]()
	give := record{
		Name:  "x",
		When:  time.Date(2025, 3, 4, 5, 6, 7, 123456789, time.FixedZone("", 3600)),
		Tags:  []string{"a", "b"},
		Count: 42,
	}
	b, err := c.Marshal(give)
	require.NoError(t, err)
	got, err := c.Unmarshal(b)
	require.NoError(t, err)
	assert.True(t, give.When.Equal(got.When), "time %v != %v", got.When, give.When)
	assert.Equal(t, give.When.Nanosecond(), got.When.Nanosecond())
	got.When = give.When
	assert.Equal(t, give, got)

	again, err := c.Marshal(give)
	require.NoError(t, err)
	assert.Equal(t, b, again, "deterministic encoding")
}

func TestCBORZeroTime(t *testing.T) {
	t.Parallel()
	c := codec.CBOR[time.Time]()
	b, err := c.Marshal(time.Time{})
	require.NoError(t, err)
	got, err := c.Unmarshal(b)
	require.NoError(t, err)
	assert.True(t, got.IsZero())
}

func TestCBORBadInput(t *testing.T) {
	t.Parallel()
	c := codec.CBOR[record]()
	tests := []struct {
		name string
		give []byte
	}{
		{"empty", nil},
		{"truncated", []byte{0xa1, 0x64, 'N', 'a'}},
		{"trailing", []byte{0xa0, 0x00}},
		{"wrong type", []byte{0x01}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := c.Unmarshal(tt.give)
			require.ErrorIs(t, err, codec.ErrFormat)
		})
	}
}
