package seal

import (
	"errors"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/codec"
	"github.com/cachestack/cachestack/middleware"
)

// errPlain is the reason a middleware entry that is not sealed at all is
// rejected; it matches ErrInvalid and codec.ErrFormat.
var errPlain error = invalidError("entry is not sealed")

// Middleware returns the middleware that seals every entry the cache stack
// writes and opens every entry it reads, bound to the key it is stored
// under, whatever store sits beneath: a typed in-memory store or a byte
// store behind codec.Bind. It is middleware.Protect(Protector(sealer)); see
// middleware.Protect for where it belongs in a stack and what a rejected
// entry costs (a counted miss, never a wrong answer).
//
// Wrap is the store-level form of the same guarantee, for byte stores.
// Use one or the other: both together encrypt every entry twice.
//
// Middleware returns an error when sealer is nil or was not made by New.
func Middleware(sealer *Sealer) (middleware.Middleware, error) {
	p, err := Protector(sealer)
	if err != nil {
		return nil, err
	}
	return middleware.Protect(p)
}

// Protector returns the middleware.Protector that Middleware installs, for
// code that reads or writes a store's entries itself, as the drop-in
// cache's listing operations do (cachestack.Options.Sealer).
//
// Protect encodes the entry (codec.Response), seals it for its key and
// returns a cached.KindSealed entry holding the sealed bytes and nothing
// else: method, URL, status, header fields, body, times and the cache's
// bookkeeping (Vary indexes, redirect aliases) are all inside, so a store
// reader learns an entry's length and its store key, nothing more. Verify
// refuses an entry that is not such an envelope (a plaintext entry planted
// in the store) and one that does not open for its key, and returns the
// entry decrypted into a new buffer: the envelope, which the store may
// share, is left alone. Errors match ErrInvalid and codec.ErrFormat; the
// sealer counts each entry sealed, opened and rejected (Stats).
//
// Protector returns an error when sealer is nil or was not made by New.
func Protector(sealer *Sealer) (middleware.Protector, error) {
	if sealer == nil || len(sealer.keys) == 0 {
		return nil, errors.New("seal: Middleware needs a Sealer made by seal.New")
	}
	return protector{sealer}, nil
}

type protector struct{ s *Sealer }

func (p protector) Protect(key string, e *cached.Response) (*cached.Response, error) {
	data, err := codec.Response().Marshal(e)
	if err != nil {
		return nil, err
	}
	return &cached.Response{Kind: cached.KindSealed, Body: p.s.seal(domainEntry, key, data)}, nil
}

func (p protector) Verify(key string, e *cached.Response) (*cached.Response, error) {
	r, old, err := p.open(key, e)
	if err != nil {
		p.s.rejected.Add(1)
		return nil, err
	}
	p.s.opened.Add(1)
	if old {
		p.s.oldKey.Add(1)
	}
	return r, nil
}

func (p protector) open(key string, e *cached.Response) (*cached.Response, bool, error) {
	if e.Kind != cached.KindSealed {
		return nil, false, errPlain
	}
	data, old, err := p.s.check(domainEntry, key, e.Body, false)
	if err != nil {
		return nil, false, err
	}
	r, err := codec.Response().Unmarshal(data)
	if err != nil {
		return nil, false, err // sealed with this key, in a format this version cannot read
	}
	return r, old, nil
}
