package middleware

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/policy"
)

// TestHitHeader checks the caller's copy of a stored header: Age replaced,
// this cache's Cache-Status member last, every other field as stored, and
// no write through the copy reaching the stored header or another field.
func TestHitHeader(t *testing.T) {
	t.Parallel()
	many := http.Header{}
	for i := range 20 {
		many["X-Field-"+strconv.Itoa(i)] = []string{"v" + strconv.Itoa(i)}
	}
	for _, tt := range []struct {
		name   string
		stored http.Header
		want   http.Header // without Age and this cache's member
	}{
		{"empty", http.Header{}, http.Header{}},
		{"one value each", http.Header{"Content-Type": {"text/plain"}, "Etag": {`"a"`}},
			http.Header{"Content-Type": {"text/plain"}, "Etag": {`"a"`}}},
		{"stored Age is replaced", http.Header{"Age": {"100"}, "Etag": {`"a"`}},
			http.Header{"Etag": {`"a"`}}},
		{"an upstream cache's member comes first", http.Header{"Cache-Status": {"upstream; hit"}},
			http.Header{"Cache-Status": {"upstream; hit"}}},
		{"a field with no values is not stored", http.Header{"X-Empty": {}}, http.Header{}},
		{"more values than fields", http.Header{
			"Set-Cookie": {"a=1", "b=2", "c=3", "d=4", "e=5"},
			"Vary":       {"Accept", "Accept-Encoding", "Origin"},
			"Link":       {"<a>", "<b>"},
		}, http.Header{
			"Set-Cookie": {"a=1", "b=2", "c=3", "d=4", "e=5"},
			"Vary":       {"Accept", "Accept-Encoding", "Origin"},
			"Link":       {"<a>", "<b>"},
		}},
		{"many fields", many, many},
	} {
		t.Run(tt.name, func(t *testing.T) {
			stored := cached.NewHeader(tt.stored)
			got := hitHeader(stored, make([]string, stored.NumValues()+2), "7", "cachestack; hit")
			want := tt.want.Clone()
			want["Age"] = []string{"7"}
			want["Cache-Status"] = append(want["Cache-Status"], "cachestack; hit")
			assert.Equal(t, want, got)

			// The caller owns the copy: overwriting and appending to
			// every field changes neither the store nor the others.
			for k, vs := range got {
				if len(vs) > 0 {
					vs[0] = "scribbled " + k
				}
				got[k] = append(vs, "appended "+k)
			}
			for k, vs := range got {
				assert.Equal(t, "appended "+k, vs[len(vs)-1], k)
				for _, v := range vs[:len(vs)-1] {
					if strings.HasPrefix(v, "scribbled ") || strings.HasPrefix(v, "appended ") {
						assert.Equal(t, "scribbled "+k, v, "%s shares its values with another field", k)
					}
				}
			}
		})
	}
}

// TestStoredDirectivesDoNotAllocate guards the hit path with CacheControl
// on: reading a stored response's Cache-Control costs no allocation.
func TestStoredDirectivesDoNotAllocate(t *testing.T) {
	h := cached.NewHeader(http.Header{"Cache-Control": {"max-age=60", "public"}, "Etag": {`"a"`}})
	want := policy.ResponseDirectives{MaxAge: time.Minute, HasMaxAge: true, Public: true}
	assert.Equal(t, want, storedDirectives(h))
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = storedDirectives(h) }))
	assert.Equal(t, policy.ResponseDirectives{}, storedDirectives(cached.Header{}))
}

// TestStoredProto checks that the usual protocol versions are stored as
// constants, not as net/http's substring of the response's status line.
func TestStoredProto(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ line, want string }{
		{"HTTP/1.1 200 OK", "HTTP/1.1"},
		{"HTTP/1.0 200 OK", "HTTP/1.0"},
		{"HTTP/2.0 200 OK", "HTTP/2.0"},
		{"HTTP/3.0 200 OK", "HTTP/3.0"},
		{" 200 OK", "HTTP/1.1"}, // none: what hit responses say
	} {
		line := strings.Clone(tt.line)
		proto, _, _ := strings.Cut(line, " ")
		got := storedProto(proto)
		assert.Equal(t, tt.want, got, tt.line)
		if tt.want == "HTTP/3.0" {
			continue // unusual: kept as it is
		}
		assert.NotSame(t, unsafe.StringData(line), unsafe.StringData(got), "%s: the status line is kept", tt.line)
	}
}

// TestTeeGrowsWithTheBytesThatArrive checks that a body declaring a large
// length holds memory for what it sent, not for what it declared.
func TestTeeGrowsWithTheBytesThatArrive(t *testing.T) {
	var tee teeBody
	var got []byte
	tee.start(io.NopCloser(strings.NewReader(strings.Repeat("x", 1024))), 8<<20, DefaultMaxBodyBytes, sinkFunc(func(b []byte) { got = b }))
	assert.LessOrEqual(t, cap(tee.buf), teeFirstBuffer, "8 MiB declared, nothing sent yet")
	n, err := io.Copy(io.Discard, &tee)
	assert.NoError(t, err)
	assert.EqualValues(t, 1024, n)
	assert.Len(t, got, 1024)
	assert.LessOrEqual(t, cap(got), teeFirstBuffer)
}

// TestTeeAllocatesOnce checks that a body declaring its length is
// buffered in one allocation of exactly that length, read in pieces as a
// caller reads it, and that a body longer than teeFirstBuffer grows by
// doubling, never past its declared length.
func TestTeeAllocatesOnce(t *testing.T) {
	tests := []struct {
		size       int
		wantAllocs float64
	}{
		{1 << 10, 1},
		{64 << 10, 1},
		{teeFirstBuffer, 1},
		{3 << 20, 3}, // 1 MiB, 2 MiB, then the declared 3 MiB
	}
	for _, tt := range tests {
		body := bytes.Repeat([]byte{'x'}, tt.size)
		var r bytes.Reader
		rc := io.NopCloser(&r)
		p := make([]byte, 8<<10) // what io.Copy reads with
		var got []byte
		sink := sinkFunc(func(b []byte) { got = b })
		var tee teeBody
		allocs := testing.AllocsPerRun(5, func() {
			r.Reset(body)
			tee.start(rc, int64(tt.size), DefaultMaxBodyBytes, sink)
			for {
				if _, err := tee.Read(p); err != nil {
					break
				}
			}
		})
		assert.Equal(t, tt.wantAllocs, allocs, "%d bytes", tt.size)
		assert.Equal(t, body, got, "%d bytes", tt.size)
		assert.Equal(t, tt.size, cap(got), "%d bytes: spare capacity", tt.size)
	}
}

type sinkFunc func([]byte)

func (f sinkFunc) teed(b []byte) { f(b) }
