package middleware

import (
	"net/http"

	"github.com/cachestack/cachestack/keyer"
)

// Key is the keying middleware: on the way in, the cache key of each request
// is computed by k (method, normalised URL, selected headers, body digest;
// see package keyer). It has no work on the way out. Stack it anywhere with
// the Store middleware; without it, Store uses keyer.New(nil). A nil k means
// the default keyer too.
func Key(k *keyer.Keyer) Middleware {
	return func(next http.RoundTripper) http.RoundTripper {
		return attach(next, func(p *parts) { p.key = k })
	}
}
