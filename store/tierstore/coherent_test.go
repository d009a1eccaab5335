package tierstore_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/storetest"
	"github.com/cachestack/cachestack/store/tierstore"
)

// hub connects the buses of tiers that share a back, in one process:
// what one bus publishes is queued until the test delivers it, so that the
// test decides when a message arrives. (redisstore tests the same Store
// over Redis pub/sub, between processes.)
type hub struct {
	mu      sync.Mutex
	buses   []*hubBus
	pending []pending
}

type pending struct {
	from *hubBus
	keys []string
}

type hubBus struct {
	hub       *hub
	lag       time.Duration // 0: an hour
	mu        sync.Mutex
	h         tierstore.Handler[string]
	stopped   bool
	published int
}

func (hb *hub) bus() *hubBus {
	b := &hubBus{hub: hb}
	hb.mu.Lock()
	hb.buses = append(hb.buses, b)
	hb.mu.Unlock()
	return b
}

func (b *hubBus) Publish(_ context.Context, keys ...string) error {
	b.hub.mu.Lock()
	defer b.hub.mu.Unlock()
	b.published++
	b.hub.pending = append(b.hub.pending, pending{b, keys})
	return nil
}

func (b *hubBus) Subscribe(h tierstore.Handler[string]) func() {
	b.mu.Lock()
	b.h = h
	b.mu.Unlock()
	h.Subscribed()
	h.Confirmed(time.Now())
	return func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.stopped = true
		b.h = nil
	}
}

func (b *hubBus) Lag() time.Duration {
	if b.lag == 0 {
		return time.Hour
	}
	return b.lag
}

// handler returns the subscribed handler, or nil once stopped.
func (b *hubBus) handler() tierstore.Handler[string] {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.h
}

// deliver hands every pending message to every other subscribed bus.
func (hb *hub) deliver() {
	hb.mu.Lock()
	msgs := hb.pending
	hb.pending = nil
	buses := append([]*hubBus(nil), hb.buses...)
	hb.mu.Unlock()
	for _, m := range msgs {
		for _, b := range buses {
			if h := b.handler(); b != m.from && h != nil {
				h.Invalidate(m.keys)
			}
		}
	}
}

// hooked is a back whose Get and Set run a hook in the middle of the call
// (after reading, before returning), to place a message or another call
// inside it.
type hooked struct {
	store.Store[string, []byte]
	mu           sync.Mutex
	onGet, onSet func()
}

func (h *hooked) Get(ctx context.Context, key string) ([]byte, error) {
	v, err := h.Store.Get(ctx, key)
	h.mu.Lock()
	f := h.onGet
	h.onGet = nil
	h.mu.Unlock()
	if f != nil {
		f()
	}
	return v, err
}

func (h *hooked) Set(ctx context.Context, key string, v []byte, ttl time.Duration) error {
	err := h.Store.Set(ctx, key, v, ttl)
	h.mu.Lock()
	f := h.onSet
	h.onSet = nil
	h.mu.Unlock()
	if f != nil {
		f()
	}
	return err
}

func newCoherent(t *testing.T, front, back store.Store[string, []byte], bus tierstore.Bus[string], opts *tierstore.Options) *tierstore.Store[string, []byte] {
	t.Helper()
	if opts == nil {
		opts = &tierstore.Options{}
	}
	opts.LeaveOpen = true // the back is shared by the tiers of the test
	s, err := tierstore.NewCoherent(front, back, bus, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func getString(t *testing.T, s store.Store[string, []byte], key string) string {
	t.Helper()
	v, err := s.Get(t.Context(), key)
	if err == store.ErrNotFound {
		return "<not found>"
	}
	require.NoError(t, err)
	return string(v)
}

func TestCoherentConformance(t *testing.T) {
	clk := storetest.NewClock()
	h := storetest.Bytes(func(t *testing.T) store.Store[string, []byte] {
		s, err := tierstore.NewCoherent(mustMem(clk, 1<<20), mustMem(clk, 0), (&hub{}).bus(), nil)
		require.NoError(t, err)
		return s
	})
	h.Advance = clk.Advance
	storetest.Run(t, h)
}

func TestNewCoherentErrors(t *testing.T) {
	clk := storetest.NewClock()
	_, err := tierstore.NewCoherent(mustMem(clk, 1<<20), mustMem(clk, 0), nil, nil)
	assert.EqualError(t, err, "tierstore: bus is nil")
	_, err = tierstore.NewCoherent[string, []byte](noListOrClear{newStub()}, mustMem(clk, 0), (&hub{}).bus(), nil)
	assert.ErrorContains(t, err, "tierstore: front store tierstore_test.noListOrClear cannot clear")
	_, err = tierstore.NewCoherent(mustMem(clk, 1<<20), mustMem(clk, 0), (&hub{}).bus(), &tierstore.Options{FrontTTL: -1})
	assert.EqualError(t, err, "tierstore: Options.FrontTTL is -1ns, want >= 0")
}

// TestCoherentInvalidations: process B's front drops what process A sets,
// deletes and clears in the shared back as soon as the message arrives,
// long before FrontTTL.
func TestCoherentInvalidations(t *testing.T) {
	clk := storetest.NewClock()
	back := mustMem(clk, 0)
	var hb hub
	busA, busB := hb.bus(), hb.bus()
	a := newCoherent(t, mustMem(clk, 1<<20), back, busA, &tierstore.Options{FrontTTL: time.Hour})
	b := newCoherent(t, mustMem(clk, 1<<20), back, busB, &tierstore.Options{FrontTTL: time.Hour})
	ctx := t.Context()
	assert.True(t, a.Coherent())

	require.NoError(t, a.Set(ctx, "k", []byte("v1"), 0))
	require.NoError(t, a.Set(ctx, "j", []byte("j1"), 0))
	hb.deliver()
	assert.Equal(t, "v1", getString(t, b, "k"))
	assert.Equal(t, "j1", getString(t, b, "j"))

	require.NoError(t, a.Set(ctx, "k", []byte("v2"), 0))
	assert.Equal(t, "v1", getString(t, b, "k"), "before the message arrives, B's front has the old value")
	hb.deliver()
	assert.Equal(t, "v2", getString(t, b, "k"), "after it, B reads the new value")
	assert.Equal(t, "v2", getString(t, a, "k"), "A's own front keeps what A wrote")

	require.NoError(t, a.Delete(ctx, "k"))
	hb.deliver()
	assert.Equal(t, "<not found>", getString(t, b, "k"))

	require.NoError(t, a.Clear(ctx))
	hb.deliver()
	assert.Equal(t, "<not found>", getString(t, b, "j"), "a Clear flushes the other fronts")
	assert.Equal(t, 5, busA.published, "three sets, a delete and a clear")
	assert.Zero(t, busB.published, "B only read")
}

// TestCoherentLostFallsBackToFrontTTL: while the bus has lost its
// subscription, the front is flushed and then serves what it fills for up
// to FrontTTL, as without a bus, never longer; subscribing again flushes
// it (messages may have been missed) and coherence resumes.
func TestCoherentLostFallsBackToFrontTTL(t *testing.T) {
	clk := storetest.NewClock()
	back := mustMem(clk, 0)
	var hb hub
	busB := hb.bus()
	b := newCoherent(t, mustMem(clk, 1<<20), back, busB, &tierstore.Options{FrontTTL: 30 * time.Second})
	ctx := t.Context()
	require.NoError(t, back.Set(ctx, "k", []byte("v1"), 0))
	require.NoError(t, back.Set(ctx, "old", []byte("o1"), 0))
	assert.Equal(t, "o1", getString(t, b, "old"))

	busB.handler().Lost()
	assert.False(t, b.Coherent())
	require.NoError(t, back.Set(ctx, "old", []byte("o2"), 0)) // a write whose message is missed
	assert.Equal(t, "o2", getString(t, b, "old"), "the front was flushed when the bus was lost")

	assert.Equal(t, "v1", getString(t, b, "k"))
	require.NoError(t, back.Set(ctx, "k", []byte("v2"), 0)) // a write whose message is missed
	clk.Advance(30*time.Second - 1)
	assert.Equal(t, "v1", getString(t, b, "k"), "while lost, within FrontTTL, the front may serve the old value")
	clk.Advance(1)
	assert.Equal(t, "v2", getString(t, b, "k"), "never beyond FrontTTL")

	require.NoError(t, back.Set(ctx, "k", []byte("v3"), 0)) // missed too
	busB.handler().Subscribed()
	assert.True(t, b.Coherent())
	assert.Equal(t, "v3", getString(t, b, "k"), "subscribing again flushed the front")
}

// TestCoherentFillRace: an invalidation arriving while Get reads the back
// (the read may have returned the value before the write) keeps Get from
// filling the front with what it read.
func TestCoherentFillRace(t *testing.T) {
	clk := storetest.NewClock()
	back := &hooked{Store: mustMem(clk, 0)}
	var hb hub
	busA, busB := hb.bus(), hb.bus()
	a := newCoherent(t, mustMem(clk, 1<<20), back, busA, &tierstore.Options{FrontTTL: time.Hour})
	b := newCoherent(t, mustMem(clk, 1<<20), back, busB, &tierstore.Options{FrontTTL: time.Hour})
	ctx := t.Context()
	require.NoError(t, back.Store.Set(ctx, "k", []byte("v1"), 0))

	back.onGet = func() {
		// B has read v1; A overwrites, and its message reaches B
		// before B fills its front.
		require.NoError(t, a.Set(ctx, "k", []byte("v2"), 0))
		hb.deliver()
	}
	assert.Equal(t, "v1", getString(t, b, "k"), "the read itself returns what it read")
	assert.Equal(t, "v2", getString(t, b, "k"), "but B's front did not keep it")
}

// TestCoherentSetRace: an invalidation arriving while Set writes the back
// (another process wrote the key after it) keeps Set's value out of the
// front.
func TestCoherentSetRace(t *testing.T) {
	clk := storetest.NewClock()
	back := &hooked{Store: mustMem(clk, 0)}
	var hb hub
	busA, busB := hb.bus(), hb.bus()
	a := newCoherent(t, mustMem(clk, 1<<20), back, busA, &tierstore.Options{FrontTTL: time.Hour})
	b := newCoherent(t, mustMem(clk, 1<<20), back, busB, &tierstore.Options{FrontTTL: time.Hour})
	ctx := t.Context()

	back.onSet = func() {
		// A's write has reached the back; B's lands after it, and
		// B's message reaches A before A writes its front.
		require.NoError(t, b.Set(ctx, "k", []byte("fromB"), 0))
		hb.deliver()
	}
	require.NoError(t, a.Set(ctx, "k", []byte("fromA"), 0))
	assert.Equal(t, "fromB", getString(t, a, "k"), "A's front does not keep its older write")
}

// TestCoherentLocalDeleteRace: a Get reading the back while the same
// Store deletes the key does not fill the front with the deleted value.
func TestCoherentLocalDeleteRace(t *testing.T) {
	clk := storetest.NewClock()
	back := &hooked{Store: mustMem(clk, 0)}
	s := newCoherent(t, mustMem(clk, 1<<20), back, (&hub{}).bus(), &tierstore.Options{FrontTTL: time.Hour})
	ctx := t.Context()
	require.NoError(t, back.Store.Set(ctx, "k", []byte("v1"), 0))
	back.onGet = func() { require.NoError(t, s.Delete(ctx, "k")) }
	assert.Equal(t, "v1", getString(t, s, "k"))
	assert.Equal(t, "<not found>", getString(t, s, "k"), "the deleted value was not filled")

	require.NoError(t, back.Store.Set(ctx, "k", []byte("v1"), 0))
	back.onGet = func() { require.NoError(t, s.Set(ctx, "k", []byte("v2"), 0)) }
	assert.Equal(t, "v1", getString(t, s, "k"))
	assert.Equal(t, "v2", getString(t, s, "k"), "the value read before the Set was not filled over it")
}

// TestCoherentCloseStopsSubscription: Close ends the subscription, also
// with LeaveOpen.
func TestCoherentCloseStopsSubscription(t *testing.T) {
	clk := storetest.NewClock()
	bus := (&hub{}).bus()
	s, err := tierstore.NewCoherent(mustMem(clk, 1<<20), mustMem(clk, 0), bus, &tierstore.Options{LeaveOpen: true})
	require.NoError(t, err)
	require.NotNil(t, bus.handler())
	require.NoError(t, s.Close())
	assert.Nil(t, bus.handler())
	assert.False(t, s.Coherent())
}

// TestCoherentUnconfirmedFrontIsNotServed: while the bus has not confirmed
// delivery within its Lag (its goroutine fell behind), Get reads the back
// rather than serve the front.
func TestCoherentUnconfirmedFrontIsNotServed(t *testing.T) {
	clk := storetest.NewClock()
	back := mustMem(clk, 0)
	var hb hub
	busA, busB := hb.bus(), hb.bus()
	busB.lag = time.Nanosecond // confirmed at Subscribe, long ago by now
	a := newCoherent(t, mustMem(clk, 1<<20), back, busA, &tierstore.Options{FrontTTL: time.Hour})
	b := newCoherent(t, mustMem(clk, 1<<20), back, busB, &tierstore.Options{FrontTTL: time.Hour})
	ctx := t.Context()
	require.NoError(t, a.Set(ctx, "k", []byte("v1"), 0))
	assert.Equal(t, "v1", getString(t, b, "k"))
	require.NoError(t, a.Set(ctx, "k", []byte("v2"), 0)) // its message not delivered
	assert.Equal(t, "v2", getString(t, b, "k"), "B read the back, not its unconfirmed front")

	busB.handler().Lost()
	assert.Equal(t, "v2", getString(t, b, "k"))
	require.NoError(t, a.Set(ctx, "k", []byte("v3"), 0))
	assert.Equal(t, "v2", getString(t, b, "k"), "while lost, the front is served, up to FrontTTL")
}
