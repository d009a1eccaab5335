package keyer_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/keyer"
)

func newKeyer(t testing.TB, opts *keyer.Options) *keyer.Keyer {
	t.Helper()
	k, err := keyer.New(opts)
	require.NoError(t, err)
	return k
}

type reqSpec struct {
	method string
	url    string
	header http.Header
	host   string
	body   string
}

func (r reqSpec) build(t testing.TB) *http.Request {
	t.Helper()
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	req, err := http.NewRequest(r.method, r.url, body)
	require.NoError(t, err)
	if r.header != nil {
		req.Header = r.header
	}
	if r.host != "" {
		req.Host = r.host
	}
	return req
}

func key(t testing.TB, k *keyer.Keyer, r reqSpec) keyer.Result {
	t.Helper()
	res, _, err := k.Key(r.build(t))
	require.NoError(t, err)
	return res
}

func TestNormalisedURL(t *testing.T) {
	t.Parallel()
	k := newKeyer(t, &keyer.Options{IgnoredParams: []string{"token"}})
	tests := []struct {
		name string
		give string
		want string
	}{
		{"lower scheme and host", "HTTP://Example.COM/Path", "http://example.com/Path"},
		{"default http port", "http://example.com:80/", "http://example.com/"},
		{"default https port", "https://example.com:443/", "https://example.com/"},
		{"empty port", "http://example.com:/", "http://example.com/"},
		{"other port kept", "http://example.com:8080/", "http://example.com:8080/"},
		{"443 kept for http", "http://example.com:443/", "http://example.com:443/"},
		{"ipv6 default port", "http://[::1]:80/", "http://[::1]/"},
		{"ipv6 zone", "http://[fe80::1%25en0]/", "http://[fe80::1%25en0]/"},
		{"non-ascii host escaped", "http://é.example/", "http://%C3%A9.example/"},
		{"non-ascii zone kept", "http://[fe80::1%25\xc3\xa9]/", "http://[fe80::1%25\xc3\xa9]/"}, // net/url refuses %C3 in a zone
		{"empty path", "http://example.com", "http://example.com/"},
		{"fragment dropped", "http://example.com/a#frag", "http://example.com/a"},
		{"empty query dropped", "http://example.com/a?", "http://example.com/a"},
		{"query sorted", "http://h/?b=2&a=1", "http://h/?a=1&b=2"},
		{"values sorted", "http://h/?a=2&a=1", "http://h/?a=1&a=2"},
		{"bare name", "http://h/?a", "http://h/?a="},
		{"empty segments", "http://h/?&a=1&&b=2&", "http://h/?a=1&b=2"},
		{"space spellings", "http://h/?q=a%20b", "http://h/?q=a+b"},
		{"unreserved decoded in query", "http://h/?q=%7e%41", "http://h/?q=~A"},
		{"reserved escaped in query", "http://h/?q=a/b", "http://h/?q=a%2Fb"},
		{"lower hex in query", "http://h/?q=%2f", "http://h/?q=%2F"},
		{"stray percent in query", "http://h/?q=%zz", "http://h/?q=%25zz"},
		{"semicolon kept", "http://h/?a=1;b=2", "http://h/?a=1%3Bb%3D2"},
		{"unreserved decoded in path", "http://h/%7euser/%41", "http://h/~user/A"},
		{"lower hex in path", "http://h/a%2fb", "http://h/a%2Fb"},
		{"slash escape kept", "http://h/a%2Fb", "http://h/a%2Fb"},
		{"sub-delims kept", "http://h/a!b;c=d", "http://h/a!b;c=d"},
		{"non-ascii path", "http://h/é", "http://h/%C3%A9"},
		{"ignored dropped", "http://h/?token=s3cret&a=1", "http://h/?a=1"},
		{"ignored encoded name", "http://h/?to%6ben=s3cret", "http://h/"},
		{"ignored bare", "http://h/?token", "http://h/"},
		{"userinfo dropped", "http://user:pw@h/", "http://h/"},
		{"opaque", "http:foo%7e", "http:foo~"},
		{"no host", "file:///etc/hosts", "file:///etc/hosts"},
		{"package doc example", "HTTP://Example.COM:80?b=2&a=%7e+x&token=s3cret#top", "http://example.com/?a=~+x&b=2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := key(t, k, reqSpec{method: "GET", url: tt.give})
			assert.Equal(t, tt.want, got.URL)
			assert.Len(t, got.Key, 32)
			assert.NotContains(t, got.URL, "s3cret")

			// The normalised URL is a fixed point with the same key.
			again := key(t, k, reqSpec{method: "GET", url: got.URL})
			assert.Equal(t, got.URL, again.URL)
			if !strings.Contains(tt.give, "@") {
				assert.Equal(t, got.Key, again.Key)
			}
		})
	}
}

func TestSameKey(t *testing.T) {
	t.Parallel()
	k := newKeyer(t, &keyer.Options{
		IgnoredParams: []string{"token", "X-Request-Id"},
		Headers:       []string{"Accept"},
	})
	form := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	jsonH := http.Header{"Content-Type": {"application/json; charset=utf-8"}}
	tests := []struct {
		name string
		a, b reqSpec
	}{
		{"method case", reqSpec{method: "get", url: "http://h/"}, reqSpec{method: "GET", url: "http://h/"}},
		{"host case and port", reqSpec{url: "http://H:80/"}, reqSpec{url: "http://h"}},
		{"query order", reqSpec{url: "http://h/?a=1&b=2"}, reqSpec{url: "http://h/?b=2&a=1"}},
		{"ignored query value", reqSpec{url: "http://h/?a=1&token=x"}, reqSpec{url: "http://h/?token=y&a=1"}},
		{"ignored query absent", reqSpec{url: "http://h/?a=1&token=x"}, reqSpec{url: "http://h/?a=1"}},
		{"fragment", reqSpec{url: "http://h/p#x"}, reqSpec{url: "http://h/p#y"}},
		{"unselected header", reqSpec{url: "http://h/", header: http.Header{"X-A": {"1"}}}, reqSpec{url: "http://h/"}},
		{"selected header trimmed", reqSpec{url: "http://h/", header: http.Header{"Accept": {" a/b\t"}}},
			reqSpec{url: "http://h/", header: http.Header{"Accept": {"a/b"}}}},
		{"selected header non-canonical", reqSpec{url: "http://h/", header: http.Header{"accept": {"a/b"}}},
			reqSpec{url: "http://h/", header: http.Header{"Accept": {"a/b"}}}},
		{"host field equal to URL host", reqSpec{url: "http://h/", host: "H:80"}, reqSpec{url: "http://h/"}},
		{"json member order", reqSpec{method: "POST", url: "http://h/", header: jsonH, body: `{"a":1,"b":[{"y":2,"x":1}]}`},
			reqSpec{method: "POST", url: "http://h/", header: jsonH, body: ` { "b" : [ {"x":1,"y":2} ] , "a" : 1 } `}},
		{"json ignored field", reqSpec{method: "POST", url: "http://h/", header: jsonH, body: `{"a":1,"token":"x"}`},
			reqSpec{method: "POST", url: "http://h/", header: jsonH, body: `{"token":"y","a":1}`}},
		{"json ignored field absent", reqSpec{method: "POST", url: "http://h/", header: jsonH, body: `{"a":1,"token":"x"}`},
			reqSpec{method: "POST", url: "http://h/", header: jsonH, body: `{"a":1}`}},
		{"form order", reqSpec{method: "POST", url: "http://h/", header: form, body: "a=1&b=2"},
			reqSpec{method: "POST", url: "http://h/", header: form, body: "b=2&a=1"}},
		{"form ignored", reqSpec{method: "POST", url: "http://h/", header: form, body: "a=1&token=x"},
			reqSpec{method: "POST", url: "http://h/", header: form, body: "token=y&a=1"}},
		{"form spelling", reqSpec{method: "POST", url: "http://h/", header: form, body: "a=x%20y"},
			reqSpec{method: "POST", url: "http://h/", header: form, body: "a=x+y"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, b := key(t, k, tt.a), key(t, k, tt.b)
			assert.Equal(t, a.Key, b.Key)
			assert.Equal(t, a.URL, b.URL)
		})
	}
}

func TestDifferentKey(t *testing.T) {
	t.Parallel()
	k := newKeyer(t, &keyer.Options{Headers: []string{"Accept", "X-B"}})
	jsonH := http.Header{"Content-Type": {"application/json"}}
	form := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	tests := []struct {
		name string
		a, b reqSpec
	}{
		{"method", reqSpec{method: "GET", url: "http://h/"}, reqSpec{method: "HEAD", url: "http://h/"}},
		{"scheme", reqSpec{url: "http://h/"}, reqSpec{url: "https://h/"}},
		{"host", reqSpec{url: "http://a/"}, reqSpec{url: "http://b/"}},
		{"port", reqSpec{url: "http://h/"}, reqSpec{url: "http://h:81/"}},
		{"path", reqSpec{url: "http://h/a"}, reqSpec{url: "http://h/b"}},
		{"path case", reqSpec{url: "http://h/a"}, reqSpec{url: "http://h/A"}},
		{"escaped slash", reqSpec{url: "http://h/a%2Fb"}, reqSpec{url: "http://h/a/b"}},
		{"trailing slash", reqSpec{url: "http://h/a"}, reqSpec{url: "http://h/a/"}},
		{"query value", reqSpec{url: "http://h/?a=1"}, reqSpec{url: "http://h/?a=2"}},
		{"query name", reqSpec{url: "http://h/?a=1"}, reqSpec{url: "http://h/?b=1"}},
		{"query split", reqSpec{url: "http://h/?a=1%26b%3D2"}, reqSpec{url: "http://h/?a=1&b=2"}},
		{"query repeated", reqSpec{url: "http://h/?a=1"}, reqSpec{url: "http://h/?a=1&a=1"}},
		{"userinfo", reqSpec{url: "http://u1@h/"}, reqSpec{url: "http://u2@h/"}},
		{"userinfo vs none", reqSpec{url: "http://u1@h/"}, reqSpec{url: "http://h/"}},
		{"host field", reqSpec{url: "http://10.0.0.1/", host: "a.example"}, reqSpec{url: "http://10.0.0.1/", host: "b.example"}},
		{"header value", reqSpec{url: "http://h/", header: http.Header{"Accept": {"a"}}},
			reqSpec{url: "http://h/", header: http.Header{"Accept": {"b"}}}},
		{"header vs none", reqSpec{url: "http://h/", header: http.Header{"Accept": {"a"}}}, reqSpec{url: "http://h/"}},
		{"header empty vs none", reqSpec{url: "http://h/", header: http.Header{"Accept": {""}}}, reqSpec{url: "http://h/"}},
		{"header value with separator", reqSpec{url: "http://h/", header: http.Header{"Accept": {"a\x00V\x01b"}}},
			reqSpec{url: "http://h/", header: http.Header{"Accept": {"a", "b"}}}},
		{"header moved between fields", reqSpec{url: "http://h/", header: http.Header{"Accept": {"a", "b"}}},
			reqSpec{url: "http://h/", header: http.Header{"Accept": {"a"}, "X-B": {"b"}}}},
		{"header lines vs list", reqSpec{url: "http://h/", header: http.Header{"Accept": {"a", "b"}}},
			reqSpec{url: "http://h/", header: http.Header{"Accept": {"a, b"}}}},
		{"raw body", reqSpec{method: "POST", url: "http://h/", body: "a"}, reqSpec{method: "POST", url: "http://h/", body: "b"}},
		{"body vs none", reqSpec{method: "POST", url: "http://h/", body: "a"}, reqSpec{method: "POST", url: "http://h/"}},
		{"json value", reqSpec{method: "POST", url: "http://h/", header: jsonH, body: `{"a":1}`},
			reqSpec{method: "POST", url: "http://h/", header: jsonH, body: `{"a":2}`}},
		{"json number spelling", reqSpec{method: "POST", url: "http://h/", header: jsonH, body: `{"a":1}`},
			reqSpec{method: "POST", url: "http://h/", header: jsonH, body: `{"a":1.0}`}},
		{"json array order", reqSpec{method: "POST", url: "http://h/", header: jsonH, body: `[1,2]`},
			reqSpec{method: "POST", url: "http://h/", header: jsonH, body: `[2,1]`}},
		{"json duplicate member", reqSpec{method: "POST", url: "http://h/", header: jsonH, body: `{"a":1,"a":2}`},
			reqSpec{method: "POST", url: "http://h/", header: jsonH, body: `{"a":2}`}},
		{"json vs raw same bytes", reqSpec{method: "POST", url: "http://h/", header: jsonH, body: `{"a":1}`},
			reqSpec{method: "POST", url: "http://h/", body: `{"a":1}`}},
		{"form value", reqSpec{method: "POST", url: "http://h/", header: form, body: "a=1"},
			reqSpec{method: "POST", url: "http://h/", header: form, body: "a=2"}},
		{"form vs query", reqSpec{method: "POST", url: "http://h/", header: form, body: "a=1"},
			reqSpec{method: "POST", url: "http://h/?a=1"}},
		{"body vs header", reqSpec{method: "POST", url: "http://h/", body: "Va"},
			reqSpec{method: "POST", url: "http://h/", header: http.Header{"Accept": {"a"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.NotEqual(t, key(t, k, tt.a).Key, key(t, k, tt.b).Key)
		})
	}
}

func TestIgnoredNeverInResult(t *testing.T) {
	t.Parallel()
	const secret = "s3cretV4lue"
	k := newKeyer(t, &keyer.Options{IgnoredParams: []string{"api_key", "Authorization"}, AllHeaders: true})
	tests := []struct {
		name string
		give reqSpec
	}{
		{"query", reqSpec{url: "http://h/?api_key=" + secret + "&q=1"}},
		{"query only", reqSpec{url: "http://h/?api_key=" + secret}},
		{"header", reqSpec{url: "http://h/", header: http.Header{"Authorization": {secret}}}},
		{"header non-canonical", reqSpec{url: "http://h/", header: http.Header{"authorization": {secret}}}},
		{"json", reqSpec{method: "POST", url: "http://h/", header: http.Header{"Content-Type": {"application/json"}},
			body: `{"api_key":"` + secret + `"}`}},
		{"form", reqSpec{method: "POST", url: "http://h/", header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}},
			body: "api_key=" + secret}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := key(t, k, tt.give)
			assert.NotContains(t, got.URL, secret)
			assert.NotContains(t, got.URL, "api_key")

			// Same key as the request with another secret.
			other := tt.give
			other.url = strings.ReplaceAll(other.url, secret, "other")
			other.body = strings.ReplaceAll(other.body, secret, "other")
			if other.header != nil {
				other.header = http.Header{}
				for name, vals := range tt.give.header {
					other.header[name] = []string{strings.ReplaceAll(vals[0], secret, "other")}
				}
			}
			assert.Equal(t, got.Key, key(t, k, other).Key)
		})
	}

	_, err := k.KeyOf("GET", "http://h/%zz?api_key="+secret)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), secret)
}

func TestHeaders(t *testing.T) {
	t.Parallel()
	h := http.Header{
		"Accept":              {"text/plain"},
		"Accept-Encoding":     {"br"},
		"Authorization":       {"Bearer x"},
		"User-Agent":          {"app/1.2"},
		"Connection":          {"close"},
		"Proxy-Authorization": {"p"},
		"Cache-Control":       {"no-cache"},
		"If-None-Match":       {`"e"`},
		"X-Trace":             {"1"},
	}
	tests := []struct {
		name  string
		opts  *keyer.Options
		field string // changing this field...
		want  bool   // ...changes the key
	}{
		{"default ignores Accept", nil, "Accept", false},
		{"default keys Authorization", nil, "Authorization", true},
		{"ignored Authorization is shared", &keyer.Options{IgnoredParams: []string{"authorization"}}, "Authorization", false},
		{"selected Accept keys Authorization too", &keyer.Options{Headers: []string{"Accept"}}, "Authorization", true},
		{"selected Accept", &keyer.Options{Headers: []string{"accept"}}, "Accept", true},
		{"selected Accept ignores others", &keyer.Options{Headers: []string{"Accept"}}, "X-Trace", false},
		{"all: Accept", &keyer.Options{AllHeaders: true}, "Accept", true},
		{"all: Accept-Encoding", &keyer.Options{AllHeaders: true}, "Accept-Encoding", true},
		{"all: Authorization", &keyer.Options{AllHeaders: true}, "Authorization", true},
		{"all: X-Trace", &keyer.Options{AllHeaders: true}, "X-Trace", true},
		{"all: ignored X-Trace", &keyer.Options{AllHeaders: true, IgnoredParams: []string{"x-trace"}}, "X-Trace", false},
		{"all: User-Agent", &keyer.Options{AllHeaders: true}, "User-Agent", false},
		{"all: User-Agent selected", &keyer.Options{AllHeaders: true, Headers: []string{"User-Agent"}}, "User-Agent", true},
		{"all: Connection", &keyer.Options{AllHeaders: true}, "Connection", false},
		{"all: Proxy-*", &keyer.Options{AllHeaders: true}, "Proxy-Authorization", false},
		{"all: Cache-Control", &keyer.Options{AllHeaders: true}, "Cache-Control", false},
		{"all: If-None-Match", &keyer.Options{AllHeaders: true}, "If-None-Match", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k := newKeyer(t, tt.opts)
			a := key(t, k, reqSpec{url: "http://h/", header: h.Clone()})
			h2 := h.Clone()
			h2[tt.field] = []string{"changed"}
			b := key(t, k, reqSpec{url: "http://h/", header: h2})
			if tt.want {
				assert.NotEqual(t, a.Key, b.Key)
			} else {
				assert.Equal(t, a.Key, b.Key)
			}
			assert.Equal(t, a.URL, b.URL)
		})
	}
}

func TestKeyOf(t *testing.T) {
	t.Parallel()
	k := newKeyer(t, &keyer.Options{IgnoredParams: []string{"t"}, Headers: []string{"Accept"}})
	tests := []struct {
		method string
		give   string
	}{
		{"GET", "http://example.com/a?b=1&t=2"},
		{"", "HTTPS://Example.com:443"},
		{"head", "http://h/%7e?x"},
		{"POST", "http://u:p@h/"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.give, func(t *testing.T) {
			t.Parallel()
			got, err := k.KeyOf(tt.method, tt.give)
			require.NoError(t, err)
			want := key(t, k, reqSpec{method: tt.method, url: tt.give})
			assert.Equal(t, want, got)
		})
	}

	t.Run("already normalised URL is returned as given", func(t *testing.T) {
		t.Parallel()
		const u = "http://h/?a=1"
		got, err := k.KeyOf("GET", u)
		require.NoError(t, err)
		assert.Equal(t, u, got.URL)
	})
	t.Run("errors", func(t *testing.T) {
		t.Parallel()
		for _, give := range []string{"/relative", "http://h/%zz", "http://[::1"} {
			_, err := k.KeyOf("GET", give)
			assert.Error(t, err, give)
		}
	})
}

// closeRecorder is a request body that records Close.
type closeRecorder struct {
	io.Reader
	closed int
}

func (c *closeRecorder) Close() error { c.closed++; return nil }

func TestBodyReplay(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		give          string
		contentLength int64
	}{
		{"known length", "hello, world", 12},
		{"unknown length", "hello, world", -1},
		{"zero length means unknown", "hello, world", 0},
		{"large", strings.Repeat("0123456789", 10_000), -1},
		{"empty", "", -1},
		{"at limit", strings.Repeat("x", 64), 64},
	}
	k := newKeyer(t, &keyer.Options{MaxBodyBytes: 100_000})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body := &closeRecorder{Reader: iotest.HalfReader(strings.NewReader(tt.give))}
			req, err := http.NewRequest("POST", "http://h/", nil)
			require.NoError(t, err)
			req.Body = body
			req.ContentLength = tt.contentLength
			before := *req

			res, out, err := k.Key(req)
			require.NoError(t, err)
			assert.Len(t, res.Key, 32)
			assert.Equal(t, before, *req, "req must not be modified")
			assert.Equal(t, 1, body.closed, "original body closed")
			require.NotSame(t, req, out)
			assert.Equal(t, int64(len(tt.give)), out.ContentLength)

			got, err := io.ReadAll(out.Body)
			require.NoError(t, err)
			assert.Equal(t, tt.give, string(got))
			require.NoError(t, out.Body.Close())
			require.NotNil(t, out.GetBody)
			rc, err := out.GetBody()
			require.NoError(t, err)
			got, err = io.ReadAll(rc)
			require.NoError(t, err)
			assert.Equal(t, tt.give, string(got))

			// The same bytes sent again give the same key.
			again := *out
			again.Body, err = out.GetBody()
			require.NoError(t, err)
			res2, _, err := k.Key(&again)
			require.NoError(t, err)
			assert.Equal(t, res, res2)
		})
	}
}

func TestNoBody(t *testing.T) {
	t.Parallel()
	k := newKeyer(t, nil)
	for _, body := range []io.ReadCloser{nil, http.NoBody} {
		req, err := http.NewRequest("GET", "http://h/", nil)
		require.NoError(t, err)
		req.Body = body
		_, out, err := k.Key(req)
		require.NoError(t, err)
		assert.Same(t, req, out)
	}
}

func TestBodyTooLarge(t *testing.T) {
	t.Parallel()
	const limit = 100
	k := newKeyer(t, &keyer.Options{MaxBodyBytes: limit})
	tests := []struct {
		name          string
		size          int
		contentLength int64
		wantSame      bool // out is req: the body was not read
	}{
		{"unknown length", limit + 1, -1, false},
		{"much larger", 10 * limit, -1, false},
		{"lying content length", 5 * limit, 10, false},
		{"content length over limit", limit + 1, limit + 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			give := bytes.Repeat([]byte("abcdefghij"), tt.size/10+1)[:tt.size]
			body := &closeRecorder{Reader: iotest.OneByteReader(bytes.NewReader(give))}
			req, err := http.NewRequest("POST", "http://h/", nil)
			require.NoError(t, err)
			req.Body = body
			req.ContentLength = tt.contentLength
			before := *req

			res, out, err := k.Key(req)
			require.ErrorIs(t, err, keyer.ErrBodyTooLarge)
			assert.Zero(t, res)
			require.NotNil(t, out)
			assert.Equal(t, before, *req)
			if tt.wantSame {
				assert.Same(t, req, out)
			}
			assert.Zero(t, body.closed, "body still needed")
			got, err := io.ReadAll(out.Body)
			require.NoError(t, err)
			assert.Equal(t, give, got, "full original bytes")
			require.NoError(t, out.Body.Close())
			assert.Equal(t, 1, body.closed)
		})
	}
}

func TestBodyReadError(t *testing.T) {
	t.Parallel()
	k := newKeyer(t, nil)
	boom := errors.New("boom")
	body := &closeRecorder{Reader: io.MultiReader(strings.NewReader("abc"), iotest.ErrReader(boom))}
	req, err := http.NewRequest("POST", "http://h/", nil)
	require.NoError(t, err)
	req.Body = body
	_, out, err := k.Key(req)
	require.ErrorIs(t, err, boom)
	require.NotNil(t, out)
	got, err := io.ReadAll(out.Body)
	assert.ErrorIs(t, err, boom)
	assert.Equal(t, "abc", string(got))
	require.NoError(t, out.Body.Close())
	assert.Equal(t, 1, body.closed)
}

func TestKeyErrors(t *testing.T) {
	t.Parallel()
	k := newKeyer(t, nil)
	_, out, err := k.Key(nil)
	assert.Error(t, err)
	assert.Nil(t, out)

	req := &http.Request{Method: "GET"}
	_, out, err = k.Key(req)
	assert.Error(t, err)
	assert.Same(t, req, out)

	body := &closeRecorder{Reader: strings.NewReader("x")}
	req, err = http.NewRequest("POST", "/relative", body)
	require.NoError(t, err)
	_, out, err = k.Key(req)
	assert.Error(t, err)
	assert.Same(t, req, out)
	assert.Zero(t, body.closed)
}

func TestNew(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		give *keyer.Options
		want string // error substring; "" means no error
	}{
		{"nil", nil, ""},
		{"zero", &keyer.Options{}, ""},
		{"full", &keyer.Options{IgnoredParams: []string{"a", "x-b"}, Headers: []string{"Accept", "accept"}, AllHeaders: true, MaxBodyBytes: 1}, ""},
		{"negative body", &keyer.Options{MaxBodyBytes: -1}, "keyer: Options.MaxBodyBytes is -1, want >= 0"},
		{"empty ignored", &keyer.Options{IgnoredParams: []string{"a", ""}}, "keyer: Options.IgnoredParams[1] is empty"},
		{"empty header", &keyer.Options{Headers: []string{""}}, "keyer: Options.Headers[0] is empty"},
		{"invalid header", &keyer.Options{Headers: []string{"Accept", "bad header"}}, `keyer: Options.Headers[1] is "bad header", not a valid header field name`},
		{"invalid header colon", &keyer.Options{Headers: []string{"a:b"}}, "Options.Headers[0]"},
		{"header also ignored", &keyer.Options{Headers: []string{"x-token"}, IgnoredParams: []string{"X-Token"}}, "also in Options.IgnoredParams"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k, err := keyer.New(tt.give)
			if tt.want == "" {
				require.NoError(t, err)
				assert.NotNil(t, k)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.Nil(t, k)
		})
	}
}

// TestKeyStable pins keys computed by an earlier version: stored entries
// in Redis, on disk or anywhere else outlive the process, so a change to the
// key material or its digest would orphan every one of them. A change that
// means to do so must bump the material's version and update these.
func TestKeyStable(t *testing.T) {
	t.Parallel()
	k := newKeyer(t, &keyer.Options{IgnoredParams: []string{"token"}, Headers: []string{"Accept"}})
	for _, tt := range []struct{ raw, key, url string }{
		{"http://example.com/", "df2e32049c29bda132e49bcc7c95a8d1", "http://example.com/"},
		{"HTTPS://API.Example.com:443/v1/items?b=2&a=1&token=s#frag", "6dd74e1ae770b94a244bf24a65e43230",
			"https://api.example.com/v1/items?a=1&b=2"},
		{"http://[fe80::1%25en0]:8080/a%2fb/%7e?q=%zz+x", "d95cd4c356f400f12175839e217841d0",
			"http://[fe80::1%25en0]:8080/a%2Fb/~?q=%25zz+x"},
		{"http://h/é?é=ü", "c1da8f47d07e46cf26949d0c4706ea25", "http://h/%C3%A9?%C3%A9=%C3%BC"},
	} {
		got, err := k.KeyOf("GET", tt.raw)
		require.NoError(t, err, tt.raw)
		assert.Equal(t, keyer.Result{Key: tt.key, URL: tt.url}, got, tt.raw)
	}

	req, err := http.NewRequest("post", "http://h/search?x=1", strings.NewReader(`{"b":1,"a":[true,null]}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Host = "other.example"
	got, _, err := k.Key(req)
	require.NoError(t, err)
	assert.Equal(t, keyer.Result{Key: "025632a369c74ad2937e31a47d65f1e8", URL: "http://h/search?x=1"}, got,
		"method, Host, a keyed header and a JSON body")
}

// TestCookieIsKeyed: Cookie is key material like Authorization, unless
// IgnoredParams names it, so one caller's response never answers another's.
func TestCookieIsKeyed(t *testing.T) {
	t.Parallel()
	k := newKeyer(t, nil)
	alice := key(t, k, reqSpec{url: "http://h/me", header: http.Header{"Cookie": {"session=alice"}}})
	bob := key(t, k, reqSpec{url: "http://h/me", header: http.Header{"Cookie": {"session=bob"}}})
	none := key(t, k, reqSpec{url: "http://h/me"})
	assert.NotEqual(t, alice, bob)
	assert.NotEqual(t, alice, none)

	shared := newKeyer(t, &keyer.Options{IgnoredParams: []string{"cookie"}})
	assert.Equal(t,
		key(t, shared, reqSpec{url: "http://h/me", header: http.Header{"Cookie": {"session=alice"}}}),
		key(t, shared, reqSpec{url: "http://h/me", header: http.Header{"Cookie": {"session=bob"}}}),
		"an ignored Cookie is not keyed")
}

func TestKeyAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	k := newKeyer(t, &keyer.Options{IgnoredParams: []string{"token"}})
	req, err := http.NewRequest("GET", "https://API.example.com:443/v1/items?page=2&sort=name&token=abc&q=a+b", nil)
	require.NoError(t, err)
	_, _, _ = k.Key(req) // warm the pool
	allocs := testing.AllocsPerRun(100, func() {
		_, _, _ = k.Key(req)
	})
	// One: the key and the normalised URL share a string; the buffers
	// come from the pool and the digest is computed on the stack.
	assert.Equal(t, 1.0, allocs)

	allocs = testing.AllocsPerRun(100, func() {
		_, _ = k.KeyOf("GET", "https://api.example.com/v1/items?page=2")
	})
	assert.LessOrEqual(t, allocs, 2.0, "KeyOf: url.Parse and the key")
}

func TestConcurrent(t *testing.T) {
	t.Parallel()
	k := newKeyer(t, &keyer.Options{IgnoredParams: []string{"t"}, AllHeaders: true})
	want := key(t, k, reqSpec{url: "http://h/?b=2&a=1&t=3", header: http.Header{"Accept": {"x"}}})
	done := make(chan struct{})
	for range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for range 200 {
				got := key(t, k, reqSpec{url: "http://h/?a=1&b=2", header: http.Header{"Accept": {"x"}}})
				if got != want {
					t.Errorf("got %v, want %v", got, want)
					return
				}
			}
		}()
	}
	for range 8 {
		<-done
	}
}

func BenchmarkKey(b *testing.B) {
	k := newKeyer(b, &keyer.Options{IgnoredParams: []string{"token"}})
	req, err := http.NewRequest("GET", "https://api.example.com/v1/items?page=2&sort=name&token=abc&q=a+b", nil)
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := k.Key(req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkKeyHeaders(b *testing.B) {
	k := newKeyer(b, &keyer.Options{Headers: []string{"Accept", "Accept-Language"}})
	req, err := http.NewRequest("GET", "https://api.example.com/v1/items?page=2", nil)
	require.NoError(b, err)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Accept-Language", "en")
	req.Header.Set("Authorization", "Bearer x")
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := k.Key(req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkKeyJSONBody(b *testing.B) {
	k := newKeyer(b, nil)
	body := []byte(`{"query":"shoes","page":2,"filters":{"size":[42,43],"colour":"red"}}`)
	b.ReportAllocs()
	for b.Loop() {
		req, _ := http.NewRequest("POST", "https://api.example.com/search", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if _, _, err := k.Key(req); err != nil {
			b.Fatal(err)
		}
	}
}
