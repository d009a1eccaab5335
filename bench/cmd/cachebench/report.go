package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// report is everything one cachebench run prints.
type report struct {
	Date    time.Time `json:"date"`
	Config  *config   `json:"config"`
	Results []result  `json:"results"`
	Skipped []skip    `json:"skipped"`
	// Warnings say what the numbers cannot show: a budget never filled,
	// store files in memory.
	Warnings []string `json:"warnings"`
	// Recommendations hold one sentence per store in Results, in order.
	Recommendations []string `json:"recommendations"`
}

func (r *report) warn(s string) { r.Warnings = append(r.Warnings, s) }

func mib(n uint64) string { return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) }

func ms(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 3, 64) }

// describe is the workload in one line.
func describe(c *config) string {
	var w string
	if t := c.trace; t != nil {
		w = fmt.Sprintf("trace %s: %d requests to %d URLs (%s of bodies), first %.0f %% unmeasured", c.Trace, len(t.seq), len(t.paths), formatSize(t.bytes()), 100*c.TraceWarmup)
	} else {
		w = fmt.Sprintf("%d URLs (%s of bodies %s), Zipf s=%g, %v per store after %v warm-up", c.URLs, formatSize(c.workloadBytes()), joinSizes(c.Sizes), c.ZipfS, c.Duration, c.Warmup)
	}
	w += fmt.Sprintf("; budget %s, %d clients", formatSize(c.Budget), c.Concurrency)
	if c.Origin != "" {
		w += ", origin " + c.Origin
	} else {
		w += fmt.Sprintf(", local origin latency %v", c.Latency)
	}
	if c.Rate > 0 {
		w += fmt.Sprintf(" at most %g req/s", c.Rate)
	}
	return w + "; store files under " + c.Dir
}

// restartCell is the restart column: kept/checked.
func restartCell(x *result) string {
	if x.RestartChecked == 0 {
		return "-"
	}
	word := "lost"
	if x.survives() {
		word = "kept"
	}
	return fmt.Sprintf("%s %d/%d", word, x.RestartKept, x.RestartChecked)
}

func diskCell(x *result) string {
	if x.DiskBytes < 0 {
		return "server"
	}
	return mib(uint64(x.DiskBytes))
}

// writeTable prints the human-readable table, the warnings, the skipped
// stores and the recommendations.
func writeTable(w io.Writer, r *report) error {
	fmt.Fprintf(w, "workload: %s\n", describe(r.Config))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "store\tkind\tmiss %\treq/s\tp50 ms\tp99 ms\tallocs/req\theap MiB\tRSS MiB\tstored MiB\tentries\tdisk MiB\trestart\terrors\t")
	for i := range r.Results {
		x := &r.Results[i]
		fmt.Fprintf(tw, "%s\t%s\t%.2f\t%.0f\t%s\t%s\t%.1f\t%s\t%s\t%s\t%d\t%s\t%s\t%d\t\n",
			x.Store, x.Kind, 100*x.MissRatio, x.RPS, ms(x.P50), ms(x.P99), x.AllocsPerReq,
			mib(x.HeapInuse), mib(x.RSS), mib(uint64(x.StoredBytes)), x.Entries, diskCell(x), restartCell(x), x.Errors)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "miss %: requests not answered from the cache in the measured phase. allocs/req: runtime Mallocs delta over it / requests (client, cache and store).")
	fmt.Fprintln(w, "heap: HeapInuse after a GC at the end, store open; RSS: /proc/self/statm then; stored: cached.Response.Size over live entries; disk: blocks of the store's files.")
	fmt.Fprintf(w, "restart: of the %d most requested responses the store held, how many it answered after being closed and opened again.\n", restartSample)
	for _, s := range r.Warnings {
		fmt.Fprintf(w, "warning: %s\n", s)
	}
	for _, s := range r.Skipped {
		fmt.Fprintf(w, "skipped: %s (%s)\n", s.Store, s.Reason)
	}
	if len(r.Recommendations) > 0 {
		fmt.Fprintln(w)
		for _, s := range r.Recommendations {
			fmt.Fprintln(w, s)
		}
	}
	return nil
}

func joinSizes(sizes []int) string {
	var s []string
	for _, n := range sizes {
		s = append(s, formatSize(int64(n)))
	}
	return strings.Join(s, ",")
}

// writeCSV writes one row per store, with a header row.
func writeCSV(w io.Writer, r *report) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"store", "kind", "requests", "errors", "hit_ratio", "requests_per_second", "p50_ms", "p99_ms", "allocs_per_request", "heap_inuse_bytes", "rss_bytes", "stored_bytes", "stored_entries", "miss_ratio", "disk_bytes", "written_bytes", "restart_checked", "restart_kept"})
	for _, x := range r.Results {
		cw.Write([]string{
			x.Store, x.Kind, strconv.FormatInt(x.Requests, 10), strconv.FormatInt(x.Errors, 10),
			strconv.FormatFloat(x.HitRatio, 'f', 4, 64), strconv.FormatFloat(x.RPS, 'f', 1, 64),
			ms(x.P50), ms(x.P99), strconv.FormatFloat(x.AllocsPerReq, 'f', 2, 64),
			strconv.FormatUint(x.HeapInuse, 10), strconv.FormatUint(x.RSS, 10),
			strconv.FormatInt(x.StoredBytes, 10), strconv.Itoa(x.Entries),
			strconv.FormatFloat(x.MissRatio, 'f', 4, 64), strconv.FormatInt(x.DiskBytes, 10), strconv.FormatInt(x.WrittenBytes, 10),
			strconv.Itoa(x.RestartChecked), strconv.Itoa(x.RestartKept),
		})
	}
	cw.Flush()
	return cw.Error()
}

// writeJSON writes the whole report, indented.
func writeJSON(w io.Writer, r *report) error {
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	return e.Encode(r)
}
