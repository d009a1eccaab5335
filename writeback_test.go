package cachestack_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack"
	"github.com/cachestack/cachestack/codec"
	"github.com/cachestack/cachestack/middleware"
	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/diskstore"
)

// TestWriteBackLosesNothing has concurrent callers miss on many URLs
// through a cache over diskstore, whose writes are made in the background,
// and read every body to EOF. After Flush, every response a caller read is
// in the store, or its write was counted as dropped because the queue was
// full: a second cache opened on the same directory answers every URL not
// dropped from the store, without asking the origin. With a queue too
// small for any body, every write is dropped and counted. The same holds
// when the store writes in batches (store.Batcher).
func TestWriteBackLosesNothing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		queueBytes  int64
		batches     bool
		wantDropped bool
	}{
		{"default queue", 0, false, false},
		{"queue smaller than a body", 1 << 10, false, true},
		{"batches", 0, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var hits atomic.Int64
			origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				w.Header().Set("Cache-Control", "max-age=3600")
				w.Write(bytes.Repeat([]byte(r.URL.Path), 4<<10/len(r.URL.Path)+1))
			}))
			t.Cleanup(origin.Close)
			dir := t.TempDir()
			var batcher *batchingStore // the first cache's store, with tt.batches
			open := func() *cachestack.Cache {
				d, err := diskstore.New(dir, nil)
				require.NoError(t, err)
				var bs store.Store[string, []byte] = d
				if tt.batches && batcher == nil {
					batcher = &batchingStore{Store: d}
					bs = batcher
				}
				s := codec.Bind(bs, codec.Response())
				// Generous deadlines: on a loaded machine a lookup that
				// times out is a miss, which this test would count as a
				// lost write, and so is a write that times out (a batch
				// of 64 Sets to disk under the race detector can).
				c, err := cachestack.New(&cachestack.Options{Store: s, WriteQueueBytes: tt.queueBytes, GetTimeout: time.Minute, SetTimeout: time.Minute,
					Logger: slog.New(slog.DiscardHandler)})
				require.NoError(t, err)
				return c
			}

			const urls, callers = 200, 8
			c := open()
			var wg sync.WaitGroup
			for g := range callers {
				wg.Go(func() {
					for i := g; i < urls; i += callers {
						readThrough(t, c, origin.URL+"/u/"+strconv.Itoa(i))
					}
				})
			}
			wg.Wait()
			require.NoError(t, c.Flush(t.Context()))
			counts := c.Stats().Counts
			require.NoError(t, c.Close())
			require.EqualValues(t, urls, hits.Load())
			dropped, stored := counts[middleware.MetricWritesDropped.String()], counts[middleware.MetricStored.String()]
			assert.EqualValues(t, urls, stored+dropped, "every response read to EOF is stored or counted as dropped")
			if tt.wantDropped {
				assert.EqualValues(t, urls, dropped, "no body fits the queue")
			} else {
				assert.Zero(t, dropped, "the default queue holds this load")
			}

			// A cache opened afresh on the directory finds every stored
			// response.
			again := open()
			defer again.Close()
			for i := range urls {
				readThrough(t, again, origin.URL+"/u/"+strconv.Itoa(i))
			}
			assert.EqualValues(t, urls+dropped, hits.Load(), "every response not dropped is a hit from the store")
			if tt.batches {
				assert.NotZero(t, batcher.batches.Load(), "writes that queued up went in batches")
			}
		})
	}
}

// batchingStore is a byte store that writes in batches (store.Batcher),
// one Set per item of a batch, and counts its batches.
type batchingStore struct {
	store.Store[string, []byte]
	batches atomic.Int64
}

func (b *batchingStore) SetMany(ctx context.Context, items []store.Item[string, []byte]) error {
	b.batches.Add(1)
	errs := make([]error, len(items))
	for i, it := range items {
		errs[i] = b.Set(ctx, it.Key, it.Value, it.TTL)
	}
	return store.BatchResult(errs)
}

// readThrough sends a GET for url through c and reads the body to EOF.
func readThrough(t *testing.T, c http.RoundTripper, url string) {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	if err != nil {
		t.Error(err)
		return
	}
	resp, err := c.RoundTrip(req)
	if err != nil {
		t.Error(err)
		return
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		t.Error(fmt.Errorf("%s: %w", url, err))
	}
}
