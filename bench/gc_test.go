package bench

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cachestack/cachestack"
	"github.com/cachestack/cachestack/bench/internal/backends"
	"github.com/cachestack/cachestack/cached"
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

// The large-cache benchmarks (BenchmarkGCLarge, BenchmarkHitLarge) fill a
// store with -gc.bytes of response bodies of each of -gc.sizes.
var (
	largeBytes = flag.Int64("gc.bytes", 512<<20, "BenchmarkGCLarge, BenchmarkHitLarge: bytes of response bodies the store holds")
	largeSizes = flag.String("gc.sizes", "4KiB", "BenchmarkGCLarge, BenchmarkHitLarge: body sizes, comma-separated, of 1KiB, 4KiB, 16KiB, 64KiB")
)

// largeStores are the stores the large-cache benchmarks compare: the typed
// store, the byte store that the garbage collector skips, and slabstore.
var largeStores = []string{"memory", "bigcache", "slab"}

// largeBodySizes parses -gc.sizes.
func largeBodySizes(tb testing.TB) []int {
	var out []int
	for f := range strings.SplitSeq(*largeSizes, ",") {
		n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(f), "KiB"))
		if err != nil || n <= 0 {
			tb.Fatalf("-gc.sizes: %q is not a size in KiB", f)
		}
		out = append(out, n<<10)
	}
	return out
}

// openLarge opens backend name with room for -gc.bytes of bodies of size
// bytes and their records, fills it with them the way the cache stores
// responses (each its own body, header and key-and-URL string), and
// returns it with the number of entries it kept.
func openLarge(tb testing.TB, name string, size int) (*backends.Instance, int) {
	tb.Helper()
	be, ok := backends.Lookup(name)
	if !ok {
		tb.Fatalf("no backend %s", name)
	}
	n := int(*largeBytes) / size
	// Room for every entry: body, header, key, and each store's own
	// bookkeeping (memstore counts 192 bytes an entry; slabstore's
	// records are 144 bytes more than their fields).
	in, err := be.Open(backends.Config{MaxBytes: int64(n) * int64(size+1024) * 9 / 8})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { in.Close() })
	ctx := context.Background()
	now := time.Now()
	hdr := originHeader(size, nil)
	keys := make([]string, n)
	for i := range n {
		key := "GET https://origin.test/v1/items/" + strconv.Itoa(i) + "?expand=owner"
		r := &cached.Response{
			Method: http.MethodGet, URL: key[4:], StatusCode: http.StatusOK, Proto: "HTTP/1.1",
			Header:      cached.NewHeader(hdr),
			Body:        make([]byte, size),
			RequestTime: now, ResponseTime: now, Created: now, Expires: now.Add(time.Hour),
		}
		if err := in.Store.Set(ctx, key, r, 0); err != nil {
			tb.Fatal(err)
		}
		keys[i] = key
	}
	if in.Settle != nil {
		in.Settle()
	}
	kept := 0
	for _, k := range keys {
		if _, err := in.Store.Get(ctx, k); err == nil {
			kept++
		}
	}
	return in, kept
}

// gcCounters reads the garbage collector's CPU time (an estimate the
// runtime updates at the end of each cycle), its cycles, and the live
// heap.
type gcCounters struct {
	cpu            float64 // seconds
	cycles         uint64
	live, objects  uint64
	totalCPU       float64 // seconds, the whole process
	samplesScratch [5]metrics.Sample
}

func (g *gcCounters) read() {
	s := g.samplesScratch[:]
	s[0].Name = "/cpu/classes/gc/total:cpu-seconds"
	s[1].Name = "/gc/cycles/total:gc-cycles"
	s[2].Name = "/gc/heap/live:bytes"
	s[3].Name = "/gc/heap/objects:objects"
	s[4].Name = "/cpu/classes/total:cpu-seconds"
	metrics.Read(s)
	g.cpu, g.cycles = s[0].Value.Float64(), s[1].Value.Uint64()
	g.live, g.objects = s[2].Value.Uint64(), s[3].Value.Uint64()
	g.totalCPU = s[4].Value.Float64()
}

// BenchmarkGCLarge is a forced full garbage collection (runtime.GC) of a
// process whose store holds -gc.bytes (512 MiB) of response bodies of each
// of -gc.sizes (4 KiB), filled through the store's Set. ns/op is the wall
// time of one collection, marking and sweeping; gc-cpu-ms/cycle is the
// CPU the collector used per cycle (runtime/metrics
// /cpu/classes/gc/total:cpu-seconds over /gc/cycles/total:gc-cycles, on
// all cores), which is what every cycle of a running program pays for the
// entries kept; live-MiB and objects are the live heap after it.
func BenchmarkGCLarge(b *testing.B) {
	for _, size := range largeBodySizes(b) {
		for _, name := range largeStores {
			b.Run(fmt.Sprintf("store=%s/body=%dKiB", name, size>>10), func(b *testing.B) {
				in, kept := openLarge(b, name, size)
				defer runtime.KeepAlive(in)
				runtime.GC()
				runtime.GC()
				var before, after gcCounters
				before.read()
				for b.Loop() {
					runtime.GC()
				}
				after.read()
				cycles := float64(after.cycles - before.cycles)
				b.ReportMetric((after.cpu-before.cpu)/cycles*1e3, "gc-cpu-ms/cycle")
				b.ReportMetric(float64(after.live)/(1<<20), "live-MiB")
				b.ReportMetric(float64(after.objects), "objects")
				b.ReportMetric(float64(kept), "entries")
			})
		}
	}
}

// BenchmarkHitLarge is BenchmarkHit (a fresh hit through http.Client, the
// body read to EOF) with the store holding -gc.bytes of responses of the
// hit's body size, as BenchmarkGCLarge fills it: a hit's own cost plus the
// garbage collection its allocations bring on, whose cycles cost what the
// store's entries cost to mark. gc-cpu-us/op is the collector's CPU over
// the loop (runtime/metrics) per hit; cpu-ns/op the process's CPU time
// (getrusage, every thread: the hit, the collector, the origin idle) per
// hit, which load from other processes inflates much less than ns/op.
func BenchmarkHitLarge(b *testing.B) {
	for _, size := range largeBodySizes(b) {
		for _, name := range largeStores {
			b.Run(fmt.Sprintf("store=%s/body=%dKiB", name, size>>10), func(b *testing.B) {
				in, _ := openLarge(b, name, size)
				o := newOrigin(b, size, nil)
				c, err := cachestack.New(&cachestack.Options{Store: in.Store, Transport: transport(b), GetTimeout: 5 * time.Second})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { c.Close() })
				client := &http.Client{Transport: c}
				req := newRequest(b, o.URL+"/v1/items/42?expand=owner")
				do(b, client, req)
				c.Flush(context.Background())
				if in.Settle != nil {
					in.Settle()
				}
				before := o.hits.Load()
				// Collect, and return the fill's garbage to the operating
				// system now, rather than let the runtime's scavenger do it
				// in the background during the loop (its CPU would count).
				debug.FreeOSMemory()
				var g0, g1 gcCounters
				g0.read()
				cpu0, cpuOK := processCPU()
				b.ReportAllocs()
				for b.Loop() {
					do(b, client, req)
				}
				cpu1, _ := processCPU()
				g1.read()
				if cpuOK {
					b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
				}
				if n := o.hits.Load() - before; n != 0 {
					b.Fatalf("%d requests reached the origin: not all hits", n)
				}
				b.ReportMetric((g1.cpu-g0.cpu)/float64(b.N)*1e6, "gc-cpu-us/op")
				b.ReportMetric(float64(g1.cycles-g0.cycles), "gc-cycles")
			})
		}
	}
}
