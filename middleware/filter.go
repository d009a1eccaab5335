package middleware

import (
	"fmt"
	"net/http"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/policy"
)

// FilterOptions say which requests and responses the cache may hold.
type FilterOptions struct {
	// Methods whose responses may be stored; nil means GET and HEAD (the
	// seed's allowed_methods). Requests with other methods bypass the cache.
	Methods []string
	// Codes are the status codes that may be stored. Nil means, in the
	// default RFC 9111 mode, policy.StorableCodes (every final status
	// but 206 and 304, with RFC 9111 §3 deciding which responses may be
	// stored), and in the header-blind mode (IgnoreCacheControl) 200
	// alone, aiohttp-client-cache's allowed_codes default. A 206 is never
	// stored as a response; in the default mode it is kept as a part to
	// combine into a complete 200 unless Codes is set without 206 (see
	// CacheControl).
	Codes []int
	// Func, if set, is applied to every response before it is stored and
	// to every stored response before it is served; false keeps it out of
	// (or ignores it in) the cache: the seed's filter_fn.
	Func policy.Filter
}

type filterStage struct {
	methods  policy.Methods
	codes    policy.Codes
	codesSet bool // the user gave Codes; else the default depends on the mode
	fn       policy.Filter
}

// Filter is the filtering middleware. On the way in, a request whose method
// is not allowed bypasses the cache (it is neither looked up nor stored). On
// the way out, a response whose status code is not allowed, or that Func
// rejects, is not stored; on a hit, a stored response that Func rejects is
// not served. Stack it anywhere with the Store middleware.
func Filter(opts *FilterOptions) (Middleware, error) {
	f, err := newFilterStage(opts)
	if err != nil {
		return nil, err
	}
	return func(next http.RoundTripper) http.RoundTripper {
		return attach(next, func(p *parts) { p.filter = f })
	}, nil
}

func newFilterStage(opts *FilterOptions) (*filterStage, error) {
	var o FilterOptions
	if opts != nil {
		o = *opts
	}
	f := &filterStage{methods: policy.DefaultMethods(), codes: policy.DefaultCodes(), fn: o.Func}
	var err error
	if o.Methods != nil {
		if f.methods, err = policy.NewMethods(o.Methods...); err != nil {
			return nil, fmt.Errorf("middleware.Filter: FilterOptions.Methods: %w", err)
		}
	}
	if o.Codes != nil {
		if f.codes, err = policy.NewCodes(o.Codes...); err != nil {
			return nil, fmt.Errorf("middleware.Filter: FilterOptions.Codes: %w", err)
		}
		f.codesSet = true
	}
	return f, nil
}

var defaultFilter = &filterStage{methods: policy.DefaultMethods(), codes: policy.DefaultCodes()}

func (f *filterStage) allowsMethod(m string) bool { return f.methods.Allows(m) }

// storableCodes is the default Codes of the RFC 9111 mode.
var storableCodes = policy.StorableCodes()

// allowsCode reports whether a response with status c may be stored; rfc
// says whether the engine follows RFC 9111 (the default Codes differ).
func (f *filterStage) allowsCode(c int, rfc bool) bool {
	if rfc && !f.codesSet {
		return storableCodes.Allows(c)
	}
	return f.codes.Allows(c)
}

// accepts applies the user's filter function to a stored or storable entry.
func (f *filterStage) accepts(e *cached.Response) bool { return f.fn == nil || f.fn(e) }
