package middleware

import (
	"context"
	"errors"
	"sync"
)

// Workers owns the goroutines the cache starts on its own: background
// revalidations for stale-while-revalidate and the shared fetches of
// coalesced misses. Close stops them and waits, so no goroutine outlives it.
// A Workers is safe for concurrent use; the zero value is not usable.
type Workers struct {
	ctx    context.Context
	cancel context.CancelFunc
	slots  chan struct{}
	wg     sync.WaitGroup

	mu       sync.Mutex
	closed   bool
	inflight map[string]struct{} // keys with a background refresh running
}

// DefaultMaxWorkers is the number of background goroutines NewWorkers allows
// when given zero.
const DefaultMaxWorkers = 64

// NewWorkers returns a Workers running at most max goroutines at a time;
// zero means DefaultMaxWorkers. Negative is an error.
func NewWorkers(max int) (*Workers, error) {
	if max < 0 {
		return nil, errors.New("middleware.NewWorkers: max is negative")
	}
	if max == 0 {
		max = DefaultMaxWorkers
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Workers{ctx: ctx, cancel: cancel, slots: make(chan struct{}, max), inflight: map[string]struct{}{}}, nil
}

// Close cancels the context of every running goroutine and waits for them
// to return. Later work is refused. Close is idempotent.
func (w *Workers) Close() error {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	w.cancel()
	w.wg.Wait()
	return nil
}

// tryGo runs f in a new goroutine if a slot is free and w is open, and
// reports whether it did. With a non-empty key, it also refuses while
// another goroutine started with the same key runs: one at a time per key.
// f's context is detached from any caller's and ends at Close.
func (w *Workers) tryGo(key string, f func(ctx context.Context)) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return false
	}
	if key != "" {
		if _, busy := w.inflight[key]; busy {
			return false
		}
	}
	select {
	case w.slots <- struct{}{}:
	default:
		return false
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
			<-w.slots
			w.wg.Done()
		}()
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
