package sqlitestore

import (
	"time"

	"github.com/cachestack/cachestack/store"
)

var _ store.Clocked = (*Store)(nil)

// UseClock implements store.Clocked: a store built without Options.Clock
// tells the time with now from then on, as if it had been built with it; a
// store built with one keeps it and returns false. cachestack.New calls it
// with its Options.Clock.
func (s *Store) UseClock(now func() time.Time) bool {
	return s.clock.Use(s.ownNow, now)
}
