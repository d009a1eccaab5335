package tierstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/bigcachestore"
	"github.com/cachestack/cachestack/store/memstore"
	"github.com/cachestack/cachestack/store/storetest"
	"github.com/cachestack/cachestack/store/tierstore"
)

// BenchmarkBytes runs the shared store benchmarks on a memstore front over
// a bigcache back, both large enough that nothing is evicted, filled
// through the tier: every Get is a front hit, every Set writes both tiers.
func BenchmarkBytes(b *testing.B) {
	storetest.Bench(b, storetest.BenchBytes(func(b *testing.B, size int) store.Store[string, []byte] {
		budget := int64(2 * storetest.BenchKeys * size)
		front, err := memstore.New[string](&memstore.Options[[]byte]{MaxBytes: budget})
		require.NoError(b, err)
		back, err := bigcachestore.New(&bigcachestore.Options{MaxBytes: budget})
		require.NoError(b, err)
		s, err := tierstore.New[string, []byte](front, back, nil)
		require.NoError(b, err)
		return s
	}))
}

// BenchmarkCoherentBytes is BenchmarkBytes with NewCoherent over a bus
// that is subscribed and confirmed (nothing is published to it): a front
// hit also checks the bus's last confirmation against the clock; a Set
// also publishes.
func BenchmarkCoherentBytes(b *testing.B) {
	storetest.Bench(b, storetest.BenchBytes(func(b *testing.B, size int) store.Store[string, []byte] {
		budget := int64(2 * storetest.BenchKeys * size)
		front, err := memstore.New[string](&memstore.Options[[]byte]{MaxBytes: budget})
		require.NoError(b, err)
		back, err := bigcachestore.New(&bigcachestore.Options{MaxBytes: budget})
		require.NoError(b, err)
		s, err := tierstore.NewCoherent[string, []byte](front, back, &quietBus{}, nil)
		require.NoError(b, err)
		return s
	}))
}

// quietBus is subscribed and confirmed for an hour; it drops what is
// published.
type quietBus struct{}

func (quietBus) Publish(context.Context, ...string) error { return nil }
func (quietBus) Lag() time.Duration                       { return time.Hour }
func (quietBus) Subscribe(h tierstore.Handler[string]) func() {
	h.Subscribed()
	h.Confirmed(time.Now())
	return func() {}
}
