package sign

import (
	"errors"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/codec"
	"github.com/cachestack/cachestack/middleware"
)

// The reasons a middleware entry is rejected beyond those of Verify; each
// matches ErrInvalid and codec.ErrFormat.
var (
	errUnsigned error = invalidError("entry is not signed")
	errEnvelope error = invalidError("signed entry's method or URL was changed")
)

// Middleware returns the middleware that signs every entry the cache stack
// writes and verifies every entry it reads, bound to the key it is stored
// under, whatever store sits beneath: a typed in-memory store or a byte
// store behind codec.Bind. It is middleware.Protect(Protector(signer)); see
// middleware.Protect for where it belongs in a stack and what a rejected
// entry costs (a counted miss, never a wrong answer).
//
// Wrap is the store-level form of the same guarantee, for byte stores.
// Use one or the other: both together sign every entry twice.
//
// Middleware returns an error when signer is nil or was not made by New.
func Middleware(signer *Signer) (middleware.Middleware, error) {
	p, err := Protector(signer)
	if err != nil {
		return nil, err
	}
	return middleware.Protect(p)
}

// Protector returns the middleware.Protector that Middleware installs, for
// code that reads or writes a store's entries itself, as the drop-in
// cache's listing operations do (cachestack.Options.Signer).
//
// Protect encodes the entry (codec.Response), signs it for its key and
// returns a cached.KindSealed entry holding the signed bytes, with the
// entry's Method and URL copied in clear (signing hides nothing: the whole
// entry is readable in the signed bytes). Verify refuses an entry that is
// not such an envelope (an unsigned entry planted in the store), one whose
// signature does not verify for its key, and one whose clear Method or URL
// differ from the signed ones; it returns the signed entry, whose Body
// shares the envelope's bytes. Errors match ErrInvalid and
// codec.ErrFormat; the signer counts each verification (Stats).
//
// Protector returns an error when signer is nil or was not made by New.
func Protector(signer *Signer) (middleware.Protector, error) {
	if signer == nil || len(signer.secrets) == 0 {
		return nil, errors.New("sign: Middleware needs a Signer made by sign.New")
	}
	return protector{signer}, nil
}

type protector struct{ s *Signer }

func (p protector) Protect(key string, e *cached.Response) (*cached.Response, error) {
	data, err := codec.Response().Marshal(e)
	if err != nil {
		return nil, err
	}
	return &cached.Response{
		Kind:   cached.KindSealed,
		Method: e.Method,
		URL:    e.URL,
		Body:   p.s.sign(domainEntry, key, data),
	}, nil
}

func (p protector) Verify(key string, e *cached.Response) (*cached.Response, error) {
	r, err := p.open(key, e)
	if err != nil {
		p.s.rejected.Add(1)
		return nil, err
	}
	p.s.verified.Add(1)
	return r, nil
}

func (p protector) open(key string, e *cached.Response) (*cached.Response, error) {
	if e.Kind != cached.KindSealed {
		return nil, errUnsigned
	}
	data, err := p.s.check(domainEntry, key, e.Body)
	if err != nil {
		return nil, err
	}
	r, err := codec.Response().Unmarshal(data)
	if err != nil {
		return nil, err // signed by this secret, in a format this version cannot read
	}
	if r.Method != e.Method || r.URL != e.URL {
		return nil, errEnvelope
	}
	return r, nil
}
