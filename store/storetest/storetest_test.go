package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/store"
)

// The suite against a correct store: everything passes.

func TestRunBytes(t *testing.T) {
	clk := NewClock()
	h := Bytes(func(t *testing.T) store.Store[string, []byte] {
		return newMapStore[string, []byte](clk.Now, 0)
	})
	h.Advance = clk.Advance
	Run(t, h)
}

type record struct {
	N    int
	Tags []string
}

func TestRunTyped(t *testing.T) {
	clk := NewClock()
	Run(t, Harness[int, *record]{
		New: func(t *testing.T) store.Store[int, *record] {
			return newMapStore[int, *record](clk.Now, 0)
		},
		Key:     func(i int) int { return i * 3 },
		Value:   func(i int) *record { return &record{N: i, Tags: []string{fmt.Sprint(i)}} },
		Advance: clk.Advance,
	})
}

// BenchmarkMapStore runs Bench on a typed store with int keys, which must
// give Key, and asynchronous-style Sync.
func BenchmarkMapStore(b *testing.B) {
	clk := NewClock()
	syncs := 0
	Bench(b, BenchHarness[int, *record]{
		New: func(b *testing.B, _ int) store.Store[int, *record] {
			return newMapStore[int, *record](clk.Now, 0)
		},
		Key:   func(i int) int { return i * 3 },
		Value: func(size int) *record { return &record{N: size} },
		Keys:  16,
		Sync:  func() { syncs++ },
	})
	require.Positive(b, syncs, "Bench must call Sync while it fills the store")
}

// BenchmarkMapStoreBytes runs Bench with BenchBytes's default keys.
func BenchmarkMapStoreBytes(b *testing.B) {
	clk := NewClock()
	Bench(b, BenchBytes(func(b *testing.B, _ int) store.Store[string, []byte] {
		return newMapStore[string, []byte](clk.Now, 0)
	}))
}

// The suite against broken stores: the check aimed at each flaw fails.

func TestCatchesBrokenStores(t *testing.T) {
	tests := []struct {
		give  flaws
		check string
	}{
		{give: missError, check: "Miss"},
		{give: missNil, check: "Miss"},
		{give: overwriteIgnored, check: "Overwrite"},
		{give: deleteIgnored, check: "Delete"},
		{give: deleteMissingErrors, check: "DeleteMissing"},
		{give: ttlIgnored, check: "Expiry"},
		{give: ttlKeptOnOverwrite, check: "Expiry"},
		{give: negativeTTLAccepted, check: "NegativeTTL"},
		{give: cancelledWrongError, check: "CancelledContext"},
		{give: longKeysTruncated, check: "OddKeys"},
		{give: buffersShared, check: "NoSharedBuffers"},
		{give: getBufferShared, check: "NoSharedBuffers"},
		{give: viewReused, check: "View"},
		{give: emptyIsMiss, check: "EmptyBytes"},
		{give: keysIgnoreBreak, check: "Keys"},
		{give: keysListExpired, check: "Keys"},
		{give: clearIgnored, check: "Clear"},
		{give: closeIgnored, check: "Close"},
		{give: closedMisses, check: "Close"},
		{give: doubleCloseErrors, check: "Close"},
	}
	for _, tt := range tests {
		t.Run(tt.give.String(), func(t *testing.T) {
			clk := NewClock()
			h := Bytes(func(t *testing.T) store.Store[string, []byte] {
				return newMapStore[string, []byte](clk.Now, tt.give)
			})
			h.Advance = clk.Advance
			rec := runCheck(t, h, tt.check)
			assert.True(t, rec.Failed(), "%s passed against a store with flaw %s", tt.check, tt.give)
			assert.False(t, rec.Skipped())
			t.Logf("%s says:\n%s", tt.check, rec.output())

			// The flaw is the reason: without it the same check passes.
			h.New = func(t *testing.T) store.Store[string, []byte] {
				return newMapStore[string, []byte](clk.Now, 0)
			}
			rec = runCheck(t, h, tt.check)
			assert.False(t, rec.Failed(), "%s failed against a correct store:\n%s", tt.check, rec.output())
		})
	}
}

func TestSkipsSayWhy(t *testing.T) {
	clk := NewClock()
	full := func(t *testing.T) store.Store[string, []byte] { return newMapStore[string, []byte](clk.Now, 0) }
	bare := func(t *testing.T) store.Store[string, []byte] {
		return struct{ store.Store[string, []byte] }{newMapStore[string, []byte](clk.Now, 0)} // hides Keys and Clear
	}
	typed := Harness[int, int]{
		New:   func(t *testing.T) store.Store[int, int] { return newMapStore[int, int](clk.Now, 0) },
		Key:   func(i int) int { return i },
		Value: func(i int) int { return -i - 1 },
	}
	tests := []struct {
		name      string
		check     string
		give      Harness[string, []byte]
		wantSkip  bool
		wantWords string
	}{
		{"NoAdvance", "Expiry", Bytes(full), true, "Harness.Advance is nil"},
		{"LacksExpiry", "Expiry", lacking(Bytes(full), Expiry, "ttl is the backend's job"), true, "ttl is the backend's job"},
		{"LacksListing", "Keys", lacking(Bytes(bare), Listing, "no SCAN on this backend"), true, "no SCAN on this backend"},
		{"LacksClearing", "Clear", lacking(Bytes(bare), Clearing, "shared keyspace"), true, "shared keyspace"},
		{"UndeclaredListing", "Keys", Bytes(bare), false, "does not implement store.Lister"},
		{"UndeclaredClearing", "Clear", Bytes(bare), false, "does not implement store.Clearer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := runCheck(t, tt.give, tt.check)
			assert.Equal(t, tt.wantSkip, rec.Skipped(), "skipped")
			assert.Equal(t, !tt.wantSkip, rec.Failed(), "failed")
			assert.Contains(t, rec.output(), tt.wantWords)
		})
	}
	t.Run("NoView", func(t *testing.T) {
		rec := runCheck(t, Bytes(bare), "View")
		assert.True(t, rec.Skipped(), "skipped")
		assert.Contains(t, rec.output(), "does not implement store.Viewer")
	})
	for _, name := range []string{"OddKeys", "NoSharedBuffers", "EmptyBytes"} {
		t.Run(name+"Typed", func(t *testing.T) {
			rec := runCheck(t, typed, name)
			assert.True(t, rec.Skipped(), "skipped")
			assert.Contains(t, rec.output(), "int, not")
		})
	}
}

func lacking[K comparable, V any](h Harness[K, V], c Capability, reason string) Harness[K, V] {
	h.Lacks = map[Capability]string{c: reason}
	return h
}

func TestBytesHarness(t *testing.T) {
	h := Bytes(nil)
	keys := make(map[string]bool)
	values := make(map[string]bool)
	for i := range 1000 {
		keys[h.Key(i)] = true
		v := h.Value(i)
		require.GreaterOrEqual(t, len(v), 8)
		values[string(v)] = true
		require.Equal(t, v, h.Value(i), "Value(%d) is not deterministic", i)
	}
	assert.Len(t, keys, 1000, "keys are not distinct")
	assert.Len(t, values, 1000, "values are not distinct")
	assert.True(t, strings.HasPrefix(h.Key(7), "key-0007/"))
}

// runCheck runs one named check of the suite against h, reporting to a
// recorder instead of t, and returns the recorder.
func runCheck[K comparable, V any](t *testing.T, h Harness[K, V], name string) *recorder {
	t.Helper()
	validate(t, &h)
	var run func(*suite[K, V])
	for _, c := range checks[K, V]() {
		if c.name == name {
			run = c.run
		}
	}
	require.NotNil(t, run, "no check named %q", name)
	rec := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer rec.runCleanups()
		defer func() {
			if p := recover(); p != nil {
				rec.Errorf("panic: %v", p)
			}
		}()
		run(newSuite(rec, t, h))
	}()
	<-done
	return rec
}

// recorder is a testing.TB that records failures and skips instead of
// reporting them, so that the suite's own verdicts can be tested.
type recorder struct {
	testing.TB // the real test, for everything recorder does not override

	mu       sync.Mutex
	failed   bool
	skipped  bool
	logs     []string
	cleanups []func()
}

func (r *recorder) Helper() {}

func (r *recorder) Log(args ...any) { r.log(fmt.Sprintln(args...)) }

func (r *recorder) Logf(format string, args ...any) { r.log(fmt.Sprintf(format, args...)) }

func (r *recorder) Error(args ...any) { r.Log(args...); r.Fail() }

func (r *recorder) Errorf(format string, args ...any) { r.Logf(format, args...); r.Fail() }

func (r *recorder) Fatal(args ...any) { r.Error(args...); r.FailNow() }

func (r *recorder) Fatalf(format string, args ...any) { r.Errorf(format, args...); r.FailNow() }

func (r *recorder) Skip(args ...any) { r.Log(args...); r.SkipNow() }

func (r *recorder) Skipf(format string, args ...any) { r.Logf(format, args...); r.SkipNow() }

func (r *recorder) Fail() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed = true
}

func (r *recorder) FailNow() {
	r.Fail()
	runtime.Goexit()
}

func (r *recorder) SkipNow() {
	r.mu.Lock()
	r.skipped = true
	r.mu.Unlock()
	runtime.Goexit()
}

func (r *recorder) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

func (r *recorder) Skipped() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.skipped
}

func (r *recorder) Cleanup(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cleanups = append(r.cleanups, f)
}

func (r *recorder) runCleanups() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
}

func (r *recorder) log(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.logs = append(r.logs, s)
}

func (r *recorder) output() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.logs, "\n")
}

// flaws are the ways mapStore can be told to break the contract.
type flaws uint32

const (
	missError           flaws = 1 << iota // a miss is a plain error
	missNil                               // a miss is the zero value and no error
	overwriteIgnored                      // Set keeps the first value
	deleteIgnored                         // Delete does nothing
	deleteMissingErrors                   // Delete of a missing key fails
	ttlIgnored                            // entries never expire
	ttlKeptOnOverwrite                    // Set with ttl 0 keeps the old expiry
	negativeTTLAccepted                   // a negative ttl means no ttl
	cancelledWrongError                   // a cancelled context gives a plain error
	longKeysTruncated                     // string keys are cut at 256 bytes
	buffersShared                         // []byte values are not copied at all
	getBufferShared                       // Get returns the stored slice
	emptyIsMiss                           // an empty []byte reads as a miss
	keysIgnoreBreak                       // Keys goes on yielding after a break
	keysListExpired                       // Keys lists expired entries
	clearIgnored                          // Clear does nothing
	closeIgnored                          // Close does nothing
	closedMisses                          // calls after Close miss or succeed
	doubleCloseErrors                     // a second Close fails
	viewReused                            // Set writes over the buffer View lent
)

func (f flaws) String() string {
	names := []string{"missError", "missNil", "overwriteIgnored", "deleteIgnored", "deleteMissingErrors",
		"ttlIgnored", "ttlKeptOnOverwrite", "negativeTTLAccepted", "cancelledWrongError", "longKeysTruncated",
		"buffersShared", "getBufferShared", "emptyIsMiss", "keysIgnoreBreak", "keysListExpired",
		"clearIgnored", "closeIgnored", "closedMisses", "doubleCloseErrors", "viewReused"}
	var out []string
	for i, n := range names {
		if f&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return strings.Join(out, "|")
}

// mapStore is a small store that is correct unless told to be broken.
type mapStore[K comparable, V any] struct {
	mu     sync.Mutex
	m      map[K]mapEntry[V]
	now    func() time.Time
	copy   func(V) V
	closed bool
	flaws  flaws
}

type mapEntry[V any] struct {
	v       V
	expires time.Time
}

func newMapStore[K comparable, V any](now func() time.Time, f flaws) *mapStore[K, V] {
	s := &mapStore[K, V]{m: make(map[K]mapEntry[V]), now: now, flaws: f, copy: func(v V) V { return v }}
	var zero V
	if _, ok := any(zero).([]byte); ok {
		s.copy = func(v V) V { return any(bytes.Clone(any(v).([]byte))).(V) }
	}
	return s
}

func (s *mapStore[K, V]) has(f flaws) bool { return s.flaws&f != 0 }

func (s *mapStore[K, V]) key(k K) K {
	if str, ok := any(k).(string); ok && s.has(longKeysTruncated) && len(str) > 256 {
		return any(str[:256]).(K)
	}
	return k
}

func (s *mapStore[K, V]) check(ctx context.Context) error {
	if s.closed && !s.has(closeIgnored|closedMisses) {
		return store.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		if s.has(cancelledWrongError) {
			return errors.New("context is done")
		}
		return err
	}
	return nil
}

func (s *mapStore[K, V]) live(e mapEntry[V]) bool {
	return s.has(ttlIgnored) || e.expires.IsZero() || s.now().Before(e.expires)
}

func (s *mapStore[K, V]) Get(ctx context.Context, k K) (V, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var zero V
	if err := s.check(ctx); err != nil {
		return zero, err
	}
	if s.closed && s.has(closedMisses) {
		return zero, store.ErrNotFound
	}
	e, ok := s.m[s.key(k)]
	if b, isBytes := any(e.v).([]byte); isBytes && len(b) == 0 && s.has(emptyIsMiss) {
		ok = false
	}
	switch {
	case !ok || !s.live(e):
		if s.has(missNil) {
			return zero, nil
		}
		if s.has(missError) {
			return zero, errors.New("no such key")
		}
		return zero, store.ErrNotFound
	case s.has(buffersShared | getBufferShared):
		return e.v, nil
	}
	return s.copy(e.v), nil
}

// View returns the stored value itself (store.Viewer): Set stores a copy
// and never writes into a value it holds, unless told to be broken.
func (s *mapStore[K, V]) View(ctx context.Context, k K) (V, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var zero V
	if err := s.check(ctx); err != nil {
		return zero, err
	}
	e, ok := s.m[s.key(k)]
	if !ok || !s.live(e) {
		return zero, store.ErrNotFound
	}
	return e.v, nil
}

func (s *mapStore[K, V]) Set(ctx context.Context, k K, v V, ttl time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx); err != nil {
		return err
	}
	if ttl < 0 && !s.has(negativeTTLAccepted) {
		return store.ErrNegativeTTL
	}
	k = s.key(k)
	old, exists := s.m[k]
	if exists && s.has(overwriteIgnored) {
		return nil
	}
	e := mapEntry[V]{v: s.copy(v)}
	if s.has(buffersShared) {
		e.v = v
	}
	if ob, ok := any(old.v).([]byte); ok && exists && s.has(viewReused) && len(ob) == len(any(v).([]byte)) {
		copy(ob, any(v).([]byte))
		e.v = old.v
	}
	if ttl > 0 {
		e.expires = s.now().Add(ttl)
	} else if exists && s.has(ttlKeptOnOverwrite) {
		e.expires = old.expires
	}
	s.m[k] = e
	return nil
}

func (s *mapStore[K, V]) Delete(ctx context.Context, k K) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx); err != nil {
		return err
	}
	k = s.key(k)
	if _, ok := s.m[k]; !ok && s.has(deleteMissingErrors) {
		return errors.New("no such key")
	}
	if !s.has(deleteIgnored) {
		delete(s.m, k)
	}
	return nil
}

func (s *mapStore[K, V]) Keys(ctx context.Context) iter.Seq2[K, error] {
	return func(yield func(K, error) bool) {
		s.mu.Lock()
		err := s.check(ctx)
		var keys []K
		for k, e := range s.m {
			if s.live(e) || s.has(keysListExpired) {
				keys = append(keys, k)
			}
		}
		s.mu.Unlock()
		if err != nil {
			var zero K
			yield(zero, err)
			return
		}
		for _, k := range keys {
			if !yield(k, nil) && !s.has(keysIgnoreBreak) {
				return
			}
		}
	}
}

func (s *mapStore[K, V]) Clear(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx); err != nil {
		return err
	}
	if !s.has(clearIgnored) {
		clear(s.m)
	}
	return nil
}

func (s *mapStore[K, V]) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed && s.has(doubleCloseErrors) {
		return errors.New("already closed")
	}
	s.closed = true
	return nil
}
