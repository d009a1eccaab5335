package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cachestack/cachestack"
	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/codec"
	"github.com/cachestack/cachestack/keyer"
	"github.com/cachestack/cachestack/policy"
	"github.com/cachestack/cachestack/store"
)

// withBackend opens the cache args[0] names, runs fn, and closes it.
func withBackend(ctx context.Context, c *common, args []string, write bool, fn func(b *backend) error) error {
	b, err := open(ctx, args[0], c.storeOptions, write)
	if err != nil {
		return err
	}
	defer b.close()
	return fn(b)
}

// tally counts what a walk met.
type tally struct {
	keys       int // keys listed
	entries    int // entries read
	unreadable int // entries that do not decode
}

// notCache returns a notCacheError for a backend whose keys may be
// another program's (a Redis namespace) when they held keys and not one
// cache entry.
func (t tally) notCache(b *backend) error {
	if b.foreign && t.entries == 0 && t.unreadable > 0 {
		return &notCacheError{fmt.Sprintf("%s is not a cache: its %d keys hold no cache entry", b.location, t.unreadable)}
	}
	return nil
}

// checkForeign refuses, before anything is deleted, a backend whose keys
// may be another program's and hold not one cache entry. It reads up to
// the first entry that decodes.
func checkForeign(ctx context.Context, b *backend) error {
	if !b.foreign {
		return nil
	}
	t, err := walk(ctx, b, func(string, *cached.Response) error { return errStop })
	if err != nil {
		return err
	}
	return t.notCache(b)
}

// errStop ends a walk early without an error.
var errStop = errors.New("stop")

// walk reads every entry of b, one at a time, and calls fn with it. Keys
// that vanish while it runs are skipped; entries that do not decode are
// counted and skipped. fn may delete entries.
//
// The variant a Vary index holds inline (cached.Response.Variant) is a
// response: fn is called with it under its variant key (its Ref) after the
// index, and with each variant once, whether it is stored inline, under its
// own key, or both (the copy read first).
func walk(ctx context.Context, b *backend, fn func(key string, e *cached.Response) error) (tally, error) {
	var t tally
	seen := map[string]bool{} // variant keys met
	call := func(key string, e *cached.Response) error {
		if e.Kind == cached.KindResponse && e.Ref == key {
			if seen[key] {
				return nil
			}
			seen[key] = true
		}
		if err := fn(key, e); err != nil {
			return err
		}
		if v := e.Inline(); v != nil && !seen[v.Ref] {
			seen[v.Ref] = true
			return fn(v.Ref, v)
		}
		return nil
	}
	for key, err := range b.keys(ctx) {
		if err != nil {
			return t, err
		}
		t.keys++
		e, err := b.s.Get(ctx, key)
		switch {
		case errors.Is(err, store.ErrNotFound):
			continue
		case errors.Is(err, codec.ErrFormat):
			t.unreadable++
			continue
		case err != nil:
			return t, err
		}
		t.entries++
		if err := call(key, e); err != nil {
			if errors.Is(err, errStop) {
				return t, nil
			}
			return t, err
		}
	}
	return t, nil
}

// matcher selects entries by URL: an absolute URL exactly (as the cache
// normalises it), or a pattern as in cachestack.Options.URLExpiry.
type matcher struct {
	arg   string
	exact string
	glob  *policy.Glob
	hits  int
}

var urlKeyer, _ = keyer.New(nil)

// isExact reports whether arg is an absolute URL rather than a pattern.
func isExact(arg string) bool { return strings.Contains(arg, "://") && !strings.ContainsAny(arg, "*[") }

func newMatcher(arg string) (*matcher, error) {
	if isExact(arg) {
		r, err := urlKeyer.KeyOf(http.MethodGet, arg)
		if err != nil {
			return nil, usageError(fmt.Sprintf("%s: %v", arg, err))
		}
		return &matcher{arg: arg, exact: r.URL}, nil
	}
	g, err := policy.CompileGlob(arg)
	if err != nil {
		return nil, usageError(err.Error())
	}
	return &matcher{arg: arg, glob: g}, nil
}

func (m *matcher) match(u string) bool {
	if m.glob != nil {
		return m.glob.Match(u)
	}
	return u == m.exact
}

func matchers(args []string) ([]*matcher, error) {
	var ms []*matcher
	for _, a := range args {
		m, err := newMatcher(a)
		if err != nil {
			return nil, err
		}
		ms = append(ms, m)
	}
	return ms, nil
}

// anyMatch reports whether u matches one of ms (or ms is empty), and
// counts the hit.
func anyMatch(ms []*matcher, u string) bool {
	hit := len(ms) == 0
	for _, m := range ms {
		if m.match(u) {
			m.hits++
			hit = true
		}
	}
	return hit
}

// entryJSON is an entry as ls --json and show --json print it.
type entryJSON struct {
	Key     string     `json:"key"`
	Method  string     `json:"method"`
	URL     string     `json:"url"`
	Status  int        `json:"status"`
	Size    int        `json:"size"` // body bytes
	Created time.Time  `json:"created"`
	Expires *time.Time `json:"expires"` // null: never
	Stale   bool       `json:"stale"`
	// Vary names the request header fields the response was chosen by;
	// the request's values are not stored (only digests), nor printed.
	Vary []string `json:"vary,omitempty"`
}

func toJSON(key string, e *cached.Response, now time.Time) entryJSON {
	j := entryJSON{Key: key, Method: e.Method, URL: e.URL, Status: e.StatusCode, Size: len(e.Body),
		Created: e.Created.UTC(), Stale: e.Expired(now)}
	if !e.Expires.IsZero() {
		t := e.Expires.UTC()
		j.Expires = &t
	}
	for name := range e.VaryHeader {
		j.Vary = append(j.Vary, name)
	}
	slices.Sort(j.Vary)
	return j
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}

// statusFilter is the --status flag: codes and classes ("2xx").
type statusFilter []string

func parseStatus(s string) (statusFilter, error) {
	if s == "" {
		return nil, nil
	}
	var f statusFilter
	for _, p := range strings.Split(s, ",") {
		p = strings.ToLower(strings.TrimSpace(p))
		ok := len(p) == 3 && p[0] >= '1' && p[0] <= '5'
		if ok && p[1:] != "xx" {
			_, err := strconv.Atoi(p)
			ok = err == nil
		}
		if !ok {
			return nil, usageError(fmt.Sprintf("--status %s: want status codes or classes, like 200,404 or 2xx", s))
		}
		f = append(f, p)
	}
	return f, nil
}

func (f statusFilter) allows(code int) bool {
	if len(f) == 0 {
		return true
	}
	c := strconv.Itoa(code)
	for _, p := range f {
		if p == c || (p[1:] == "xx" && len(c) == 3 && c[0] == p[0]) {
			return true
		}
	}
	return false
}

// --- ls

type lsFlags struct {
	method, status string
	stale, fresh   bool
	keys           bool
}

var lsCmd = &command{
	name: "ls", args: "CACHE [URL|PATTERN]... [flags]", json: true,
	summary: "list stored responses",
	help: `Lists the stored responses of CACHE, one a line: method, status, body size,
when stored, when it expires (UTC), whether it is stale, and URL; with
URLs or patterns, only those that match one. Entries are listed in the
store's order, as they are read: pipe to sort to order them. --json
prints a JSON array of objects with the same facts and each entry's key.`,
	flags: func(fs *flag.FlagSet) any {
		f := &lsFlags{}
		fs.StringVar(&f.method, "X", "", "only responses to this method (GET, POST, ...)")
		fs.StringVar(&f.status, "status", "", "only these status codes or classes: 200,404 or 2xx")
		fs.BoolVar(&f.stale, "stale", false, "only stale responses (past their expiry)")
		fs.BoolVar(&f.fresh, "fresh", false, "only fresh responses")
		fs.BoolVar(&f.keys, "keys", false, "print each entry's key too (for show --key and rm --key)")
		return f
	},
	run: runLs,
}

func runLs(ctx context.Context, e env, c *common, opts any, args []string) error {
	f := opts.(*lsFlags)
	if f.stale && f.fresh {
		return usageError("--stale and --fresh together select nothing")
	}
	statuses, err := parseStatus(f.status)
	if err != nil {
		return err
	}
	ms, err := matchers(args[1:])
	if err != nil {
		return err
	}
	return withBackend(ctx, c, args, false, func(b *backend) error {
		out := bufio.NewWriter(e.stdout)
		defer out.Flush()
		now := time.Now()
		n := 0
		if c.json {
			io.WriteString(out, "[")
		} else {
			if f.keys {
				fmt.Fprintf(out, "%-7s %-6s %10s  %-20s  %-20s  %-5s  %-32s  %s\n", "METHOD", "STATUS", "SIZE", "CREATED", "EXPIRES", "STALE", "KEY", "URL")
			} else {
				fmt.Fprintf(out, "%-7s %-6s %10s  %-20s  %-20s  %-5s  %s\n", "METHOD", "STATUS", "SIZE", "CREATED", "EXPIRES", "STALE", "URL")
			}
		}
		protected := 0
		t, err := walk(ctx, b, func(key string, r *cached.Response) error {
			if r.Kind == cached.KindSealed {
				protected++
			}
			if r.Kind != cached.KindResponse || (f.method != "" && !strings.EqualFold(f.method, r.Method)) ||
				!statuses.allows(r.StatusCode) || (f.stale && !r.Expired(now)) || (f.fresh && r.Expired(now)) ||
				!anyMatch(ms, r.URL) {
				return nil
			}
			n++
			if c.json {
				j, err := json.Marshal(toJSON(key, r, now))
				if err != nil {
					return err
				}
				if n > 1 {
					out.WriteByte(',')
				}
				out.WriteString("\n  ")
				out.Write(j)
				return nil
			}
			stale := "no"
			if r.Expired(now) {
				stale = "yes"
			}
			if f.keys {
				fmt.Fprintf(out, "%-7s %-6d %10d  %-20s  %-20s  %-5s  %-32s  %s\n", r.Method, r.StatusCode, len(r.Body), stamp(r.Created), stamp(r.Expires), stale, key, r.URL)
			} else {
				fmt.Fprintf(out, "%-7s %-6d %10d  %-20s  %-20s  %-5s  %s\n", r.Method, r.StatusCode, len(r.Body), stamp(r.Created), stamp(r.Expires), stale, r.URL)
			}
			return nil
		})
		if c.json {
			if n > 0 {
				out.WriteString("\n")
			}
			out.WriteString("]\n")
		}
		if err != nil {
			return err
		}
		if err := t.notCache(b); err != nil {
			return err
		}
		if protected > 0 || t.unreadable > 0 {
			out.Flush()
			fmt.Fprintf(e.stderr, "cachestack ls: not listed: %d signed or sealed %s (only the cache's own Signer or Sealer opens them), %d %s that do not decode\n",
				protected, plural(protected, "entry", "entries"), t.unreadable, plural(t.unreadable, "entry", "entries"))
		}
		if b.foreign && t.keys == 0 {
			out.Flush()
			fmt.Fprintf(e.stderr, "cachestack ls: %s holds no keys (an empty cache, or another namespace: --namespace)\n", b.location)
		}
		return nil
	})
}

// --- show

type showFlags struct {
	method, key     string
	include, head   bool
	noBody, verbose bool
}

var showCmd = &command{
	name: "show", args: "CACHE URL | CACHE --key KEY [flags]", json: true,
	summary: "print one stored response",
	help: `Prints the body of the response stored for URL (to a GET, or to the method
of -X), exactly as stored, to stdout: "cachestack show CACHE URL > body"
saves it. -i prints the status line and header fields first, like curl -i;
-I prints them alone. --json prints the entry's facts, its header fields
and its body in base64 (without it with --no-body).

When the response varies on request header fields (Vary), a URL may have
several stored responses: show then lists their keys, to choose one with
--key. Set-Cookie values are never printed; the request values a response
was chosen by are not stored, only digests, and are not printed either.`,
	flags: func(fs *flag.FlagSet) any {
		f := &showFlags{}
		fs.StringVar(&f.method, "X", "GET", "the request method")
		fs.StringVar(&f.key, "key", "", "the entry's key (from ls --keys or ls --json) instead of a URL")
		fs.BoolVar(&f.include, "i", false, "print the status line and header before the body")
		fs.BoolVar(&f.head, "I", false, "print the status line and header only")
		fs.BoolVar(&f.noBody, "no-body", false, "with --json, leave the body out")
		return f
	},
	run: runShow,
}

// secretFields are response header fields whose values show never prints.
var secretFields = []string{"Set-Cookie", "Set-Cookie2"}

func secretField(name string) bool {
	for _, s := range secretFields {
		if strings.EqualFold(name, s) {
			return true
		}
	}
	return false
}

const redacted = "[redacted]"

type showJSON struct {
	entryJSON
	Proto  string              `json:"proto"`
	Header map[string][]string `json:"header"`
	// Body is the body, base64 in JSON; absent with --no-body.
	Body []byte `json:"body_base64,omitempty"`
}

func runShow(ctx context.Context, e env, c *common, opts any, args []string) error {
	f := opts.(*showFlags)
	switch {
	case f.key != "" && len(args) > 1:
		return usageError("give a URL or --key, not both")
	case f.key == "" && len(args) != 2:
		return usageError("give one URL, or --key")
	case f.key == "" && !isExact(args[1]):
		return usageError(fmt.Sprintf("%s: show takes an absolute URL, not a pattern (ls lists what a pattern matches)", args[1]))
	case f.include && f.head:
		return usageError("-i and -I together: choose one")
	}
	return withBackend(ctx, c, args, false, func(b *backend) error {
		key, r, err := find(ctx, b, f, args)
		if err != nil {
			return err
		}
		now := time.Now()
		out := bufio.NewWriter(e.stdout)
		defer out.Flush()
		if c.json {
			j := showJSON{entryJSON: toJSON(key, r, now), Proto: proto(r), Header: map[string][]string{}}
			for name, v := range r.Header.All() {
				if secretField(name) {
					v = redacted
				}
				j.Header[name] = append(j.Header[name], v)
			}
			if !f.noBody {
				j.Body = r.Body
				if j.Body == nil {
					j.Body = []byte{}
				}
			}
			enc := json.NewEncoder(out)
			enc.SetIndent("", "  ")
			return enc.Encode(j)
		}
		if f.include || f.head {
			fmt.Fprintf(out, "%s %d %s\n", proto(r), r.StatusCode, http.StatusText(r.StatusCode))
			for name, v := range r.Header.All() {
				if secretField(name) {
					v = redacted
				}
				fmt.Fprintf(out, "%s: %s\n", name, v)
			}
			out.WriteString("\n")
		}
		if !f.head {
			out.Write(r.Body)
		}
		return nil
	})
}

func proto(r *cached.Response) string {
	if r.Proto == "" {
		return "HTTP/1.1"
	}
	return r.Proto
}

// find returns the one response show means.
func find(ctx context.Context, b *backend, f *showFlags, args []string) (string, *cached.Response, error) {
	if f.key != "" {
		r, err := b.s.Get(ctx, f.key)
		if errors.Is(err, store.ErrNotFound) {
			r, err = inlineVariant(ctx, b, f.key)
		}
		switch {
		case errors.Is(err, store.ErrNotFound):
			return "", nil, fmt.Errorf("no entry with key %q in %s", f.key, b.location)
		case err != nil:
			return "", nil, err
		case r.Kind != cached.KindResponse:
			return "", nil, fmt.Errorf("the entry with key %q is the cache's bookkeeping (%s), not a response", f.key, kindName(r.Kind))
		}
		return f.key, r, nil
	}
	method := strings.ToUpper(f.method)
	k, err := urlKeyer.KeyOf(method, args[1])
	if err != nil {
		return "", nil, usageError(fmt.Sprintf("%s: %v", args[1], err))
	}
	// The key a plain request for the URL has: one read when the response
	// does not vary and the cache keyed no headers or body.
	if r, err := b.s.Get(ctx, k.Key); err == nil && r.Kind == cached.KindResponse && r.URL == k.URL && strings.EqualFold(r.Method, method) {
		return k.Key, r, nil
	}
	type found struct {
		key string
		r   *cached.Response
	}
	var all []found
	t, err := walk(ctx, b, func(key string, r *cached.Response) error {
		if r.Kind == cached.KindResponse && r.URL == k.URL && strings.EqualFold(r.Method, method) {
			all = append(all, found{key, r})
			if len(all) > 20 {
				return errStop
			}
		}
		return nil
	})
	if err != nil {
		return "", nil, err
	}
	if err := t.notCache(b); err != nil {
		return "", nil, err
	}
	switch len(all) {
	case 0:
		return "", nil, fmt.Errorf("no response to %s %s in %s", method, k.URL, b.location)
	case 1:
		return all[0].key, all[0].r, nil
	}
	var lines []string
	for _, x := range all {
		l := "  " + x.key
		if v := toJSON(x.key, x.r, time.Now()).Vary; len(v) > 0 {
			l += " (varies on " + strings.Join(v, ", ") + ")"
		}
		lines = append(lines, l)
	}
	return "", nil, fmt.Errorf("%d responses to %s %s are stored; choose one with --key:\n%s", len(all), method, k.URL, strings.Join(lines, "\n"))
}

// inlineVariant returns the variant with variant key key that a Vary index
// of b holds inline (ls lists it under that key), reading every entry; the
// error matches store.ErrNotFound when there is none.
func inlineVariant(ctx context.Context, b *backend, key string) (*cached.Response, error) {
	var found *cached.Response
	_, err := walk(ctx, b, func(k string, r *cached.Response) error {
		if k == key && r.Kind == cached.KindResponse {
			found = r
			return errStop
		}
		return nil
	})
	switch {
	case err != nil:
		return nil, err
	case found == nil:
		return nil, store.ErrNotFound
	}
	return found, nil
}

func kindName(k cached.Kind) string {
	switch k {
	case cached.KindResponse:
		return "a response"
	case cached.KindVariants:
		return "the index of a URL's variants"
	case cached.KindRedirect:
		return "a redirect"
	case cached.KindSealed:
		return "a signed or sealed entry"
	}
	return "kind " + strconv.Itoa(int(k))
}

// --- rm

type rmFlags struct {
	method         string
	keys           stringList
	force, verbose bool
}

var rmCmd = &command{
	name: "rm", args: "CACHE URL|PATTERN... | CACHE --key KEY... [flags]",
	summary: "remove stored responses",
	help: `Removes the responses stored for each URL, or for the URLs each pattern
matches, whatever their method (or only those of -X), with their variants
(Vary) and the redirects recorded to them. Like rm(1) it prints nothing
unless -v, and an argument that matches nothing is an error (exit status
1, after removing what the others match) unless -f.`,
	flags: func(fs *flag.FlagSet) any {
		f := &rmFlags{}
		fs.StringVar(&f.method, "X", "", "only responses to this method (default: every method)")
		fs.Var(&f.keys, "key", "remove the entry with this key (repeatable)")
		fs.BoolVar(&f.force, "f", false, "do not fail when an argument matches nothing")
		fs.BoolVar(&f.verbose, "v", false, "print each response removed")
		return f
	},
	run: runRm,
}

func runRm(ctx context.Context, e env, c *common, opts any, args []string) error {
	f := opts.(*rmFlags)
	if len(args) < 2 && len(f.keys) == 0 {
		return usageError("give URLs, patterns or --key")
	}
	ms, err := matchers(args[1:])
	if err != nil {
		return err
	}
	return withBackend(ctx, c, args, true, func(b *backend) error {
		out := bufio.NewWriter(e.stdout)
		defer out.Flush()
		// What matches is collected first and removed by the library's
		// Cache.Delete, which also removes the parts of a partial
		// response and the redirects recorded to what it removed.
		var keys, removed []string // removed: "METHOD URL" of responses, for -v
		seen := map[string]bool{}
		remove := func(key string, r *cached.Response) {
			if seen[key] {
				return
			}
			seen[key] = true
			keys = append(keys, key)
			if r.Kind == cached.KindResponse {
				removed = append(removed, r.Method+" "+r.URL)
			}
		}
		var missing []string
		for _, key := range f.keys {
			r, err := b.s.Get(ctx, key)
			if errors.Is(err, store.ErrNotFound) {
				r, err = inlineVariant(ctx, b, key)
			}
			switch {
			case errors.Is(err, store.ErrNotFound):
				missing = append(missing, "--key "+key)
				continue
			case errors.Is(err, codec.ErrFormat):
				r = &cached.Response{Kind: cached.KindSealed}
			case err != nil:
				return err
			}
			remove(key, r)
		}
		if len(ms) > 0 {
			t, err := walk(ctx, b, func(key string, r *cached.Response) error {
				if r.Kind == cached.KindSealed || (f.method != "" && !strings.EqualFold(f.method, r.Method)) {
					return nil
				}
				hit := false
				for _, m := range ms {
					if m.match(r.URL) {
						m.hits++
						hit = true
					}
				}
				if hit {
					remove(key, r)
				}
				return nil
			})
			if err != nil {
				return err
			}
			if err := t.notCache(b); err != nil {
				return err
			}
		}
		if len(keys) > 0 {
			cache, err := cachestack.New(&cachestack.Options{Store: b.s})
			if err != nil {
				return err
			}
			defer cache.Close()
			if err := cache.Delete(ctx, keys...); err != nil {
				return err
			}
			if f.verbose {
				for _, r := range removed {
					fmt.Fprintf(out, "removed %s\n", r)
				}
			}
		}
		for _, m := range ms {
			if m.hits == 0 {
				missing = append(missing, m.arg)
			}
		}
		if len(missing) == 0 || f.force {
			return nil
		}
		out.Flush()
		for _, m := range missing {
			fmt.Fprintf(e.stderr, "cachestack rm: %s: no such entry\n", m)
		}
		return errSilent
	})
}

// --- purge

var purgeCmd = &command{
	name: "purge", args: "CACHE [flags]", json: true,
	summary: "remove expired responses",
	help: `Removes every stored response that has expired, stale ones kept for
revalidation included, and the redirects that led to removed responses
(aiohttp-client-cache's delete_expired_responses), and prints how many
entries it removed.`,
	flags: func(fs *flag.FlagSet) any { return nil },
	run: func(ctx context.Context, e env, c *common, _ any, args []string) error {
		if len(args) > 1 {
			return usageError("purge takes no arguments after the cache")
		}
		return withBackend(ctx, c, args, true, func(b *backend) error {
			if err := checkForeign(ctx, b); err != nil {
				return err
			}
			cache, err := cachestack.New(&cachestack.Options{Store: b.s})
			if err != nil {
				return err
			}
			defer cache.Close()
			n, err := cache.DeleteExpired(ctx)
			if c.json {
				if jerr := json.NewEncoder(e.stdout).Encode(map[string]int{"removed": n}); err == nil {
					err = jerr
				}
			} else {
				fmt.Fprintf(e.stdout, "removed %d expired %s\n", n, plural(n, "entry", "entries"))
			}
			return err
		})
	},
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// --- clear

type clearFlags struct{ yes bool }

var clearCmd = &command{
	name: "clear", args: "CACHE [--yes]",
	summary: "remove every entry",
	help: `Removes every entry of the cache. It asks first when stdin is a terminal;
otherwise it needs --yes, and without it refuses (exit status 2) rather
than wait for an answer. In Redis it removes the keys of the namespace,
and refuses a namespace whose keys hold no cache entry.`,
	flags: func(fs *flag.FlagSet) any {
		f := &clearFlags{}
		fs.BoolVar(&f.yes, "yes", false, "do not ask")
		fs.BoolVar(&f.yes, "y", false, "do not ask (short for --yes)")
		return f
	},
	run: func(ctx context.Context, e env, c *common, opts any, args []string) error {
		f := opts.(*clearFlags)
		if len(args) > 1 {
			return usageError("clear takes no arguments after the cache")
		}
		if !f.yes && !e.stdinTTY {
			return usageError("stdin is not a terminal to ask on: give --yes to clear without asking")
		}
		return withBackend(ctx, c, args, true, func(b *backend) error {
			if err := checkForeign(ctx, b); err != nil {
				return err
			}
			if !f.yes {
				fmt.Fprintf(e.stderr, "remove every entry of %s? [y/N] ", b.describe())
				line, _ := bufio.NewReader(e.stdin).ReadString('\n')
				if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
					return errors.New("not cleared")
				}
			}
			return b.clear(ctx)
		})
	},
}

// --- stats

type statsJSON struct {
	Backend        string     `json:"backend"`
	Location       string     `json:"location"`
	Responses      int        `json:"responses"`
	Fresh          int        `json:"fresh"`
	Stale          int        `json:"stale"`
	BodyBytes      int64      `json:"body_bytes"`
	StoreBytes     *int64     `json:"store_bytes,omitempty"`
	Redirects      int        `json:"redirects"`
	VariantIndexes int        `json:"variant_indexes"`
	Protected      int        `json:"protected"`
	Unreadable     int        `json:"unreadable"`
	Oldest         *time.Time `json:"oldest,omitempty"`
	Newest         *time.Time `json:"newest,omitempty"`
}

var statsCmd = &command{
	name: "stats", args: "CACHE [flags]", json: true,
	summary: "count entries, bytes, fresh and stale",
	help: `Counts the cache's entries: responses (fresh and stale) and their body
bytes, the bytes the store counts (entry files, or keys and values in
SQLite and PostgreSQL; not known for Redis), recorded redirects, indexes of
responses that vary on request fields, signed or sealed entries (which only
the cache's own Signer or Sealer opens), entries that do not decode, and
when the oldest and newest responses were stored.`,
	flags: func(fs *flag.FlagSet) any { return nil },
	run: func(ctx context.Context, e env, c *common, _ any, args []string) error {
		if len(args) > 1 {
			return usageError("stats takes no arguments after the cache")
		}
		return withBackend(ctx, c, args, false, func(b *backend) error {
			s := statsJSON{Backend: b.kind, Location: b.location}
			now := time.Now()
			var oldest, newest time.Time
			t, err := walk(ctx, b, func(_ string, r *cached.Response) error {
				switch r.Kind {
				case cached.KindResponse:
					s.Responses++
					if r.Expired(now) {
						s.Stale++
					} else {
						s.Fresh++
					}
					s.BodyBytes += int64(len(r.Body))
					if oldest.IsZero() || r.Created.Before(oldest) {
						oldest = r.Created
					}
					if r.Created.After(newest) {
						newest = r.Created
					}
				case cached.KindRedirect:
					s.Redirects++
				case cached.KindVariants:
					s.VariantIndexes++
				default:
					s.Protected++
				}
				return nil
			})
			if err != nil {
				return err
			}
			if err := t.notCache(b); err != nil {
				return err
			}
			s.Unreadable = t.unreadable
			if !oldest.IsZero() {
				o, n := oldest.UTC(), newest.UTC()
				s.Oldest, s.Newest = &o, &n
			}
			if b.usage != nil {
				bytes, _, err := b.usage(ctx)
				if err != nil {
					return err
				}
				s.StoreBytes = &bytes
			}
			if c.json {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(s)
			}
			w := bufio.NewWriter(e.stdout)
			defer w.Flush()
			fmt.Fprintf(w, "cache            %s\n", b.describe())
			fmt.Fprintf(w, "responses        %d (%d fresh, %d stale)\n", s.Responses, s.Fresh, s.Stale)
			fmt.Fprintf(w, "body bytes       %d\n", s.BodyBytes)
			if s.StoreBytes != nil {
				fmt.Fprintf(w, "store bytes      %d\n", *s.StoreBytes)
			}
			fmt.Fprintf(w, "redirects        %d\n", s.Redirects)
			fmt.Fprintf(w, "variant indexes  %d\n", s.VariantIndexes)
			fmt.Fprintf(w, "protected        %d\n", s.Protected)
			fmt.Fprintf(w, "unreadable       %d\n", s.Unreadable)
			if s.Oldest != nil {
				fmt.Fprintf(w, "oldest           %s\n", stamp(*s.Oldest))
				fmt.Fprintf(w, "newest           %s\n", stamp(*s.Newest))
			}
			return nil
		})
	},
}
