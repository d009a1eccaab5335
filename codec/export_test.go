package codec

import "github.com/cachestack/cachestack/store"

// MemoLen returns how many values t, a TryGetter from Bind, keeps
// decoded, and their encoded size; ok is false if it keeps none.
func MemoLen[K comparable, V any](t store.TryGetter[K, V]) (entries, bytes int, ok bool) {
	m, ok := t.(*memoTryGetter[K, V])
	if !ok {
		return 0, 0, false
	}
	entries, bytes = m.memo.len()
	return entries, bytes, true
}
