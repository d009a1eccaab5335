package middleware

import "net/http"

// CoalesceWaiters returns how many callers are joined to the coalesced
// requests in flight of rt, a stack built by Chain with a Coalesce
// middleware; tests wait on it rather than on counters that are bumped
// before a caller joins.
func CoalesceWaiters(rt http.RoundTripper) int {
	e, ok := rt.(*engine)
	if !ok || e.coalesce == nil {
		return 0
	}
	c := e.coalesce
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, cl := range c.calls {
		n += cl.waiters
	}
	return n
}
