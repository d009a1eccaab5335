package middleware_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cachestack/cachestack/middleware"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCoalesceConcurrentMisses sends 1,000 concurrent requests for one
// missing URL through Coalesce and Store: the origin sees one request;
// callers that give up before the response get context.Canceled, callers
// that give up halfway through their body affect nobody else, and every
// other caller gets the full body in a response of its own.
func TestCoalesceConcurrentMisses(t *testing.T) {
	t.Parallel()
	const callers = 1000
	payload := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
	release := make(chan struct{})
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		waitFor(release)
		w.Write(payload)
	})
	c := newClock()
	rt, counters := newCCStack(t, c, ccOptions{noCC: true, coalesce: &middleware.CoalesceOptions{Workers: newWorkers(t, 0)}})

	type result struct {
		err       error
		body      []byte
		collapsed bool
	}
	results := make([]result, callers)
	cancels := make([]context.CancelFunc, callers)
	var early, all sync.WaitGroup
	for i := range callers {
		ctx, cancel := context.WithCancel(context.Background())
		cancels[i] = cancel
		wg := &all
		if i%10 == 0 {
			early.Add(1)
			wg = &early
		} else {
			all.Add(1)
		}
		go func() {
			defer wg.Done()
			resp, err := rt.RoundTrip(mustRequest(t, ctx, http.MethodGet, o.URL+"/same", nil))
			if err != nil {
				results[i].err = err
				return
			}
			results[i].collapsed = strings.Contains(resp.Header.Get("Cache-Status"), "; collapsed")
			resp.Header.Set("X-Mine", fmt.Sprint(i)) // each caller owns its header
			if i%10 == 1 {
				io.ReadFull(resp.Body, make([]byte, 1000))
				cancel() // gives up halfway through the body
				resp.Body.Close()
				return
			}
			results[i].body, results[i].err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}()
	}
	// Every caller has missed the store and joined the one request, which
	// waits at the origin.
	require.Eventually(t, func() bool {
		return counters.Misses.Load() == callers && middleware.CoalesceWaiters(rt) == callers
	}, 10*time.Second, time.Millisecond)
	for i := 0; i < callers; i += 10 {
		cancels[i]()
	}
	early.Wait()
	close(release)
	all.Wait()
	for _, cancel := range cancels {
		cancel()
	}

	assert.Equal(t, int64(1), o.hits.Load(), "the origin sees one request")
	for i, r := range results {
		switch i % 10 {
		case 0:
			assert.ErrorIs(t, r.err, context.Canceled, "caller %d", i)
		case 1:
		default:
			require.NoError(t, r.err, "caller %d", i)
			require.Equal(t, len(payload), len(r.body), "caller %d", i)
			require.True(t, bytes.Equal(payload, r.body), "caller %d", i)
		}
	}
	resp, body := get(t, rt, o.URL+"/same")
	assert.True(t, middleware.InfoOf(resp).FromCache, "the shared response was stored")
	assert.Equal(t, string(payload), body)
	assert.Equal(t, int64(1), o.hits.Load())
	assert.Equal(t, int64(1), counters.Stored.Load())
	// Every caller but the one that started the shared request (which may
	// have given up) and those that gave up was answered by it.
	assert.InDelta(t, callers-callers/10-1, counters.Coalesced.Load(), 1)
	collapsed := 0
	for _, r := range results {
		if r.collapsed {
			collapsed++
		}
	}
	assert.Equal(t, int(counters.Coalesced.Load()), collapsed, "answers shared from another request say so in Cache-Status (RFC 9211 collapsed)")
}

// TestCoalesceAbandonedRequestStoresNothing: when every caller gives up
// while the shared response's body is still arriving, the shared request
// is cancelled and no partial entry is stored; the next request starts
// afresh and stores the whole response.
func TestCoalesceAbandonedRequestStoresNothing(t *testing.T) {
	t.Parallel()
	full := bytes.Repeat([]byte("x"), 10000)
	var n atomic.Int64
	halfway, aborted := make(chan struct{}), make(chan struct{})
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(full)))
		if n.Add(1) == 1 {
			w.Write(full[:5000])
			w.(http.Flusher).Flush()
			close(halfway)
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
			close(aborted)
			return
		}
		w.Write(full)
	})
	rt, counters := newCCStack(t, newClock(), ccOptions{noCC: true, coalesce: &middleware.CoalesceOptions{Workers: newWorkers(t, 0)}})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			_, err := rt.RoundTrip(mustRequest(t, ctx, http.MethodGet, o.URL, nil))
			assert.ErrorIs(t, err, context.Canceled)
		})
	}
	receive(t, halfway)
	cancel()
	wg.Wait()
	receive(t, aborted)
	assert.Zero(t, counters.Stored.Load())

	resp, body := get(t, rt, o.URL)
	assert.False(t, middleware.InfoOf(resp).FromCache)
	assert.Equal(t, string(full), body)
	resp, body = get(t, rt, o.URL)
	assert.True(t, middleware.InfoOf(resp).FromCache)
	assert.Equal(t, string(full), body, "the stored entry is whole")
	assert.Equal(t, int64(2), o.hits.Load())
}

// TestCoalesceSharing checks what may be shared: requests with
// credentials and responses that set cookies are not shared unless
// ShareCredentials; every caller then gets the response to a request of
// its own.
func TestCoalesceSharing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		share       bool
		reqHeader   http.Header
		setCookie   bool
		wantHits    int64
		wantDistinc bool // every caller sees a different response
	}{
		{name: "plain requests are shared", wantHits: 1},
		{name: "Authorization is not shared", reqHeader: header("Authorization", "Bearer t"), wantHits: 5, wantDistinc: true},
		{name: "Cookie is not shared", reqHeader: header("Cookie", "s=1"), wantHits: 5, wantDistinc: true},
		{name: "Set-Cookie is not shared", setCookie: true, wantHits: 5, wantDistinc: true},
		{name: "ShareCredentials shares Authorization", share: true, reqHeader: header("Authorization", "Bearer t"), wantHits: 1},
		{name: "ShareCredentials shares Set-Cookie", share: true, setCookie: true, wantHits: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			const callers = 5
			var n atomic.Int64
			release := make(chan struct{})
			o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
				v := n.Add(1)
				waitFor(release) // requests wait until every caller is in
				if tt.setCookie {
					w.Header().Set("Set-Cookie", fmt.Sprintf("id=%d", v))
				}
				fmt.Fprint(w, "response ", v)
			})
			rt, counters := newCCStack(t, newClock(), ccOptions{noCC: true, coalesce: &middleware.CoalesceOptions{Workers: newWorkers(t, 0), ShareCredentials: tt.share}})
			bodies := make([]string, callers)
			var wg sync.WaitGroup
			for i := range callers {
				wg.Go(func() {
					req := mustRequest(t, context.Background(), http.MethodGet, o.URL, nil)
					for k, vs := range tt.reqHeader {
						req.Header[k] = vs
					}
					resp, err := rt.RoundTrip(req)
					if !assert.NoError(t, err) {
						return
					}
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					bodies[i] = string(b)
					if tt.setCookie && !tt.share {
						assert.Equal(t, "id="+string(b[len("response "):]), resp.Header.Get("Set-Cookie"), "each caller gets its own cookie")
					}
				})
			}
			// Every caller has missed; the shareable ones have joined the
			// request waiting at the origin (a miss is counted before the
			// caller joins, so the misses alone do not say that).
			joined := callers
			if tt.reqHeader != nil && !tt.share {
				joined = 0 // credentials: not coalesced at all
			}
			require.Eventually(t, func() bool {
				return counters.Misses.Load() == callers && middleware.CoalesceWaiters(rt) == joined
			}, 10*time.Second, time.Millisecond)
			close(release)
			wg.Wait()
			assert.Equal(t, tt.wantHits, o.hits.Load())
			seen := map[string]bool{}
			for _, b := range bodies {
				seen[b] = true
			}
			if tt.wantDistinc {
				assert.Len(t, seen, callers, "no response went to two callers")
			} else {
				assert.Len(t, seen, 1)
			}
		})
	}
}

// TestCoalesceVary: concurrent misses for a URL whose response varies
// (RFC 9111 §4.1) are only answered with the shared response when they
// match it on the Vary fields; the others get a response of their own.
func TestCoalesceVary(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var first atomic.Bool
	c := newClock()
	o := newOrigin(t, dated(c, func(w http.ResponseWriter, r *http.Request) {
		if first.CompareAndSwap(false, true) {
			waitFor(release)
		}
		w.Header().Set("Vary", "Accept-Language")
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "in "+r.Header.Get("Accept-Language"))
	}))
	rt, counters := newCCStack(t, c, ccOptions{coalesce: &middleware.CoalesceOptions{Workers: newWorkers(t, 0)}})
	langs := []string{"en", "fr", "en", "de", "fr"}
	bodies := make([]string, len(langs))
	var wg sync.WaitGroup
	for i, lang := range langs {
		wg.Go(func() {
			req := mustRequest(t, context.Background(), http.MethodGet, o.URL, nil)
			req.Header.Set("Accept-Language", lang)
			resp, err := rt.RoundTrip(req)
			if assert.NoError(t, err) {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				bodies[i] = string(b)
			}
		})
	}
	require.Eventually(t, func() bool { return counters.Misses.Load() == int64(len(langs)) }, 10*time.Second, time.Millisecond)
	close(release)
	wg.Wait()
	for i, lang := range langs {
		assert.Equal(t, "in "+lang, bodies[i], "caller %d", i)
	}
	for _, lang := range []string{"en", "fr", "de"} {
		_, body, contacted := fetch(t, rt, o, o.URL, header("Accept-Language", lang))
		assert.False(t, contacted, "%s is stored", lang)
		assert.Equal(t, "in "+lang, body)
	}
}

// TestCoalesceHead: a shared HEAD response keeps its Content-Length.
func TestCoalesceHead(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		waitFor(release)
		w.Header().Set("Content-Length", "42")
	})
	rt, counters := newCCStack(t, newClock(), ccOptions{noCC: true, coalesce: &middleware.CoalesceOptions{Workers: newWorkers(t, 0)}})
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			resp, err := rt.RoundTrip(mustRequest(t, context.Background(), http.MethodHead, o.URL, nil))
			if assert.NoError(t, err) {
				resp.Body.Close()
				assert.Equal(t, int64(42), resp.ContentLength)
				assert.Equal(t, "42", resp.Header.Get("Content-Length"))
			}
		})
	}
	// A miss is counted before the caller joins the flight: wait until all
	// three have joined, or a late one would start a second request.
	require.Eventually(t, func() bool {
		return counters.Misses.Load() == 3 && middleware.CoalesceWaiters(rt) == 3
	}, 10*time.Second, time.Millisecond)
	close(release)
	wg.Wait()
	assert.Equal(t, int64(1), o.hits.Load())
}

// TestCoalesceErrors: a transport error reaches every waiting caller, and
// the next request tries again. It runs in a synctest bubble: the misses
// are counted before a caller joins the flight, so only synctest.Wait
// (every caller blocked) says that all four have joined it.
func TestCoalesceErrors(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		boom := errors.New("boom")
		var n atomic.Int64
		release := make(chan struct{})
		next := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if n.Add(1) == 1 {
				<-release
				return nil, boom
			}
			return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(bytes.NewReader([]byte("ok"))), Request: r}, nil
		})
		rt, counters := newCCStack(t, newClock(), ccOptions{noCC: true, next: next, coalesce: &middleware.CoalesceOptions{Workers: newWorkers(t, 0)}})
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				resp, err := rt.RoundTrip(mustRequest(t, context.Background(), http.MethodGet, "http://origin.test/", nil))
				assert.ErrorIs(t, err, boom)
				assert.Nil(t, resp)
			})
		}
		synctest.Wait()
		require.Equal(t, int64(4), counters.Misses.Load())
		close(release)
		wg.Wait()
		_, body := get(t, rt, "http://origin.test/")
		assert.Equal(t, "ok", body)
		assert.Equal(t, int64(2), n.Load())
	})
}

// TestCoalesceVaryStar: a response with Vary: * (RFC 9111 §4.1) matches no
// other request, so it answers only the request that fetched it, without a
// second fetch; every other caller fetches its own.
func TestCoalesceVaryStar(t *testing.T) {
	t.Parallel()
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Vary", "*")
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "varies")
	})
	rt, _ := newCCStack(t, newClock(), ccOptions{coalesce: &middleware.CoalesceOptions{Workers: newWorkers(t, 0)}})
	resp, err := rt.RoundTrip(mustRequest(t, context.Background(), http.MethodGet, o.URL, nil))
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	assert.Equal(t, "varies", string(b))
	assert.Equal(t, int64(1), o.hits.Load(), "the leader is answered by its own fetch")
}
