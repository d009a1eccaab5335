// Command cachebench helps choose a store for cachestack: it runs one
// workload through cachestack over each store and prints, per store, the
// miss ratio, requests per second, p50 and p99 latency, allocations per
// request, heap, RSS, bytes stored and on disk, and whether the entries
// survive a restart; then one sentence per store saying when to pick it,
// drawn from those numbers.
//
// The workload is either synthetic (URLs drawn from a Zipf distribution
// over a set larger than the cache budget) or a trace: a file of recorded
// requests, one per line, "URL [size]" or an access log line in the Common
// or Combined Log Format, replayed in order (see -h). The origin is local,
// a child process answering every URL after a latency, cacheable for an
// hour; or a real one (-origin), with -rate bounding the requests per
// second that reach it. Concurrent clients send the requests through an
// http.Client whose Transport is cachestack.New over the store.
//
// Each store is warmed up, measured, then closed and opened again with the
// same settings to see whether its popular entries are still there (a
// restart), then closed and its files or server namespace removed. Store
// files go into a directory under -dir. A store whose budget was never
// filled (nothing had to be evicted) is named in a warning: its miss ratio
// says nothing about its eviction.
//
//	go run ./bench/cmd/cachebench                       # every store, 3 s each
//	go run ./bench/cmd/cachebench -stores memory,disk -dir /var/tmp -svg out.svg
//	go run ./bench/cmd/cachebench -trace access.log -stores memory,disk
//	go run ./bench/cmd/cachebench -trace urls.txt -origin https://api.example.com -rate 5
//
// Stores that cannot run here (no server) are listed as skipped with the
// reason.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"time"

	"github.com/cachestack/cachestack/bench/internal/backends"
)

func main() {
	if os.Getenv(originEnv) != "" {
		if err := serveOrigin(); err != nil {
			fmt.Fprintln(os.Stderr, "cachebench origin:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr, isTerminal(os.Stderr)))
}

// run is main without the process: it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, tty bool) int {
	c, err := parseConfig(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "cachebench:", err)
		return 2
	}
	if err := bench(ctx, c, stdout, stderr, tty); err != nil {
		fmt.Fprintln(stderr, "cachebench:", err)
		return 1
	}
	return 0
}

func bench(ctx context.Context, c *config, stdout, stderr io.Writer, tty bool) error {
	rep := &report{Date: time.Now(), Config: c}
	if wb := c.workloadBytes(); wb <= c.Budget {
		rep.warn(fmt.Sprintf("the workload's %s of distinct responses fit in the %s budget: no store has to evict, so this comparison says nothing about eviction; lower -budget or widen the workload", formatSize(wb), formatSize(c.Budget)))
		fmt.Fprintln(stderr, "cachebench: warning:", rep.Warnings[0])
	}
	var o *origin
	if c.Origin != "" {
		o = &origin{url: c.Origin, close: func() error { return nil }}
	} else {
		var err error
		if o, err = startOrigin(c.Latency, originSizes(c), c.inProcessOrigin); err != nil {
			return err
		}
	}
	defer o.close()
	lim := newLimiter(c.Rate)
	var prog *progress
	if tty || c.progress {
		prog = startProgress(stderr)
	}
	for _, name := range c.Stores {
		b, _ := backends.Lookup(name)
		r, err := runStore(ctx, c, b, o, lim, prog)
		switch {
		case errors.Is(err, backends.ErrUnavailable):
			rep.Skipped = append(rep.Skipped, skip{Store: name, Reason: reason(err)})
		case err != nil:
			prog.Close()
			return fmt.Errorf("%s: %w", name, err)
		default:
			rep.Results = append(rep.Results, *r)
			if !r.filled(c.Budget) {
				rep.warn(fmt.Sprintf("%s: the budget was never filled (%s written against %s): no eviction happened, so its miss ratio says nothing about eviction", name, formatSize(r.WrittenBytes), formatSize(c.Budget)))
			}
			if r.overBudget(c.Budget) {
				rep.warn(fmt.Sprintf("%s: it kept %s against the %s budget (bounded by its server, not -budget): its miss ratio is not comparable with the others'", name, formatSize(r.StoredBytes), formatSize(c.Budget)))
			}
			if fsName, mem := inMemoryFS(c.Dir); mem && r.DiskBytes > 0 {
				rep.warn(fmt.Sprintf("%s: its files were in %s, a %s in memory: its latency is memory's, not a disk's; pass -dir on a disk", name, c.Dir, fsName))
			}
		}
		releaseMemory()
	}
	prog.Close()
	rep.Recommendations = recommend(rep)
	if err := writeTable(stdout, rep); err != nil {
		return err
	}
	for _, out := range []struct {
		path  string
		write func(io.Writer, *report) error
	}{{c.csv, writeCSV}, {c.json, writeJSON}, {c.svg, writeSVG}} {
		if out.path == "" {
			continue
		}
		if err := writeFile(out.path, rep, out.write); err != nil {
			return err
		}
	}
	return nil
}

// originSizes are the body sizes the local origin serves: the largest of
// a trace's, which bounds what its /s/ URLs may ask for.
func originSizes(c *config) []int {
	if c.trace == nil {
		return c.Sizes
	}
	return []int{slices.Max(c.trace.sizes)}
}

// reason is an ErrUnavailable error's text without the sentinel's.
func reason(err error) string {
	s := err.Error()
	if p := backends.ErrUnavailable.Error() + ": "; len(s) > len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}

func writeFile(path string, r *report, write func(io.Writer, *report) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f, r); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}
