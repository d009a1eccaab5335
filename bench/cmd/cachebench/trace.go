package main

import (
	"bufio"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// trace is a recorded sequence of requests, replayed in order.
//
// A trace file holds one request per line, in either of two forms, which
// may be mixed:
//
//	URL [size]
//
// a URL (absolute, or a path starting with "/") and optionally the size of
// its response body (a byte count with an optional unit: 512, 4KiB, 2MiB);
// or a line of an access log in the Common or Combined Log Format, as
// Apache httpd and nginx write them:
//
//	127.0.0.1 - - [10/Oct/2026:13:55:36 +0000] "GET /a/b?c=1 HTTP/1.1" 200 2326 "-" "curl/8.0"
//
// whose request path and response size are taken; requests other than GET
// and responses whose status is not 200 are left out (counted in
// skipped). Blank lines and lines starting with '#' are ignored. A line
// without a size ("-" in a log) gets the default size.
//
// Only the path and query of a URL are kept: the local origin answers
// every path with a body of the line's size, and -origin sends them to the
// real origin given. A URL's size is that of its first line.
type trace struct {
	paths []string // distinct paths with their queries, in order of first appearance
	sizes []int    // body size of paths[i]
	seq   []int32  // the requests: indexes into paths
	// skipped counts log lines left out: not GET, or not status 200.
	skipped int
}

// clfLine matches the start of a Common (or Combined) Log Format line:
// host ident user [date] "method target proto" status size.
var clfLine = regexp.MustCompile(`^\S+ \S+ \S+ \[[^\]]*\] "(\S+) (\S+)(?: [^"]*)?" (\d{3}) (\d+|-)`)

// readTrace reads a trace file (see trace).
func readTrace(path string, defaultSize int) (*trace, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	t, err := parseTrace(f, defaultSize)
	if err != nil {
		return nil, fmt.Errorf("%s:%w", path, err)
	}
	return t, nil
}

// parseTrace reads a trace from r. Its errors start with the line number.
func parseTrace(r io.Reader, defaultSize int) (*trace, error) {
	t := &trace{}
	index := map[string]int32{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		var target, size string
		if m := clfLine.FindStringSubmatch(line); m != nil {
			if m[1] != "GET" || m[3] != "200" {
				t.skipped++
				continue
			}
			target, size = m[2], m[4]
		} else {
			f := strings.Fields(line)
			if len(f) > 2 {
				return nil, fmt.Errorf("%d: want \"URL [size]\" or an access log line, got %q", n, line)
			}
			target = f[0]
			if len(f) == 2 {
				size = f[1]
			}
		}
		p, err := pathOf(target)
		if err != nil {
			return nil, fmt.Errorf("%d: %v", n, err)
		}
		i, ok := index[p]
		if !ok {
			sz := defaultSize
			if size != "" && size != "-" {
				v, err := parseSize(size)
				if err != nil || v <= 0 || v > 64<<20 {
					return nil, fmt.Errorf("%d: size %q is not between 1B and 64MiB", n, size)
				}
				sz = int(v)
			}
			if len(t.paths) == 1<<31-1 {
				return nil, fmt.Errorf("%d: too many distinct URLs", n)
			}
			i = int32(len(t.paths))
			index[p] = i
			t.paths = append(t.paths, p)
			t.sizes = append(t.sizes, sz)
		}
		t.seq = append(t.seq, i)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf(" %v", err)
	}
	if len(t.seq) == 0 {
		return nil, fmt.Errorf(" no requests (%d log lines left out: not GET or not status 200)", t.skipped)
	}
	return t, nil
}

// pathOf is the path and query of an absolute URL or of a path.
func pathOf(target string) (string, error) {
	u, err := url.Parse(target)
	if err != nil {
		return "", fmt.Errorf("bad URL %q: %v", target, err)
	}
	switch {
	case u.IsAbs() && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "":
	case !u.IsAbs() && u.Host == "" && strings.HasPrefix(target, "/"):
	default:
		return "", fmt.Errorf("%q is neither an http(s) URL nor a path starting with /", target)
	}
	p := u.EscapedPath()
	if p == "" {
		p = "/"
	}
	if u.RawQuery != "" {
		p += "?" + u.RawQuery
	}
	return p, nil
}

// bytes is what every distinct URL's body adds up to.
func (t *trace) bytes() int64 {
	var n int64
	for _, s := range t.sizes {
		n += int64(s)
	}
	return n
}

// localPath is the local origin's path for URL i of the trace: the origin
// reads the body's size from it.
func localPath(i, size int) string {
	return "/s/" + strconv.Itoa(size) + "/" + strconv.Itoa(i)
}
