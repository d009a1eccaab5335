package main

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// limiter spaces the requests that reach the origin at most rate per
// second apart, in the order they ask. A nil *limiter does not limit.
type limiter struct {
	mu       sync.Mutex
	interval time.Duration
	next     time.Time
}

func newLimiter(rate float64) *limiter {
	if rate <= 0 {
		return nil
	}
	return &limiter{interval: time.Duration(float64(time.Second) / rate)}
}

// wait blocks until the caller's turn, or ctx ends.
func (l *limiter) wait(ctx context.Context) error {
	l.mu.Lock()
	now := time.Now()
	at := now
	if l.next.After(now) {
		at = l.next
	}
	l.next = at.Add(l.interval)
	l.mu.Unlock()
	if d := at.Sub(now); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	return nil
}

// wrap returns next, limited: it sits under the cache, so that only the
// requests the cache sends on are counted.
func (l *limiter) wrap(next http.RoundTripper) http.RoundTripper {
	if l == nil {
		return next
	}
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if err := l.wait(r.Context()); err != nil {
			if r.Body != nil {
				r.Body.Close()
			}
			return nil, err
		}
		return next.RoundTrip(r)
	})
}
