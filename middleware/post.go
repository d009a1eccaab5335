package middleware

import (
	"net/http"
	"time"

	"github.com/cachestack/cachestack/policy"
)

// reusePOST stores a response to POST as the response to a GET of the same
// URL, with the same keyed headers (RFC 9110 §9.3.3: a POST response with
// explicit freshness and a Content-Location equal to the target URI may be
// reused for a later GET), when CacheControlOptions.ReusePOSTResponses is
// set. The response must be a 200 or 203 with an explicit, positive
// freshness lifetime (§9.3.3: only such POST responses are cacheable) and
// pass every rule a GET response would; its body is teed as for any
// stored response. It returns the response to give the caller.
func (p *parts) reusePOST(req *http.Request, resp *http.Response, opts requestOptions, sent, received time.Time) *http.Response {
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNonAuthoritativeInfo {
		return resp
	}
	cl := resp.Header.Get("Content-Location")
	if cl == "" {
		return resp
	}
	if u, err := req.URL.Parse(cl); err != nil || !sameResource(u.String(), req.URL.String()) {
		return resp
	}
	sd := policy.ParseResponseDirectives(resp.Header)
	if life, explicit := policy.Lifetime(resp.StatusCode, resp.Header, sd, received, nil); !explicit || life <= 0 {
		return resp
	}
	get := (&http.Request{Method: http.MethodGet, URL: req.URL, Header: req.Header, Host: req.Host}).WithContext(req.Context())
	id, _, err := p.keyer().Key(get)
	if err != nil {
		return resp
	}
	x := &exchange{parts: *p, opts: opts, rd: policy.ParseRequestDirectives(req.Header), primary: id.Key, key: id.Key, url: id.URL}
	entry, why := x.storable(get, resp, sent, received)
	if why != "" {
		return resp
	}
	if resp.Body == nil || resp.Body == http.NoBody {
		x.finish(get, entry, nil)
		return resp
	}
	x.teeReq, x.teeEntry = get, entry
	x.tee.start(resp.Body, resp.ContentLength, x.store.maxBody, x)
	resp.Body = &x.tee
	return resp
}

// sameResource compares two absolute URLs without their fragments.
func sameResource(a, b string) bool {
	return stripFragment(a) == stripFragment(b)
}

func stripFragment(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '#' {
			return s[:i]
		}
	}
	return s
}
