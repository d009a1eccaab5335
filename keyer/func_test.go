package keyer_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/keyer"
)

// tenantKey keys on the X-Tenant field and the "query" member of a JSON
// body, ignoring the rest of the body.
func tenantKey(req *http.Request) (string, error) {
	v := req.Header.Get("X-Tenant")
	if req.Body == nil || req.Body == http.NoBody {
		return v, nil
	}
	var b struct{ Query string }
	if err := json.NewDecoder(req.Body).Decode(&b); err != nil {
		return "", err
	}
	return v + "\x00" + b.Query, nil
}

func TestFunc(t *testing.T) {
	t.Parallel()
	k := newKeyer(t, &keyer.Options{Func: tenantKey})
	plain := newKeyer(t, nil)
	const u = "https://api.example.com/search"
	key := func(s reqSpec) string {
		t.Helper()
		r, _, err := k.Key(s.build(t))
		require.NoError(t, err)
		return r.Key
	}
	a := reqSpec{method: "POST", url: u, header: http.Header{"X-Tenant": {"a"}}, body: `{"query":"go","nonce":1}`}
	tests := []struct {
		name string
		give reqSpec
		same bool
	}{
		{"the same request", a, true},
		{"a field Func ignores", reqSpec{method: "POST", url: u, header: http.Header{"X-Tenant": {"a"}}, body: `{"query":"go","nonce":2}`}, true},
		{"a field Func keys", reqSpec{method: "POST", url: u, header: http.Header{"X-Tenant": {"a"}}, body: `{"query":"rust","nonce":1}`}, false},
		{"a header Func keys", reqSpec{method: "POST", url: u, header: http.Header{"X-Tenant": {"b"}}, body: `{"query":"go","nonce":1}`}, false},
		{"credentials stay keyed", reqSpec{method: "POST", url: u, header: http.Header{"X-Tenant": {"a"}, "Authorization": {"Bearer x"}}, body: `{"query":"go","nonce":1}`}, false},
		{"cookies stay keyed", reqSpec{method: "POST", url: u, header: http.Header{"X-Tenant": {"a"}, "Cookie": {"s=1"}}, body: `{"query":"go","nonce":1}`}, false},
		{"the URL stays keyed", reqSpec{method: "POST", url: u + "?page=2", header: http.Header{"X-Tenant": {"a"}}, body: `{"query":"go","nonce":1}`}, false},
		{"the method stays keyed", reqSpec{method: "PUT", url: u, header: http.Header{"X-Tenant": {"a"}}, body: `{"query":"go","nonce":1}`}, false},
	}
	want := key(a)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.same, key(tt.give) == want)
		})
	}

	// Func's output is key material of its own: an empty answer is not
	// the default key.
	r, _, err := plain.Key(reqSpec{method: "GET", url: u}.build(t))
	require.NoError(t, err)
	assert.NotEqual(t, r.Key, key(reqSpec{method: "GET", url: u}))
}

func TestFuncLeavesTheBodyWhole(t *testing.T) {
	t.Parallel()
	k := newKeyer(t, &keyer.Options{Func: func(req *http.Request) (string, error) {
		b, err := io.ReadAll(req.Body) // Func may consume its copy
		return string(b), err
	}})
	in := reqSpec{method: "POST", url: "https://example.com/", body: "payload"}.build(t)
	_, out, err := k.Key(in)
	require.NoError(t, err)
	b, err := io.ReadAll(out.Body)
	require.NoError(t, err)
	assert.Equal(t, "payload", string(b), "the request to send still has its body")
}

func TestFuncError(t *testing.T) {
	t.Parallel()
	boom := errors.New("no tenant")
	k := newKeyer(t, &keyer.Options{Func: func(*http.Request) (string, error) { return "", boom }})
	in := reqSpec{method: "POST", url: "https://example.com/", body: "payload"}.build(t)
	_, out, err := k.Key(in)
	require.ErrorIs(t, err, boom)
	assert.Contains(t, err.Error(), "keyer: Options.Func: no tenant")
	require.NotNil(t, out, "the request can still be sent")
	b, err := io.ReadAll(out.Body)
	require.NoError(t, err)
	assert.Equal(t, "payload", string(b))

	_, err = k.KeyOf("GET", "https://example.com/")
	require.ErrorIs(t, err, boom)
}

func TestFuncKeyOfMatchesKey(t *testing.T) {
	t.Parallel()
	var seen []string
	k := newKeyer(t, &keyer.Options{Func: func(req *http.Request) (string, error) {
		seen = append(seen, req.Method+" "+req.URL.String()+" "+req.Host)
		return strings.ToUpper(req.URL.Query().Get("q")), nil
	}})
	const u = "https://example.com/find?q=go"
	r, _, err := k.Key(reqSpec{method: "GET", url: u}.build(t))
	require.NoError(t, err)
	of, err := k.KeyOf("", u)
	require.NoError(t, err)
	assert.Equal(t, r, of, "KeyOf is the key of a bodiless GET without keyed fields")
	assert.Equal(t, []string{"GET " + u + " example.com", "GET " + u + " example.com"}, seen)
}
