package bigcachestore

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPrefix: bigcache holds each value after its absolute expiry, 8 bytes
// of Unix nanoseconds, 0 for none.
func TestPrefix(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	s, err := New(&Options{Clock: func() time.Time { return now }})
	require.NoError(t, err)
	defer s.Close()
	ctx := t.Context()
	require.NoError(t, s.Set(ctx, "ttl", []byte("body"), time.Minute))
	require.NoError(t, s.Set(ctx, "none", []byte("body"), 0))

	raw, err := s.c.Get("ttl")
	require.NoError(t, err)
	assert.Equal(t, uint64(now.Add(time.Minute).UnixNano()), binary.LittleEndian.Uint64(raw))
	assert.Equal(t, "body", string(raw[8:]))
	raw, err = s.c.Get("none")
	require.NoError(t, err)
	assert.Zero(t, binary.LittleEndian.Uint64(raw))
}

func TestSizing(t *testing.T) {
	tests := []struct {
		name         string
		give         Options
		wantShards   int
		wantMaxEntry int // half a shard less the overhead
	}{
		{"Default", Options{}, 16, 2<<20 - 31},
		{"RoundedUpToMiB", Options{MaxBytes: 1<<20 + 1}, 1, 1<<20 - 31},
		{"Tiny", Options{MaxBytes: 1}, 1, 512<<10 - 31},
		{"8MiB", Options{MaxBytes: 8 << 20}, 2, 2<<20 - 31},
		{"JustOver8MiB", Options{MaxBytes: 8<<20 + 1}, 2, 9<<19/2 - 31},
		{"Huge", Options{MaxBytes: 1 << 40}, 1024, 512<<20 - 31},
		{"Shards", Options{MaxBytes: 64 << 20, Shards: 64}, 64, 512<<10 - 31},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(&tt.give)
			require.NoError(t, err)
			defer s.Close()
			assert.Equal(t, tt.wantMaxEntry, s.maxEntry)
			assert.Equal(t, tt.wantShards, s.shards)
		})
	}
}
