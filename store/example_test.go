package store_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/memstore"
)

// A store built without a clock of its own takes one afterwards through
// UseClock, as cachestack.New does with its Options.Clock: here a clock a
// test moves by hand decides when an entry expires.
func ExampleUseClock() {
	s, err := memstore.New[string, string](nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	fmt.Println("uses the clock:", store.UseClock(s, func() time.Time { return now }))

	ctx := context.Background()
	if err := s.Set(ctx, "k", "v", time.Minute); err != nil {
		log.Fatal(err)
	}
	v, err := s.Get(ctx, "k")
	fmt.Println("at once:", v, err)
	now = now.Add(2 * time.Minute)
	_, err = s.Get(ctx, "k")
	fmt.Println("two minutes later, not found:", errors.Is(err, store.ErrNotFound))
	// Output:
	// uses the clock: true
	// at once: v <nil>
	// two minutes later, not found: true
}
