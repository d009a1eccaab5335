// Package storetest is the conformance suite that every cachestack store
// runs, in the manner of testing/fstest and testing/iotest.
//
// An adapter's tests describe the store in a Harness — how to make a fresh
// one, how to make distinct keys and values, how to move its clock — and
// call Run:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, storetest.Bytes(func(t *testing.T) store.Store[string, []byte] {
//			s, err := mystore.New(nil)
//			require.NoError(t, err)
//			return s
//		}))
//	}
//
// Run checks, each in its own subtest: misses, set and get, overwrite,
// delete (including of missing keys), ttl expiry, negative ttls, cancelled
// contexts, odd and long keys, that []byte values share no buffers with the
// caller, that a store.Viewer's lent values stay unchanged, concurrent use
// (run it under -race), listing with early break, clearing, and Close.
//
// A store that cannot do something declares it in Harness.Lacks with a
// reason; the subtests that need it then skip and print that reason. A store
// that implements store.Lister or store.Clearer is always checked against
// them; one that implements neither and does not declare it fails, so a
// missing capability is a decision written down, never an accident.
//
// Bytes and Responses make the Harness for the two kinds of store the cache
// uses: byte stores with string keys, and typed stores of *cached.Response.
// Clock is a fake clock to give a store as its Options.Clock and the
// Harness as its Advance.
//
// Bench runs the benchmarks every store shares — Get, Set and their
// parallel forms at 1 KiB and 64 KiB — from a BenchHarness (BenchBytes,
// BenchResponses), so that adapters are measured alike:
//
//	func BenchmarkBytes(b *testing.B) {
//		storetest.Bench(b, storetest.BenchBytes(func(b *testing.B, size int) store.Store[string, []byte] {
//			s, err := mystore.New(&mystore.Options{MaxBytes: int64(2 * storetest.BenchKeys * size)})
//			require.NoError(b, err)
//			return s
//		}))
//	}
package storetest
