package storetest_test

import (
	"fmt"
	"testing"

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
