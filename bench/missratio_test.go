package bench

import (
	"container/list"
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/cachestack/cachestack/bench/internal/backends"
	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/store"
)

// The replay behind TestMissRatio: it calls the stores directly (Get, then
// Set on a miss, as the cache does), so that what it measures is the
// eviction policy alone, not timing.
var (
	replayFull   = flag.Bool("replay", false, "TestMissRatio: replay the full-size traces and print the miss-ratio table")
	replayPrefix = flag.String("replay.stores", "", "TestMissRatio: replay only through the stores whose names start with this")
)

// replaySize is the shape of every trace of one run: the full run mirrors
// cachebench's defaults (20000 URLs of 1, 4 and 16 KiB bodies, 137 MiB in
// all, a 32 MiB budget); the short one, run by go test, is a tenth of it.
type replaySize struct {
	urls     int   // distinct URLs drawn from the Zipf distribution
	requests int   // requests counted, after warmup
	warmup   int   // requests replayed before counting
	budget   int64 // every store's byte budget
}

var (
	fullReplay  = replaySize{urls: 20000, requests: 1_000_000, warmup: 200_000, budget: 32 << 20}
	shortReplay = replaySize{urls: 2000, requests: 60_000, warmup: 20_000, budget: 32 << 20 / 10}
)

// replayBodies are the body sizes of URL i, by i mod 3, as cachebench's
// default -sizes.
var replayBodies = []int{1 << 10, 4 << 10, 16 << 10}

// trace is one deterministic request sequence: URL indexes, and whether
// each request is counted.
type trace struct {
	name    string
	ids     []int32
	counted []bool
}

// replayTraces builds the three traces of the table from fixed seeds:
//
//   - zipf-0.9, zipf-1.1: URL i requested with probability proportional to
//     1/(i+1)^s; the first warmup requests are not counted.
//   - scan: a Zipf hot set (s=1.1, warmup requests), then a one-off sweep
//     through cold URLs never requested before or after (three budgets'
//     worth of bodies: 96 MiB, about 14000 URLs, in the full run)
//     interleaved one to one with the Zipf requests, then as many Zipf
//     requests again. Counted: the Zipf requests during and after the
//     sweep; the sweep's own requests miss in every store and are left
//     out.
//   - drift: zipf-1.1 whose ranking shifts by urls/200 URLs a hundred
//     times over the trace (what is popular changes over time, which
//     favours recency); counted after warmup.
func replayTraces(sz replaySize) []trace {
	z09 := zipfTrace(sz.urls, 0.9, 1, sz.warmup+sz.requests)
	z11 := zipfTrace(sz.urls, 1.1, 2, sz.warmup+sz.requests)
	steady := func(name string, ids []int32) trace {
		c := make([]bool, len(ids))
		for i := sz.warmup; i < len(c); i++ {
			c[i] = true
		}
		return trace{name, ids, c}
	}

	// The sweep: cold URLs numbered from sz.urls on, until their bodies
	// add up to three budgets.
	var sweep []int32
	for id, b := sz.urls, int64(0); b < 3*sz.budget; id++ {
		sweep = append(sweep, int32(id))
		b += int64(replayBodies[id%len(replayBodies)])
	}
	hot := zipfTrace(sz.urls, 1.1, 3, sz.warmup+2*len(sweep))
	scan := trace{name: "scan"}
	for i, id := range hot {
		counted := i >= sz.warmup
		scan.ids, scan.counted = append(scan.ids, id), append(scan.counted, counted)
		if j := i - sz.warmup; j >= 0 && j < len(sweep) {
			scan.ids, scan.counted = append(scan.ids, sweep[j]), append(scan.counted, false)
		}
	}
	// Drift: zipf-1.1 whose ranking moves on by urls/200 every hundredth
	// of the trace: what is popular changes, as news does.
	drift := zipfTrace(sz.urls, 1.1, 4, sz.warmup+sz.requests)
	step := (sz.warmup + sz.requests) / 100
	for i, id := range drift {
		drift[i] = int32((int(id) + i/step*(sz.urls/200)) % sz.urls)
	}
	return []trace{steady("zipf-0.9", z09), steady("zipf-1.1", z11), scan, steady("drift", drift)}
}

// zipfTrace draws n URL indexes in [0, urls) with P(i) ∝ 1/(i+1)^s, from a
// PCG seeded with seed: the same on every platform. Unlike rand.Zipf it
// takes any s > 0, so s = 0.9 too.
func zipfTrace(urls int, s float64, seed uint64, n int) []int32 {
	cdf := make([]float64, urls)
	var sum float64
	for i := range cdf {
		sum += math.Pow(float64(i+1), -s)
		cdf[i] = sum
	}
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	ids := make([]int32, n)
	for i := range ids {
		j, _ := slices.BinarySearch(cdf, r.Float64()*sum)
		ids[i] = int32(min(j, urls-1))
	}
	return ids
}

// replayResult is one store's score on one trace.
type replayResult struct {
	store, trace       string
	requests, misses   int
	bytes, missedBytes int64
	err                error
}

func (r replayResult) missRatio() float64     { return float64(r.misses) / float64(r.requests) }
func (r replayResult) byteMissRatio() float64 { return float64(r.missedBytes) / float64(r.bytes) }

// replayStore is what the replay needs of a store.
type replayStore struct {
	name string
	open func(budget int64) (s store.Store[string, *cached.Response], settle func(), err error)
}

// replayStores are the stores of the table: cachestack's in-memory
// backends, diskstore and, as a reference, an exact LRU with the same byte
// budget. diskstore counts its budget in entry-file bytes (its header,
// the key, the encoded entry), a little more per response than
// cached.Response.Size, which the others count, so at one budget it
// holds slightly fewer responses.
func replayStores() []replayStore {
	var out []replayStore
	for _, name := range []string{"memory", "otter", "ristretto", "slab"} {
		b, ok := backends.Lookup(name)
		if !ok {
			panic("no backend " + name)
		}
		out = append(out, replayStore{name: name, open: func(budget int64) (store.Store[string, *cached.Response], func(), error) {
			in, err := b.Open(backends.Config{MaxBytes: budget})
			if err != nil {
				return nil, nil, err
			}
			return in.Store, in.Settle, nil
		}})
	}
	disk, _ := backends.Lookup("disk")
	out = append(out, replayStore{name: "disk", open: func(budget int64) (store.Store[string, *cached.Response], func(), error) {
		dir, err := backends.TempDir("", "replay-disk")
		if err != nil {
			return nil, nil, err
		}
		in, err := disk.Open(backends.Config{MaxBytes: budget, Dir: dir})
		if err != nil {
			os.RemoveAll(dir)
			return nil, nil, err
		}
		return removeOnClose{in.Store, dir}, nil, nil
	}})
	out = append(out, replayStore{name: "lru (exact, reference)", open: func(budget int64) (store.Store[string, *cached.Response], func(), error) {
		return newLRU(budget), nil, nil
	}})
	return out
}

// removeOnClose is a store whose Close also removes its directory.
type removeOnClose struct {
	store.Store[string, *cached.Response]
	dir string
}

func (r removeOnClose) Close() error {
	err := r.Store.Close()
	os.RemoveAll(r.dir)
	return err
}

// replayResponses returns the responses of URLs 0 to n-1: URL i's body has
// replayBodies[i mod 3] bytes (shared among responses of one size: the
// stores keep pointers) and a header of an API's usual size.
func replayResponses(n int) (keys []string, rs []*cached.Response) {
	bodies := make([][]byte, len(replayBodies))
	for i, n := range replayBodies {
		bodies[i] = make([]byte, n)
	}
	h := cached.NewHeader(http.Header{
		"Content-Type":  {"application/json"},
		"Cache-Control": {"public, max-age=3600"},
		"Date":          {"Sat, 05 Dec 2026 12:00:00 GMT"},
		"Etag":          {`"0123456789abcdef"`},
	})
	keys, rs = make([]string, n), make([]*cached.Response, n)
	for i := range rs {
		url := "https://origin.test/u/" + strconv.Itoa(i)
		keys[i] = "GET " + url
		rs[i] = &cached.Response{Method: http.MethodGet, URL: url, StatusCode: http.StatusOK, Proto: "HTTP/1.1", Header: h, Body: bodies[i%len(bodies)]}
	}
	return keys, rs
}

// replay runs tr through s: Get, and on a miss Set, for every request.
func replay(ctx context.Context, s store.Store[string, *cached.Response], settle func(), tr trace, keys []string, rs []*cached.Response) replayResult {
	res := replayResult{trace: tr.name}
	for i, id := range tr.ids {
		_, err := s.Get(ctx, keys[id])
		hit := err == nil
		if err != nil && err != store.ErrNotFound {
			res.err = err
			return res
		}
		if tr.counted[i] {
			res.requests++
			size := rs[id].Size()
			res.bytes += size
			if !hit {
				res.misses++
				res.missedBytes += size
			}
		}
		if !hit {
			if err := s.Set(ctx, keys[id], rs[id], 0); err != nil {
				res.err = err
				return res
			}
			if settle != nil {
				settle()
			}
		}
	}
	return res
}

// TestMissRatio replays deterministic Zipf traces (fixed seeds) through
// each in-memory store at one byte budget and reports the share of
// requests that miss, which is the share that goes to the origin. It
// fails if memstore misses more than otter on a Zipf or the scan trace.
// Its short version runs with go test; go test -run TestMissRatio -replay
// runs the full size and prints the table (bench/README.md). memstore's
// and the reference LRU's figures are deterministic up to memstore's hash
// seed; otter's and ristretto's depend a little on scheduling and, for
// ristretto, on random sampling.
func TestMissRatio(t *testing.T) {
	sz := shortReplay
	if *replayFull {
		sz = fullReplay
	} else {
		t.Parallel()
	}
	traces := replayTraces(sz)
	maxID := 0
	for _, tr := range traces {
		maxID = max(maxID, int(slices.Max(tr.ids)))
	}
	keys, rs := replayResponses(maxID + 1)

	var results []replayResult
	for _, rsd := range replayStores() {
		if !strings.HasPrefix(rsd.name, *replayPrefix) {
			continue
		}
		if rsd.name == "disk" && !*replayFull && *replayPrefix == "" {
			// A file per response: the short replay takes a minute and
			// more through diskstore, so go test leaves it out unless
			// -replay or -replay.stores asks for it. Its package tests
			// its eviction against an exact LRU (TestEvictionIsLRU).
			continue
		}
		for _, tr := range traces {
			s, settle, err := rsd.open(sz.budget)
			if err != nil {
				t.Fatalf("%s: %v", rsd.name, err)
			}
			start := time.Now()
			res := replay(t.Context(), s, settle, tr, keys, rs)
			res.store = rsd.name
			if err := s.Close(); err != nil {
				t.Errorf("%s close: %v", rsd.name, err)
			}
			if res.err != nil {
				t.Fatalf("%s on %s: %v", rsd.name, tr.name, res.err)
			}
			if res.misses == 0 || res.misses == res.requests {
				t.Errorf("%s on %s: %d misses in %d requests: the trace does not exercise eviction", rsd.name, tr.name, res.misses, res.requests)
			}
			t.Logf("%s on %s: miss ratio %.4f (%v)", rsd.name, tr.name, res.missRatio(), time.Since(start).Round(time.Millisecond))
			results = append(results, res)
		}
	}
	if *replayFull {
		writeMissTable(os.Stdout, sz, traces, results)
	}
	// The default store's target: at or below otter's miss ratio on the
	// Zipf and scan traces (drift is reported, not held to it). Neither
	// store is deterministic (random hash seeds; otter's sampling), and the
	// short replay of make test leaves them within about a point of each
	// other on the scan trace, so it allows one point; the full replay
	// (-replay) holds memory to otter exactly. Both must beat exact LRU
	// clearly, which the short replay shows by 5 points or more.
	slack := 0.01
	if *replayFull {
		slack = 0
	}
	byKey := map[[2]string]replayResult{}
	for _, r := range results {
		byKey[[2]string{r.store, r.trace}] = r
	}
	for _, tr := range []string{"zipf-0.9", "zipf-1.1", "scan"} {
		mem, ok1 := byKey[[2]string{"memory", tr}]
		otter, ok2 := byKey[[2]string{"otter", tr}]
		if ok1 && ok2 && mem.missRatio() > otter.missRatio()+slack {
			t.Errorf("on %s memory misses %.2f %% of requests, otter %.2f %%", tr, 100*mem.missRatio(), 100*otter.missRatio())
		}
		lru, ok3 := byKey[[2]string{"lru (exact, reference)", tr}]
		if ok1 && ok3 && mem.missRatio() > lru.missRatio()-0.03 {
			t.Errorf("on %s memory misses %.2f %% of requests, exact LRU %.2f %%: no better than LRU", tr, 100*mem.missRatio(), 100*lru.missRatio())
		}
	}
	// diskstore evicts by exact recency in its process: within a point of
	// exact LRU on every trace (its budget holds slightly fewer
	// responses), where eviction by modification time with a minute's
	// resolution was no better than random.
	for _, tr := range traces {
		disk, ok1 := byKey[[2]string{"disk", tr.name}]
		lru, ok2 := byKey[[2]string{"lru (exact, reference)", tr.name}]
		if ok1 && ok2 && disk.missRatio() > lru.missRatio()+0.01 {
			t.Errorf("on %s disk misses %.2f %% of requests, exact LRU %.2f %%", tr.name, 100*disk.missRatio(), 100*lru.missRatio())
		}
	}
}

// writeMissTable prints one row per store, miss ratio and byte miss ratio
// per trace.
func writeMissTable(w io.Writer, sz replaySize, traces []trace, results []replayResult) {
	fmt.Fprintf(w, "replay: %d URLs, bodies %v B by URL mod 3, budget %d MiB, %d counted requests per Zipf trace after %d\n",
		sz.urls, replayBodies, sz.budget>>20, sz.requests, sz.warmup)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "store\t")
	for _, tr := range traces {
		fmt.Fprintf(tw, "%s miss\t%s byte miss\t", tr.name, tr.name)
	}
	fmt.Fprintln(tw)
	for i := 0; i < len(results); i += len(traces) {
		fmt.Fprintf(tw, "%s\t", results[i].store)
		for _, r := range results[i : i+len(traces)] {
			fmt.Fprintf(tw, "%.2f %%\t%.2f %%\t", 100*r.missRatio(), 100*r.byteMissRatio())
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
}

// lru is an exact least-recently-used store with a byte budget counted by
// cached.Response.Size, the reference the policies are compared with. It
// is for the replay only: one goroutine, no ttl.
type lru struct {
	max, bytes int64
	order      *list.List // front: most recent; values are *lruEntry
	m          map[string]*list.Element
}

type lruEntry struct {
	key  string
	r    *cached.Response
	size int64
}

func newLRU(max int64) *lru { return &lru{max: max, order: list.New(), m: map[string]*list.Element{}} }

func (c *lru) Get(_ context.Context, key string) (*cached.Response, error) {
	e, ok := c.m[key]
	if !ok {
		return nil, store.ErrNotFound
	}
	c.order.MoveToFront(e)
	return e.Value.(*lruEntry).r, nil
}

func (c *lru) Set(_ context.Context, key string, r *cached.Response, _ time.Duration) error {
	_ = c.Delete(context.Background(), key)
	size := r.Size()
	if size > c.max {
		return store.ErrTooLarge
	}
	c.m[key] = c.order.PushFront(&lruEntry{key, r, size})
	c.bytes += size
	for c.bytes > c.max {
		_ = c.Delete(context.Background(), c.order.Back().Value.(*lruEntry).key)
	}
	return nil
}

func (c *lru) Delete(_ context.Context, key string) error {
	if e, ok := c.m[key]; ok {
		c.bytes -= e.Value.(*lruEntry).size
		c.order.Remove(e)
		delete(c.m, key)
	}
	return nil
}

func (c *lru) Close() error { return nil }
