package codec

import (
	"context"
	"errors"
	"sync"

	"github.com/cachestack/cachestack/store"
)

// The bounds of the values a TryGetter from Bind keeps decoded, over a
// byte store that can tell an entry is unchanged (store.VersionedTryGetter):
// at most MemoEntries values, whose encoded sizes add up to at most
// MemoBytes (the decoded values share memory with those bytes: Response's
// Body does). When either is reached the value kept longest is let go.
const (
	MemoEntries = 4096
	MemoBytes   = 16 << 20
)

// memo holds decoded values by key, with the version of the bytes they
// were decoded from, in the order they were put (oldest first).
type memo[K comparable, V any] struct {
	maxEntries int
	maxBytes   int

	mu    sync.Mutex
	m     map[K]*memoEntry[K, V]
	root  memoEntry[K, V] // root.next is the oldest, root.prev the newest
	bytes int
}

type memoEntry[K comparable, V any] struct {
	key        K
	ver        store.Version
	v          V
	size       int
	prev, next *memoEntry[K, V]
}

func newMemo[K comparable, V any](maxEntries, maxBytes int) *memo[K, V] {
	m := &memo[K, V]{maxEntries: maxEntries, maxBytes: maxBytes, m: map[K]*memoEntry[K, V]{}}
	m.root.next, m.root.prev = &m.root, &m.root
	return m
}

// get returns the value kept for key and the version it was decoded from,
// or the zero Version.
func (m *memo[K, V]) get(key K) (store.Version, V) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.m[key]; ok {
		return e.ver, e.v
	}
	var zero V
	return 0, zero
}

// put keeps v, decoded from size bytes that ver names, for key, letting
// the oldest values go to stay within the bounds. A value larger than
// maxBytes is not kept (and any kept for key is let go).
func (m *memo[K, V]) put(key K, ver store.Version, v V, size int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.m[key]; ok {
		m.remove(e)
	}
	if ver == 0 || size > m.maxBytes {
		return
	}
	e := &memoEntry[K, V]{key: key, ver: ver, v: v, size: size}
	m.m[key] = e
	m.bytes += size
	e.prev, e.next = m.root.prev, &m.root
	e.prev.next, e.next.prev = e, e
	for len(m.m) > m.maxEntries || m.bytes > m.maxBytes {
		m.remove(m.root.next)
	}
}

// drop lets go of the value kept for key, if any.
func (m *memo[K, V]) drop(key K) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.m[key]; ok {
		m.remove(e)
	}
}

func (m *memo[K, V]) remove(e *memoEntry[K, V]) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
	delete(m.m, e.key)
	m.bytes -= e.size
}

// len returns how many values are kept, and their encoded size.
func (m *memo[K, V]) len() (entries, bytes int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.m), m.bytes
}

// memoTryGetter is Bind's TryGetter over a store.VersionedTryGetter: it
// keeps the values it decoded, and hands one out again, without reading or
// decoding anything, while the byte store says its entry is unchanged.
//
// Handing out the same value to every caller is what a typed in-memory
// store does (memstore holds *cached.Response values and returns the
// pointer it holds), and what the cache is written for: cached.Response
// is immutable once stored, the engine copies a looked-up response before
// it changes one (a Vary index it saves again, a 304 it merges, the
// header it filters), and TestCacheNeverWritesLentBytes checks that it
// never writes into a hit's bytes.
type memoTryGetter[K comparable, V any] struct {
	b     *Bound[K, V]
	inner store.VersionedTryGetter[K]
	memo  *memo[K, V]
}

// TryGet returns the kept value for key if the byte store answers that its
// entry is unchanged (store.ErrUnchanged); otherwise it decodes the byte
// store's answer and keeps the value with its version. An error, ErrNotFound
// and store.ErrWouldBlock included, lets go of the kept value and is
// returned unchanged.
func (t *memoTryGetter[K, V]) TryGet(ctx context.Context, key K) (V, error) {
	have, v := t.memo.get(key)
	raw, ver, err := t.inner.TryGetVersion(ctx, key, have)
	if err == nil {
		v, err = t.b.decode(key, raw, nil)
		if err == nil {
			t.memo.put(key, ver, v, len(raw))
			return v, nil
		}
	} else if errors.Is(err, store.ErrUnchanged) && have != 0 {
		return v, nil
	}
	if have != 0 {
		t.memo.drop(key)
	}
	var zero V
	if errors.Is(err, store.ErrUnchanged) {
		err = store.ErrWouldBlock // have was 0: the store broke its contract
	}
	return zero, err
}
