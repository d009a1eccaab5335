package tierstore

import (
	"time"

	"github.com/cachestack/cachestack/store"
)

var _ store.Clocked = (*Store[string, int])(nil)

// UseClock gives now to each tier that is a store.Clocked, and reports
// whether either uses it; see store.Clocked.
func (s *Store[K, V]) UseClock(now func() time.Time) bool {
	front := store.UseClock(s.front, now)
	back := store.UseClock(s.back, now)
	return front || back
}
