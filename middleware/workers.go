package middleware

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Workers owns the goroutines the cache starts on its own: background
// revalidations for stale-while-revalidate, the shared fetches of
// coalesced misses, the write-back queue's writers, and those that make
// the calls to a store that may block, under their deadline (a few are
// kept waiting for the next call). Each kind has a
// bounded capacity of its own, so that refreshes never starve coalescing;
// when one is full the cache degrades to plain forwarding, counted.
//
// Close stops them and waits, so that no goroutine outlives it; a store
// call that ignores its context and never returns cannot be stopped by
// anyone, so Close waits for such calls at most WorkersOptions.CloseWait
// and then returns all the same. A Workers is safe for concurrent use; the
// zero value is not usable.
type Workers struct {
	ctx       context.Context
	cancel    context.CancelFunc
	coalesce  chan struct{}
	refresh   chan struct{}
	closeWait time.Duration
	wg        sync.WaitGroup
	calls     tracker // store calls running on goroutines of their own
	guards    guardPool

	mu       sync.Mutex
	closed   bool
	inflight map[string]struct{} // keys with a background refresh running
}

// DefaultMaxWorkers is the number of coalescing goroutines, and of refresh
// goroutines, NewWorkers allows when given zero.
const DefaultMaxWorkers = 64

// DefaultCloseWait is how long Close waits for store calls that outlived
// their deadline when WorkersOptions.CloseWait is zero.
const DefaultCloseWait = time.Second

// WorkersOptions configure NewWorkersWith. Zero fields take the defaults.
type WorkersOptions struct {
	// Coalesce bounds the shared fetches of coalesced misses running at
	// once; Refresh the stale-while-revalidate refreshes. Zero means
	// DefaultMaxWorkers; negative is an error.
	Coalesce int
	Refresh  int
	// CloseWait is how long Close waits for store calls still running
	// past their deadline. Zero means DefaultCloseWait; negative is an
	// error.
	CloseWait time.Duration
}

// NewWorkers returns a Workers running at most max coalescing goroutines
// and max refresh goroutines at a time; zero means DefaultMaxWorkers.
// Negative is an error.
func NewWorkers(max int) (*Workers, error) {
	if max < 0 {
		return nil, errors.New("middleware.NewWorkers: max is negative")
	}
	return NewWorkersWith(&WorkersOptions{Coalesce: max, Refresh: max})
}

// NewWorkersWith returns a Workers configured by opts; nil means the
// defaults.
func NewWorkersWith(opts *WorkersOptions) (*Workers, error) {
	var o WorkersOptions
	if opts != nil {
		o = *opts
	}
	switch {
	case o.Coalesce < 0:
		return nil, errors.New("middleware.NewWorkersWith: WorkersOptions.Coalesce is negative")
	case o.Refresh < 0:
		return nil, errors.New("middleware.NewWorkersWith: WorkersOptions.Refresh is negative")
	case o.CloseWait < 0:
		return nil, errors.New("middleware.NewWorkersWith: WorkersOptions.CloseWait is negative")
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Workers{
		ctx: ctx, cancel: cancel,
		coalesce:  make(chan struct{}, cmpOr(o.Coalesce, DefaultMaxWorkers)),
		refresh:   make(chan struct{}, cmpOr(o.Refresh, DefaultMaxWorkers)),
		closeWait: cmpOr(o.CloseWait, DefaultCloseWait),
		inflight:  map[string]struct{}{},
		guards:    guardPool{maxIdle: guardIdle()},
	}, nil
}

// Close cancels the context of every running goroutine and waits for them
// to return, then waits at most CloseWait for store calls still running
// past their deadline. Later work is refused. Close is idempotent.
func (w *Workers) Close() error {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	w.cancel()
	w.wg.Wait()
	w.guards.close()
	start := time.Now()
	w.calls.wait(w.closeWait)
	// The guard goroutines left run stuck calls, or are ending.
	w.guards.alive.wait(w.closeWait - time.Since(start))
	return nil
}

// StuckCalls returns the number of store calls still running on
// goroutines of their own, typically past their deadline in a store that
// ignores its context.
func (w *Workers) StuckCalls() int { return w.calls.count() }

// goResult says why tryGo did or did not start its function.
type goResult uint8

const (
	goStarted goResult = iota
	goBusyKey          // a goroutine with the same key runs
	goFull             // no slot free
	goClosed
)

// tryGo runs f in a new goroutine if a slot of pool is free and w is open.
// With a non-empty key, it also refuses while another goroutine started
// with the same key runs: one at a time per key. f's context is detached
// from any caller's and ends at Close.
func (w *Workers) tryGo(pool chan struct{}, key string, f func(ctx context.Context)) goResult {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return goClosed
	}
	if key != "" {
		if _, busy := w.inflight[key]; busy {
			return goBusyKey
		}
	}
	select {
	case pool <- struct{}{}:
	default:
		return goFull
	}
	if key != "" {
		w.inflight[key] = struct{}{}
	}
	w.wg.Add(1)
	go func() {
		defer func() {
			w.mu.Lock()
			if key != "" {
				delete(w.inflight, key)
			}
			w.mu.Unlock()
			<-pool
			w.wg.Done()
		}()
		f(w.ctx)
	}()
	return goStarted
}

// start runs f in a goroutine that Close waits for, with a context that
// ends at Close; it reports false when w is closed.
func (w *Workers) start(f func(ctx context.Context)) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return false
	}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		f(w.ctx)
	}()
	return true
}

// detach returns a context that keeps the values of parent (trace ids and
// the like) but not its cancellation, and ends when w closes.
func (w *Workers) detach(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(parent))
	stop := context.AfterFunc(w.ctx, cancel)
	return ctx, func() { stop(); cancel() }
}

// tracker counts running calls and lets one wait, with a bound, for none
// to be left.
type tracker struct {
	mu   sync.Mutex
	n    int
	zero chan struct{} // closed when n reaches 0, if someone waits
}

func (t *tracker) add() {
	t.mu.Lock()
	t.n++
	t.mu.Unlock()
}

func (t *tracker) done() {
	t.mu.Lock()
	t.n--
	if t.n == 0 && t.zero != nil {
		close(t.zero)
		t.zero = nil
	}
	t.mu.Unlock()
}

func (t *tracker) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.n
}

// wait waits until no call runs, or d has passed.
func (t *tracker) wait(d time.Duration) {
	t.mu.Lock()
	if t.n == 0 || d <= 0 {
		t.mu.Unlock()
		return
	}
	if t.zero == nil {
		t.zero = make(chan struct{})
	}
	zero := t.zero
	t.mu.Unlock()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-zero:
	case <-timer.C:
	}
}
