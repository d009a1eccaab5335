package middleware

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/store"
)

// guardCall is a store call made on a goroutine other than its caller's,
// so that the caller can walk away at the deadline. walked is set by
// whichever comes first: the caller walking away or the call returning.
// Only the caller reuses a guardCall, and only one whose answer it
// received: a call it walked away from belongs to its goroutine, which
// may still answer into done.
type guardCall struct {
	st     *storeStage
	ctx    context.Context // the store's, ending at the deadline
	cancel context.CancelFunc
	op     StoreOp
	key    string
	e      *cached.Response
	ttl    time.Duration
	batch  []store.Item[string, *cached.Response]
	probe  bool
	fn     func(context.Context) error // instead of the store call: a lease call (see guard)
	owner  *Workers                    // nil: the call runs on a goroutine of its own
	done   chan callResult
	walked atomic.Bool
}

// newGuardCall returns an answered guardCall of st's for reuse, or a new
// one. The pool is st's, not global: a channel made inside a
// testing/synctest bubble cannot be used outside it.
func (st *storeStage) newGuardCall() *guardCall {
	if c, ok := st.guardCalls.Get().(*guardCall); ok {
		return c
	}
	return &guardCall{done: make(chan callResult, 1)}
}

// run makes the call and hands its result to the caller, or, if the
// caller walked away, counts the stuck call as ended. Before either, it
// calls next, if not nil (see guardPool.work). After run, c is no longer
// touched by this goroutine.
func (c *guardCall) run(next func()) {
	st, w := c.st, c.owner
	var r *cached.Response
	var err error
	if c.fn != nil {
		err = c.callFn()
	} else {
		r, err = st.do(c.ctx, c.op, c.key, c.e, c.ttl, c.batch)
	}
	if c.probe {
		c.cancel()
		if answered(err) {
			st.breaker.success(true)
		} else {
			st.breaker.failure(true)
		}
	}
	claimed := c.walked.CompareAndSwap(false, true)
	if w != nil {
		w.calls.done()
	}
	if next != nil {
		next()
	}
	if claimed {
		c.done <- callResult{r, err}
	} else {
		st.stuckCalls.Add(-1) // the caller walked away and counted it
	}
}

// callFn calls c.fn, turning a panic into a *PanicError.
func (c *guardCall) callFn() (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &PanicError{Op: "lease", Value: p}
		}
	}()
	return c.fn(c.ctx)
}

// release clears c and keeps it for reuse by st; its caller received its
// answer, so done is empty and no goroutine holds c.
func (c *guardCall) release(st *storeStage) {
	done := c.done
	*c = guardCall{done: done}
	st.guardCalls.Put(c)
}

// guardPool holds the goroutines that run guarded store calls for a
// Workers: long-lived, so that a call does not start a goroutine and grow
// its stack. A goroutine whose call is stuck past its deadline stays with
// it; while it is busy, calls are handed to the others, or to a new one.
// At most maxIdle wait for work; the rest end when their call returns.
// Close ends the idle ones and refuses to keep more.
type guardPool struct {
	mu      sync.Mutex
	idle    []chan *guardCall // each idle goroutine's hand-over slot
	closed  bool
	maxIdle int
	alive   tracker // the pool's goroutines
}

// guardIdle is how many goroutines a guardPool keeps waiting for work.
func guardIdle() int { return max(4*runtime.GOMAXPROCS(0), 16) }

// run hands c to an idle goroutine, or to a new one; after Close, to a
// goroutine of its own that ends with the call.
func (g *guardPool) run(c *guardCall) {
	g.mu.Lock()
	if n := len(g.idle); n > 0 {
		slot := g.idle[n-1]
		g.idle = g.idle[:n-1]
		slot <- c // buffered and empty: never blocks; sent under mu, see close
		g.mu.Unlock()
		return
	}
	closed := g.closed
	if !closed {
		g.alive.add()
	}
	g.mu.Unlock()
	if closed {
		go c.run(nil)
		return
	}
	go g.work(c)
}

// work runs c, then the calls handed to it, until it is not kept idle.
// It offers itself for the next call before it hands its answer over, so
// that the caller, woken, finds it already waiting.
func (g *guardPool) work(c *guardCall) {
	defer g.alive.done()
	slot := make(chan *guardCall, 1)
	var kept bool
	keep := func() {
		g.mu.Lock()
		kept = !g.closed && len(g.idle) < g.maxIdle
		if kept {
			g.idle = append(g.idle, slot)
		}
		g.mu.Unlock()
	}
	for {
		c.run(keep)
		if !kept {
			return
		}
		var ok bool
		if c, ok = <-slot; !ok {
			return
		}
	}
}

// close ends the idle goroutines and lets the busy ones end when their
// call returns.
func (g *guardPool) close() {
	g.mu.Lock()
	g.closed = true
	idle := g.idle
	g.idle = nil
	g.mu.Unlock()
	for _, slot := range idle {
		close(slot) // no call was sent to it: it was idle under mu
	}
}
