// Command cachebench runs a realistic workload through cachestack over each
// store and prints, per store, the hit ratio, requests per second, p50 and
// p99 latency, allocations per request, memory and bytes stored.
//
// A local origin (in a child process) answers every URL after a latency,
// cacheable for an hour; concurrent clients request URLs drawn from a Zipf
// distribution over a set larger than the cache budget, through an
// http.Client whose Transport is cachestack.New over the store. Each store
// is warmed up, then measured, then closed before the next.
//
//	go run ./bench/cmd/cachebench                       # every store, 3 s each
//	go run ./bench/cmd/cachebench -stores memory,disk -duration 10s -svg out.svg
//
// Stores that cannot run here (no adapter yet, no server) are listed as
// skipped with the reason.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
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
	if wb := c.workloadBytes(); wb <= c.Budget {
		fmt.Fprintf(stderr, "cachebench: note: the workload's %s fit in the %s budget; every store will approach a hit ratio of 1\n", formatSize(wb), formatSize(c.Budget))
	}
	o, err := startOrigin(c.Latency, c.Sizes, c.inProcessOrigin)
	if err != nil {
		return err
	}
	defer o.close()
	var prog *progress
	if tty || c.progress {
		prog = startProgress(stderr)
	}
	rep := &report{Date: time.Now(), Config: c}
	for _, name := range c.Stores {
		b, _ := backends.Lookup(name)
		r, err := runStore(ctx, c, b, o, prog)
		switch {
		case errors.Is(err, backends.ErrUnavailable):
			rep.Skipped = append(rep.Skipped, skip{Store: name, Reason: reason(err)})
		case err != nil:
			prog.Close()
			return fmt.Errorf("%s: %w", name, err)
		default:
			rep.Results = append(rep.Results, *r)
		}
		releaseMemory()
	}
	prog.Close()
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
