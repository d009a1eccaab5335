package cachestack_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack"
	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/middleware"
	"github.com/cachestack/cachestack/store/memstore"
)

// TestCoalesceAcrossProcessesOption: the option is refused at
// construction, naming it, with a store that cannot take leases (the
// default, or any in-memory one) or values out of range.
func TestCoalesceAcrossProcessesOption(t *testing.T) {
	t.Parallel()
	s, err := memstore.New[string, *cached.Response](nil)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	tests := []struct {
		name  string
		store *memstore.Store[string, *cached.Response]
		give  *middleware.LeaseOptions
		want  string
	}{
		{"DefaultStore", nil, &middleware.LeaseOptions{}, "cachestack: Options.CoalesceAcrossProcesses: the default in-memory store is not shared between processes"},
		{"MemStore", s, &middleware.LeaseOptions{}, "cachestack: Options.CoalesceAcrossProcesses: the store, a *memstore.Store[string,*github.com/cachestack/cachestack/cached.Response], cannot take leases"},
		{"NegativeMaxWait", s, &middleware.LeaseOptions{MaxWait: -time.Second}, "cachestack: Options.CoalesceAcrossProcesses is {TTL:0s MaxWait:-1s}, want TTL 0 or >= 1ms and MaxWait >= 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := &cachestack.Options{CoalesceAcrossProcesses: tt.give}
			if tt.store != nil {
				o.Store = tt.store
			}
			_, err := cachestack.New(o)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}
