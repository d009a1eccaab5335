package storetest

import (
	"sync"
	"time"
)

// Clock is a fake clock for the stores' Options.Clock and Harness.Advance:
// it stands still until Advance moves it. It is safe for concurrent use, so
// a store may read it from its own goroutines. Make one with NewClock.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a Clock set to 2025-01-01 00:00:00 UTC.
func NewClock() *Clock {
	return &Clock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
