package inspect

import (
	"context"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cachestack/cachestack"
	"github.com/cachestack/cachestack/middleware"
)

// Page sizes of the entry list.
const (
	DefaultPageSize = 50
	MaxPageSize     = 500
)

// Options configure Handler. A nil *Options means the defaults.
type Options struct {
	// PageSize is the number of entries a page lists when the request
	// does not say; zero means DefaultPageSize. A request's limit is
	// capped at MaxPageSize.
	PageSize int
	// Clock returns the current time, for ages and remaining freshness;
	// nil means time.Now.
	Clock func() time.Time
}

// Handler returns the debug view of c. Its routes are relative to where
// it is mounted: ".../stats.json" gives the Stats, ".../entries.json" the
// entry list, anything else the HTML page. The entry list takes the query
// parameters q (a substring of the URL, case-insensitive), status (a
// status code), offset and limit.
func Handler(c *cachestack.Cache, opts *Options) http.Handler {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.PageSize <= 0 {
		o.PageSize = DefaultPageSize
	}
	o.PageSize = min(o.PageSize, MaxPageSize)
	if o.Clock == nil {
		o.Clock = time.Now
	}
	return &handler{c: c, o: o}
}

type handler struct {
	c *cachestack.Cache
	o Options
}

// Entry is one stored response as the entry list shows it.
type Entry struct {
	URL        string        `json:"url"`
	Method     string        `json:"method"`
	Status     int           `json:"status"`
	Size       int           `json:"size"` // body bytes
	Stored     time.Time     `json:"stored"`
	Age        time.Duration `json:"age"`
	Expires    time.Time     `json:"expires,omitzero"` // zero: never
	TTL        time.Duration `json:"ttl"`              // remaining freshness; negative when stale
	Stale      bool          `json:"stale"`
	HasVariant bool          `json:"has_vary,omitempty"`
}

// Page is a page of the entry list.
type Page struct {
	Entries []Entry `json:"entries"`
	Offset  int     `json:"offset"`
	Limit   int     `json:"limit"`
	// Next is the offset of the next page, or -1 when this is the last.
	Next int `json:"next"`
	// Query and Status are the filters applied.
	Query  string `json:"q,omitempty"`
	Status int    `json:"status,omitempty"`
	// Unsupported says why no entries can be listed.
	Unsupported string `json:"unsupported,omitempty"`
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "read-only: GET or HEAD", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	switch {
	case strings.HasSuffix(r.URL.Path, "/stats.json") || r.URL.Path == "stats.json":
		writeJSON(w, h.c.Stats())
	case strings.HasSuffix(r.URL.Path, "/entries.json") || r.URL.Path == "entries.json":
		p, err := h.page(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		writeJSON(w, p)
	default:
		p, err := h.page(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		s := h.c.Stats()
		if err := page.Execute(w, view{Stats: s, Counts: sortedCounts(s.Counts), Page: p, Base: "./", Now: h.o.Clock()}); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// page reads the filters and lists one page, holding no more than the
// page in memory.
func (h *handler) page(r *http.Request) (Page, error) {
	q := r.URL.Query()
	p := Page{Limit: h.o.PageSize, Next: -1, Query: q.Get("q")}
	var err error
	if v := q.Get("offset"); v != "" {
		if p.Offset, err = strconv.Atoi(v); err != nil || p.Offset < 0 {
			return p, errors.New("offset: want a number >= 0")
		}
	}
	if v := q.Get("limit"); v != "" {
		if p.Limit, err = strconv.Atoi(v); err != nil || p.Limit <= 0 {
			return p, errors.New("limit: want a number > 0")
		}
		p.Limit = min(p.Limit, MaxPageSize)
	}
	if v := q.Get("status"); v != "" {
		if p.Status, err = strconv.Atoi(v); err != nil {
			return p, errors.New("status: want a status code")
		}
	}
	needle := strings.ToLower(p.Query)
	now := h.o.Clock()
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	seen := 0
	p.Entries = []Entry{}
	for e, err := range h.c.Entries(ctx) {
		if err != nil {
			if errors.Is(err, errors.ErrUnsupported) {
				p.Unsupported = "the store does not list its keys"
			} else {
				p.Unsupported = "listing failed: " + err.Error()
			}
			break
		}
		if needle != "" && !strings.Contains(strings.ToLower(e.URL), needle) {
			continue
		}
		if p.Status != 0 && e.StatusCode != p.Status {
			continue
		}
		seen++
		if seen <= p.Offset {
			continue
		}
		if len(p.Entries) == p.Limit {
			p.Next = p.Offset + p.Limit
			break
		}
		x := Entry{
			URL: e.URL, Method: e.Method, Status: e.StatusCode, Size: len(e.Body),
			Stored: e.Created, Age: e.Age(now).Truncate(time.Second), Expires: e.Expires,
			Stale: e.Expired(now), HasVariant: len(e.VaryHeader) > 0,
		}
		if !e.Expires.IsZero() {
			x.TTL = e.Expires.Sub(now).Truncate(time.Second)
		}
		p.Entries = append(p.Entries, x)
	}
	return p, nil
}

type view struct {
	Stats  middleware.Stats
	Counts []count
	Page   Page
	Base   string // what links are relative to: the page's own folder, wherever it is mounted
	Now    time.Time
}

type count struct {
	Name  string
	Value int64
}

func sortedCounts(c middleware.Counts) []count {
	var out []count
	for _, m := range middleware.AllMetrics() {
		out = append(out, count{m.String(), c[m.String()]})
	}
	return out
}

func (v view) PageURL(offset int) string {
	q := url.Values{}
	if v.Page.Query != "" {
		q.Set("q", v.Page.Query)
	}
	if v.Page.Status != 0 {
		q.Set("status", strconv.Itoa(v.Page.Status))
	}
	q.Set("offset", strconv.Itoa(offset))
	q.Set("limit", strconv.Itoa(v.Page.Limit))
	return v.Base + "?" + q.Encode()
}

func (v view) Prev() int { return max(0, v.Page.Offset-v.Page.Limit) }

var page = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>cachestack</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222 }
table { border-collapse: collapse; margin: .5em 0 1.5em }
td, th { padding: .2em .7em; border-bottom: 1px solid #ddd; text-align: left }
td.n { text-align: right; font-variant-numeric: tabular-nums }
.open, .half-open { color: #b00; font-weight: bold }
.stale { color: #888 }
</style>
</head>
<body>
<h1>cachestack</h1>
<p>Breaker: <span id="breaker" class="{{.Stats.Breaker.State}}">{{.Stats.Breaker.State}}</span>
{{if .Stats.Breaker.Enabled}}(opens after {{.Stats.Breaker.Failures}} failures in a row; opened {{.Stats.Breaker.Opens}} times; {{.Stats.Breaker.ConsecutiveFailures}} failures now{{if not .Stats.Breaker.RetryAt.IsZero}}; next probe {{.Stats.Breaker.RetryAt.Format "15:04:05.000"}}{{end}}){{else}}(off){{end}}.
Store calls stuck past their deadline: <span id="stuck">{{.Stats.StuckCalls}}</span>.
Write-back: {{if .Stats.WriteBack.Enabled}}<span id="queued">{{.Stats.WriteBack.Queued}}</span> queued, {{.Stats.WriteBack.Bytes}} of {{.Stats.WriteBack.MaxBytes}} bytes{{else}}none (the store never blocks){{end}}.
<a href="{{.Base}}stats.json">stats.json</a> · <a href="{{.Base}}entries.json">entries.json</a></p>

<h2>Counts</h2>
<table id="counts">
{{range .Counts}}<tr><th>{{.Name}}</th><td class="n" id="count-{{.Name}}">{{.Value}}</td></tr>
{{end}}</table>

<h2>Store latency</h2>
<table id="latency">
<tr><th>op</th><th>calls</th><th>p50</th><th>p90</th><th>p99</th><th>max</th><th>deadline</th></tr>
{{range $op, $l := .Stats.StoreLatency}}<tr><th>{{$op}}</th><td class="n">{{$l.Count}}</td><td class="n">&lt;{{$l.P50}}</td><td class="n">&lt;{{$l.P90}}</td><td class="n">&lt;{{$l.P99}}</td><td class="n">&lt;{{$l.Max}}</td><td class="n">{{index $.Stats.Deadlines $op}}</td></tr>
{{end}}</table>

<h2>Entries</h2>
<form id="filter" method="get" action="{{.Base}}">
<label>URL contains <input name="q" value="{{.Page.Query}}"></label>
<label>status <input name="status" size="4" value="{{if .Page.Status}}{{.Page.Status}}{{end}}"></label>
<input type="hidden" name="limit" value="{{.Page.Limit}}">
<button type="submit">Filter</button>
</form>
{{if .Page.Unsupported}}<p id="unsupported">No entry list: {{.Page.Unsupported}}.</p>{{else}}
<table id="entries">
<tr><th>URL</th><th>method</th><th>status</th><th>size</th><th>age</th><th>expires in</th></tr>
{{range .Page.Entries}}<tr class="entry{{if .Stale}} stale{{end}}"><td class="url">{{.URL}}</td><td>{{.Method}}</td><td class="n">{{.Status}}</td><td class="n">{{.Size}}</td><td class="n">{{.Age}}</td><td class="n">{{if .Expires.IsZero}}never{{else}}{{.TTL}}{{end}}</td></tr>
{{else}}<tr><td colspan="6" id="none">no entries{{if or .Page.Query .Page.Status}} match{{end}}</td></tr>
{{end}}</table>
<p>{{if gt .Page.Offset 0}}<a id="prev" href="{{.PageURL .Prev}}">previous</a>{{end}}
{{if ge .Page.Next 0}}<a id="next" href="{{.PageURL .Page.Next}}">next</a>{{end}}</p>
{{end}}
</body>
</html>
`))
