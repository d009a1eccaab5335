package storetest_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/storetest"
)

// newBackendStore stands for an adapter's constructor.
func newBackendStore() store.Store[string, []byte] { return nil }

// An adapter's test runs the suite, saying what its store lacks and why.
func ExampleRun() {
	_ = func(t *testing.T) { // func TestConformance(t *testing.T)
		h := storetest.Bytes(func(t *testing.T) store.Store[string, []byte] {
			return newBackendStore()
		})
		h.Lacks = map[storetest.Capability]string{
			storetest.Listing: "the backend has no way to enumerate keys",
		}
		storetest.Run(t, h)
	}
}

// An adapter's benchmarks run the shared ones, on a store with room for
// every entry at each value size.
func ExampleBench() {
	_ = func(b *testing.B) { // func BenchmarkBytes(b *testing.B)
		storetest.Bench(b, storetest.BenchBytes(func(b *testing.B, size int) store.Store[string, []byte] {
			return newBackendStore() // with a budget of, say, 2 * storetest.BenchKeys * size
		}))
	}
}

// A Clock stands still until it is moved, so that an adapter's tests can
// pass its Now as the store's clock and check expiry without sleeping.
func ExampleClock() {
	clk := storetest.NewClock()
	fmt.Println(clk.Now())
	clk.Advance(90 * time.Second)
	fmt.Println(clk.Now())
	// Output:
	// 2025-01-01 00:00:00 +0000 UTC
	// 2025-01-01 00:01:30 +0000 UTC
}

// Bytes's keys and values, which the suite sets and reads back.
func ExampleBytes() {
	h := storetest.Bytes(nil)
	for i := range 4 {
		fmt.Printf("%q: %d bytes\n", h.Key(i), len(h.Value(i)))
	}
	// Output:
	// "key-0000/": 8 bytes
	// "key-0001/a": 24 bytes
	// "key-0002/ünïcødé/日本語/🔑": 100 bytes
	// "key-0003/with space and ?x=1&y=%2F#frag": 1024 bytes
}
