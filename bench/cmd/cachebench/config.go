package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/cachestack/cachestack/bench/internal/backends"
)

// config is a validated command line.
type config struct {
	Stores      []string      `json:"stores"`
	URLs        int           `json:"urls"`
	Budget      int64         `json:"budget_bytes"`
	Sizes       []int         `json:"body_sizes"`
	Duration    time.Duration `json:"duration_ns"`
	Warmup      time.Duration `json:"warmup_ns"`
	Concurrency int           `json:"concurrency"`
	Latency     time.Duration `json:"origin_latency_ns"`
	ZipfS       float64       `json:"zipf_s"`
	Seed        uint64        `json:"seed"`
	// Trace is the trace file replayed instead of the Zipf workload; empty
	// for the Zipf workload.
	Trace       string  `json:"trace,omitempty"`
	TraceWarmup float64 `json:"trace_warmup,omitempty"`
	// Origin is the real origin the requests go to; empty for the local
	// one.
	Origin string `json:"origin,omitempty"`
	// Rate bounds the requests per second that reach the origin; 0 is no
	// bound.
	Rate               float64 `json:"origin_rate,omitempty"`
	Dir                string  `json:"dir"`
	IgnoreCacheControl bool    `json:"ignore_cache_control,omitempty"`

	progress        bool
	csv, json, svg  string
	inProcessOrigin bool
	trace           *trace
}

// workloadBytes is what every URL's body adds up to.
func (c *config) workloadBytes() int64 {
	if c.trace != nil {
		return c.trace.bytes()
	}
	var n int64
	for i := range c.URLs {
		n += int64(c.Sizes[i%len(c.Sizes)])
	}
	return n
}

const usage = `cachebench runs a workload of GET requests through cachestack over each
store and says which store to pick for it: miss ratio, p50 and p99 latency,
heap, RSS, bytes on disk, and whether the entries survive a restart.

The workload is a Zipf distribution over -urls URLs, or a trace (-trace) of
recorded requests replayed in order. The origin is local (a child process
answering every URL after -latency, cacheable for an hour), or a real one
(-origin, with -rate bounding the requests per second it receives).

A trace file holds one request per line: "URL [size]" (a URL or a path, and
the size of its response body, -trace-size when left out), or a line of an
access log in the Common or Combined Log Format (GET requests answered 200
are kept). Blank lines and lines starting with # are ignored.

Files of the stores that keep them (disk, sqlite) go into a directory made
for each store under -dir, removed afterwards.

Usage: cachebench [flags]
`

// parseConfig parses and validates args. Every error names the flag.
func parseConfig(args []string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("cachebench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	var (
		stores  = fs.String("stores", "all", "comma-separated stores to run, or all: "+strings.Join(backends.Names(), ", "))
		urls    = fs.Int("urls", 20000, "number of distinct URLs in the workload")
		budget  = fs.String("budget", "32MiB", "cache budget of each store (B, KiB, MiB, GiB)")
		sizes   = fs.String("sizes", "1KiB,4KiB,16KiB", "comma-separated body sizes; URL i gets size i mod the list")
		dur     = fs.Duration("duration", 3*time.Second, "measured time per store")
		warmup  = fs.Duration("warmup", time.Second, "unmeasured time per store before measuring, to fill the cache")
		conc    = fs.Int("concurrency", 8, "concurrent clients")
		latency = fs.Duration("latency", 2*time.Millisecond, "origin latency added to every response")
		zs      = fs.Float64("zipf", 1.1, "Zipf exponent s of URL popularity (> 1)")
		seed    = fs.Uint64("seed", 1, "random seed of the workload")
		inproc  = fs.Bool("origin-inprocess", false, "run the origin in this process (its allocations and memory then count too)")
		trc     = fs.String("trace", "", "replay this trace file (URL [size] per line, or an access log) instead of the Zipf workload")
		trSize  = fs.String("trace-size", "4KiB", "body size of trace lines that give none")
		trWarm  = fs.Float64("trace-warmup", 0.1, "share of the trace replayed before measuring, 0 to <1")
		orig    = fs.String("origin", "", "send requests to this real origin (http://host[:port][/prefix]) instead of the local one; needs -trace and -rate")
		rate    = fs.Float64("rate", 0, "requests per second that may reach the origin (0: no bound; required with -origin)")
		dir     = fs.String("dir", "", "directory for the store files of file-backed stores (default: the system's temporary directory, with a warning if it is in memory)")
		blind   = fs.Bool("ignore-cache-control", false, "cache in the header-blind mode (Options.IgnoreCacheControl), for an origin that sends no freshness")
		c       config
	)
	fs.BoolVar(&c.progress, "progress", false, "print a progress line on stderr even when it is not a terminal")
	fs.StringVar(&c.csv, "csv", "", "also write the results as CSV to this file")
	fs.StringVar(&c.json, "json", "", "also write the results as JSON to this file")
	fs.StringVar(&c.svg, "svg", "", "also write a bar chart of requests/s and hit ratio to this SVG file")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var err error
	if c.Stores, err = parseStores(*stores); err != nil {
		return nil, err
	}
	if c.Budget, err = parseSize(*budget); err != nil || c.Budget <= 0 {
		return nil, fmt.Errorf("-budget %q: want a positive size such as 32MiB", *budget)
	}
	for _, s := range strings.Split(*sizes, ",") {
		n, err := parseSize(strings.TrimSpace(s))
		if err != nil || n <= 0 || n > 64<<20 {
			return nil, fmt.Errorf("-sizes: %q is not a size between 1B and 64MiB", s)
		}
		c.Sizes = append(c.Sizes, int(n))
	}
	switch {
	case *urls < 2:
		return nil, fmt.Errorf("-urls is %d, want at least 2", *urls)
	case *dur <= 0:
		return nil, fmt.Errorf("-duration is %v, want > 0", *dur)
	case *warmup < 0:
		return nil, fmt.Errorf("-warmup is %v, want >= 0", *warmup)
	case *conc < 1 || *conc > 4096:
		return nil, fmt.Errorf("-concurrency is %d, want 1 to 4096", *conc)
	case *latency < 0:
		return nil, fmt.Errorf("-latency is %v, want >= 0", *latency)
	case !(*zs > 1) || math.IsInf(*zs, 0):
		return nil, fmt.Errorf("-zipf is %v, want a number > 1", *zs)
	}
	c.URLs, c.Duration, c.Warmup, c.Concurrency, c.Latency, c.ZipfS, c.Seed = *urls, *dur, *warmup, *conc, *latency, *zs, *seed
	c.inProcessOrigin, c.IgnoreCacheControl = *inproc, *blind
	switch {
	case !(*trWarm >= 0 && *trWarm < 1):
		return nil, fmt.Errorf("-trace-warmup is %v, want 0 to less than 1", *trWarm)
	case !(*rate >= 0) || math.IsInf(*rate, 0):
		return nil, fmt.Errorf("-rate is %v, want a number of requests per second >= 0", *rate)
	case *orig != "" && *trc == "":
		return nil, errors.New("-origin needs -trace: the paths to request from it")
	case *orig != "" && *rate == 0:
		return nil, errors.New("-origin needs -rate: the requests per second the origin may receive")
	}
	if *orig != "" {
		u, err := url.Parse(*orig)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
			return nil, fmt.Errorf("-origin %q: want http://host[:port][/prefix]", *orig)
		}
		c.Origin = strings.TrimRight(*orig, "/")
	}
	c.Rate = *rate
	if *trc != "" {
		ds, err := parseSize(*trSize)
		if err != nil || ds <= 0 || ds > 64<<20 {
			return nil, fmt.Errorf("-trace-size %q: want a size between 1B and 64MiB", *trSize)
		}
		if c.trace, err = readTrace(*trc, int(ds)); err != nil {
			return nil, fmt.Errorf("-trace %w", err)
		}
		c.Trace, c.TraceWarmup = *trc, *trWarm
		c.URLs = len(c.trace.paths)
	}
	c.Dir = *dir
	if c.Dir == "" {
		c.Dir = os.TempDir()
	} else if fi, err := os.Stat(c.Dir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("-dir %q: not a directory", c.Dir)
	}
	return &c, nil
}

// parseStores expands "all" and checks every name.
func parseStores(v string) ([]string, error) {
	if strings.TrimSpace(v) == "all" {
		return backends.Names(), nil
	}
	var out []string
	seen := map[string]bool{}
	for _, s := range strings.Split(v, ",") {
		s = strings.TrimSpace(s)
		if _, ok := backends.Lookup(s); !ok {
			return nil, fmt.Errorf("-stores: unknown store %q; known: %s", s, strings.Join(backends.Names(), ", "))
		}
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out, nil
}

var units = []struct {
	suffix string
	mult   int64
}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"k", 1 << 10}, {"B", 1}}

// parseSize reads a byte count: a whole number with an optional unit
// (B, KiB, MiB, GiB; K, M and G mean the same).
func parseSize(s string) (int64, error) {
	mult := int64(1)
	num := s
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			mult, num = u.mult, strings.TrimSuffix(s, u.suffix)
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil {
		return 0, err
	}
	if n < 0 || n > math.MaxInt64/mult {
		return 0, errors.New("out of range")
	}
	return n * mult, nil
}

// formatSize prints n bytes with a binary unit, exactly when it is a whole
// number of the unit and to a tenth otherwise.
func formatSize(n int64) string {
	for _, u := range []struct {
		shift  uint
		suffix string
	}{{30, "GiB"}, {20, "MiB"}, {10, "KiB"}} {
		switch {
		case n < 1<<u.shift:
			continue
		case n%(1<<u.shift) == 0:
			return strconv.FormatInt(n>>u.shift, 10) + u.suffix
		default:
			return strconv.FormatFloat(float64(n)/float64(int64(1)<<u.shift), 'f', 1, 64) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}
