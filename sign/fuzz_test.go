package sign_test

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/sign"
)

// FuzzVerify signs data under key, mutates the entry — a bit flip, a
// truncation, an extension, a splice with arbitrary bytes, or the entry
// replaced outright — and checks that Verify accepts it only when the bytes
// are unchanged, returning exactly data, and never panics.
func FuzzVerify(f *testing.F) {
	signer, err := sign.New(secret(1), secret(0))
	if err != nil {
		f.Fatal(err)
	}
	old, err := sign.New(secret(0))
	if err != nil {
		f.Fatal(err)
	}
	f.Add("key", []byte("data"), uint8(0), uint16(0), byte(1), []byte(nil))
	f.Add("key", []byte("data"), uint8(1), uint16(36), byte(0), []byte(nil))
	f.Add("", []byte{}, uint8(2), uint16(0), byte(0), []byte{0})
	f.Add("GET https://example.com/", []byte("CSR\x01\xa0"), uint8(3), uint16(5), byte(0), []byte("xyz"))
	f.Add("k", []byte("d"), uint8(4), uint16(0), byte(0), []byte("\x01aaaa0123456789012345678901234567890123"))
	f.Add("k", []byte("d"), uint8(5), uint16(0), byte(0), []byte(nil))
	f.Fuzz(func(t *testing.T, key string, data []byte, op uint8, pos uint16, mask byte, extra []byte) {
		extra = bytes.Clone(extra) // appending to it must not write into data
		signed := signer.Sign(key, data)
		if op%6 == 5 { // an entry signed with the older, still listed, secret
			signed = old.Sign(key, data)
		}
		m := bytes.Clone(signed)
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
			m = append(m[:i:i], append(extra, signed[i:]...)...)
		case 4: // replace outright
			m = extra
		case 5: // unchanged
		}
		in := bytes.Clone(m)
		got, err := signer.Verify(key, m)
		if !bytes.Equal(m, in) {
			t.Fatalf("Verify modified its input")
		}
		if bytes.Equal(m, signed) {
			if err != nil {
				t.Fatalf("Verify of an unchanged entry: %v", err)
			}
			if !bytes.Equal(got, data) {
				t.Fatalf("Verify = %x, want %x", got, data)
			}
		} else {
			if err == nil {
				t.Fatalf("Verify accepted a changed entry (op %d): %x, signed %x", op%6, m, signed)
			}
			if got != nil {
				t.Fatalf("Verify returned %x with error %v", got, err)
			}
		}
		// An unchanged entry never verifies under another key.
		if _, err := signer.Verify(key+"\x00", signed); err == nil {
			t.Fatalf("entry for %q verified under %q", key, key+"\x00")
		}
	})
}

// FuzzProtectorVerify protects an entry, changes its envelope — a bit
// flipped in the signed bytes, the bytes replaced, the kind, method or URL
// in clear changed — and checks that the middleware's Verify accepts it
// only when unchanged, returning the entry, and never panics.
func FuzzProtectorVerify(f *testing.F) {
	p, err := sign.Protector(newSigner(f, secret(0)))
	if err != nil {
		f.Fatal(err)
	}
	f.Add("key", "https://example.com/", []byte("body"), uint8(0), uint16(3), byte(1), []byte(nil))
	f.Add("key", "https://example.com/", []byte{}, uint8(1), uint16(0), byte(0), []byte("CSR\x02\xa0"))
	f.Add("", "", []byte("b"), uint8(2), uint16(0), byte(2), []byte(nil))
	f.Add("k", "u", []byte("b"), uint8(3), uint16(0), byte(0), []byte("GET"))
	f.Add("k", "u", []byte("b"), uint8(4), uint16(0), byte(0), []byte("v"))
	f.Add("k", "u", []byte("b"), uint8(5), uint16(0), byte(0), []byte(nil))
	f.Fuzz(func(t *testing.T, key, url string, body []byte, op uint8, pos uint16, mask byte, extra []byte) {
		e := &cached.Response{Method: http.MethodGet, URL: url, StatusCode: http.StatusOK, Body: body}
		env, err := p.Protect(key, e)
		if err != nil {
			t.Fatal(err)
		}
		m := *env
		m.Body = bytes.Clone(env.Body)
		changed := true
		switch op % 6 {
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
		case 3:
			m.Method = string(extra)
			changed = m.Method != env.Method
		case 4:
			m.URL = string(extra)
			changed = m.URL != env.URL
		case 5:
			changed = false
		}
		got, err := p.Verify(key, &m)
		if changed {
			if err == nil || got != nil {
				t.Fatalf("Verify accepted a changed envelope (op %d): %v, %v", op%6, got, err)
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
