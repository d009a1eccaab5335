package main

import (
	"fmt"
	"html"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// The SVG is one row per store and one panel per question: misses (on an
// axis that starts at zero and ends just past the largest, so that 6 %
// against 11 % is half the bar against all of it), latency (p50 and p99 on
// a log axis, since a hit is microseconds and a miss milliseconds), memory
// (heap and RSS), bytes on disk, and the restart; then the warnings and
// the recommendations. Every series is a <g> whose id names it, each mark
// carries data-store, so that tests and scripts can find them.

const (
	svgLabelW = 110 // store names
	svgRowH   = 34
	svgTop    = 78 // above the first row: title, workload, panel titles
	svgGap    = 26
	svgTextW  = 1140 // where text is wrapped
	svgLineH  = 16
)

// svgPanel is one column of the chart.
type svgPanel struct {
	x, w  int
	title string
}

var svgPalette = struct{ miss, p50, p99, heap, rss, disk, kept, lost, grid, warn string }{
	"#c0392b", "#8fb3d9", "#1f4e89", "#e5a04b", "#8c5a1e", "#6a8f3c", "#2e7d32", "#b71c1c", "#dddddd", "#a35400",
}

// niceCeil is the smallest of 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 times a
// power of ten that is at least v: an axis end close above v.
func niceCeil(v float64) float64 {
	if !(v > 0) {
		return 1
	}
	e := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10} {
		if m*e >= v*(1-1e-9) {
			return m * e
		}
	}
	return 10 * e
}

// fmtLatency prints a decade of the latency axis.
func fmtLatency(d time.Duration) string {
	switch {
	case d >= time.Second:
		return strconv.FormatFloat(d.Seconds(), 'g', 3, 64) + " s"
	case d >= time.Millisecond:
		return strconv.FormatFloat(float64(d)/1e6, 'g', 3, 64) + " ms"
	case d >= time.Microsecond:
		return strconv.FormatFloat(float64(d)/1e3, 'g', 3, 64) + " µs"
	}
	return strconv.FormatInt(int64(d), 10) + " ns"
}

// wrap splits s into lines of at most n bytes at spaces.
func wrap(s string, n int) []string {
	var lines []string
	for len(s) > n {
		i := strings.LastIndexByte(s[:n], ' ')
		if i <= 0 {
			i = n
		}
		lines = append(lines, s[:i])
		s = strings.TrimLeft(s[i:], " ")
	}
	return append(lines, s)
}

// writeSVG draws the results (see above).
func writeSVG(w io.Writer, r *report) error {
	var b strings.Builder
	esc := html.EscapeString
	panels := []svgPanel{
		{svgLabelW + 10, 250, "miss ratio (lower is better)"},
		{0, 300, "latency p50 / p99, log scale"},
		{0, 200, "heap / RSS, MiB"},
		{0, 150, "on disk, MiB"},
		{0, 120, "restart"},
	}
	for i := 1; i < len(panels); i++ {
		panels[i].x = panels[i-1].x + panels[i-1].w + svgGap
	}
	last := panels[len(panels)-1]
	width := last.x + last.w + 20
	n := len(r.Results)
	rowsEnd := svgTop + n*svgRowH

	// The text under the chart, wrapped, to size the picture.
	var notes []struct{ id, color, text string }
	for _, s := range r.Warnings {
		notes = append(notes, struct{ id, color, text string }{"warnings", svgPalette.warn, "warning: " + s})
	}
	for _, s := range r.Recommendations {
		notes = append(notes, struct{ id, color, text string }{"recommendations", "#000000", s})
	}
	for _, s := range r.Skipped {
		notes = append(notes, struct{ id, color, text string }{"skipped", "#666666", "skipped: " + s.Store + " (" + s.Reason + ")"})
	}
	textLines := 0
	for _, nt := range notes {
		textLines += len(wrap(nt.text, svgTextW/6))
	}
	height := rowsEnd + 24 + textLines*svgLineH + 2*8

	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="10" y="20" font-size="15" font-weight="bold">cachebench %s: which store for this workload?</text>`+"\n", r.Date.Format("2006-01-02"))
	fmt.Fprintf(&b, `<text x="10" y="38" fill="#444">%s</text>`+"\n", esc(describe(r.Config)))
	for _, p := range panels {
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-weight="bold">%s</text>`+"\n", p.x, svgTop-22, esc(p.title))
	}
	// Store names and row stripes.
	for i, x := range r.Results {
		y := svgTop + i*svgRowH
		if i%2 == 1 {
			fmt.Fprintf(&b, `<rect x="0" y="%d" width="%d" height="%d" fill="#f6f6f6"/>`+"\n", y, width, svgRowH)
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" font-weight="bold">%s</text>`+"\n", svgLabelW, y+svgRowH/2+4, esc(x.Store))
	}

	// axis draws gridlines and tick labels for a panel; pos maps a value
	// to 0..1 of the panel's width.
	axis := func(p svgPanel, ticks []float64, pos func(float64) float64, label func(float64) string) {
		b.WriteString(`<g class="axis">` + "\n")
		// Every tick has its gridline; labels skip ticks closer than 44 px.
		every := 1
		if len(ticks) > 1 {
			every = int(math.Ceil(44 / (float64(p.w-50) / float64(len(ticks)-1))))
		}
		for i, t := range ticks {
			x := float64(p.x) + pos(t)*float64(p.w-50)
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s"/>`+"\n", x, svgTop-14, x, rowsEnd, svgPalette.grid)
			if i%every == 0 {
				fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" font-size="10" fill="#555">%s</text>`+"\n", x, svgTop-4, esc(label(t)))
			}
		}
		b.WriteString("</g>\n")
	}
	// bars draws one series: a bar per store in the given slot (0: the
	// whole row, 1: its upper half, 2: its lower half) with its value.
	bars := func(id string, p svgPanel, slot int, color string, pos func(*result) (float64, bool), label func(*result) string) {
		fmt.Fprintf(&b, `<g id="%s">`+"\n", id)
		for i := range r.Results {
			x := &r.Results[i]
			y, h := svgTop+i*svgRowH+6, svgRowH-12
			switch slot {
			case 1:
				y, h = svgTop+i*svgRowH+4, svgRowH/2-5
			case 2:
				y, h = svgTop+i*svgRowH+svgRowH/2+1, svgRowH/2-5
			}
			v, ok := pos(x)
			if !ok {
				fmt.Fprintf(&b, `<text data-store="%s" x="%d" y="%d" fill="#666">%s</text>`+"\n", esc(x.Store), p.x, y+h-2, esc(label(x)))
				continue
			}
			bw := math.Max(v*float64(p.w-50), 1)
			fmt.Fprintf(&b, `<rect data-store="%s" x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n", esc(x.Store), p.x, y, bw, h, color)
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="%d">%s</text>`+"\n", float64(p.x)+bw+3, y+h-2, min(11, h+1), esc(label(x)))
		}
		b.WriteString("</g>\n")
	}

	// Misses: 0 to just past the largest.
	var maxMiss float64
	for _, x := range r.Results {
		maxMiss = max(maxMiss, x.MissRatio)
	}
	missEnd := niceCeil(maxMiss * 1.05)
	linear := func(end float64) func(float64) float64 { return func(v float64) float64 { return min(v/end, 1) } }
	missTicks := []float64{0, missEnd / 4, missEnd / 2, 3 * missEnd / 4, missEnd}
	axis(panels[0], missTicks, linear(missEnd), func(v float64) string { return strconv.FormatFloat(100*v, 'g', 3, 64) + "%" })
	bars("miss-ratio", panels[0], 0, svgPalette.miss,
		func(x *result) (float64, bool) { return linear(missEnd)(x.MissRatio), true },
		func(x *result) string { return strconv.FormatFloat(100*x.MissRatio, 'f', 2, 64) + " %" })

	// Latency: decades from below the smallest p50 to above the largest p99.
	lo, hi := math.Inf(1), 0.0
	for _, x := range r.Results {
		for _, d := range []time.Duration{x.P50, x.P99} {
			if d > 0 {
				lo, hi = min(lo, float64(d)), max(hi, float64(d))
			}
		}
	}
	if hi == 0 {
		lo, hi = 1e3, 1e6
	}
	lo, hi = math.Pow(10, math.Floor(math.Log10(lo))), math.Pow(10, math.Ceil(math.Log10(hi)))
	if hi <= lo {
		hi = lo * 10
	}
	logPos := func(v float64) float64 {
		if v <= lo {
			return 0
		}
		return math.Log10(v/lo) / math.Log10(hi/lo)
	}
	var latTicks []float64
	for t := lo; t <= hi*1.0001; t *= 10 {
		latTicks = append(latTicks, t)
	}
	axis(panels[1], latTicks, logPos, func(v float64) string { return fmtLatency(time.Duration(v)) })
	bars("p50", panels[1], 1, svgPalette.p50,
		func(x *result) (float64, bool) { return logPos(float64(x.P50)), true },
		func(x *result) string { return "p50 " + fmtLatency(x.P50.Round(time.Microsecond/10)) })
	bars("p99", panels[1], 2, svgPalette.p99,
		func(x *result) (float64, bool) { return logPos(float64(x.P99)), true },
		func(x *result) string { return "p99 " + fmtLatency(x.P99.Round(time.Microsecond)) })

	// Memory: heap and RSS on one linear axis.
	var maxMem float64
	for _, x := range r.Results {
		maxMem = max(maxMem, float64(x.HeapInuse), float64(x.RSS))
	}
	memEnd := niceCeil(maxMem * 1.05 / (1 << 20))
	memTicks := []float64{0, memEnd / 2, memEnd}
	axis(panels[2], memTicks, linear(memEnd), func(v float64) string { return strconv.FormatFloat(v, 'g', 3, 64) })
	bars("heap", panels[2], 1, svgPalette.heap,
		func(x *result) (float64, bool) { return linear(memEnd)(float64(x.HeapInuse) / (1 << 20)), true },
		func(x *result) string { return "heap " + mib(x.HeapInuse) })
	bars("rss", panels[2], 2, svgPalette.rss,
		func(x *result) (float64, bool) { return linear(memEnd)(float64(x.RSS) / (1 << 20)), true },
		func(x *result) string { return "RSS " + mib(x.RSS) })

	// Disk.
	var maxDisk float64
	for _, x := range r.Results {
		maxDisk = max(maxDisk, float64(x.DiskBytes)/(1<<20))
	}
	diskEnd := niceCeil(maxDisk * 1.05)
	axis(panels[3], []float64{0, diskEnd / 2, diskEnd}, linear(diskEnd), func(v float64) string { return strconv.FormatFloat(v, 'g', 3, 64) })
	bars("disk", panels[3], 0, svgPalette.disk,
		func(x *result) (float64, bool) {
			return linear(diskEnd)(float64(x.DiskBytes) / (1 << 20)), x.DiskBytes >= 0
		},
		func(x *result) string {
			if x.DiskBytes < 0 {
				return "on its server"
			}
			return mib(uint64(x.DiskBytes))
		})

	// Restart.
	b.WriteString(`<g id="restart">` + "\n")
	for i := range r.Results {
		x := &r.Results[i]
		y := svgTop + i*svgRowH + svgRowH/2 + 4
		color, mark := svgPalette.lost, "✗"
		if x.survives() {
			color, mark = svgPalette.kept, "✓"
		}
		fmt.Fprintf(&b, `<text data-store="%s" x="%d" y="%d" fill="%s"><tspan font-weight="bold">%s</tspan> %s</text>`+"\n",
			esc(x.Store), panels[4].x, y, color, mark, esc(restartCell(x)))
	}
	b.WriteString("</g>\n")

	// Text under the chart, a group per kind.
	y := rowsEnd + 30
	prev := ""
	for _, nt := range notes {
		if nt.id != prev {
			if prev != "" {
				b.WriteString("</g>\n")
				y += 8
			}
			fmt.Fprintf(&b, `<g id="%s">`+"\n", nt.id)
			prev = nt.id
		}
		lines := wrap(nt.text, svgTextW/6)
		fmt.Fprintf(&b, `<text x="10" y="%d" fill="%s">`, y, nt.color)
		for j, l := range lines {
			dy := 0
			if j > 0 {
				dy = svgLineH
			}
			fmt.Fprintf(&b, `<tspan x="10" dy="%d">%s</tspan>`, dy, esc(l))
		}
		b.WriteString("</text>\n")
		y += len(lines) * svgLineH
	}
	if prev != "" {
		b.WriteString("</g>\n")
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}
