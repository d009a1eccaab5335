package middleware

import (
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/cachestack/cachestack/cached"
)

// Protector protects the entries a cache writes and checks the entries it
// reads, whatever store holds them. Package sign (HMAC-SHA256) and package
// seal (AES-256-GCM) provide one each.
//
// Protect returns what is stored under key in place of e: usually a
// cached.KindSealed entry whose Body is e's protected encoding. It must not
// modify e. Verify undoes Protect for an entry read from under key: it
// returns the entry Protect was given, or an error when the stored entry
// is not one Protect made for that key (tampered with, planted, moved from
// another key, or protected with a key no longer listed). It must not
// modify the entry it reads, which the store may share with other readers,
// and must refuse, rather than pass through, an entry it did not protect.
//
// A Protector is called from many goroutines at once.
type Protector interface {
	Protect(key string, e *cached.Response) (*cached.Response, error)
	Verify(key string, e *cached.Response) (*cached.Response, error)
}

// Protect is the middleware that has every entry the Store middleware
// writes go through p.Protect, bound to the key it is stored under, and
// every entry it reads go through p.Verify before anything else looks at
// it: the response and its Vary index, redirect aliases, revalidated
// responses. An entry that fails Verify is a miss: it is counted in
// Counters.Corrupt, deleted, and the request goes to the network; the
// first such entry in a minute is logged as a warning, the rest at debug
// level. An entry that cannot be protected is not stored (counted in
// Counters.StoreErrors). Nothing changes on the way out.
//
// Protection is a concern of the stack, not of the store: the same
// middleware signs (sign.Middleware) or encrypts (seal.Middleware) entries
// in a typed in-memory store and in a byte store alike. Stack it anywhere
// with the Store middleware, in any order among the cache middlewares, or
// above it with only foreign middlewares between; placed beneath the Store
// middleware's foreign neighbour it does not reach the Store middleware,
// which then reads and writes unprotected entries (reported once as an
// error log, as for any misplaced cache middleware).
//
// Several Protect middlewares in one stack all apply, nested in stacking
// order, like store wrappers: the outermost protects first on the way to
// the store and verifies last on the way back, so
// Chain(seal.Middleware(k), sign.Middleware(s), st) stores what
// sign.Wrap(seal.Wrap(...)) would. Changing their order changes the stored
// format (existing entries become misses, never wrong answers), not what a
// caller sees. A p listed twice applies twice.
//
// Protect returns an error when p is nil.
func Protect(p Protector) (Middleware, error) {
	if p == nil {
		return nil, errors.New("middleware.Protect: protector is nil")
	}
	return func(next http.RoundTripper) http.RoundTripper {
		return attach(next, func(pt *parts) { pt.protect = pt.protect.outer(p) })
	}, nil
}

// protectStage is an engine's Protectors, outermost first; nil for none.
type protectStage []Protector

// outer returns ps with p placed outside it, as a new slice: ps may be
// shared with the engine it was copied from.
func (ps protectStage) outer(p Protector) protectStage {
	return append(protectStage{p}, ps...)
}

// over returns ps with outer's Protectors placed outside it, for an engine
// that inherits the concerns of an engine above a foreign middleware.
func (ps protectStage) over(outer protectStage) protectStage {
	if len(ps) == 0 {
		return outer
	}
	if len(outer) == 0 {
		return ps
	}
	return slices.Concat(outer, ps)
}

// errUnprotected is the error for a protected entry read by a stack that
// has no Protector left to open it: one stacked differently wrote it.
var errUnprotected = errors.New("entry is protected, and no Protector of this stack opens it")

// protect applies every Protector, outermost first.
func (ps protectStage) protect(key string, e *cached.Response) (*cached.Response, error) {
	for _, p := range ps {
		var err error
		if e, err = p.Protect(key, e); err != nil {
			return nil, err
		}
		if e == nil {
			return nil, fmt.Errorf("%T.Protect returned no entry", p)
		}
	}
	return e, nil
}

// verify undoes protect, innermost first. What it returns is never a
// cached.KindSealed entry.
func (ps protectStage) verify(key string, e *cached.Response) (*cached.Response, error) {
	for i := len(ps) - 1; i >= 0; i-- {
		var err error
		if e, err = ps[i].Verify(key, e); err != nil {
			return nil, err
		}
		if e == nil {
			return nil, fmt.Errorf("%T.Verify returned no entry", ps[i])
		}
	}
	if e.Kind == cached.KindSealed {
		return nil, errUnprotected
	}
	return e, nil
}
