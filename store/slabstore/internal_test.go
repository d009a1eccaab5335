package slabstore

import (
	"runtime"
	"strconv"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/cached"
)

// aliases reports whether r's body is memory of one of s's live segments.
func aliases(s *Store, r *cached.Response) bool {
	p := uintptr(unsafe.Pointer(unsafe.SliceData(r.Body)))
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		for _, seg := range sh.segs {
			start := uintptr(unsafe.Pointer(unsafe.SliceData(seg.buf)))
			if p >= start && p < start+uintptr(len(seg.buf)) {
				sh.mu.RUnlock()
				return true
			}
		}
		sh.mu.RUnlock()
	}
	return false
}

// Responses held after their segments were evicted keep those segments
// alive; past MaxBytes of them, Get copies rather than aliases, so that a
// caller holding hits cannot hold more than MaxBytes of evicted segments
// through the responses of later Gets. Once the held responses are dropped
// and collected, Get aliases again.
func TestRetiredSegmentsAreBounded(t *testing.T) {
	s, err := New(&Options{MaxBytes: 1 << 20}) // 16 segments of 64 KiB
	require.NoError(t, err)
	defer s.Close()
	ctx := t.Context()
	body := make([]byte, 4000)
	var held []*cached.Response
	for i := range 2000 { // eight budgets
		k := strconv.Itoa(i)
		require.NoError(t, s.Set(ctx, k, &cached.Response{Body: body}, 0))
		r, err := s.Get(ctx, k)
		require.NoError(t, err)
		held = append(held, r)
	}
	require.Greater(t, s.retired.Load(), s.maxRetired, "the held responses keep more than MaxBytes of evicted segments")
	require.NoError(t, s.Set(ctx, "x", &cached.Response{Body: body}, 0))
	r, err := s.Get(ctx, "x")
	require.NoError(t, err)
	require.False(t, aliases(s, r), "past the bound, a Get copies")

	runtime.KeepAlive(held)
	held, r = nil, nil
	for i := 0; i < 1000 && s.retired.Load() > s.maxRetired; i++ {
		runtime.GC() // the cleanups run after a cycle frees the segments
		runtime.Gosched()
	}
	require.LessOrEqual(t, s.retired.Load(), s.maxRetired, "the segments were freed and uncounted")
	r, err = s.Get(ctx, "x")
	require.NoError(t, err)
	require.True(t, aliases(s, r), "under the bound, a Get aliases again")
}
