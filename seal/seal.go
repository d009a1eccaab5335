package seal

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/cachestack/cachestack/codec"
)

// KeySize is the length of a key, in bytes: 32 random bytes, as for
// AES-256.
const KeySize = 32

// Overhead is how many bytes longer a sealed entry is than its data: a
// version byte, a 4-byte key id, a 12-byte nonce and a 16-byte tag.
const Overhead = headerLen + tagLen

// Sealed entry format, version 1 (see the package documentation):
//
//	[0]       version, 0x01
//	[1:5]     key id
//	[5:17]    nonce, random
//	[17:n-16] data, encrypted with AES-256-GCM
//	[n-16:]   GCM tag
const (
	version     = 1
	idLen       = 4
	nonceOffset = 1 + idLen
	nonceLen    = 12
	headerLen   = nonceOffset + nonceLen // 17
	tagLen      = 16
)

// Domains keep a Store entry (bound to its store key), a Codec entry
// (bound to a context string) and a Middleware entry (bound to its store
// key, holding an encoded cached.Response) apart even when keys and
// contexts are equal.
const (
	domainKey     byte = 1 // Seal, Open, Store
	domainContext byte = 2 // Codec
	domainEntry   byte = 3 // Middleware, Protector
)

// HKDF-SHA256 labels ("info") for what is derived from a key. Distinct
// labels make the AES key and the key id independent of each other, and of
// any other use of the same bytes (such as the same secret given to
// package sign, which uses it as an HMAC key).
const (
	encLabel = "cachestack/seal aes-256-gcm v1"
	idLabel  = "cachestack/seal key id v1"
)

// maxScratch bounds the additional-data buffer a pool keeps, so that one
// huge key does not pin its size in the pool.
const maxScratch = 4 << 10

// ErrInvalid matches (errors.Is) every error Open returns: the bytes are
// not an entry sealed for this key by one of the listed keys — plaintext,
// truncated, extended, tampered with, moved from another key, in an
// unknown format version, or sealed with a key no longer listed.
//
// ErrInvalid, and every error that matches it, also matches
// codec.ErrFormat, so a cache treats an entry that fails to open like an
// undecodable one: it counts it, deletes it and goes to the network. Such
// an entry is never served.
var ErrInvalid error = invalidError("invalid sealed entry")

// The reasons Open gives; each matches ErrInvalid and codec.ErrFormat.
// They are values, so a rejection does not allocate.
var (
	errShort      error = invalidError("entry too short to be sealed")
	errVersion    error = invalidError("unknown sealed entry version")
	errUnknownKey error = invalidError("entry sealed with a key that is not listed")
	errAuth       error = invalidError("entry fails authentication")
)

// invalidError is the type of ErrInvalid and of the reasons above.
type invalidError string

func (e invalidError) Error() string        { return "seal: " + string(e) }
func (e invalidError) Is(target error) bool { return target == ErrInvalid }
func (e invalidError) Unwrap() error        { return codec.ErrFormat }

// Sealer encrypts and authenticates entries with AES-256-GCM, with key
// rotation: it seals with the newest key and opens with any listed. It
// counts what it sealed and what Open accepted and rejected (see Stats).
//
// A Sealer is safe for concurrent use. Its zero value is not usable; call
// New.
type Sealer struct {
	keys    []*listedKey // newest first
	scratch sync.Pool

	sealed   atomic.Uint64
	opened   atomic.Uint64
	oldKey   atomic.Uint64
	rejected atomic.Uint64
}

// listedKey is one listed key: its id and the AEAD made from the AES key
// derived from it. The key itself is not kept.
type listedKey struct {
	id   [idLen]byte
	aead cipher.AEAD
}

// Stats are a Sealer's counters since New.
type Stats struct {
	// Sealed counts entries sealed. Every process sealing with the same
	// key adds to the count that bounds it (see the package
	// documentation).
	Sealed uint64
	// Opened counts entries Open accepted.
	Opened uint64
	// OldKey counts those of Opened that were sealed with a key other
	// than the first listed, the one Seal uses. During a rotation, once
	// it stops rising in every process, the older keys can be dropped.
	OldKey uint64
	// Rejected counts entries Open rejected: each was a miss, never
	// served.
	Rejected uint64
}

// New returns a Sealer for keys, given newest first: it seals with keys[0]
// and opens with any of them. Each key is exactly KeySize (32) random
// bytes: generate them with crypto/rand and keep them where other
// credentials are kept. A key of another length, a key of all zero bytes,
// or a key listed twice is an error naming the key's position.
//
// New derives what it needs from each key and keeps no copy of it: the
// caller may overwrite its slices once New returns.
func New(keys ...[]byte) (*Sealer, error) {
	if len(keys) == 0 {
		return nil, errors.New("seal: no keys, want at least one")
	}
	s := &Sealer{keys: make([]*listedKey, 0, len(keys))}
	for i, b := range keys {
		if len(b) != KeySize {
			hint := ""
			if len(b) == 2*KeySize || len(b) == 43 || len(b) == 44 { // hex, base64
				hint = " (decode a hex or base64 key to its bytes first)"
			}
			return nil, fmt.Errorf("seal: key %d is %d bytes, want %d%s", i, len(b), KeySize, hint)
		}
		if subtle.ConstantTimeCompare(b, make([]byte, KeySize)) == 1 {
			return nil, fmt.Errorf("seal: key %d is all zero bytes, want %d random bytes", i, KeySize)
		}
		for j, prev := range keys[:i] {
			if bytes.Equal(prev, b) {
				return nil, fmt.Errorf("seal: key %d repeats key %d", i, j)
			}
		}
		k, err := newKey(b)
		if err != nil {
			return nil, fmt.Errorf("seal: key %d: %w", i, err)
		}
		if j := s.find(k.id); j >= 0 {
			// Two random keys share an id with probability 2^-32.
			return nil, fmt.Errorf("seal: key %d has the same key id as key %d, generate another", i, j)
		}
		s.keys = append(s.keys, k)
	}
	s.scratch.New = func() any { return new(adBuf) }
	return s, nil
}

func newKey(b []byte) (*listedKey, error) {
	id, err := hkdf.Key(sha256.New, b, nil, idLabel, idLen)
	if err != nil {
		return nil, err
	}
	enc, err := hkdf.Key(sha256.New, b, nil, encLabel, 32)
	if err != nil {
		return nil, err
	}
	defer clear(enc)
	block, err := aes.NewCipher(enc)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &listedKey{id: [idLen]byte(id), aead: aead}, nil
}

// Seal returns a new slice holding data encrypted and bound to key, the
// store key it is kept under: Open with the same store key returns data,
// and fails for any other. It encrypts with the first listed key and a
// fresh random nonce, so sealing the same data twice gives different
// bytes. data is read, not kept. The result is Overhead bytes longer than
// data.
func (s *Sealer) Seal(key string, data []byte) []byte {
	return s.seal(domainKey, key, data)
}

// Open checks that sealed was made by Seal for this store key with one of
// the listed keys, and returns its data decrypted, in a new slice; sealed
// is not modified. Otherwise it returns nil and an error matching ErrInvalid
// (and so codec.ErrFormat). Every call is counted in Stats.
func (s *Sealer) Open(key string, sealed []byte) ([]byte, error) {
	return s.open(domainKey, key, sealed, false)
}

// Stats returns the Sealer's counters.
func (s *Sealer) Stats() Stats {
	return Stats{
		Sealed:   s.sealed.Load(),
		Opened:   s.opened.Load(),
		OldKey:   s.oldKey.Load(),
		Rejected: s.rejected.Load(),
	}
}

// String describes the Sealer without its keys: the key ids, newest
// first. It keeps keys out of logs that print a Sealer.
func (s *Sealer) String() string {
	if s == nil {
		return "seal.Sealer(nil)"
	}
	b := []byte("seal.Sealer{key ids:")
	for _, k := range s.keys {
		b = append(b, ' ')
		b = hex.AppendEncode(b, k.id[:])
	}
	return string(append(b, '}'))
}

// GoString is String, so that %#v does not print key material either.
func (s *Sealer) GoString() string { return s.String() }

func (s *Sealer) seal(domain byte, binding string, data []byte) []byte {
	k := s.keys[0]
	out := make([]byte, headerLen, headerLen+len(data)+tagLen)
	out[0] = version
	copy(out[1:nonceOffset], k.id[:])
	nonce := out[nonceOffset:headerLen]
	rand.Read(nonce) // never fails (crypto/rand)
	ad := s.ad(out[:nonceOffset], domain, binding)
	out = k.aead.Seal(out, nonce, data, ad.b)
	s.putAD(ad)
	s.sealed.Add(1)
	return out
}

// open opens sealed. In place, it decrypts over sealed's own bytes, which
// the caller must own; on failure their contents are then undefined.
// Otherwise it returns a new slice and leaves sealed alone.
func (s *Sealer) open(domain byte, binding string, sealed []byte, inPlace bool) ([]byte, error) {
	data, old, err := s.check(domain, binding, sealed, inPlace)
	if err != nil {
		s.rejected.Add(1)
		return nil, err
	}
	s.opened.Add(1)
	if old {
		s.oldKey.Add(1)
	}
	return data, nil
}

// check opens sealed and tells whether it was sealed with an older key.
func (s *Sealer) check(domain byte, binding string, sealed []byte, inPlace bool) ([]byte, bool, error) {
	if len(sealed) < headerLen+tagLen {
		return nil, false, errShort
	}
	if sealed[0] != version {
		return nil, false, errVersion
	}
	i := s.find([idLen]byte(sealed[1:nonceOffset]))
	if i < 0 {
		return nil, false, errUnknownKey
	}
	ciphertext := sealed[headerLen:]
	var dst []byte
	if inPlace {
		dst = ciphertext[:0]
	} else {
		dst = make([]byte, 0, len(ciphertext)-tagLen)
	}
	ad := s.ad(sealed[:nonceOffset], domain, binding)
	data, err := s.keys[i].aead.Open(dst, sealed[nonceOffset:headerLen], ciphertext, ad.b)
	s.putAD(ad)
	if err != nil {
		return nil, false, errAuth
	}
	return data[:len(data):len(data)], i > 0, nil
}

// find returns the index of the key with id, or -1. Key ids are public, so
// the comparison need not be constant time; New made them unique.
func (s *Sealer) find(id [idLen]byte) int {
	for i, k := range s.keys {
		if k.id == id {
			return i
		}
	}
	return -1
}

// adBuf is scratch space for additional data, reused through a pool so
// that opening does not allocate.
type adBuf struct{ b []byte }

// ad returns the additional data of an entry whose first bytes are head
// (version and key id), bound to binding in domain.
func (s *Sealer) ad(head []byte, domain byte, binding string) *adBuf {
	a := s.scratch.Get().(*adBuf)
	a.b = append(a.b[:0], head...)
	a.b = append(a.b, domain)
	a.b = append(a.b, binding...)
	return a
}

func (s *Sealer) putAD(a *adBuf) {
	if cap(a.b) > maxScratch {
		a.b = nil
	}
	s.scratch.Put(a)
}
