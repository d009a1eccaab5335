package middleware

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/cachestack/cachestack/policy"
)

// CoalesceOptions configure the Coalesce middleware.
type CoalesceOptions struct {
	// Workers runs the shared requests; required. The caller owns it and
	// closes it.
	Workers *Workers
	// ShareCredentials lets requests that carry credentials
	// (Authorization, Cookie) and responses that set cookies (Set-Cookie)
	// be shared between callers. Off by default: each such caller gets
	// the response to its own request.
	ShareCredentials bool
}

type coalesceStage struct {
	w          *Workers
	shareCreds bool

	mu    sync.Mutex
	calls map[string]*call
}

// Coalesce is the middleware that merges concurrent misses. On the way in,
// when requests for the same key miss the store at the same time, one
// request goes to the origin and every caller waits for it; on the way out,
// each caller gets its own *http.Response with its own header and body.
//
// The shared request runs on Workers, detached from the callers: a caller
// that gives up (its context ends) stops waiting, alone; the shared request
// is cancelled only when every caller has given up, and a cancelled request
// never stores a partial entry. A shared response is read in full before
// it is handed out, up to StoreOptions.MaxBodyBytes; a larger one is
// fetched again by each waiting caller on its own. A response that sets
// cookies (see ShareCredentials) goes to one caller and the others fetch
// their own; a response that varies (RFC 9111 §4.1) goes only to the
// callers whose requests match it on the Vary fields, the others fetch
// their own. Only GET and HEAD requests without a body are merged. Stack
// it anywhere with the Store middleware. To merge misses across the
// processes that share a store as well, see StoreOptions.Lease.
func Coalesce(opts *CoalesceOptions) (Middleware, error) {
	if opts == nil || opts.Workers == nil {
		return nil, errors.New("middleware.Coalesce: CoalesceOptions.Workers is nil")
	}
	c := &coalesceStage{w: opts.Workers, shareCreds: opts.ShareCredentials, calls: map[string]*call{}}
	return func(next http.RoundTripper) http.RoundTripper {
		return attach(next, func(p *parts) { p.coalesce = c })
	}, nil
}

// call is one shared request.
type call struct {
	done    chan struct{}
	cancel  func()
	waiters int // callers still waiting; guarded by coalesceStage.mu

	header http.Header // a copy of the shared request's header, to match Vary against

	// Set before done is closed.
	resp     *http.Response // status and header; its body has been read into body
	body     []byte
	err      error
	unshared bool     // each caller must fetch on its own
	private  bool     // the response sets cookies: it goes to one caller only
	vary     []string // the response's Vary fields (RFC 9111 §4.1)
	varyStar bool     // Vary: *, which no other request matches

	claimed bool // a private response was handed out; guarded by coalesceStage.mu
}

func (c *coalesceStage) shareable(req *http.Request) bool {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		return false
	}
	if req.Body != nil && req.Body != http.NoBody {
		return false
	}
	return c.shareCreds || (len(req.Header["Authorization"]) == 0 && len(req.Header["Cookie"]) == 0)
}

// do answers req with the shared request for its key, starting one if
// none runs.
func (c *coalesceStage) do(x *exchange, req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	id := req.Method + " " + x.key
	c.mu.Lock()
	cl, joined := c.calls[id]
	if !joined {
		fctx, cancel := c.w.detach(ctx)
		cl = &call{done: make(chan struct{}), cancel: cancel, header: req.Header.Clone()}
		shared := req.WithContext(fctx)
		bg := *x
		if r := c.w.tryGo(c.w.coalesce, "", func(_ context.Context) { c.run(cl, id, &bg, shared) }); r != goStarted {
			c.mu.Unlock()
			cancel()
			if r == goFull {
				x.store.add(MetricCoalesceSaturated, 1)
				x.store.fault(ctx, rateSaturated, EventSaturated, slog.String("reason", "coalescing workers busy; request sent alone"))
			}
			return x.forwardLeased(req) // no worker free: go alone
		}
		c.calls[id] = cl
	}
	cl.waiters++
	c.mu.Unlock()

	select {
	case <-cl.done:
	case <-ctx.Done():
		c.leave(id, cl)
		return nil, ctx.Err()
	}
	switch {
	case cl.err != nil:
		return nil, cl.err
	case cl.unshared, joined && !cl.matches(req), cl.private && !c.claim(cl):
		// The request that started the flight matches its response
		// even when it has Vary: *.
		return x.forward(req)
	}
	resp := cl.response(req)
	if joined {
		x.store.add(MetricCoalesced, 1)
		markCollapsed(resp.Header)
	}
	return resp, nil
}

// markCollapsed adds RFC 9211's collapsed parameter to this cache's
// member of Cache-Status: the request was answered by another's.
func markCollapsed(h http.Header) {
	vs := h["Cache-Status"]
	for i := len(vs) - 1; i >= 0; i-- {
		if strings.HasPrefix(vs[i], cacheName+";") {
			vs[i] += "; collapsed"
			return
		}
	}
}

// matches reports whether the shared response answers req too: the
// requests must agree on the fields the response varies on (RFC 9111
// §4.1); requests for the same key may differ there while no Vary index is
// stored yet.
func (cl *call) matches(req *http.Request) bool {
	if cl.varyStar {
		return false
	}
	return len(cl.vary) == 0 || policy.VaryMatch(cl.vary, false, cl.header, req.Header)
}

// claim hands a private response to its first caller.
func (c *coalesceStage) claim(cl *call) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl.claimed {
		return false
	}
	cl.claimed = true
	return true
}

// leave records that a caller stopped waiting; the last one cancels the
// shared request and lets the next caller start a new one.
func (c *coalesceStage) leave(id string, cl *call) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cl.waiters--
	if cl.waiters == 0 {
		cl.cancel()
		if c.calls[id] == cl {
			delete(c.calls, id)
		}
	}
}

// run performs the shared request and reads its response in full, which
// also stores it when it is storable. A wait for another process's fetch
// (see LeaseOptions) ends, like the request, when every caller has given
// up.
func (c *coalesceStage) run(cl *call, id string, x *exchange, req *http.Request) {
	defer func() {
		if p := recover(); p != nil {
			// A panic beneath the cache (the transport, a filter) must
			// not kill the process from a goroutine the caller cannot
			// guard: it becomes the shared request's error.
			cl.resp, cl.body, cl.err = nil, nil, &PanicError{Op: "coalesced request", Value: p}
			x.store.add(MetricStorePanics, 1)
			x.store.fault(req.Context(), rateStorePanic, EventStorePanic, slog.String("op", "coalesced request"), slog.Any("error", cl.err))
		}
		c.mu.Lock()
		if c.calls[id] == cl {
			delete(c.calls, id)
		}
		c.mu.Unlock()
		cl.cancel()
		close(cl.done)
	}()
	resp, err := x.forwardLeased(req)
	if err != nil {
		cl.err = err
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, x.store.maxBody+1))
	switch {
	case err != nil:
		cl.err = err
	case int64(len(body)) > x.store.maxBody:
		cl.unshared = true
	default:
		cl.resp, cl.body = resp, body
		cl.private = !c.shareCreds && len(resp.Header["Set-Cookie"]) > 0
		cl.vary, cl.varyStar = policy.ParseVary(resp.Header)
	}
}

// response builds one caller's copy of the shared response.
func (cl *call) response(req *http.Request) *http.Response {
	r := *cl.resp
	r.Header = cl.resp.Header.Clone()
	r.Body = io.NopCloser(bytes.NewReader(cl.body))
	r.ContentLength = int64(len(cl.body))
	if req.Method == http.MethodHead {
		r.Body, r.ContentLength = http.NoBody, cl.resp.ContentLength
	}
	r.Request = req
	return &r
}
