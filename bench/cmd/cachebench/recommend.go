package main

import (
	"fmt"
	"strconv"
	"strings"
)

// criterion is one number stores are compared on; lower is better.
type criterion struct {
	what  string // "the lowest miss ratio"
	short string // "miss ratio"
	value func(*result) float64
	// tie says whether a is as good as b, within the measurement's noise.
	tie  func(a, b float64) bool
	show func(*result) string
}

// The noise allowances: a miss ratio within 0.2 points or 3 % of
// another's, a latency or heap within 10 %, is a tie. p50 is what a hit
// costs (most requests are hits); p99 is dominated by misses and the
// origin.
var criteria = []criterion{
	{"the lowest miss ratio", "miss ratio", func(r *result) float64 { return r.MissRatio },
		func(a, b float64) bool { return a <= b+max(0.002, 0.03*b) }, func(r *result) string { return pct(r.MissRatio) }},
	{"the fastest hits (p50)", "p50", func(r *result) float64 { return float64(r.P50) },
		func(a, b float64) bool { return a <= 1.1*b }, func(r *result) string { return ms(r.P50) + " ms" }},
	{"the lowest p99 latency", "p99", func(r *result) float64 { return float64(r.P99) },
		func(a, b float64) bool { return a <= 1.1*b }, func(r *result) string { return ms(r.P99) + " ms" }},
	{"the smallest heap", "heap", func(r *result) float64 { return float64(r.HeapInuse) },
		func(a, b float64) bool { return a <= 1.1*b }, func(r *result) string { return mib(r.HeapInuse) + " MiB" }},
}

func pct(f float64) string { return strconv.FormatFloat(100*f, 'f', 1, 64) + " %" }

// restartPhrase says what a restart did to r's entries.
func restartPhrase(r *result) string {
	switch {
	case r.RestartChecked == 0:
		return "nothing held to try a restart with"
	case r.survives():
		return fmt.Sprintf("keeps its entries over a restart (%d/%d)", r.RestartKept, r.RestartChecked)
	default:
		return fmt.Sprintf("loses its entries on a restart (%d/%d kept)", r.RestartKept, r.RestartChecked)
	}
}

// best says, for each criterion, whether r is as good as the best of rs.
func best(r *result, rs []*result) []bool {
	out := make([]bool, len(criteria))
	for i, c := range criteria {
		out[i] = true
		for _, o := range rs {
			if !c.tie(c.value(r), c.value(o)) {
				out[i] = false
				break
			}
		}
	}
	return out
}

// dominates says whether a is as good as b on every criterion and on the
// restart, and beyond the noise better on one.
func dominates(a, b *result) bool {
	if b.survives() && !a.survives() {
		return false
	}
	better := a.survives() && !b.survives()
	for _, c := range criteria {
		if !c.tie(c.value(a), c.value(b)) {
			return false
		}
		if !c.tie(c.value(b), c.value(a)) {
			better = true
		}
	}
	return better
}

// recommend writes one sentence per measured store saying when to pick
// it, from the numbers alone: where it is best (within the noise), best
// among the stores that survive a restart, beaten everywhere by another,
// or what it trades against the store with the lowest miss ratio.
//
// A store that kept more than the budget (a server bounded by its own
// memory, not by -budget) is compared with the others on latency, heap
// and the restart, not on misses.
func recommend(rep *report) []string {
	budget := rep.Config.Budget
	var rs, bounded, survivors []*result
	for i := range rep.Results {
		r := &rep.Results[i]
		rs = append(rs, r)
		if !r.overBudget(budget) {
			bounded = append(bounded, r)
			if r.survives() {
				survivors = append(survivors, r)
			}
		}
	}
	var leader []*result
	for _, r := range bounded {
		if len(leader) == 0 || r.MissRatio < leader[0].MissRatio {
			leader = []*result{r}
		}
	}
	var out []string
	for _, r := range rs {
		var s string
		facts := fmt.Sprintf("miss ratio %s, p50 %s ms, p99 %s ms, heap %s MiB; it %s", pct(r.MissRatio), ms(r.P50), ms(r.P99), mib(r.HeapInuse), restartPhrase(r))
		if r.overBudget(budget) {
			s = fmt.Sprintf("%s was not held to the budget (it kept %s against %s), so its misses are not comparable: %s", r.Store, formatSize(r.StoredBytes), formatSize(budget), facts)
			var w []string
			for i, b := range best(r, rs) {
				if b && i > 0 {
					w = append(w, criteria[i].what)
				}
			}
			if len(w) > 0 {
				s += "; it has " + join(w)
			}
			out = append(out, s+".")
			continue
		}
		wins := names(best(r, bounded))
		var dom *result
		for _, o := range bounded {
			if o != r && dominates(o, r) && (dom == nil || o.MissRatio < dom.MissRatio) {
				dom = o
			}
		}
		switch {
		case len(bounded) == 1:
			s = fmt.Sprintf("%s is the only store measured: %s.", r.Store, facts)
		case len(wins) > 0 && dom == nil:
			s = fmt.Sprintf("Pick %s for %s: %s.", r.Store, join(wins), facts)
			if r.survives() && len(survivors) < len(bounded) {
				s = fmt.Sprintf("Pick %s for %s, and for a cache that survives a restart: %s.", r.Store, join(wins), facts)
			}
		case r.survives() && dom == nil && len(survivors) < len(bounded):
			s = fmt.Sprintf("Pick %s when the cache must survive a restart", r.Store)
			if w := names(best(r, survivors)); len(w) > 0 && len(survivors) > 1 {
				s += fmt.Sprintf(" and you want %s among the stores that do", join(w))
			}
			s += ": " + facts + "."
		case dom != nil:
			var vs []string
			for _, c := range criteria {
				vs = append(vs, fmt.Sprintf("%s %s against %s", c.short, c.show(dom), c.show(r)))
			}
			s = fmt.Sprintf("Skip %s for this workload: %s is as good or better on every count (%s)", r.Store, dom.Store, strings.Join(vs, ", "))
			if dom.survives() && !r.survives() {
				s += ", and keeps its entries over a restart"
			}
			s += "."
		default:
			l := leader[0]
			var gains []string
			for _, c := range criteria[1:] {
				if !c.tie(c.value(l), c.value(r)) {
					gains = append(gains, fmt.Sprintf("%s %s against %s", c.short, c.show(r), c.show(l)))
				}
			}
			what, verb := shortNames(r, l), "counts"
			if len(what) > 1 {
				verb = "count"
			}
			s = fmt.Sprintf("Pick %s over %s if %s %s for more than misses (%s against %s): %s; it %s.",
				r.Store, l.Store, join(what), verb, pct(r.MissRatio), pct(l.MissRatio), strings.Join(gains, ", "), restartPhrase(r))
		}
		if !r.filled(rep.Config.Budget) {
			s += " Its budget was never filled, so its miss ratio says nothing about eviction."
		}
		if r.Errors > 0 {
			s += fmt.Sprintf(" %d of its requests failed.", r.Errors)
		}
		out = append(out, s)
	}
	return out
}

// shortNames are the criteria other than miss ratio on which r beats l.
func shortNames(r, l *result) []string {
	var out []string
	for _, c := range criteria[1:] {
		if !c.tie(c.value(l), c.value(r)) {
			out = append(out, c.short)
		}
	}
	if len(out) == 0 {
		out = append(out, "small differences")
	}
	return out
}

func names(wins []bool) []string {
	var out []string
	for i, w := range wins {
		if w {
			out = append(out, criteria[i].what)
		}
	}
	return out
}

// join lists items in prose: "a", "a and b", "a, b and c".
func join(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}
