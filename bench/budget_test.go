package bench

import (
	"net/http"
	"runtime"
	"strconv"
	"testing"

	"github.com/cachestack/cachestack"
	"github.com/cachestack/cachestack/bench/internal/backends"
)

// TestHitBudgets checks the allocation budgets of a hit, which, unlike
// times, are the same on every machine and so can be tested. The origin
// sends Vary: Accept-Encoding, as BenchmarkHit's does, so the hit goes
// through the URL's Vary index to its variant. From a typed store a hit
// costs at most hitBudget allocations through http.Client (four of them
// http.Client's own) and bareBudget as a bare RoundTripper; as many
// whatever the body size; and no copy of the body from a typed store or
// from an in-memory byte store that lends its bytes (store.Viewer, read
// through by codec.Bind), exactly one from any other byte store (its Get;
// decoding aliases it). The in-process byte stores are held to
// byteBudgets.
func TestHitBudgets(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	for _, be := range backends.All() {
		t.Run(be.Name, func(t *testing.T) {
			s := cachestackSubject(be.Name, be, false)
			var first float64
			for i, sz := range sizes {
				o := newOrigin(t, sz.n, varyFields)
				rt, url := warm(t, s, o, 0)
				req := newRequest(t, url)
				c := &http.Client{Transport: rt}
				before := o.hits.Load()
				allocs, bytes := perRun(200, func() { do(t, c, req) })
				bare, _ := perRun(200, func() { get(t, rt, req) })
				if o.hits.Load() != before {
					t.Fatal("a request reached the origin: not all hits")
				}
				t.Logf("%s: %.0f allocations and %.0f bytes via http.Client, %.0f allocations bare", sz.name, allocs, bytes, bare)

				// A store that may block (SQL, servers; disk when the
				// hit needs I/O) is called on a goroutine of its own,
				// under the lookup deadline; that goroutine's allocations
				// land in the count a call early or late, so byte stores
				// are held to the same cost within 4 (2 for each of up to
				// two lookups: the Vary index, and the variant when the
				// index does not hold it). Typed stores are called
				// directly: exactly the same.
				slack := 0.0
				if be.Kind != backends.Typed {
					slack = 4
				}
				if i == 0 {
					first = allocs
				} else if (allocs > first+slack || allocs < first-slack) && sizeBound[be.Name] == "" {
					t.Errorf("%s: %.0f allocations, %.0f at %s: the cost depends on the body size", sz.name, allocs, first, sizes[0].name)
				}
				if b, ok := byteBudgets[be.Name]; ok {
					if allocs > float64(b[0]) {
						t.Errorf("%s: %.0f allocations via http.Client, budget %d", sz.name, allocs, b[0])
					}
					if bare > float64(b[1]) {
						t.Errorf("%s: %.0f allocations as a bare RoundTripper, budget %d", sz.name, bare, b[1])
					}
				}
				if be.Kind == backends.Typed {
					extra := typedExtra[be.Name]
					if allocs > float64(hitBudget+extra) {
						t.Errorf("%s: %.0f allocations via http.Client, budget %d", sz.name, allocs, hitBudget+extra)
					}
					if bare > float64(bareBudget+extra) {
						t.Errorf("%s: %.0f allocations as a bare RoundTripper, budget %d", sz.name, bare, bareBudget+extra)
					}
				}
				if sz.n < 16<<10 {
					continue // small bodies cannot be told apart from the rest
				}
				copies := int(bytes) / sz.n
				want := 0
				if be.Kind != backends.Typed {
					want = 1
				}
				if n, ok := bodyCopies[be.Name]; ok {
					want = n
				}
				if copies > want || copies < min(want, 1) {
					t.Errorf("%s: %.0f bytes allocated per hit: %d copies of the body, want %d", sz.name, bytes, copies, want)
				}
			}
		})
	}
}

// TestMissBudget checks what a miss through the default stack over the
// memory store allocates for its body: one copy, the tee's buffer of the
// declared length, whatever the size (a tee growing by append would copy
// a 64 KiB body about twice more). The origin is canned, so that only the
// cache allocates the body.
func TestMissBudget(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	mem, _ := backends.Lookup("memory")
	for _, sz := range sizes {
		if sz.n < 16<<10 {
			continue // small bodies cannot be told apart from the rest
		}
		in, err := mem.Open(backends.Config{MaxBytes: missBudget})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { in.Close() })
		c, err := cachestack.New(&cachestack.Options{Store: in.Store, Transport: newCanned(sz.n)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		i := 0
		_, bytes := perRun(200, func() {
			i++
			get(t, c, newRequest(t, "http://127.0.0.1:1234/v1/items/42?i="+strconv.Itoa(i)))
		})
		if copies := int(bytes) / sz.n; copies != 1 {
			t.Errorf("%s: %.0f bytes allocated per miss: %d copies of the body, want 1", sz.name, bytes, copies)
		}
		if st := c.Counters().Stored.Load(); st < int64(i) {
			t.Errorf("%s: %d of %d misses stored", sz.name, st, i)
		}
	}
}

// hitBudget and bareBudget are the most allocations a hit from a typed
// store may cost through http.Client and as a bare RoundTripper: the
// keyer's key and URL (one string), the response with its body, header
// values and Age and Cache-Status text (one object), and the header's map
// (four objects for the ten fields of the benchmarks' responses: more than
// eight make a Go map a table of its own). The variant comes from the Vary
// index, which holds it inline with its key. Measured at 10 and 6; a change
// that adds one fails here.
const (
	hitBudget  = 10
	bareBudget = 6
)

// typedExtra are the allocations a typed store adds to hitBudget and
// bareBudget on a hit, with the reason. slabstore holds no Go objects per
// entry, so its Get builds the Vary index and the variant it holds over
// its segment, both in one object with their short lists of strings, and
// the variant's VaryHeader map (measured: 12 and 8).
var typedExtra = map[string]int{"slab": 2}

// byteBudgets are the most allocations a hit from an in-process byte store
// may cost, through http.Client and as a bare RoundTripper, with the
// reason. Over a typed hit (hitBudget, bareBudget), decoding the Vary
// index and the variant it holds inline costs 10: a *cached.Response and
// its URL for each, and the strings, slices and map of their header, Vary
// fields, stored Vary values, the index's generation and the variant's key
// (measured: 20 and 16). memstore lends its bytes (store.Viewer), so
// nothing is copied; bigcache copies the value out of its ring and makes a
// string of its key to compare it, 2 more for its one lookup (measured: 22
// and 18). diskstore may block, but answers the hit on the caller's
// goroutine (store.TryGetter) from the file it keeps open, and, on
// Linux, answers that the entry is unchanged since the hit before
// (store.VersionedTryGetter) without reading it, so that codec.Bind hands
// out the value it decoded then: nothing is read or decoded, and the hit
// costs what a typed one does (measured: 10 and 6; reading and decoding
// the entry each time, the hit cost 21 and 17; made under the lookup
// deadline, on a goroutine of its own, 26).
var byteBudgets = map[string][2]int{
	"memory-bytes": {20, 16},
	"bigcache":     {22, 18},
	"disk":         {10, 6},
}

// sizeBound names the server backends whose client allocates more
// objects for a larger reply, with the reason; the check that a hit costs
// as many allocations at every body size skips them.
var sizeBound = map[string]string{
	"mongo":    "the driver reads a large reply in more steps",
	"dynamodb": "the AWS SDK decodes JSON and base64 into buffers that grow with the body",
}

// bodyCopies are the body copies per hit of the backends whose client
// makes more than one, at most: DynamoDB's protocol is JSON over HTTP, and
// the AWS SDK reads the body into a growing buffer, checks its CRC32,
// decodes the JSON and then the base64 of the binary attribute (7 copies
// measured). memstore over bytes lends the bytes it holds (store.Viewer),
// which codec.Bind decodes in place: no copy. diskstore's hit of an
// unchanged entry reads nothing (codec.Bind hands out the value it decoded
// from the last read): no copy either.
var bodyCopies = map[string]int{"dynamodb": 8, "memory-bytes": 0, "disk": 0}

// perRun calls fn once, then n times, and returns the heap allocations
// per call over the n, rounded down as testing.AllocsPerRun rounds them
// (so that a rare allocation of a background goroutine does not count),
// and the bytes allocated per call.
func perRun(n int, fn func()) (allocs, bytes float64) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	fn()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range n {
		fn()
	}
	runtime.ReadMemStats(&after)
	return float64((after.Mallocs - before.Mallocs) / uint64(n)), float64(after.TotalAlloc-before.TotalAlloc) / float64(n)
}
