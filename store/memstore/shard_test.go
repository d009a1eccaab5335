package memstore

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestShardCount(t *testing.T) {
	tests := []struct {
		name        string
		giveBytes   int64
		giveEntries int
		want        int
	}{
		{"Default", DefaultMaxBytes, 0, 16},
		{"Huge", 1 << 40, 0, 16},
		{"8MiB", 8 << 20, 0, 2},
		{"JustUnder8MiB", 8<<20 - 1, 0, 1},
		{"Tiny", 10, 0, 1},
		{"Entries", 0, 4096, 16},
		{"512Entries", 0, 512, 2},
		{"FewEntries", 0, 511, 1},
		{"SmallerBudgetWins", 1 << 30, 1024, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, shardCount(tt.giveBytes, tt.giveEntries))
		})
	}
}

func TestBudgetIsShared(t *testing.T) {
	s, err := New[string, []byte](&Options[[]byte]{MaxBytes: 1<<24 + 3, MaxEntries: 4096 + 1})
	assert.NoError(t, err)
	var bytes, entries int64
	for i := range s.shards {
		bytes += s.shards[i].maxBytes
		entries += int64(s.shards[i].maxEntries)
	}
	assert.Len(t, s.shards, 4)
	assert.EqualValues(t, 1<<24+3, bytes)
	assert.EqualValues(t, 4096+1, entries)
}
