package middleware_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/middleware"
	"github.com/cachestack/cachestack/store/memstore"
)

// TestStoreLeaseOptions: StoreOptions.Lease is refused at construction,
// naming the option, when its values are out of range or the store cannot
// take leases (an in-memory store is no store.Leaser). The stores that can
// are tested against Redis in the redisstore module.
func TestStoreLeaseOptions(t *testing.T) {
	t.Parallel()
	s, err := memstore.New[string, *cached.Response](nil)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	tests := []struct {
		name string
		give *middleware.LeaseOptions
		want string
	}{
		{"NoLeaser", &middleware.LeaseOptions{}, "middleware.Store: StoreOptions.Lease: the store, a *memstore.Store[string,*github.com/cachestack/cachestack/cached.Response], cannot take leases"},
		{"NegativeTTL", &middleware.LeaseOptions{TTL: -time.Second}, "middleware.Store: StoreOptions.Lease is {TTL:-1s MaxWait:0s}, want TTL 0 or >= 1ms and MaxWait >= 0"},
		{"TinyTTL", &middleware.LeaseOptions{TTL: time.Microsecond}, "middleware.Store: StoreOptions.Lease is {TTL:1µs MaxWait:0s}"},
		{"NegativeMaxWait", &middleware.LeaseOptions{MaxWait: -1}, "middleware.Store: StoreOptions.Lease is {TTL:0s MaxWait:-1ns}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := middleware.Store(s, &middleware.StoreOptions{Lease: tt.give})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	_, err = middleware.Store(s, &middleware.StoreOptions{})
	assert.NoError(t, err, "without Lease, any store will do")
}
