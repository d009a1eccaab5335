package bench

import (
	"runtime"
	"testing"
)

// BenchmarkGCFilled is a full garbage collection of a process whose cache
// holds fillBytes of 1 KiB responses: the marking that every GC cycle
// pays for the entries a store keeps, which typed stores (pointers in
// every entry) and byte stores (a few large slices) pay differently. The
// objects metric is the process's live heap objects.
func BenchmarkGCFilled(b *testing.B) {
	for _, s := range subjects() {
		b.Run("cache="+s.name, func(b *testing.B) {
			rt, _ := warm(b, s, newOrigin(b, 1<<10, nil), fillBytes)
			defer runtime.KeepAlive(rt) // the peers' caches live only in rt
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			for b.Loop() {
				runtime.GC()
			}
			b.ReportMetric(float64(ms.HeapObjects), "objects")
		})
	}
}
