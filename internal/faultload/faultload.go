// Package faultload drives a cache with concurrent requests against an
// origin of known answers and reports what a caller saw: requests, failed,
// wrong bodies, latency percentiles and goroutines. The fault tests use it
// to show that the cache steps aside from a faulty store.
package faultload

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Origin is an HTTP server whose body for a path is always Body(path),
// after Delay.
type Origin struct {
	*httptest.Server
	Hits  atomic.Int64
	Delay time.Duration
	// CacheControl is the Cache-Control of every response; empty means
	// "max-age=3600".
	CacheControl string
}

// NewOrigin starts an origin; close it with Close.
func NewOrigin(delay time.Duration, cacheControl string) *Origin {
	o := &Origin{Delay: delay, CacheControl: cacheControl}
	if o.CacheControl == "" {
		o.CacheControl = "max-age=3600"
	}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.Hits.Add(1)
		if o.Delay > 0 {
			t := time.NewTimer(o.Delay)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		w.Header().Set("Cache-Control", o.CacheControl)
		w.Header().Set("Etag", `"`+strconv.Itoa(len(r.URL.Path))+`"`)
		io.WriteString(w, Body(r.URL.Path))
	}))
	return o
}

// Body is the origin's body for path: the path, repeated to a few hundred
// bytes, so that a body served for another path is told apart.
func Body(path string) string {
	return strings.Repeat(path+";", 1+256/(len(path)+1))
}

// Figures are what the callers saw.
type Figures struct {
	Name       string
	Requests   int64
	Failed     int64 // errors, or statuses other than 200
	Wrong      int64 // bodies that are not the origin's for their path
	Cancelled  int64 // requests the load itself cancelled (not failures)
	P50, P99   time.Duration
	Max        time.Duration
	Goroutines int // when the load ended
	Errors     []string
}

func (f Figures) String() string {
	return fmt.Sprintf("%s: requests=%d failed=%d wrong=%d cancelled=%d p50=%v p99=%v max=%v goroutines=%d",
		f.Name, f.Requests, f.Failed, f.Wrong, f.Cancelled, f.P50.Round(time.Microsecond), f.P99.Round(time.Microsecond), f.Max.Round(time.Microsecond), f.Goroutines)
}

// Load configures Run.
type Load struct {
	Name     string
	Client   *http.Client
	BaseURL  string
	Paths    int           // distinct paths requested, at random; a few are hot
	Workers  int           // concurrent callers
	Duration time.Duration // how long to run, unless Requests is set
	Requests int           // total requests, spread over the workers
	// CancelEvery cancels every n-th request of a worker shortly after
	// it starts (0: none), as a caller that gives up would.
	CancelEvery int
	// During, if set, runs alongside the load (to inject faults); its
	// context ends with the load.
	During func(ctx context.Context)
}

// Run makes the requests and returns the figures.
func Run(l Load) Figures {
	ctx, cancel := context.WithCancel(context.Background())
	if l.Duration > 0 && l.Requests == 0 {
		ctx, cancel = context.WithTimeout(context.Background(), l.Duration)
	}
	defer cancel()
	var during sync.WaitGroup
	if l.During != nil {
		during.Go(func() { l.During(ctx) })
	}
	var (
		mu   sync.Mutex
		lats []time.Duration
		f    = Figures{Name: l.Name}
		next atomic.Int64
	)
	var wg sync.WaitGroup
	for w := range l.Workers {
		wg.Go(func() {
			var mine []time.Duration
			var req, failed, wrong, cancelled int64
			var errs []string
			for i := 0; ; i++ {
				n := next.Add(1)
				if l.Requests > 0 && n > int64(l.Requests) || ctx.Err() != nil && l.Requests == 0 {
					break
				}
				// a skewed choice: half the requests go to a tenth of the paths
				p := int(n*7919+int64(w)) % l.Paths
				if n%2 == 0 {
					p %= max(1, l.Paths/10)
				}
				path := "/k/" + strconv.Itoa(p)
				rctx, rcancel := context.WithCancel(context.Background())
				cancelling := l.CancelEvery > 0 && i%l.CancelEvery == l.CancelEvery-1
				var timer *time.Timer
				if cancelling {
					timer = time.AfterFunc(time.Duration(n%3)*time.Millisecond, rcancel)
				}
				start := time.Now()
				r, _ := http.NewRequestWithContext(rctx, http.MethodGet, l.BaseURL+path, nil)
				resp, err := l.Client.Do(r)
				var body []byte
				if err == nil {
					body, err = io.ReadAll(resp.Body)
					resp.Body.Close()
				}
				d := time.Since(start)
				if timer != nil {
					timer.Stop()
				}
				rcancel()
				req++
				switch {
				case cancelling && err != nil && rctx.Err() != nil:
					cancelled++
					continue
				case err != nil:
					failed++
					if len(errs) < 3 {
						errs = append(errs, err.Error())
					}
				case resp.StatusCode != http.StatusOK:
					failed++
					if len(errs) < 3 {
						errs = append(errs, "status "+resp.Status)
					}
				case string(body) != Body(path):
					wrong++
				}
				mine = append(mine, d)
			}
			mu.Lock()
			lats = append(lats, mine...)
			f.Requests += req
			f.Failed += failed
			f.Wrong += wrong
			f.Cancelled += cancelled
			f.Errors = append(f.Errors, errs...)
			mu.Unlock()
		})
	}
	wg.Wait()
	cancel()
	during.Wait()
	slices.Sort(lats)
	if len(lats) > 0 {
		f.P50 = lats[len(lats)/2]
		f.P99 = lats[len(lats)*99/100]
		f.Max = lats[len(lats)-1]
	}
	f.Goroutines = runtime.NumGoroutine()
	return f
}

// Settle waits up to d for the number of goroutines to fall to at most
// want, and returns the number it saw last. Goroutines of closed
// connections and finished calls take a moment to end.
func Settle(want int, d time.Duration) int {
	deadline := time.Now().Add(d)
	for {
		n := runtime.NumGoroutine()
		if n <= want || time.Now().After(deadline) {
			return n
		}
		runtime.Gosched()
		time.Sleep(5 * time.Millisecond) // polling for goroutines to exit, not waiting for an expiry
	}
}
