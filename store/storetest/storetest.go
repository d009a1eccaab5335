package storetest

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/store"
)

// Harness describes a store under test.
type Harness[K comparable, V any] struct {
	// New returns a fresh, empty store. The suite closes it; register
	// nothing for Close yourself unless you need extra cleanup.
	New func(t *testing.T) store.Store[K, V]
	// Key returns the i-th distinct key (i >= 0). Keys for different i
	// must differ.
	Key func(i int) K
	// Value returns the i-th distinct value; Value(i) for different i must
	// differ. It is called from several goroutines at once.
	Value func(i int) V
	// Equal compares values; nil means reflect.DeepEqual, with
	// bytes.Equal semantics for []byte (nil equals empty).
	Equal func(a, b V) bool
	// Advance moves the store's clock forward by d. Nil means the store's
	// clock can't be controlled; the expiry checks then skip, saying why.
	Advance func(d time.Duration)
	// Lacks declares capabilities the store does not have, each with a
	// non-empty reason; the subtests that need them skip and print the
	// reason. A store that implements store.Lister or store.Clearer is
	// checked against it whatever Lacks says.
	Lacks map[Capability]string
	// Sync, if non-nil, is called after every Set, Delete and Clear before
	// the suite reads, for stores whose writes become visible
	// asynchronously (ristretto's Wait, for example).
	Sync func()
}

// Capability is something a store may lack; see Harness.Lacks.
type Capability string

const (
	// Listing is implementing store.Lister.
	Listing Capability = "listing"
	// Clearing is implementing store.Clearer.
	Clearing Capability = "clearing"
	// Expiry is honouring the ttl given to Set.
	Expiry Capability = "expiry"
)

// Run runs the whole suite against the store h describes, each check as a
// subtest of t. The subtests run one after another, since they may share the
// harness's clock.
func Run[K comparable, V any](t *testing.T, h Harness[K, V]) {
	t.Helper()
	validate(t, &h)
	for _, c := range checks[K, V]() {
		t.Run(c.name, func(t *testing.T) {
			c.run(newSuite(t, t, h))
		})
	}
}

// validate fails t when h cannot drive the suite, and fills in Equal.
func validate[K comparable, V any](t testing.TB, h *Harness[K, V]) {
	t.Helper()
	require.NotNil(t, h.New, "storetest: Harness.New is nil")
	require.NotNil(t, h.Key, "storetest: Harness.Key is nil")
	require.NotNil(t, h.Value, "storetest: Harness.Value is nil")
	if h.Equal == nil {
		h.Equal = equal[V]
	}
	for c, reason := range h.Lacks {
		switch c {
		case Listing, Clearing, Expiry:
		default:
			require.Failf(t, "storetest: unknown capability", "Harness.Lacks names %q", c)
		}
		require.NotEmpty(t, reason, "storetest: Harness.Lacks[%s] gives no reason", c)
	}
	require.NotEqual(t, h.Key(0), h.Key(1), "storetest: Harness.Key(0) and Key(1) are equal")
	require.False(t, h.Equal(h.Value(0), h.Value(1)), "storetest: Harness.Value(0) and Value(1) are equal")
}

// equal is the default Harness.Equal.
func equal[V any](a, b V) bool {
	if ab, ok := any(a).([]byte); ok {
		return bytes.Equal(ab, any(b).([]byte))
	}
	return reflect.DeepEqual(a, b)
}

// Bytes is a Harness for byte stores with string keys. Its keys look like
// "key-0007/…" with suffixes that include unicode, spaces, query strings and
// 256-byte runs; its values are distinct byte slices from 8 bytes to 16 KiB.
// Set Advance, Lacks and Sync on the result as the store needs.
func Bytes(newStore func(t *testing.T) store.Store[string, []byte]) Harness[string, []byte] {
	return Harness[string, []byte]{
		New:   newStore,
		Key:   bytesKey,
		Value: bytesValue,
		Equal: bytes.Equal,
	}
}

func bytesKey(i int) string {
	var suffix string
	switch i % 6 {
	case 1:
		suffix = "a"
	case 2:
		suffix = "ünïcødé/日本語/🔑"
	case 3:
		suffix = "with space and ?x=1&y=%2F#frag"
	case 4:
		suffix = "trailing/"
	case 5:
		suffix = strings.Repeat("long", 64)
	}
	return fmt.Sprintf("key-%04d/%s", i, suffix)
}

func bytesValue(i int) []byte {
	sizes := [...]int{8, 24, 100, 1024, 37, 4096, 300, 16 << 10}
	b := make([]byte, sizes[i%len(sizes)])
	binary.BigEndian.PutUint64(b, uint64(i)) // distinct for distinct i
	x := uint64(i)*0x9e3779b97f4a7c15 | 1
	for j := 8; j < len(b); j++ { // xorshift, so that contents vary too
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[j] = byte(x)
	}
	return b
}

// Responses is a Harness for typed stores of *cached.Response with string
// keys, the way the cache uses a store: directly for an in-memory store, or
// through codec.Bind for a byte store. Its keys look like
// "GET https://example.com/7"; its values are Response(i), compared with
// reflect.DeepEqual. Set Advance, Lacks and Sync on the result as the store
// needs.
func Responses(newStore func(t *testing.T) store.Store[string, *cached.Response]) Harness[string, *cached.Response] {
	return Harness[string, *cached.Response]{
		New:   newStore,
		Key:   func(i int) string { return fmt.Sprintf("GET https://example.com/%d", i) },
		Value: Response,
	}
}

// Response returns the i-th distinct response of a Responses harness: a 200
// to a GET of https://example.com/<i>, with a text/plain body of 1 to 7
// bytes. Each call returns a new *cached.Response that the caller may
// modify.
func Response(i int) *cached.Response {
	return &cached.Response{
		Method:     http.MethodGet,
		URL:        fmt.Sprintf("https://example.com/%d", i),
		StatusCode: http.StatusOK,
		Proto:      "HTTP/1.1",
		Header:     cached.NewHeader(http.Header{"Content-Type": {"text/plain"}}),
		Body:       bytes.Repeat([]byte{byte(i)}, 1+i%7),
	}
}

// suite is one check's view of the store under test.
type suite[K comparable, V any] struct {
	t    testing.TB // where the check reports
	newT *testing.T // what Harness.New receives
	h    Harness[K, V]
	ctx  context.Context
}

func newSuite[K comparable, V any](t testing.TB, newT *testing.T, h Harness[K, V]) *suite[K, V] {
	return &suite[K, V]{t: t, newT: newT, h: h, ctx: context.Background()}
}

// open returns a fresh store that is closed when the check ends.
func (s *suite[K, V]) open() store.Store[K, V] {
	s.t.Helper()
	st := s.h.New(s.newT)
	require.NotNil(s.t, st, "Harness.New returned nil")
	s.t.Cleanup(func() { _ = st.Close() })
	return st
}

func (s *suite[K, V]) sync() {
	if s.h.Sync != nil {
		s.h.Sync()
	}
}

func (s *suite[K, V]) set(st store.Store[K, V], k K, v V, ttl time.Duration) {
	s.t.Helper()
	require.NoError(s.t, st.Set(s.ctx, k, v, ttl), "Set(%s, ttl %v)", showKey(k), ttl)
	s.sync()
}

func (s *suite[K, V]) del(st store.Store[K, V], k K) {
	s.t.Helper()
	require.NoError(s.t, st.Delete(s.ctx, k), "Delete(%s)", showKey(k))
	s.sync()
}

// want requires that k holds want.
func (s *suite[K, V]) want(st store.Store[K, V], k K, want V, why string) {
	s.t.Helper()
	got, err := st.Get(s.ctx, k)
	require.NoError(s.t, err, "Get(%s) %s", showKey(k), why)
	require.True(s.t, s.h.Equal(got, want), "Get(%s) = %s, want %s %s", showKey(k), show(got), show(want), why)
}

// wantMiss requires that k has no live entry.
func (s *suite[K, V]) wantMiss(st store.Store[K, V], k K, why string) {
	s.t.Helper()
	got, err := st.Get(s.ctx, k)
	require.ErrorIs(s.t, err, store.ErrNotFound, "Get(%s) = %s, %v: want an error matching store.ErrNotFound %s", showKey(k), show(got), err, why)
}

// lister returns st's Lister, or skips or fails the check when it has none.
func (s *suite[K, V]) lister(st store.Store[K, V]) store.Lister[K] {
	s.t.Helper()
	if l, ok := st.(store.Lister[K]); ok {
		return l
	}
	s.lacks(Listing, fmt.Sprintf("%T does not implement store.Lister[%s]", st, reflect.TypeFor[K]()))
	return nil
}

// clearer returns st's Clearer, or skips or fails the check when it has none.
func (s *suite[K, V]) clearer(st store.Store[K, V]) store.Clearer {
	s.t.Helper()
	if c, ok := st.(store.Clearer); ok {
		return c
	}
	s.lacks(Clearing, fmt.Sprintf("%T does not implement store.Clearer", st))
	return nil
}

// lacks skips the check if the harness declares c lacking, and fails it
// otherwise.
func (s *suite[K, V]) lacks(c Capability, what string) {
	s.t.Helper()
	if reason, ok := s.h.Lacks[c]; ok {
		s.t.Skipf("store lacks %s: %s", c, reason)
	}
	name := map[Capability]string{Listing: "Listing", Clearing: "Clearing", Expiry: "Expiry"}[c]
	s.t.Fatalf("%s: implement it, or declare Harness.Lacks[storetest.%s] with the reason", what, name)
}

// canExpire reports whether the expiry checks can run, and why not.
func (s *suite[K, V]) canExpire() (ok bool, why string) {
	if reason, lacks := s.h.Lacks[Expiry]; lacks {
		return false, "store lacks expiry: " + reason
	}
	if s.h.Advance == nil {
		return false, "Harness.Advance is nil: the store's clock cannot be moved, so expiry is not checked"
	}
	return true, ""
}

// keys lists l's keys, failing on any error.
func (s *suite[K, V]) keys(l store.Lister[K]) map[K]int {
	s.t.Helper()
	got := make(map[K]int)
	for k, err := range l.Keys(s.ctx) {
		require.NoError(s.t, err, "Keys")
		got[k]++
	}
	return got
}

// showKey and show format keys and values for failure messages, shortened.
func showKey[K comparable](k K) string {
	if s, ok := any(k).(string); ok {
		if len(s) > 48 {
			return fmt.Sprintf("%q…(%d bytes)", s[:48], len(s))
		}
		return fmt.Sprintf("%q", s)
	}
	return show(k)
}

func show(x any) string {
	if b, ok := x.([]byte); ok {
		if len(b) > 16 {
			return fmt.Sprintf("[]byte(len %d: %x…)", len(b), b[:16])
		}
		return fmt.Sprintf("[]byte(%x)", b)
	}
	s := fmt.Sprintf("%+v", x)
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return s
}
