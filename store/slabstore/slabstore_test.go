package slabstore_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/slabstore"
	"github.com/cachestack/cachestack/store/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestConformance(t *testing.T) {
	tests := []struct {
		name string
		give slabstore.Options
	}{
		{"Default", slabstore.Options{}},                  // 64 MiB: 4 shards of 16 segments of 1 MiB
		{"Small", slabstore.Options{MaxBytes: 1 << 20}},   // 1 shard of 16 segments of 64 KiB
		{"Large", slabstore.Options{MaxBytes: 512 << 20}}, // 16 shards of 32 segments of 1 MiB
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := storetest.NewClock()
			h := storetest.Responses(func(t *testing.T) store.Store[string, *cached.Response] {
				opts := tt.give
				opts.Clock = clk.Now
				return newStore(t, &opts)
			})
			h.Advance = clk.Advance
			storetest.Run(t, h)
		})
	}
}

func TestUseClock(t *testing.T) {
	t.Parallel()
	storetest.UseClock(t, storetest.Responses(func(t *testing.T) store.Store[string, *cached.Response] {
		return newStore(t, &slabstore.Options{MaxBytes: 1 << 20})
	}))
	// A store built with a clock keeps it.
	s := newStore(t, &slabstore.Options{MaxBytes: 1 << 20, Clock: time.Now})
	assert.False(t, s.UseClock(time.Now))
}

func newStore(t testing.TB, opts *slabstore.Options) *slabstore.Store {
	t.Helper()
	s, err := slabstore.New(opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name string
		give slabstore.Options
		want string
	}{
		{"Negative", slabstore.Options{MaxBytes: -5}, "slabstore: Options.MaxBytes is -5, want 0 or at least 1 MiB (1048576)"},
		{"TooSmall", slabstore.Options{MaxBytes: 1<<20 - 1}, "slabstore: Options.MaxBytes is 1048575, want 0 or at least 1 MiB (1048576)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := slabstore.New(&tt.give)
			require.EqualError(t, err, tt.want)
			assert.Nil(t, s)
		})
	}
}

// full returns a response with every field set, of a body of n bytes.
func full(i, n int) *cached.Response {
	t0 := time.Date(2026, 12, 5, 12, 0, 0, 123456789, time.UTC)
	body := make([]byte, n)
	for j := range body {
		body[j] = byte(i + j)
	}
	return &cached.Response{
		Method:       http.MethodPost,
		URL:          "https://example.com/" + strconv.Itoa(i),
		StatusCode:   299,
		Proto:        "HTTP/2.0",
		Header:       cached.NewHeader(http.Header{"Content-Type": {"text/plain"}, "Vary": {"Accept", "Cookie"}, "X-Empty": {""}}),
		Body:         body,
		VaryHeader:   http.Header{"Accept": {"digest-a"}, "Cookie": {"", "digest-c"}},
		RequestTime:  t0,
		ResponseTime: t0.Add(time.Millisecond),
		Created:      t0.Add(time.Second),
		Expires:      time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC), // far outside int64 nanoseconds
		InitialAge:   -5 * time.Second,
		Kind:         cached.KindVariants,
		Vary:         []string{"Accept", "", "Cookie"},
		Ref:          "ref-" + strconv.Itoa(i),
	}
}

// Every field comes back as it went in, the distinction between nil and
// empty VaryHeader and Vary included.
func TestRoundTrip(t *testing.T) {
	s := newStore(t, nil)
	ctx := t.Context()
	tests := map[string]*cached.Response{
		"every field":       full(1, 100),
		"empty":             {},
		"empty vary fields": {VaryHeader: http.Header{}, Vary: []string{}},
		"no body":           full(2, 0),
		"vary index with its inline variant": {Kind: cached.KindVariants, URL: "https://a.example/", Vary: []string{"Accept"}, Ref: "g",
			Variant: full(3, 100)},
		"inline variant without a body": {Kind: cached.KindVariants, Variant: full(4, 0)},
	}
	for name, want := range tests {
		require.NoError(t, s.Set(ctx, name, want, 0), name)
	}
	for name, want := range tests {
		got, err := s.Get(ctx, name)
		require.NoError(t, err, name)
		if len(want.Body) == 0 {
			want.Body = nil
		}
		if v := want.Variant; v != nil && len(v.Body) == 0 {
			v.Body = nil
		}
		assert.Equal(t, want, got, name)
	}
	nested := &cached.Response{Kind: cached.KindVariants, Variant: &cached.Response{Variant: full(5, 1)}}
	require.ErrorIs(t, s.Set(ctx, "nested", nested, 0), store.ErrTooLarge, "an inline variant holding one of its own")
}

// The response a Get returned keeps its bytes when its entry is
// overwritten, deleted, evicted, cleared, and when the store is closed.
func TestResponsesOutliveTheirEntries(t *testing.T) {
	s := newStore(t, &slabstore.Options{MaxBytes: 1 << 20})
	ctx := t.Context()
	require.NoError(t, s.Set(ctx, "k", full(1, 1000), 0))
	got, err := s.Get(ctx, "k")
	require.NoError(t, err)
	require.NoError(t, s.Set(ctx, "k", full(2, 1000), 0))
	require.NoError(t, s.Delete(ctx, "k"))
	for i := range 3000 { // three budgets' worth: every segment evicted
		require.NoError(t, s.Set(ctx, strconv.Itoa(i), full(i, 1000), 0))
	}
	require.NoError(t, s.Clear(ctx))
	require.NoError(t, s.Close())
	assert.Equal(t, full(1, 1000), got)
}

// Set copies: changing the response given to Set afterwards changes
// nothing stored.
func TestSetCopies(t *testing.T) {
	s := newStore(t, nil)
	ctx := t.Context()
	r := full(1, 10)
	require.NoError(t, s.Set(ctx, "k", r, 0))
	r.Body[0]++
	r.URL = "changed"
	r.VaryHeader["Accept"][0] = "changed"
	got, err := s.Get(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, full(1, 10), got)
}

func TestNilResponse(t *testing.T) {
	s := newStore(t, nil)
	require.Error(t, s.Set(t.Context(), "k", nil, 0))
}

func TestTooLarge(t *testing.T) {
	s := newStore(t, &slabstore.Options{MaxBytes: 1 << 20}) // one shard
	ctx := t.Context()
	require.NoError(t, s.Set(ctx, "k", full(1, 10), 0))
	require.ErrorIs(t, s.Set(ctx, "k", full(1, 1<<20), 0), store.ErrTooLarge)
	_, err := s.Get(ctx, "k")
	require.ErrorIs(t, err, store.ErrNotFound, "an oversize Set removes the old value")
	// Half the budget fits, in a segment of its own.
	big := full(2, 512<<10)
	require.NoError(t, s.Set(ctx, "big", big, 0))
	got, err := s.Get(ctx, "big")
	require.NoError(t, err)
	assert.Equal(t, big, got)
	assert.LessOrEqual(t, s.Bytes(), int64(1<<20))
}

// An entry that keeps being read stays, however many others are set after
// it; the store never goes over its budget.
func TestReadEntriesStay(t *testing.T) {
	s := newStore(t, &slabstore.Options{MaxBytes: 1 << 20})
	ctx := t.Context()
	require.NoError(t, s.Set(ctx, "hot", full(0, 1000), 0))
	for i := range 10000 { // ten budgets
		require.NoError(t, s.Set(ctx, strconv.Itoa(i), full(i, 1000), 0))
		if i%100 == 0 {
			_, err := s.Get(ctx, "hot")
			require.NoError(t, err, "after %d sets", i+1)
		}
		require.LessOrEqual(t, s.Bytes(), int64(1<<20))
	}
	_, err := s.Get(ctx, "0")
	require.ErrorIs(t, err, store.ErrNotFound, "an entry never read is evicted")
	assert.Greater(t, s.Len(), 500)
}

func TestExpiry(t *testing.T) {
	clk := storetest.NewClock()
	s := newStore(t, &slabstore.Options{Clock: clk.Now})
	ctx := t.Context()
	require.NoError(t, s.Set(ctx, "a", full(1, 4), time.Second))
	require.NoError(t, s.Set(ctx, "b", full(2, 4), time.Second))
	clk.Advance(time.Second)
	assert.Equal(t, 2, s.Len(), "expired entries stay until something reaches them")
	_, err := s.Get(ctx, "a")
	require.ErrorIs(t, err, store.ErrNotFound)
	assert.Equal(t, 1, s.Len())
}

// Keys that collide in the index (same hash) cannot be made on purpose
// (the hash is seeded); what the store checks is that a Get compares the
// key stored in the record: the index slot of a key holds only its own
// record, so a Get of another key never returns it.
func TestKeyChecked(t *testing.T) {
	s := newStore(t, nil)
	ctx := t.Context()
	for i := range 1000 {
		require.NoError(t, s.Set(ctx, "k"+strconv.Itoa(i), full(i, 8), 0))
	}
	for i := range 1000 {
		got, err := s.Get(ctx, "k"+strconv.Itoa(i))
		require.NoError(t, err)
		require.Equal(t, "https://example.com/"+strconv.Itoa(i), got.URL)
		_, err = s.Get(ctx, "x"+strconv.Itoa(i))
		require.ErrorIs(t, err, store.ErrNotFound)
	}
}

// Readers race writers that evict, overwrite and delete: every response a
// Get returns, read after its segment was evicted, holds its own key's
// bytes, never another entry's. Run it under -race.
func TestConcurrentReadersAndEviction(t *testing.T) {
	s := newStore(t, &slabstore.Options{MaxBytes: 1 << 20})
	ctx := t.Context()
	const keys = 2000 // about three budgets of 1 KiB bodies
	body := func(k, version int) []byte {
		b := make([]byte, 1024)
		binary.LittleEndian.PutUint64(b, uint64(k))
		binary.LittleEndian.PutUint64(b[8:], uint64(version))
		for j := 16; j < len(b); j++ {
			b[j] = byte(k*31 + version*7 + j)
		}
		return b
	}
	var (
		wg      sync.WaitGroup
		stop    atomic.Bool
		hits    atomic.Int64
		held    = make(chan *cached.Response, 256)
		version [keys]atomic.Int64
	)
	check := func(r *cached.Response) error {
		k, err := strconv.Atoi(r.Ref)
		if err != nil {
			return err
		}
		v := int(binary.LittleEndian.Uint64(r.Body[8:]))
		if r.URL != "u"+r.Ref || !bytes.Equal(r.Body, body(k, v)) {
			return fmt.Errorf("response for key %d holds other bytes", k)
		}
		return nil
	}
	for w := range 2 { // writers: set, overwrite, delete
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				k := (i*7 + w*13) % keys
				if i%10 == 9 {
					_ = s.Delete(ctx, strconv.Itoa(k))
					continue
				}
				v := int(version[k].Add(1))
				r := &cached.Response{URL: "u" + strconv.Itoa(k), Ref: strconv.Itoa(k), Body: body(k, v)}
				if err := s.Set(ctx, strconv.Itoa(k), r, 0); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for g := range 4 { // readers: check at once, and hold some for later
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				k := (i*11 + g) % keys
				r, err := s.Get(ctx, strconv.Itoa(k))
				if err == store.ErrNotFound {
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				if r.Ref != strconv.Itoa(k) {
					t.Errorf("Get(%d) returned the entry of %s", k, r.Ref)
					return
				}
				if err := check(r); err != nil {
					t.Error(err)
					return
				}
				hits.Add(1)
				select {
				case held <- r:
				default:
				}
			}
		})
	}
	wg.Go(func() { // re-reads the held responses, long after
		for !stop.Load() {
			select {
			case r := <-held:
				if err := check(r); err != nil {
					t.Error(err)
					return
				}
			default:
			}
		}
	})
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) && !t.Failed() && hits.Load() < 200000 {
		time.Sleep(10 * time.Millisecond) // not a wait for a condition: how long the load runs
	}
	stop.Store(true)
	wg.Wait()
	assert.Positive(t, hits.Load())
	assert.LessOrEqual(t, s.Bytes(), int64(1<<20))
}

// A Get that hits allocates the response alone; a miss allocates nothing.
func TestGetAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	s := newStore(t, nil)
	ctx := context.Background()
	r := storetest.Response(1)
	r.Body = make([]byte, 4096)
	require.NoError(t, s.Set(ctx, "k", r, 0))
	assert.Equal(t, 1.0, testing.AllocsPerRun(100, func() { _, _ = s.Get(ctx, "k") }))
	assert.Zero(t, testing.AllocsPerRun(100, func() { _, _ = s.Get(ctx, "missing") }))
}
