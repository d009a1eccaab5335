package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// The origin runs in a child process by default (this same binary, with
// originEnv set), so that its allocations, CPU bookkeeping and memory are
// not counted as the cache's. It exits when its stdin closes, so it never
// outlives cachebench.
const (
	originEnv        = "CACHEBENCH_ORIGIN"
	originLatencyEnv = "CACHEBENCH_ORIGIN_LATENCY"
	originSizesEnv   = "CACHEBENCH_ORIGIN_SIZES"
)

// originHandler answers /u/<i> with a body of sizes[i%len(sizes)] bytes,
// and /s/<size>/<i> (a trace's URL i) with one of size bytes, at most the
// largest of sizes, after latency, cacheable for an hour.
func originHandler(latency time.Duration, sizes []int) http.Handler {
	maxSize := 0
	for _, s := range sizes {
		maxSize = max(maxSize, s)
	}
	body := bytes.Repeat([]byte("0123456789abcdef"), maxSize/16+1)
	date := time.Now().UTC().Format(http.TimeFormat)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var i, n int
		var err error
		if rest, ok := strings.CutPrefix(r.URL.Path, "/s/"); ok {
			sz, id, _ := strings.Cut(rest, "/")
			if n, err = strconv.Atoi(sz); err == nil {
				i, err = strconv.Atoi(id)
			}
			if err != nil || n < 0 || n > maxSize || i < 0 {
				http.NotFound(w, r)
				return
			}
		} else {
			i, err = strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/u/"))
			if err != nil || i < 0 {
				http.NotFound(w, r)
				return
			}
			n = sizes[i%len(sizes)]
		}
		if latency > 0 {
			time.Sleep(latency)
		}
		h := w.Header()
		h["Content-Type"] = []string{"application/octet-stream"}
		h["Content-Length"] = []string{strconv.Itoa(n)}
		h["Cache-Control"] = []string{"public, max-age=3600"}
		h["Date"] = []string{date}
		h["Etag"] = []string{`"` + strconv.Itoa(i) + `"`}
		w.Write(body[:n])
	})
}

// origin is a running origin server.
type origin struct {
	url   string
	close func() error
}

// startOrigin starts the origin in a child process, or in this process when
// inProcess is set.
func startOrigin(latency time.Duration, sizes []int, inProcess bool) (*origin, error) {
	if inProcess {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		srv := &http.Server{Handler: originHandler(latency, sizes)}
		go srv.Serve(ln)
		return &origin{url: "http://" + ln.Addr().String(), close: srv.Close}, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("origin: %w", err)
	}
	cmd := exec.Command(exe)
	var sz []string
	for _, s := range sizes {
		sz = append(sz, strconv.Itoa(s))
	}
	cmd.Env = append(os.Environ(), originEnv+"=1", originLatencyEnv+"="+latency.String(), originSizesEnv+"="+strings.Join(sz, ","))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("origin: %w", err)
	}
	stop := func() error {
		stdin.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			return err
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			return <-done
		}
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening ")
	if err != nil || !ok {
		stop()
		return nil, fmt.Errorf("origin: did not start (read %q: %v)", line, err)
	}
	return &origin{url: "http://" + addr, close: stop}, nil
}

// serveOrigin is the child process's main: it serves until stdin closes.
func serveOrigin() error {
	latency, err := time.ParseDuration(os.Getenv(originLatencyEnv))
	if err != nil {
		return err
	}
	var sizes []int
	for _, s := range strings.Split(os.Getenv(originSizesEnv), ",") {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return fmt.Errorf("bad size %q", s)
		}
		sizes = append(sizes, n)
	}
	if len(sizes) == 0 {
		return errors.New("no sizes")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Printf("listening %s\n", ln.Addr())
	go func() {
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	return (&http.Server{Handler: originHandler(latency, sizes)}).Serve(ln)
}
