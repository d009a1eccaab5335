package seal_test

import (
	"bytes"
	"errors"
	"net/http"
	"testing"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/codec"
	"github.com/cachestack/cachestack/seal"
)

// FuzzOpen seals data under key, mutates the entry — a bit flip, a
// truncation, an extension, a splice with arbitrary bytes, or the entry
// replaced outright by arbitrary bytes — and checks that Open accepts it
// only when the bytes are unchanged, returning exactly data, and never
// panics or modifies its input; the in-place path (Codec) rejects them
// too, and round-trips data.
func FuzzOpen(f *testing.F) {
	sealer, err := seal.New(testKey(1), testKey(0))
	if err != nil {
		f.Fatal(err)
	}
	old, err := seal.New(testKey(0))
	if err != nil {
		f.Fatal(err)
	}
	c := seal.Codec[[]byte](raw{}, sealer, "ctx")
	f.Add("key", []byte("data"), uint8(0), uint16(0), byte(1), []byte(nil))
	f.Add("key", []byte("data"), uint8(1), uint16(36), byte(0), []byte(nil))
	f.Add("", []byte{}, uint8(2), uint16(0), byte(0), []byte{0})
	f.Add("GET https://example.com/", []byte("CSR\x01\xa0"), uint8(3), uint16(5), byte(0), []byte("xyz"))
	f.Add("k", []byte("d"), uint8(4), uint16(0), byte(0), []byte("\x01aaaa0123456789012345678901234567890123"))
	f.Add("k", []byte("d"), uint8(5), uint16(0), byte(0), []byte(nil))
	f.Fuzz(func(t *testing.T, key string, data []byte, op uint8, pos uint16, mask byte, extra []byte) {
		extra = bytes.Clone(extra) // appending to it must not write into data
		sealed := sealer.Seal(key, data)
		if op%6 == 5 { // an entry sealed with the older, still listed, key
			sealed = old.Seal(key, data)
		}
		m := bytes.Clone(sealed)
		switch op % 6 {
		case 0: // flip bits of one byte
			if mask == 0 {
				mask = 1
			}
			m[int(pos)%len(m)] ^= mask
		case 1: // truncate
			m = m[:int(pos)%len(m)]
		case 2: // extend
			if len(extra) == 0 {
				extra = []byte{mask}
			}
			m = append(m, extra...)
		case 3: // splice arbitrary bytes in at pos
			i := int(pos) % (len(m) + 1)
			m = append(m[:i:i], append(extra, sealed[i:]...)...)
		case 4: // replace outright
			m = extra
		case 5: // unchanged
		}
		in := bytes.Clone(m)
		got, err := sealer.Open(key, m)
		if !bytes.Equal(m, in) {
			t.Fatalf("Open modified its input")
		}
		if bytes.Equal(m, sealed) {
			if err != nil {
				t.Fatalf("Open of an unchanged entry: %v", err)
			}
			if !bytes.Equal(got, data) {
				t.Fatalf("Open = %x, want %x", got, data)
			}
		} else {
			if err == nil {
				t.Fatalf("Open accepted a changed entry (op %d): %x, sealed %x", op%6, m, sealed)
			}
			if got != nil {
				t.Fatalf("Open returned %x with error %v", got, err)
			}
		}
		// An unchanged entry never opens under another key, nor as a
		// Codec entry.
		if _, err := sealer.Open(key+"\x00", sealed); err == nil {
			t.Fatalf("entry for %q opened under %q", key, key+"\x00")
		}
		if _, err := c.Unmarshal(bytes.Clone(sealed)); err == nil {
			t.Fatalf("entry for key %q opened as a Codec entry", key)
		}
		// The in-place path (Codec) rejects the same bytes, which are
		// never sealed for its context, with the same kind of error.
		if _, cerr := c.Unmarshal(bytes.Clone(in)); cerr == nil {
			t.Fatalf("Codec accepted bytes not sealed for its context: %x", in)
		} else if err != nil && !(codecFormat(cerr) && codecFormat(err)) {
			t.Fatalf("rejections do not match codec.ErrFormat: %v, %v", cerr, err)
		}
		// And a Codec entry round-trips in place.
		b, err := c.Marshal(data)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := c.Unmarshal(b); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("Codec round trip = %x, %v; want %x", got, err, data)
		}
	})
}

func codecFormat(err error) bool {
	return errors.Is(err, codec.ErrFormat) && errors.Is(err, seal.ErrInvalid)
}

// FuzzProtectorVerify protects an entry, changes its envelope — a bit
// flipped in the sealed bytes, the bytes replaced, the kind changed, a
// field set in clear — and checks that the middleware's Verify accepts it
// only when the sealed bytes and kind are unchanged, returning the entry,
// never panics and never modifies the envelope's bytes.
func FuzzProtectorVerify(f *testing.F) {
	p, err := seal.Protector(newSealer(f, testKey(0)))
	if err != nil {
		f.Fatal(err)
	}
	f.Add("key", "https://example.com/", []byte("body"), uint8(0), uint16(3), byte(1), []byte(nil))
	f.Add("key", "https://example.com/", []byte{}, uint8(1), uint16(0), byte(0), []byte("CSR\x02\xa0"))
	f.Add("", "", []byte("b"), uint8(2), uint16(0), byte(2), []byte(nil))
	f.Add("k", "u", []byte("b"), uint8(3), uint16(0), byte(0), []byte("u"))
	f.Add("k", "u", []byte("b"), uint8(4), uint16(0), byte(0), []byte(nil))
	f.Fuzz(func(t *testing.T, key, url string, body []byte, op uint8, pos uint16, mask byte, extra []byte) {
		e := &cached.Response{Method: http.MethodGet, URL: url, StatusCode: http.StatusOK, Body: body}
		env, err := p.Protect(key, e)
		if err != nil {
			t.Fatal(err)
		}
		m := *env
		m.Body = bytes.Clone(env.Body)
		changed := true
		switch op % 5 {
		case 0:
			if mask == 0 {
				mask = 1
			}
			m.Body[int(pos)%len(m.Body)] ^= mask
		case 1:
			m.Body = extra
			changed = !bytes.Equal(extra, env.Body)
		case 2:
			m.Kind = cached.Kind(mask)
			changed = m.Kind != cached.KindSealed
		case 3: // a field in clear is ignored: the sealed bytes are the entry
			m.URL = string(extra)
			changed = false
		case 4:
			changed = false
		}
		in := bytes.Clone(m.Body)
		got, err := p.Verify(key, &m)
		if !bytes.Equal(in, m.Body) {
			t.Fatal("Verify modified the envelope's bytes")
		}
		if changed {
			if err == nil || got != nil {
				t.Fatalf("Verify accepted a changed envelope (op %d): %v, %v", op%5, got, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("Verify of an unchanged envelope: %v", err)
		}
		if got.URL != url || !bytes.Equal(got.Body, body) {
			t.Fatalf("Verify = %q %q, want %q %q", got.URL, got.Body, url, body)
		}
	})
}
