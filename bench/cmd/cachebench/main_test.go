package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMain lets the test binary serve as the origin child process, as the
// cachebench binary does.
func TestMain(m *testing.M) {
	if os.Getenv(originEnv) != "" {
		if err := serveOrigin(); err != nil {
			os.Exit(1)
		}
		return
	}
	os.Exit(m.Run())
}

func TestZipfDeterministic(t *testing.T) {
	t.Parallel()
	draw := func(seed uint64) []int {
		z := newZipf(seed, 1.1, 1000)
		out := make([]int, 500)
		for i := range out {
			out[i] = z.next()
		}
		return out
	}
	a, b := draw(7), draw(7)
	assert.Equal(t, a, b, "same seed, same sequence")
	assert.NotEqual(t, a, draw(8), "another seed, another sequence")
	counts := make([]int, 1000)
	for _, v := range a {
		require.GreaterOrEqual(t, v, 0)
		require.Less(t, v, 1000)
		counts[v]++
	}
	assert.Greater(t, counts[0], counts[10], "index 0 is the most popular")
}

func TestHistQuantiles(t *testing.T) {
	t.Parallel()
	var h hist
	assert.Zero(t, h.quantile(0.5))
	for i := 1; i <= 1000; i++ {
		h.add(time.Duration(i) * time.Microsecond)
	}
	assert.InEpsilon(t, 500*time.Microsecond, h.quantile(0.5), 0.02)
	assert.InEpsilon(t, 990*time.Microsecond, h.quantile(0.99), 0.02)
	for _, v := range []uint64{0, 1, 63, 64, 65, 127, 128, 1e9, 1 << 62} {
		lo, w := lowerBound(bucketOf(v))
		assert.True(t, lo <= v && v < lo+w, "value %d in bucket [%d, %d)", v, lo, lo+w)
	}
	h.add(-time.Second) // a clock step back is counted as 0
	h.add(time.Duration(1<<63 - 1))
}

func TestParseConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give []string
		want string
	}{
		{[]string{"-stores", "memory,nope"}, `-stores: unknown store "nope"`},
		{[]string{"-budget", "lots"}, "-budget"},
		{[]string{"-budget", "0"}, "-budget"},
		{[]string{"-sizes", "1KiB,-3"}, "-sizes"},
		{[]string{"-sizes", "1TiB"}, "-sizes"},
		{[]string{"-urls", "1"}, "-urls is 1"},
		{[]string{"-duration", "0s"}, "-duration"},
		{[]string{"-warmup", "-1s"}, "-warmup"},
		{[]string{"-concurrency", "0"}, "-concurrency"},
		{[]string{"-latency", "-1ms"}, "-latency"},
		{[]string{"-zipf", "1"}, "-zipf"},
		{[]string{"-zipf", "NaN"}, "-zipf"},
		{[]string{"extra"}, "unexpected argument"},
		{[]string{"-nosuchflag"}, "not defined"},
	}
	for _, tt := range tests {
		_, err := parseConfig(tt.give, io.Discard)
		require.Error(t, err, "%v", tt.give)
		assert.Contains(t, err.Error(), tt.want, "%v", tt.give)
	}
}

func TestParseConfigDefaults(t *testing.T) {
	t.Parallel()
	c, err := parseConfig(nil, io.Discard)
	require.NoError(t, err)
	assert.Contains(t, c.Stores, "memory")
	assert.Greater(t, c.workloadBytes(), c.Budget, "the default workload does not fit in the cache")
	c, err = parseConfig([]string{"-stores", "disk, memory,disk", "-budget", "8MiB", "-sizes", "512,2KiB"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, []string{"disk", "memory"}, c.Stores)
	assert.Equal(t, int64(8<<20), c.Budget)
	assert.Equal(t, []int{512, 2048}, c.Sizes)
}

func TestFormatSize(t *testing.T) {
	t.Parallel()
	for give, want := range map[int64]string{1: "1B", 1024: "1KiB", 1536: "1.5KiB", 32 << 20: "32MiB", 3 << 30: "3GiB", 1<<20 + 1<<19: "1.5MiB"} {
		assert.Equal(t, want, formatSize(give))
		if n, err := parseSize(want); err == nil {
			assert.Equal(t, give, n)
		}
	}
}

func sampleReport() *report {
	c, _ := parseConfig([]string{"-stores", "memory,redis"}, io.Discard)
	return &report{
		Date:   time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC),
		Config: c,
		Results: []result{
			{Store: "memory", Kind: "typed", Requests: 1000, HitRatio: 0.8, MissRatio: 0.2, RPS: 12345, P50: 5 * time.Microsecond, P99: 3 * time.Millisecond, AllocsPerReq: 26.5, HeapInuse: 40 << 20, RSS: 60 << 20, StoredBytes: 30 << 20, Entries: 3000, WrittenBytes: 90 << 20, RestartChecked: 100},
			{Store: "a<b&c", Kind: "bytes", Requests: 10, HitRatio: 0.5, MissRatio: 0.5, RPS: 100, P50: time.Millisecond, P99: 9 * time.Millisecond, DiskBytes: 3 << 20, RestartChecked: 100, RestartKept: 100},
		},
		Skipped:  []skip{{Store: "redis", Reason: "no Redis at 127.0.0.1:1"}},
		Warnings: []string{"a<b&c: the budget was never filled"},
	}
}

func TestWriteTable(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	require.NoError(t, writeTable(&b, sampleReport()))
	out := b.String()
	for _, want := range []string{"miss %", "memory", "20.00", "12345", "0.005", "3.000", "26.5", "40.0", "lost 0/100", "kept 100/100", "3.0",
		"warning: a<b&c: the budget was never filled", "skipped: redis (no Redis at 127.0.0.1:1)"} {
		assert.Contains(t, out, want)
	}
}

func TestWriteCSV(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	require.NoError(t, writeCSV(&b, sampleReport()))
	rows, err := csv.NewReader(&b).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 3)
	assert.Equal(t, "store", rows[0][0])
	assert.Equal(t, []string{"memory", "typed", "1000", "0", "0.8000", "12345.0", "0.005", "3.000", "26.50"}, rows[1][:9])
}

func TestWriteJSON(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	require.NoError(t, writeJSON(&b, sampleReport()))
	var got report
	require.NoError(t, json.Unmarshal(b.Bytes(), &got))
	assert.Equal(t, sampleReport().Results, got.Results)
	assert.Equal(t, "redis", got.Skipped[0].Store)
	assert.Equal(t, 20000, got.Config.URLs)
}

// svgSeries parses an SVG and returns, per id of a <g>, the stores its
// marks carry (data-store) and the texts it holds.
func svgSeries(t *testing.T, b []byte) (stores map[string][]string, texts map[string][]string) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	stores, texts = map[string][]string{}, map[string][]string{}
	var group string
	var text *strings.Builder
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		require.NoError(t, err, "well-formed XML")
		switch tok := tok.(type) {
		case xml.StartElement:
			for _, a := range tok.Attr {
				switch a.Name.Local {
				case "id":
					if tok.Name.Local == "g" {
						group = a.Value
					}
				case "data-store":
					stores[group] = append(stores[group], a.Value)
				}
			}
			if tok.Name.Local == "text" {
				text = &strings.Builder{}
			}
		case xml.CharData:
			if text != nil {
				text.Write(tok)
			}
		case xml.EndElement:
			switch tok.Name.Local {
			case "g":
				group = ""
			case "text":
				if group != "" {
					texts[group] = append(texts[group], text.String())
				}
				text = nil
			}
		}
	}
	return stores, texts
}

func TestWriteSVG(t *testing.T) {
	t.Parallel()
	rep := sampleReport()
	rep.Recommendations = recommend(rep)
	var b bytes.Buffer
	require.NoError(t, writeSVG(&b, rep))
	stores, texts := svgSeries(t, b.Bytes())
	for _, id := range []string{"miss-ratio", "p50", "p99", "heap", "rss", "disk", "restart"} {
		assert.Equal(t, []string{"memory", "a<b&c"}, stores[id], "series %s: one mark per store", id)
	}
	assert.Contains(t, texts["miss-ratio"], "20.00 %")
	assert.Contains(t, texts["miss-ratio"], "50.00 %")
	assert.Len(t, texts["recommendations"], 2, "one sentence per store")
	assert.Len(t, texts["warnings"], 1)
	assert.Len(t, texts["skipped"], 1)
}

// TestSVGMissAxis shows that the miss-ratio axis ends just past the
// largest miss ratio, so that 6 % against 11 % is about half the bar
// against all of it, not 6 % of the width against 11 %.
func TestSVGMissAxis(t *testing.T) {
	t.Parallel()
	rep := sampleReport()
	rep.Results[0].MissRatio, rep.Results[1].MissRatio = 0.06, 0.11
	var b bytes.Buffer
	require.NoError(t, writeSVG(&b, rep))
	d := xml.NewDecoder(&b)
	var widths []float64
	inMiss := false
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		switch tok := tok.(type) {
		case xml.StartElement:
			attr := map[string]string{}
			for _, a := range tok.Attr {
				attr[a.Name.Local] = a.Value
			}
			if tok.Name.Local == "g" {
				inMiss = attr["id"] == "miss-ratio"
			}
			if inMiss && tok.Name.Local == "rect" {
				w, err := strconv.ParseFloat(attr["width"], 64)
				require.NoError(t, err)
				widths = append(widths, w)
			}
		}
	}
	require.Len(t, widths, 2)
	assert.InDelta(t, 0.06/0.11, widths[0]/widths[1], 0.01, "bars in proportion to the miss ratios")
	assert.Greater(t, widths[1], 150.0, "the largest bar spans most of its 200 px axis")
	assert.Equal(t, 0.12, niceCeil(0.11*1.05))
}

func TestRecommend(t *testing.T) {
	t.Parallel()
	c, _ := parseConfig(nil, io.Discard)
	base := result{WrittenBytes: 1 << 40, RestartChecked: 100}
	mk := func(name string, miss float64, p50, p99 time.Duration, heap uint64, kept int) result {
		r := base
		r.Store, r.MissRatio, r.P50, r.P99, r.HeapInuse, r.RestartKept = name, miss, p50, p99, heap, kept
		return r
	}
	us := time.Microsecond
	rep := &report{Config: c, Results: []result{
		mk("fast", 0.06, 5*us, time.Millisecond, 40<<20, 0),
		mk("slow", 0.11, 8*us, 5*time.Millisecond, 50<<20, 0),      // worse than fast on everything
		mk("durable", 0.09, 20*us, 8*time.Millisecond, 2<<20, 100), // survives, smallest heap
		mk("lean", 0.10, 6*us, 2*time.Millisecond, 20<<20, 0),      // a trade-off against fast
	}}
	got := recommend(rep)
	require.Len(t, got, 4)
	assert.Contains(t, got[0], "Pick fast for the lowest miss ratio, the fastest hits (p50) and the lowest p99 latency")
	assert.Contains(t, got[1], "Skip slow for this workload: fast is as good or better")
	assert.Contains(t, got[2], "Pick durable for the smallest heap, and for a cache that survives a restart")
	assert.Contains(t, got[3], "Pick lean over fast if heap counts for more than misses (10.0 % against 6.0 %)")

	server := mk("server", 0.01, 300*us, time.Millisecond/2, 1<<20, 100)
	server.StoredBytes = 10 * c.Budget
	rep.Results = append(rep.Results, server)
	got = recommend(rep)
	require.Len(t, got, 5)
	assert.Contains(t, got[0], "Pick fast for the lowest miss ratio", "a store over the budget does not take the lowest miss ratio")
	assert.Contains(t, got[4], "server was not held to the budget")
	assert.Contains(t, got[4], "it has the lowest p99 latency and the smallest heap")
	rep.Results = rep.Results[:4]

	rep.Results[1].WrittenBytes = 0
	assert.Contains(t, recommend(rep)[1], "Its budget was never filled")
	// The numbers decide, not the names: swap them and the sentences follow.
	rep.Results[0].Store, rep.Results[1].Store = "slow", "fast"
	assert.Contains(t, recommend(rep)[0], "Pick slow for the lowest miss ratio")
}

func TestParseTrace(t *testing.T) {
	t.Parallel()
	tr, err := readTrace("testdata/trace.txt", 4096)
	require.NoError(t, err)
	assert.Len(t, tr.paths, 41)
	assert.Len(t, tr.seq, 250)
	assert.Equal(t, 2, tr.skipped, "the POST and the 404")
	assert.Equal(t, "/hot", tr.paths[0])
	assert.Equal(t, "/items/0?page=2", tr.paths[1])
	assert.Equal(t, 1024, tr.sizes[0])
	assert.Equal(t, 2048, tr.sizes[1])
	assert.Equal(t, int64(1024+40*2048), tr.bytes())

	tr, err = parseTrace(strings.NewReader("/a\n/b 3KiB\n\n# c\n/a 9\n"), 100)
	require.NoError(t, err)
	assert.Equal(t, []string{"/a", "/b"}, tr.paths)
	assert.Equal(t, []int{100, 3072}, tr.sizes, "no size: the default; a repeat keeps the first")
	assert.Equal(t, []int32{0, 1, 0}, tr.seq)

	for give, want := range map[string]string{
		"/a\nftp://x/y\n":    "2: ",
		"/a 1 2\n":           "1: want",
		"/a lots\n":          "1: size",
		"relative/path\n":    "1: ",
		"# nothing\n":        "no requests",
		"http://%zz/ 1KiB\n": "1: bad URL",
	} {
		_, err := parseTrace(strings.NewReader(give), 100)
		require.Error(t, err, give)
		assert.Contains(t, err.Error(), want, give)
	}
}

func TestLimiter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(10)
		start := time.Now()
		for range 5 {
			require.NoError(t, l.wait(context.Background()))
		}
		assert.Equal(t, 400*time.Millisecond, time.Since(start), "five requests at 10/s: the fifth 0.4 s after the first (fake clock)")
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		assert.Error(t, l.wait(ctx), "a cancelled wait returns")
		assert.Nil(t, newLimiter(0), "no rate: no limiter")
	})
}

// TestRunShort is a whole run, kept short: one store, a small workload,
// the origin in a child process as by default. Redis is pointed at a port
// where nothing listens, to show how a store that cannot run is reported.
func TestRunShort(t *testing.T) {
	t.Setenv("CACHESTACK_REDIS_ADDR", "127.0.0.1:1")
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{
		"-stores", "memory,redis", "-urls", "200", "-budget", "64KiB", "-sizes", "1KiB",
		"-duration", "200ms", "-warmup", "50ms", "-latency", "0s", "-concurrency", "2",
		"-progress", "-json", dir + "/r.json", "-csv", dir + "/r.csv", "-svg", dir + "/r.svg",
	}, &stdout, &stderr, false)
	require.Equal(t, 0, code, "stderr: %s", stderr.String())
	assert.Contains(t, stdout.String(), "memory")
	assert.Contains(t, stdout.String(), "skipped: redis (no Redis at 127.0.0.1:1")
	assert.Contains(t, stderr.String(), "\rmemory: ", "progress line")
	b, err := os.ReadFile(dir + "/r.json")
	require.NoError(t, err)
	var r report
	require.NoError(t, json.Unmarshal(b, &r))
	require.Len(t, r.Results, 1)
	assert.Positive(t, r.Results[0].Requests)
	assert.Positive(t, r.Results[0].HitRatio)
	assert.Less(t, r.Results[0].HitRatio, 1.0, "the workload does not fit")
	assert.InDelta(t, 1, r.Results[0].HitRatio+r.Results[0].MissRatio, 1e-9)
	assert.Zero(t, r.Results[0].Errors)
	for _, f := range []string{"r.csv", "r.svg"} {
		fi, err := os.Stat(dir + "/" + f)
		require.NoError(t, err)
		assert.Positive(t, fi.Size())
	}
	assert.NotContains(t, stderr.String(), "warning:", "200 KiB of bodies do not fit in 64 KiB")
}

// runTrace runs cachebench on testdata/trace.txt over memory and disk with
// the budget given, and returns its stdout and report.
func runTrace(t *testing.T, budget string, extra ...string) (string, *report) {
	t.Helper()
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	args := append([]string{
		"-trace", "testdata/trace.txt", "-stores", "memory,disk", "-budget", budget, "-concurrency", "1",
		"-latency", "0s", "-dir", dir, "-json", dir + "/r.json", "-svg", dir + "/r.svg",
	}, extra...)
	code := run(context.Background(), args, &stdout, &stderr, false)
	require.Equal(t, 0, code, "stderr: %s", stderr.String())
	b, err := os.ReadFile(dir + "/r.json")
	require.NoError(t, err)
	var r report
	require.NoError(t, json.Unmarshal(b, &r))
	require.Len(t, r.Results, 2)
	svg, err := os.ReadFile(dir + "/r.svg")
	require.NoError(t, err)
	stores, texts := svgSeries(t, svg)
	for _, id := range []string{"miss-ratio", "p50", "p99", "heap", "rss", "disk", "restart"} {
		assert.Equal(t, []string{"memory", "disk"}, stores[id], "SVG series %s", id)
	}
	require.Len(t, texts["recommendations"], 2, "one recommendation per store in the SVG")
	require.Len(t, r.Recommendations, 2)
	for i, name := range []string{"memory", "disk"} {
		assert.Contains(t, r.Recommendations[i], name, "the sentence names its store")
		assert.Contains(t, stdout.String(), r.Recommendations[i])
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		assert.Contains(t, []string{"r.json", "r.svg"}, e.Name(), "the store directories are removed")
	}
	return stdout.String(), &r
}

// TestTraceBudgetWarning replays the trace in testdata (81 KiB of
// responses) with a budget it fills and with one it never fills: the
// warning fires in the second case only, for each store.
func TestTraceBudgetWarning(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir()) // nothing may land in the temporary directory: -dir is given
	out, r := runTrace(t, "24KiB")
	assert.NotContains(t, out, "warning:", "81 KiB through a 24 KiB budget: both stores evict")
	assert.Empty(t, r.Warnings)
	for _, x := range r.Results {
		assert.Greater(t, x.WrittenBytes, int64(24<<10), x.Store)
	}
	mem, disk := r.Results[0], r.Results[1]
	assert.False(t, mem.survives(), "memory loses its entries on a restart")
	assert.Positive(t, mem.RestartChecked)
	assert.Zero(t, mem.RestartKept)
	assert.True(t, disk.survives(), "disk keeps them: %d/%d", disk.RestartKept, disk.RestartChecked)
	assert.Positive(t, disk.DiskBytes, "disk's files were measured in -dir")
	assert.Zero(t, mem.DiskBytes)
	tmp, err := os.ReadDir(os.Getenv("TMPDIR"))
	require.NoError(t, err)
	assert.Empty(t, tmp, "nothing written to the temporary directory")

	out, r = runTrace(t, "1MiB")
	assert.Contains(t, out, "warning: the workload's 81KiB of distinct responses fit in the 1MiB budget")
	assert.Contains(t, out, "warning: memory: the budget was never filled")
	assert.Contains(t, out, "warning: disk: the budget was never filled")
	assert.Len(t, r.Warnings, 3)
	for i, x := range r.Results {
		assert.LessOrEqual(t, x.WrittenBytes, int64(1<<20))
		assert.Contains(t, r.Recommendations[i], "Its budget was never filled")
	}
}

// TestDirInMemory shows the warning for store files put in memory: -dir
// on a tmpfs (/dev/shm where it is one).
func TestDirInMemory(t *testing.T) {
	if name, mem := inMemoryFS("/dev/shm"); !mem {
		t.Skipf("/dev/shm is not a file system in memory here (%q)", name)
	}
	dir, err := os.MkdirTemp("/dev/shm", "cachebench-test-")
	require.NoError(t, err)
	defer os.RemoveAll(dir)
	var stdout bytes.Buffer
	code := run(context.Background(), []string{
		"-trace", "testdata/trace.txt", "-stores", "disk,memory", "-budget", "24KiB", "-concurrency", "1", "-latency", "0s", "-dir", dir,
	}, &stdout, io.Discard, false)
	require.Equal(t, 0, code)
	assert.Contains(t, stdout.String(), "warning: disk: its files were in "+dir+", a tmpfs in memory")
	assert.NotContains(t, stdout.String(), "warning: memory:", "memory keeps no files")
	assert.Contains(t, stdout.String(), "store files under "+dir)
}

// TestRealOrigin sends a trace to an origin given by -origin, at a bounded
// rate: the origin sees the trace's paths, and only the misses.
func TestRealOrigin(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	var total atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.URL.RequestURI()]++
		mu.Unlock()
		total.Add(1)
		w.Header().Set("Cache-Control", "max-age=600")
		w.Write(bytes.Repeat([]byte("x"), 2048))
	}))
	defer srv.Close()
	_, r := runTrace(t, "24KiB", "-origin", srv.URL+"/", "-rate", "5000", "-trace-warmup", "0")
	mu.Lock()
	defer mu.Unlock()
	assert.Contains(t, seen, "/items/7?page=2")
	assert.Contains(t, seen, "/hot")
	assert.NotContains(t, seen, "/missing", "a 404 in the log is left out")
	var misses int64
	for _, x := range r.Results {
		misses += int64(math.Round(x.MissRatio * float64(x.Requests)))
	}
	assert.Equal(t, misses, total.Load(), "the origin answered the misses and nothing else (the restart check asks it nothing)")
}

func TestParseConfigTraceErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give []string
		want string
	}{
		{[]string{"-origin", "http://x"}, "-origin needs -trace"},
		{[]string{"-trace", "testdata/trace.txt", "-origin", "http://x"}, "-origin needs -rate"},
		{[]string{"-trace", "testdata/trace.txt", "-origin", "ftp://x", "-rate", "1"}, "-origin \"ftp://x\""},
		{[]string{"-rate", "-1"}, "-rate"},
		{[]string{"-trace-warmup", "1"}, "-trace-warmup"},
		{[]string{"-trace", "testdata/nope.txt"}, "-trace open testdata/nope.txt"},
		{[]string{"-trace", "testdata/trace.txt", "-trace-size", "0"}, "-trace-size"},
		{[]string{"-dir", "testdata/trace.txt"}, "-dir \"testdata/trace.txt\": not a directory"},
	}
	for _, tt := range tests {
		_, err := parseConfig(tt.give, io.Discard)
		require.Error(t, err, "%v", tt.give)
		assert.Contains(t, err.Error(), tt.want, "%v", tt.give)
	}
}
