package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/store"
)

// UseClock checks that a store built without a clock of its own
// implements store.Clocked and, once given a clock, measures ttls by it
// rather than by the wall clock. h.New must return such a store; only
// h.New, h.Key, h.Value, h.Equal and h.Sync are used. The clock it gives
// stands ten years ahead of the wall clock, so that a server deleting
// expired entries by its own time (a TTL index) leaves the entries alone.
func UseClock[K comparable, V any](t *testing.T, h Harness[K, V]) {
	t.Helper()
	validate(t, &h)
	s := newSuite(t, t, h)
	st := s.open()
	c, ok := st.(store.Clocked)
	require.True(t, ok, "%T does not implement store.Clocked", st)
	clock := &Clock{now: time.Now().AddDate(10, 0, 0).Truncate(time.Second)}
	require.True(t, c.UseClock(clock.Now), "UseClock on a store built without a clock reports false")

	k0, k1 := h.Key(0), h.Key(1)
	s.set(st, k0, h.Value(0), time.Minute)
	s.set(st, k1, h.Value(1), 0)
	s.want(st, k0, h.Value(0), "right after Set with a ttl of a minute")
	clock.Advance(59 * time.Second)
	s.want(st, k0, h.Value(0), "59s later by the given clock")
	clock.Advance(2 * time.Second)
	s.wantMiss(st, k0, "61s later by the given clock: a ttl follows it, not the wall clock")
	s.want(st, k1, h.Value(1), "without a ttl")
}
