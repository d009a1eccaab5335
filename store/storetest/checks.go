package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/store"
)

// check is one subtest of the suite.
type check[K comparable, V any] struct {
	name string
	run  func(*suite[K, V])
}

func checks[K comparable, V any]() []check[K, V] {
	type s = suite[K, V]
	return []check[K, V]{
		{"Miss", (*s).miss},
		{"SetGet", (*s).setGet},
		{"Overwrite", (*s).overwrite},
		{"Delete", (*s).delete},
		{"DeleteMissing", (*s).deleteMissing},
		{"Expiry", (*s).expiry},
		{"NegativeTTL", (*s).negativeTTL},
		{"CancelledContext", (*s).cancelledContext},
		{"OddKeys", (*s).oddKeys},
		{"NoSharedBuffers", (*s).noSharedBuffers},
		{"View", (*s).view},
		{"EmptyBytes", (*s).emptyBytes},
		{"Concurrent", (*s).concurrent},
		{"Keys", (*s).listKeys},
		{"Clear", (*s).clear},
		{"Close", (*s).close},
		{"SetMany", (*s).setMany},
	}
}

// miss: Get of a key that was never set returns ErrNotFound.
func (s *suite[K, V]) miss() {
	st := s.open()
	s.wantMiss(st, s.h.Key(0), "on an empty store")
	s.set(st, s.h.Key(1), s.h.Value(1), 0)
	s.wantMiss(st, s.h.Key(0), "for a key that was never set")
	s.wantMiss(st, s.h.Key(2), "for a key that was never set")
}

// setGet: what is set is what is got, for several keys at once.
func (s *suite[K, V]) setGet() {
	st := s.open()
	const n = 16
	for i := range n {
		s.set(st, s.h.Key(i), s.h.Value(i), 0)
	}
	for range 2 { // reading must not consume or change the entry
		for i := range n {
			s.want(st, s.h.Key(i), s.h.Value(i), "after Set")
		}
	}
}

// overwrite: a second Set replaces the value and leaves other keys alone.
func (s *suite[K, V]) overwrite() {
	st := s.open()
	k0, k1 := s.h.Key(0), s.h.Key(1)
	s.set(st, k1, s.h.Value(3), 0)
	s.set(st, k0, s.h.Value(0), 0)
	s.set(st, k0, s.h.Value(1), 0)
	s.want(st, k0, s.h.Value(1), "after overwriting it")
	s.set(st, k0, s.h.Value(2), 0) // a value of another size
	s.want(st, k0, s.h.Value(2), "after overwriting it twice")
	s.want(st, k1, s.h.Value(3), "after overwriting another key")
}

// delete: a deleted key misses, others stay, and the key can be set again.
func (s *suite[K, V]) delete() {
	st := s.open()
	k0, k1 := s.h.Key(0), s.h.Key(1)
	s.set(st, k0, s.h.Value(0), 0)
	s.set(st, k1, s.h.Value(1), 0)
	s.del(st, k0)
	s.wantMiss(st, k0, "after Delete")
	s.want(st, k1, s.h.Value(1), "after deleting another key")
	s.set(st, k0, s.h.Value(2), 0)
	s.want(st, k0, s.h.Value(2), "after Delete and a new Set")
}

// deleteMissing: deleting what is not there succeeds.
func (s *suite[K, V]) deleteMissing() {
	st := s.open()
	require.NoError(s.t, st.Delete(s.ctx, s.h.Key(0)), "Delete of a key that was never set")
	s.set(st, s.h.Key(1), s.h.Value(1), 0)
	s.del(st, s.h.Key(1))
	require.NoError(s.t, st.Delete(s.ctx, s.h.Key(1)), "second Delete of the same key")
	s.wantMiss(st, s.h.Key(1), "after two Deletes")
}

// expiry: an entry lives until its ttl has passed; ttl 0 never expires; a
// new Set replaces the old ttl.
func (s *suite[K, V]) expiry() {
	if ok, why := s.canExpire(); !ok {
		s.t.Skip(why)
	}
	st := s.open()
	const ttl = time.Minute
	k := func(i int) K { return s.h.Key(i) }
	v := func(i int) V { return s.h.Value(i) }
	s.set(st, k(0), v(0), ttl)
	s.set(st, k(1), v(1), 0)
	s.set(st, k(2), v(2), ttl)
	s.set(st, k(2), v(3), 0) // overwritten without a ttl: never expires
	s.set(st, k(3), v(4), 0)
	s.set(st, k(3), v(5), ttl) // overwritten with a ttl: expires

	s.h.Advance(ttl - ttl/10)
	s.want(st, k(0), v(0), "before its ttl has passed")
	s.want(st, k(1), v(1), "set with ttl 0")
	s.want(st, k(2), v(3), "overwritten with ttl 0")
	s.want(st, k(3), v(5), "before its ttl has passed")

	s.h.Advance(ttl/10 + time.Second)
	s.wantMiss(st, k(0), "after its ttl has passed")
	s.want(st, k(1), v(1), "set with ttl 0, after another entry's ttl passed")
	s.want(st, k(2), v(3), "overwritten with ttl 0, after its first ttl passed")
	s.wantMiss(st, k(3), "overwritten with a ttl, after that ttl passed")

	s.h.Advance(10 * 365 * 24 * time.Hour)
	s.want(st, k(1), v(1), "set with ttl 0, ten years later")

	s.set(st, k(0), v(6), ttl)
	s.want(st, k(0), v(6), "set again after it expired")
}

// negativeTTL: Set with a negative ttl is an error that stores nothing.
func (s *suite[K, V]) negativeTTL() {
	st := s.open()
	k0, k1 := s.h.Key(0), s.h.Key(1)
	err := st.Set(s.ctx, k0, s.h.Value(0), -time.Second)
	require.ErrorIs(s.t, err, store.ErrNegativeTTL, "Set with ttl -1s")
	s.sync()
	s.wantMiss(st, k0, "after a Set with a negative ttl")

	s.set(st, k1, s.h.Value(1), 0)
	err = st.Set(s.ctx, k1, s.h.Value(2), -time.Nanosecond)
	require.ErrorIs(s.t, err, store.ErrNegativeTTL, "Set with ttl -1ns")
	s.sync()
	s.want(st, k1, s.h.Value(1), "after a rejected Set with a negative ttl")
}

// cancelledContext: with an already cancelled context every call either
// works or returns an error matching context.Canceled, and the store stays
// consistent and usable.
func (s *suite[K, V]) cancelledContext() {
	st := s.open()
	ctx, cancel := context.WithCancel(s.ctx)
	cancel()
	k := func(i int) K { return s.h.Key(i) }
	v := func(i int) V { return s.h.Value(i) }
	okOrCancelled := func(err error, call string, args ...any) bool {
		s.t.Helper()
		if err != nil {
			require.ErrorIs(s.t, err, context.Canceled, "%s with a cancelled context: want nil or context.Canceled", fmt.Sprintf(call, args...))
		}
		return err == nil
	}
	s.set(st, k(0), v(0), 0)
	s.set(st, k(2), v(2), 0)

	got, err := st.Get(ctx, k(0))
	if okOrCancelled(err, "Get(%s)", showKey(k(0))) {
		require.True(s.t, s.h.Equal(got, v(0)), "Get with a cancelled context = %s, want %s", show(got), show(v(0)))
	}
	_, err = st.Get(ctx, k(9))
	require.Error(s.t, err, "Get(%s) of a missing key with a cancelled context", showKey(k(9)))
	if !errors.Is(err, store.ErrNotFound) {
		okOrCancelled(err, "Get(%s) of a missing key", showKey(k(9)))
	}
	set1 := okOrCancelled(st.Set(ctx, k(1), v(1), 0), "Set(%s)", showKey(k(1)))
	set0 := okOrCancelled(st.Set(ctx, k(0), v(3), 0), "Set(%s)", showKey(k(0)))
	del2 := okOrCancelled(st.Delete(ctx, k(2)), "Delete(%s)", showKey(k(2)))
	if l, ok := st.(store.Lister[K]); ok {
		for key, err := range l.Keys(ctx) {
			if !okOrCancelled(err, "Keys") {
				break
			}
			require.Contains(s.t, []K{k(0), k(1), k(2)}, key, "Keys with a cancelled context yielded a key that was never set")
		}
	}
	s.sync()

	// What the cancelled calls did, done or not, must read back whole.
	switch got, err := st.Get(s.ctx, k(0)); {
	case set0:
		s.want(st, k(0), v(3), "after a Set with a cancelled context succeeded")
	default:
		require.NoError(s.t, err, "Get after a cancelled Set of an existing key")
		require.True(s.t, s.h.Equal(got, v(0)) || s.h.Equal(got, v(3)),
			"Get after a cancelled Set = %s, want the old or the new value", show(got))
	}
	switch got, err := st.Get(s.ctx, k(1)); {
	case set1:
		s.want(st, k(1), v(1), "after a Set with a cancelled context succeeded")
	case err == nil:
		require.True(s.t, s.h.Equal(got, v(1)), "Get after a cancelled Set = %s, want %s or a miss", show(got), show(v(1)))
	default:
		require.ErrorIs(s.t, err, store.ErrNotFound, "Get after a cancelled Set")
	}
	switch got, err := st.Get(s.ctx, k(2)); {
	case del2:
		s.wantMiss(st, k(2), "after a Delete with a cancelled context succeeded")
	case err == nil:
		require.True(s.t, s.h.Equal(got, v(2)), "Get after a cancelled Delete = %s, want %s or a miss", show(got), show(v(2)))
	default:
		require.ErrorIs(s.t, err, store.ErrNotFound, "Get after a cancelled Delete")
	}

	if c, ok := st.(store.Clearer); ok {
		if okOrCancelled(c.Clear(ctx), "Clear") {
			s.sync()
			s.wantMiss(st, k(0), "after a Clear with a cancelled context succeeded")
		}
	}
	s.set(st, k(4), v(4), 0)
	s.want(st, k(4), v(4), "after calls with a cancelled context")
}

// oddKeys: string keys that are empty, unicode, path-like, binary or 4 KiB
// long are stored apart, read back, listed and deleted like any other.
func (s *suite[K, V]) oddKeys() {
	if _, ok := any(s.h.Key(0)).(string); !ok {
		s.t.Skipf("keys are %T, not strings", s.h.Key(0))
	}
	long := strings.Repeat("k", 4096)
	raw := []string{
		"",
		" ",
		"ünïcødé-ключ-鍵-🔑",
		"a/b/c",
		"/leading/and/trailing/",
		"../../etc/passwd",
		"with space,\ttab and\nnewline",
		"nul\x00byte",
		"%2F%00?x=1&y=2#frag",
		"\xff\xfe not utf-8",
		long,
		long[:len(long)-1] + "a", // differs from long only at the end
		"b" + long[1:],           // differs from long only at the start
	}
	st := s.open()
	keys := make([]K, len(raw))
	for i, r := range raw {
		keys[i] = any(r).(K)
		s.set(st, keys[i], s.h.Value(i), 0)
	}
	for i, k := range keys {
		s.want(st, k, s.h.Value(i), "for an odd key")
	}
	if l, ok := st.(store.Lister[K]); ok {
		want := make(map[K]int, len(keys))
		for _, k := range keys {
			want[k] = 1
		}
		require.Equal(s.t, want, s.keys(l), "Keys must list odd keys exactly as they were set")
	}
	for _, k := range keys {
		s.del(st, k)
		s.wantMiss(st, k, "after deleting an odd key")
	}
}

// noSharedBuffers: for []byte values, neither the slice given to Set nor the
// one returned by Get is the store's own buffer.
func (s *suite[K, V]) noSharedBuffers() {
	if _, ok := any(s.h.Value(0)).([]byte); !ok {
		s.t.Skipf("values are %T, not []byte", s.h.Value(0))
	}
	asV := func(b []byte) V { return any(b).(V) }
	flip := func(b []byte) {
		for i := range b {
			b[i] ^= 0xff
		}
	}
	k0, k1 := s.h.Key(0), s.h.Key(1)
	want := bytes.Clone(any(s.h.Value(0)).([]byte))
	require.NotEmpty(s.t, want, "storetest: Harness.Value(0) must not be empty")
	st := s.open()

	in := bytes.Clone(want)
	s.set(st, k0, asV(in), 0)
	flip(in)
	s.want(st, k0, asV(want), "after the slice passed to Set was modified")

	out, err := st.Get(s.ctx, k0)
	require.NoError(s.t, err)
	flip(any(out).([]byte))
	s.want(st, k0, asV(want), "after the slice a Get returned was modified")

	a, err := st.Get(s.ctx, k0)
	require.NoError(s.t, err)
	b, err := st.Get(s.ctx, k0)
	require.NoError(s.t, err)
	flip(any(a).([]byte))
	require.Equal(s.t, want, any(b).([]byte), "two Gets returned the same buffer")

	// Appending to a returned slice must not write into the store's
	// buffers through spare capacity.
	s.set(st, k1, s.h.Value(1), 0)
	out, err = st.Get(s.ctx, k0)
	require.NoError(s.t, err)
	o := any(out).([]byte)
	_ = append(o, bytes.Repeat([]byte{0xee}, cap(o)-len(o))...)
	s.want(st, k0, asV(want), "after appending to the slice a Get returned")
	s.want(st, k1, s.h.Value(1), "after appending to the slice a Get of another key returned")
}

// view: a store.Viewer's View returns what Get does, and for []byte values
// the slice the store holds (the same array each time, not a copy), which
// stays as it was lent while the store moves on: after the
// key is overwritten (with a value of the same size, which a store reusing
// its buffers would write over), deleted, and read through Get whose copy
// is then modified.
func (s *suite[K, V]) view() {
	st := s.open()
	v, ok := st.(store.Viewer[K, V])
	if !ok {
		s.t.Skipf("%T does not implement store.Viewer: Get is the only read", st)
	}
	k0, k1 := s.h.Key(0), s.h.Key(1)
	got, err := v.View(s.ctx, k0)
	require.ErrorIs(s.t, err, store.ErrNotFound, "View(%s) = %s, %v on an empty store: want an error matching store.ErrNotFound", showKey(k0), show(got), err)
	s.set(st, k0, s.h.Value(0), 0)
	s.set(st, k1, s.h.Value(1), 0)
	lent, err := v.View(s.ctx, k0)
	require.NoError(s.t, err, "View(%s) after Set", showKey(k0))
	require.True(s.t, s.h.Equal(lent, s.h.Value(0)), "View(%s) = %s, want %s", showKey(k0), show(lent), show(s.h.Value(0)))

	b, isBytes := any(s.h.Value(0)).([]byte)
	if !isBytes {
		return
	}
	if len(b) > 0 {
		second, err := v.View(s.ctx, k0)
		require.NoError(s.t, err, "View(%s) a second time", showKey(k0))
		require.Same(s.t, &any(lent).([]byte)[0], &any(second).([]byte)[0], "two Views of %s returned different arrays: View copies instead of lending what the store holds", showKey(k0))
	}
	want := bytes.Clone(b)
	unchanged := func(why string) {
		s.t.Helper()
		require.Equal(s.t, want, any(lent).([]byte), "a slice View lent changed %s", why)
	}
	out, err := st.Get(s.ctx, k0)
	require.NoError(s.t, err)
	o := any(out).([]byte)
	for i := range o {
		o[i] ^= 0xff
	}
	unchanged("after the slice a Get returned was modified")
	s.want(st, k0, asBytes[V](want), "after the slice a Get returned was modified")

	same := bytes.Clone(want) // same size: a store reusing buffers would reuse this one
	for i := range same {
		same[i] ^= 0x5a
	}
	s.set(st, k0, asBytes[V](same), 0)
	unchanged("after its key was overwritten")
	again, err := v.View(s.ctx, k0)
	require.NoError(s.t, err, "View(%s) after overwriting it", showKey(k0))
	require.Equal(s.t, same, any(again).([]byte), "View(%s) after overwriting it", showKey(k0))
	s.del(st, k0)
	unchanged("after its key was deleted")
	s.want(st, k1, s.h.Value(1), "after viewing and overwriting another key")
}

// asBytes converts b to V, which must be []byte.
func asBytes[V any](b []byte) V { return any(b).(V) }

// emptyBytes: an empty []byte is a value like any other, not a miss.
func (s *suite[K, V]) emptyBytes() {
	if _, ok := any(s.h.Value(0)).([]byte); !ok {
		s.t.Skipf("values are %T, not []byte", s.h.Value(0))
	}
	st := s.open()
	s.set(st, s.h.Key(0), any([]byte{}).(V), 0)
	got, err := st.Get(s.ctx, s.h.Key(0))
	require.NoError(s.t, err, "Get of a key set to an empty []byte")
	require.Empty(s.t, got, "Get of a key set to an empty []byte")
}

// concurrent: goroutines mixing Get, Set, Delete (and Keys) on shared keys
// never see a value that was not set for the key. Run it under -race.
func (s *suite[K, V]) concurrent() {
	st := s.open()
	const workers, ops, nkeys = 8, 400, 16
	valid := func(k int, v V) bool {
		for g := range workers {
			if s.h.Equal(v, s.h.Value(k*workers+g)) {
				return true
			}
		}
		return false
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	report := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		errs = append(errs, err)
	}
	for g := range workers {
		wg.Go(func() {
			for i := range ops {
				k := (g*7 + i*13) % nkeys
				key := s.h.Key(k)
				switch i % 4 {
				case 0:
					if err := st.Set(s.ctx, key, s.h.Value(k*workers+g), 0); err != nil {
						report(fmt.Errorf("Set(%s): %w", showKey(key), err))
						return
					}
				case 1, 2:
					v, err := st.Get(s.ctx, key)
					if err != nil && !errors.Is(err, store.ErrNotFound) {
						report(fmt.Errorf("Get(%s): %w", showKey(key), err))
						return
					}
					if err == nil && !valid(k, v) {
						report(fmt.Errorf("Get(%s) = %s, a value never set for that key", showKey(key), show(v)))
						return
					}
				case 3:
					if err := st.Delete(s.ctx, key); err != nil {
						report(fmt.Errorf("Delete(%s): %w", showKey(key), err))
						return
					}
				}
			}
		})
	}
	if l, ok := st.(store.Lister[K]); ok {
		known := make(map[K]bool, nkeys)
		for k := range nkeys {
			known[s.h.Key(k)] = true
		}
		wg.Go(func() {
			for range 20 {
				for key, err := range l.Keys(s.ctx) {
					if err != nil {
						report(fmt.Errorf("Keys: %w", err))
						return
					}
					if !known[key] {
						report(fmt.Errorf("Keys yielded %s, a key never set", showKey(key)))
						return
					}
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		assert.NoError(s.t, err, "during concurrent use")
	}
	s.sync()
	for k := range nkeys {
		s.set(st, s.h.Key(k), s.h.Value(k*workers), 0)
	}
	for k := range nkeys {
		s.want(st, s.h.Key(k), s.h.Value(k*workers), "after concurrent use")
	}
}

// listKeys: Keys lists exactly the live keys, each once, and an early break
// ends the iteration and leaves the store usable.
func (s *suite[K, V]) listKeys() {
	st := s.open()
	l := s.lister(st)
	require.Empty(s.t, s.keys(l), "Keys of an empty store")

	const n = 10
	want := make(map[K]int, n)
	for i := range n {
		s.set(st, s.h.Key(i), s.h.Value(i), 0)
		want[s.h.Key(i)] = 1
	}
	s.del(st, s.h.Key(3))
	delete(want, s.h.Key(3))
	if ok, _ := s.canExpire(); ok {
		s.set(st, s.h.Key(n), s.h.Value(n), time.Minute)
		s.h.Advance(2 * time.Minute)
	}
	require.Equal(s.t, want, s.keys(l), "Keys must list every live key once, and no deleted or expired key")

	yielded := 0
	func() {
		defer func() {
			if p := recover(); p != nil {
				s.t.Fatalf("Keys went on yielding after the loop broke: %v", p)
			}
		}()
		for _, err := range l.Keys(s.ctx) {
			require.NoError(s.t, err, "Keys")
			yielded++
			break
		}
	}()
	require.Equal(s.t, 1, yielded, "a loop over Keys that breaks at once")
	s.set(st, s.h.Key(3), s.h.Value(3), 0)
	s.want(st, s.h.Key(3), s.h.Value(3), "after breaking out of Keys")
	want[s.h.Key(3)] = 1
	require.Equal(s.t, want, s.keys(l), "Keys after an earlier loop over Keys broke")
}

// clear: Clear drops every entry and leaves the store usable.
func (s *suite[K, V]) clear() {
	st := s.open()
	c := s.clearer(st)
	require.NoError(s.t, c.Clear(s.ctx), "Clear of an empty store")
	const n = 10
	for i := range n {
		s.set(st, s.h.Key(i), s.h.Value(i), 0)
	}
	require.NoError(s.t, c.Clear(s.ctx), "Clear")
	s.sync()
	for i := range n {
		s.wantMiss(st, s.h.Key(i), "after Clear")
	}
	if l, ok := st.(store.Lister[K]); ok {
		require.Empty(s.t, s.keys(l), "Keys after Clear")
	}
	s.set(st, s.h.Key(0), s.h.Value(0), 0)
	s.want(st, s.h.Key(0), s.h.Value(0), "set after Clear")
}

// close: every call after Close returns ErrClosed; a second Close is nil.
func (s *suite[K, V]) close() {
	st := s.open()
	k0, k1 := s.h.Key(0), s.h.Key(1)
	s.set(st, k0, s.h.Value(0), 0)
	require.NoError(s.t, st.Close(), "Close")

	_, err := st.Get(s.ctx, k0)
	require.ErrorIs(s.t, err, store.ErrClosed, "Get of a stored key after Close")
	_, err = st.Get(s.ctx, k1)
	require.ErrorIs(s.t, err, store.ErrClosed, "Get of a missing key after Close")
	require.ErrorIs(s.t, st.Set(s.ctx, k1, s.h.Value(1), 0), store.ErrClosed, "Set after Close")
	require.ErrorIs(s.t, st.Delete(s.ctx, k0), store.ErrClosed, "Delete after Close")
	if l, ok := st.(store.Lister[K]); ok {
		var errs []error
		for key, err := range l.Keys(s.ctx) {
			require.Error(s.t, err, "Keys after Close yielded %s", showKey(key))
			errs = append(errs, err)
		}
		require.Len(s.t, errs, 1, "Keys after Close must yield one error")
		require.ErrorIs(s.t, errs[0], store.ErrClosed, "Keys after Close")
	}
	if c, ok := st.(store.Clearer); ok {
		require.ErrorIs(s.t, c.Clear(s.ctx), store.ErrClosed, "Clear after Close")
	}
	require.NoError(s.t, st.Close(), "second Close")
}

// setMany, for a store that writes in batches (store.Batcher, or a wrapper
// handing one out): a batch stores what as many Sets would, each item with
// its own ttl; of two items with one key the last wins; an item with a
// negative ttl is refused alone; an empty batch does nothing; after Close
// a batch fails whole.
func (s *suite[K, V]) setMany() {
	st := s.open()
	b, ok := store.BatcherOf[K, V](st)
	if !ok {
		s.t.Skipf("%T writes no batches (store.Batcher is optional)", st)
	}
	k := func(i int) K { return s.h.Key(i) }
	v := func(i int) V { return s.h.Value(i) }
	item := func(i, vi int, ttl time.Duration) store.Item[K, V] {
		return store.Item[K, V]{Key: k(i), Value: v(vi), TTL: ttl}
	}
	require.NoError(s.t, b.SetMany(s.ctx, nil), "SetMany of no items")
	s.set(st, k(1), v(100), 0)
	s.set(st, k(5), v(105), 0)
	const ttl = time.Minute
	items := []store.Item[K, V]{
		item(0, 0, ttl),
		item(1, 1, 0),   // overwrites a Set
		item(2, 2, ttl), // overwritten below in the batch
		item(3, 3, 0),
		item(2, 12, 0), // the last of key 2: no ttl
		item(4, 4, ttl),
	}
	require.NoError(s.t, b.SetMany(s.ctx, items), "SetMany of %d items", len(items))
	s.sync()
	for range 2 {
		s.want(st, k(0), v(0), "after SetMany")
		s.want(st, k(1), v(1), "after SetMany overwrote a Set")
		s.want(st, k(2), v(12), "after SetMany of two items with the key: the last wins")
		s.want(st, k(3), v(3), "after SetMany")
		s.want(st, k(4), v(4), "after SetMany")
		s.want(st, k(5), v(105), "after a SetMany of other keys")
	}
	if ok, _ := s.canExpire(); ok {
		s.h.Advance(ttl + time.Second)
		s.wantMiss(st, k(0), "set by SetMany with a ttl, after it passed")
		s.wantMiss(st, k(4), "set by SetMany with a ttl, after it passed")
		s.want(st, k(2), v(12), "set by SetMany without a ttl, after another item's ttl passed")
		s.want(st, k(3), v(3), "set by SetMany without a ttl, after another item's ttl passed")
	}

	// An item with a negative ttl is refused alone.
	err := b.SetMany(s.ctx, []store.Item[K, V]{item(6, 6, 0), item(3, 13, -time.Second), item(7, 7, 0)})
	require.ErrorIs(s.t, err, store.ErrNegativeTTL, "SetMany with an item of ttl -1s")
	errs := store.ItemErrors(err, 3)
	require.NoError(s.t, errs[0], "the item before the refused one")
	require.ErrorIs(s.t, errs[1], store.ErrNegativeTTL, "the item with ttl -1s")
	require.NoError(s.t, errs[2], "the item after the refused one")
	s.sync()
	s.want(st, k(6), v(6), "stored beside an item refused")
	s.want(st, k(7), v(7), "stored beside an item refused")
	s.want(st, k(3), v(3), "after SetMany refused an item with a negative ttl for it")

	// A batch larger than any the cache makes, of distinct keys.
	many := make([]store.Item[K, V], 100)
	for i := range many {
		many[i] = item(10+i, 10+i, 0)
	}
	require.NoError(s.t, b.SetMany(s.ctx, many), "SetMany of %d items", len(many))
	s.sync()
	for i := range many {
		s.want(st, k(10+i), v(10+i), "after a SetMany of 100 items")
	}

	require.NoError(s.t, st.Close())
	err = b.SetMany(s.ctx, []store.Item[K, V]{item(8, 8, 0), item(9, 9, 0)})
	require.ErrorIs(s.t, err, store.ErrClosed, "SetMany after Close")
}
