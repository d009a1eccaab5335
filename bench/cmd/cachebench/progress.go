package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// progress prints one \r-updated status line on w while stores run. A nil
// *progress prints nothing.
type progress struct {
	w     io.Writer
	mu    sync.Mutex
	store string
	name  string
	d     time.Duration
	start time.Time
	cnt   *counts
	width int
	stop  chan struct{}
	done  chan struct{}
}

// isTerminal says whether f is a character device (a terminal).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func startProgress(w io.Writer) *progress {
	p := &progress{w: w, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				p.clear()
				return
			case <-t.C:
				p.print()
			}
		}
	}()
	return p
}

func (p *progress) phase(store, name string, d time.Duration) {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.store, p.name, p.d, p.start = store, name, d, time.Now()
	p.mu.Unlock()
	p.print()
}

func (p *progress) watch(c *counts) {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.cnt = c
	p.mu.Unlock()
}

func (p *progress) print() {
	p.mu.Lock()
	defer p.mu.Unlock()
	el := time.Since(p.start)
	line := fmt.Sprintf("%s: %s", p.store, p.name)
	if p.d > 0 {
		line += fmt.Sprintf(" %.1fs/%.1fs", min(el, p.d).Seconds(), p.d.Seconds())
	}
	if c := p.cnt; c != nil {
		n := c.requests.Load()
		line += fmt.Sprintf("  %d requests  %.0f req/s", n, float64(n)/max(el.Seconds(), 1e-3))
		if n > 0 {
			line += fmt.Sprintf("  hit %.1f%%", 100*float64(c.hits.Load())/float64(n))
		}
	}
	pad := max(p.width-len(line), 0)
	p.width = len(line)
	fmt.Fprintf(p.w, "\r%s%s", line, strings.Repeat(" ", pad))
}

func (p *progress) clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", p.width))
	p.width = 0
}

// Close stops the line and erases it.
func (p *progress) Close() {
	if p == nil {
		return
	}
	close(p.stop)
	<-p.done
}
