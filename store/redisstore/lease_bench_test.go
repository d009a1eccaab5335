package redisstore_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack"
	"github.com/cachestack/cachestack/codec"
	"github.com/cachestack/cachestack/middleware"
)

// BenchmarkLeasedMiss is the cost of coalescing across processes on a
// miss that no other process shares: a GET of a new URL through a cache
// over Redis, against a local origin, without and with
// CoalesceAcrossProcesses (a lease taken, a second lookup, the lease
// released after the write).
func BenchmarkLeasedMiss(b *testing.B) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = io.WriteString(w, "body")
	}))
	defer origin.Close()
	for _, lease := range []bool{false, true} {
		b.Run(map[bool]string{false: "off", true: "on"}[lease], func(b *testing.B) {
			c := newClient(b)
			s := open(b, c, nil)
			o := &cachestack.Options{Store: codec.Bind(s, codec.Response()), Coalesce: true}
			if lease {
				o.CoalesceAcrossProcesses = &middleware.LeaseOptions{}
			}
			cache, err := cachestack.New(o)
			require.NoError(b, err)
			defer cache.Close()
			client := cache.Client()
			i := 0
			for b.Loop() {
				i++
				resp, err := client.Get(fmt.Sprintf("%s/%d", origin.URL, i))
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			b.StopTimer()
			require.NoError(b, cache.Flush(b.Context()))
		})
	}
}

// BenchmarkLeaseWake measures how long after a release a waiter's
// AwaitRelease returns, once it has polled long enough to poll at its
// longest interval: the latency that polling adds to a waiting process
// (reported as wake-ms).
func BenchmarkLeaseWake(b *testing.B) {
	c := newClient(b)
	s := open(b, c, nil)
	ctx := b.Context()
	var wake time.Duration
	for i := 0; b.Loop(); i++ {
		key := fmt.Sprint("wake-", i)
		tok, ok, err := s.Acquire(ctx, key, time.Minute)
		require.NoError(b, err)
		require.True(b, ok)
		done := make(chan time.Time, 1)
		go func() {
			require.NoError(b, s.AwaitRelease(ctx, key))
			done <- time.Now()
		}()
		time.Sleep(100 * time.Millisecond) // the waiter reaches its longest interval
		released := time.Now()
		require.NoError(b, s.Release(ctx, key, tok))
		wake += (<-done).Sub(released)
	}
	b.ReportMetric(float64(wake.Microseconds())/1000/float64(b.N), "wake-ms")
}

// BenchmarkLeaseWakePubSub measures, for comparison with
// BenchmarkLeaseWake, what a waiter notified by Redis pub/sub would see: a
// SUBSCRIBE on a connection of its own (subscribe-ms), then the time from
// a PUBLISH by the holder to the waiter's receipt (wake-ms). redisstore
// polls instead; see AwaitRelease.
func BenchmarkLeaseWakePubSub(b *testing.B) {
	c := newClient(b)
	ctx := b.Context()
	channel := namespace(b)
	var wake, subscribe time.Duration
	for b.Loop() {
		start := time.Now()
		sub := c.Subscribe(ctx, channel)
		_, err := sub.Receive(ctx) // the subscription's confirmation
		require.NoError(b, err)
		subscribe += time.Since(start)
		done := make(chan time.Time, 1)
		go func() {
			_, err := sub.ReceiveMessage(ctx)
			require.NoError(b, err)
			done <- time.Now()
		}()
		time.Sleep(100 * time.Millisecond) // as long as BenchmarkLeaseWake's waiter waits
		released := time.Now()
		require.NoError(b, c.Publish(ctx, channel, "released").Err())
		wake += (<-done).Sub(released)
		require.NoError(b, sub.Close())
	}
	b.ReportMetric(float64(wake.Microseconds())/1000/float64(b.N), "wake-ms")
	b.ReportMetric(float64(subscribe.Microseconds())/1000/float64(b.N), "subscribe-ms")
}
