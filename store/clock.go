package store

import (
	"sync/atomic"
	"time"
)

// Clocked is implemented by stores that tell the time (for ttls, expiry
// checks and recency) with a clock they can be given after construction.
// cachestack.New gives its Options.Clock to such a store, so that a store
// opened with its defaults (diskstore.OpenResponses(dir, nil)) expires
// entries by the same clock as the cache.
type Clocked interface {
	// UseClock makes now the store's clock, unless the store was built
	// with a clock of its own (its Options.Clock), which it keeps. It
	// reports whether now is the store's clock afterwards. It is safe to
	// call while the store is in use; the last clock given wins.
	UseClock(now func() time.Time) bool
}

// Clock is the clock of a store built without one: time.Now until Set
// gives it another. Adapters hold one to implement Clocked. The zero value
// is ready to use; a Clock is safe for concurrent use.
type Clock struct {
	now atomic.Pointer[func() time.Time]
}

// Now returns the current time by the clock.
func (c *Clock) Now() time.Time {
	if f := c.now.Load(); f != nil {
		return (*f)()
	}
	return time.Now()
}

// Set makes now the clock's source; nil means time.Now.
func (c *Clock) Set(now func() time.Time) {
	if now == nil {
		c.now.Store(nil)
		return
	}
	c.now.Store(&now)
}

// Use makes now the clock's source and reports true, unless own is true
// (the store was built with a clock of its own, which it keeps) or now is
// nil: what an adapter's UseClock does.
func (c *Clock) Use(own bool, now func() time.Time) bool {
	if own || now == nil {
		return false
	}
	c.Set(now)
	return true
}

// UseClock gives now to s if s is Clocked, and reports whether s now uses
// it.
func UseClock(s any, now func() time.Time) bool {
	c, ok := s.(Clocked)
	return ok && c.UseClock(now)
}
