package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html"
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
}

func mib(n uint64) string { return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) }

func ms(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 3, 64) }

// writeTable prints the human-readable table and the skipped stores.
func writeTable(w io.Writer, r *report) error {
	c := r.Config
	fmt.Fprintf(w, "workload: %d URLs (%s of bodies %s), Zipf s=%g, budget %s, %d clients, origin latency %v, %v per store after %v warm-up\n",
		c.URLs, formatSize(c.workloadBytes()), joinSizes(c.Sizes), c.ZipfS, formatSize(c.Budget), c.Concurrency, c.Latency, c.Duration, c.Warmup)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "store\tkind\thit ratio\treq/s\tp50 ms\tp99 ms\tallocs/req\theap MiB\tRSS MiB\tstored MiB\tentries\terrors\t")
	for _, x := range r.Results {
		fmt.Fprintf(tw, "%s\t%s\t%.3f\t%.0f\t%s\t%s\t%.1f\t%s\t%s\t%s\t%d\t%d\t\n",
			x.Store, x.Kind, x.HitRatio, x.RPS, ms(x.P50), ms(x.P99), x.AllocsPerReq,
			mib(x.HeapInuse), mib(x.RSS), mib(uint64(x.StoredBytes)), x.Entries, x.Errors)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "allocs/req: runtime Mallocs delta over the measured phase / requests (client, cache and store; the origin runs in another process).")
	fmt.Fprintln(w, "heap: runtime HeapInuse after a GC at the end of the run, store still open; RSS: /proc/self/statm then; stored: sum of cached.Response.Size over live entries.")
	for _, s := range r.Skipped {
		fmt.Fprintf(w, "skipped: %s (%s)\n", s.Store, s.Reason)
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
	cw.Write([]string{"store", "kind", "requests", "errors", "hit_ratio", "requests_per_second", "p50_ms", "p99_ms", "allocs_per_request", "heap_inuse_bytes", "rss_bytes", "stored_bytes", "stored_entries"})
	for _, x := range r.Results {
		cw.Write([]string{
			x.Store, x.Kind, strconv.FormatInt(x.Requests, 10), strconv.FormatInt(x.Errors, 10),
			strconv.FormatFloat(x.HitRatio, 'f', 4, 64), strconv.FormatFloat(x.RPS, 'f', 1, 64),
			ms(x.P50), ms(x.P99), strconv.FormatFloat(x.AllocsPerReq, 'f', 2, 64),
			strconv.FormatUint(x.HeapInuse, 10), strconv.FormatUint(x.RSS, 10),
			strconv.FormatInt(x.StoredBytes, 10), strconv.Itoa(x.Entries),
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

// writeSVG draws two horizontal bar charts, requests/s and hit ratio, one
// bar per store.
func writeSVG(w io.Writer, r *report) error {
	const (
		labelW = 140
		barW   = 300
		gap    = 40
		rowH   = 22
		top    = 50
	)
	n := len(r.Results)
	width := 2*(labelW+barW) + gap + 20
	height := top + n*rowH + 30
	var maxRPS float64
	for _, x := range r.Results {
		maxRPS = max(maxRPS, x.RPS)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="10" y="18" font-size="14" font-weight="bold">cachebench %s: %d URLs, budget %s, %d clients, latency %v</text>`+"\n",
		r.Date.Format("2006-01-02"), r.Config.URLs, formatSize(r.Config.Budget), r.Config.Concurrency, r.Config.Latency)
	panel := func(x0 int, title, color string, value func(result) float64, scale float64, label func(result) string) {
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-weight="bold">%s</text>`+"\n", x0+labelW, top-12, html.EscapeString(title))
		for i, x := range r.Results {
			y := top + i*rowH
			bw := 0.0
			if scale > 0 {
				bw = value(x) / scale * barW
			}
			fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", x0+labelW-6, y+14, html.EscapeString(x.Store))
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n", x0+labelW, y+2, bw, rowH-6, color)
			fmt.Fprintf(&b, `<text x="%.1f" y="%d">%s</text>`+"\n", float64(x0+labelW)+bw+4, y+14, html.EscapeString(label(x)))
		}
	}
	panel(0, "requests/s", "#3b6ea5", func(x result) float64 { return x.RPS }, maxRPS, func(x result) string { return strconv.FormatFloat(x.RPS, 'f', 0, 64) })
	panel(labelW+barW+gap, "hit ratio", "#e08a2c", func(x result) float64 { return x.HitRatio }, 1, func(x result) string { return strconv.FormatFloat(100*x.HitRatio, 'f', 1, 64) + "%" })
	if len(r.Skipped) > 0 {
		var s []string
		for _, k := range r.Skipped {
			s = append(s, k.Store+" ("+k.Reason+")")
		}
		fmt.Fprintf(&b, `<text x="10" y="%d" fill="#666">skipped: %s</text>`+"\n", height-10, html.EscapeString(strings.Join(s, ", ")))
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}
