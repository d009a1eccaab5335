// Package cachestack caches HTTP client responses: put a Cache in an
// http.Client as its Transport and repeated requests are answered from a
// store instead of the network.
//
//	c, err := cachestack.New(&cachestack.Options{ExpireAfter: policy.After(time.Hour)})
//	if err != nil { … }
//	defer c.Close()
//	client := c.Client()
//
// The cache is built from composable middlewares (package middleware):
// keying, filtering, expiry and the store, each a
// func(http.RoundTripper) http.RoundTripper, over a generic
// store.Store[K, V] with adapters for memory (store/memstore) and more.
// New assembles the default stack; every piece is also usable alone or in a
// chain of the caller's.
//
// The feature set follows the Python library aiohttp-client-cache: allowed
// methods and status codes, ignored parameters, keyed headers, expiry per
// session, per URL pattern and per request (with the same precedence),
// a filter function, a key function (Options.KeyFunc), disabling the cache
// for a request or a scope, and the cache operations: by key (Key,
// Contains, Get, Keys, Len, Delete), by URL (DeleteURL, HasURL, URLs),
// over every entry (Entries, Clear, DeleteExpired, ResetExpiry), and the
// session's expiry at run time (SetExpiry).
//
// A persistent cache is one line more: each store that outlives the
// process has an OpenResponses constructor whose result Options.Store
// takes, such as
//
//	responses, err := sqlitestore.OpenResponses("~/.cache/myapp/http.sqlite", nil)
//
// A failing store never fails a request: the cache steps aside, the request
// goes to the network, and the failure is logged and counted.
//
// For a store others can reach, Options.Signer signs every entry (package
// sign) and Options.Sealer encrypts it (package seal), each bound to its
// store key, over any store, typed or bytes; an entry tampered with,
// planted or moved in the store is a counted miss, never served. Listing
// and the other operations read entries through the same checks.
package cachestack
