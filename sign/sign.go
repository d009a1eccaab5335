package sign

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"sync"
	"sync/atomic"

	"github.com/cachestack/cachestack/codec"
)

// MinSecretLen is the shortest secret New accepts, in bytes: the output size
// of SHA-256, so that the MAC is as strong as the hash.
const MinSecretLen = 32

// Signed entry format, version 1 (see the package documentation):
//
//	[0]      version, 0x01
//	[1:5]    key id: SHA-256(keyIDLabel || secret)[:4]
//	[5:37]   HMAC-SHA256(secret, [0:5] || domain || uint64be(len(binding)) || binding || data)
//	[37:]    data, to the end of the entry
const (
	version   = 1
	idLen     = 4
	macOffset = 1 + idLen
	headerLen = macOffset + sha256.Size // 37
)

// Domains keep a Store entry (bound to its store key), a Codec entry
// (bound to a context string) and a Middleware entry (bound to its store
// key, holding an encoded cached.Response) apart even when keys and
// contexts are equal.
const (
	domainKey     byte = 1 // Sign, Verify, Store
	domainContext byte = 2 // Codec
	domainEntry   byte = 3 // Middleware, Protector
)

// keyIDLabel separates the key id from any other use of SHA-256(secret).
const keyIDLabel = "cachestack/sign key id v1\x00"

// maxScratch bounds the scratch buffer a pooled MAC state keeps, so that one
// huge key does not pin its size in the pool.
const maxScratch = 4 << 10

// ErrInvalid matches (errors.Is) every error Verify returns: the bytes are
// not an entry signed for this key by one of the listed secrets — unsigned,
// truncated, extended, tampered with, moved from another key, in an unknown
// format version, or signed with a secret no longer listed.
//
// ErrInvalid, and every error that matches it, also matches codec.ErrFormat,
// so a cache treats a rejected entry like an undecodable one: it counts it,
// deletes it and goes to the network. A rejected entry is never served.
var ErrInvalid error = invalidError("invalid signed entry")

// The reasons Verify gives; each matches ErrInvalid and codec.ErrFormat.
// They are values, so a rejection does not allocate.
var (
	errShort      error = invalidError("entry too short to be signed")
	errVersion    error = invalidError("unknown signed entry version")
	errUnknownKey error = invalidError("entry signed with a secret that is not listed")
	errMAC        error = invalidError("signature mismatch")
)

// invalidError is the type of ErrInvalid and of the reasons above.
type invalidError string

func (e invalidError) Error() string        { return "sign: " + string(e) }
func (e invalidError) Is(target error) bool { return target == ErrInvalid }
func (e invalidError) Unwrap() error        { return codec.ErrFormat }

// Signer signs entries with HMAC-SHA256 and verifies them, with key
// rotation: it signs with the newest secret and verifies with any listed.
// It counts what Verify accepted and rejected (see Stats).
//
// A Signer is safe for concurrent use. Its zero value is not usable; call
// New.
type Signer struct {
	secrets  []*secret // newest first
	verified atomic.Uint64
	rejected atomic.Uint64
}

// secret is one listed secret: its key id and a pool of keyed MAC states.
type secret struct {
	id   [idLen]byte
	pool sync.Pool // of *macState
}

// macState is a keyed HMAC and the scratch space one MAC computation needs,
// reused through a pool so that Verify does not allocate.
type macState struct {
	h   hash.Hash
	buf []byte // header, domain, length prefix, binding
	sum [sha256.Size]byte
}

// Stats are a Signer's counters since New.
type Stats struct {
	Verified uint64 // entries Verify accepted
	Rejected uint64 // entries Verify rejected: each was a miss, never served
}

// New returns a Signer for secrets, given newest first: it signs with
// secrets[0] and verifies with any of them. Each secret must be at least
// MinSecretLen bytes (32 random bytes from crypto/rand are right). A secret
// listed twice is kept once.
//
// New keeps its own copy of the secrets: the caller may overwrite its slices
// once New returns.
func New(secrets ...[]byte) (*Signer, error) {
	if len(secrets) == 0 {
		return nil, errors.New("sign: no secrets, want at least one")
	}
	s := &Signer{secrets: make([]*secret, 0, len(secrets))}
	for i, b := range secrets {
		if len(b) < MinSecretLen {
			return nil, fmt.Errorf("sign: secret %d is %d bytes, want at least %d", i, len(b), MinSecretLen)
		}
		if slicesContain(secrets[:i], b) {
			continue
		}
		s.secrets = append(s.secrets, newSecret(b))
	}
	return s, nil
}

func slicesContain(list [][]byte, b []byte) bool {
	for _, x := range list {
		if bytes.Equal(x, b) {
			return true
		}
	}
	return false
}

func newSecret(b []byte) *secret {
	key := bytes.Clone(b)
	sec := &secret{}
	h := sha256.New()
	h.Write([]byte(keyIDLabel))
	h.Write(key)
	copy(sec.id[:], h.Sum(nil))
	sec.pool.New = func() any {
		return &macState{h: hmac.New(sha256.New, key), buf: make([]byte, 0, 64)}
	}
	return sec
}

// Sign returns a new slice holding data signed for key: Verify with the same
// key returns data, and fails for any other key. It signs with the newest
// secret. data is read, not kept.
func (s *Signer) Sign(key string, data []byte) []byte {
	return s.sign(domainKey, key, data)
}

// Verify checks that signed was made by Sign with this key and one of the
// listed secrets, and returns the data in it: a sub-slice of signed, not a
// copy, so it is valid as long as signed is and shares its bytes. Otherwise
// it returns nil and an error matching ErrInvalid (and so codec.ErrFormat).
// The signature is compared in constant time. Every call is counted in Stats.
func (s *Signer) Verify(key string, signed []byte) ([]byte, error) {
	return s.verify(domainKey, key, signed)
}

// Stats returns the Signer's counters.
func (s *Signer) Stats() Stats {
	return Stats{Verified: s.verified.Load(), Rejected: s.rejected.Load()}
}

// String describes the Signer without its secrets: the key ids, newest
// first. It keeps secrets out of logs that print a Signer.
func (s *Signer) String() string {
	if s == nil {
		return "sign.Signer(nil)"
	}
	b := []byte("sign.Signer{key ids:")
	for _, sec := range s.secrets {
		b = append(b, ' ')
		b = hex.AppendEncode(b, sec.id[:])
	}
	return string(append(b, '}'))
}

// GoString is String, so that %#v does not print the secrets either.
func (s *Signer) GoString() string { return s.String() }

func (s *Signer) sign(domain byte, binding string, data []byte) []byte {
	sec := s.secrets[0]
	out := make([]byte, headerLen+len(data))
	out[0] = version
	copy(out[1:macOffset], sec.id[:])
	copy(out[headerLen:], data)
	st := sec.get()
	copy(out[macOffset:headerLen], st.mac(out[:macOffset], domain, binding, data))
	sec.put(st)
	return out
}

func (s *Signer) verify(domain byte, binding string, signed []byte) ([]byte, error) {
	data, err := s.check(domain, binding, signed)
	if err != nil {
		s.rejected.Add(1)
		return nil, err
	}
	s.verified.Add(1)
	return data, nil
}

func (s *Signer) check(domain byte, binding string, signed []byte) ([]byte, error) {
	if len(signed) < headerLen {
		return nil, errShort
	}
	if signed[0] != version {
		return nil, errVersion
	}
	id := [idLen]byte(signed[1:macOffset])
	known := false
	for _, sec := range s.secrets {
		if sec.id != id { // key ids are public: no need for constant time
			continue
		}
		known = true // two secrets may share an id (2^-32): try each
		st := sec.get()
		ok := hmac.Equal(st.mac(signed[:macOffset], domain, binding, signed[headerLen:]), signed[macOffset:headerLen])
		sec.put(st)
		if ok {
			return signed[headerLen:len(signed):len(signed)], nil
		}
	}
	if !known {
		return nil, errUnknownKey
	}
	return nil, errMAC
}

func (sec *secret) get() *macState { return sec.pool.Get().(*macState) }

func (sec *secret) put(st *macState) {
	if cap(st.buf) > maxScratch {
		st.buf = make([]byte, 0, 64)
	}
	sec.pool.Put(st)
}

// mac returns the MAC of an entry whose first bytes are head (version and
// key id), bound to binding in domain, over data. The result is st's own
// buffer, valid until st is used again.
func (st *macState) mac(head []byte, domain byte, binding string, data []byte) []byte {
	b := append(st.buf[:0], head...)
	b = append(b, domain)
	b = binary.BigEndian.AppendUint64(b, uint64(len(binding)))
	b = append(b, binding...)
	st.buf = b
	st.h.Reset()
	st.h.Write(b)
	st.h.Write(data)
	return st.h.Sum(st.sum[:0])
}
