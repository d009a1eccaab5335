package bench

import (
	"bytes"
	"io"
	"net/http"
	"sync"
	"testing"
)

// floorSubject is the reference the hit benchmarks hold cachestack
// against: the least an in-memory HTTP cache can do on a hit, with none of
// the HTTP rules. Its key is the URL as a string; its map holds pointers to
// entries; a hit clones the stored header and serves the stored body from
// a bytes.Reader. It never expires, revalidates, honours Vary or checks a
// method: it is not a cache anyone should use, only the floor under every
// one that is.
func floorSubject() subject {
	return subject{
		name: "floor",
		open: func(_ testing.TB, next http.RoundTripper) (http.RoundTripper, func(), error) {
			return &floorCache{next: next, m: map[string]*floorEntry{}}, nil, nil
		},
		hit: func(r *http.Response) bool { _, ok := r.Body.(*floorBody); return ok },
	}
}

type floorEntry struct {
	status int
	header http.Header
	body   []byte
}

type floorCache struct {
	next http.RoundTripper
	mu   sync.RWMutex
	m    map[string]*floorEntry
}

// floorBody is a hit's body.
type floorBody struct{ bytes.Reader }

func (*floorBody) Close() error { return nil }

func (c *floorCache) RoundTrip(req *http.Request) (*http.Response, error) {
	key := req.URL.String()
	c.mu.RLock()
	e := c.m[key]
	c.mu.RUnlock()
	if e != nil {
		b := new(floorBody)
		b.Reset(e.body)
		return &http.Response{
			Status: "200 OK", StatusCode: e.status, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: e.header.Clone(), Body: b, ContentLength: int64(len(e.body)), Request: req,
		}, nil
	}
	resp, err := c.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.m[key] = &floorEntry{status: resp.StatusCode, header: resp.Header.Clone(), body: body}
	c.mu.Unlock()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// TestFloorServesHits checks what the hit benchmarks rely on of the
// floor: its second request is a hit, with the origin's fields (Vary
// included) and body, and the caller may change the header it got.
func TestFloorServesHits(t *testing.T) {
	t.Parallel()
	o := newOrigin(t, 1<<10, withVary(apiFields))
	s := floorSubject()
	rt, url := warm(t, s, o, 0)
	before := o.hits.Load()
	var r bodyReader
	for range 3 {
		resp := r.get(t, rt, newRequest(t, url))
		if !s.hit(resp) || r.buf.Len() != 1<<10 {
			t.Fatalf("hit %v, %d bytes", s.hit(resp), r.buf.Len())
		}
		if got := resp.Header.Get("Vary"); got != "Accept-Encoding" {
			t.Errorf("Vary = %q", got)
		}
		resp.Header.Set("Vary", "changed by the caller")
	}
	if o.hits.Load() != before {
		t.Fatal("a hit reached the origin")
	}
}
