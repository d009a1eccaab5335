package middleware_test

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// scriptedOrigin answers GET and HEAD with a fresh, cacheable response
// naming the path, and any other method with the status, Location and
// Content-Location the request asks for in X-Reply-* fields.
func scriptedOrigin(t *testing.T, c *clock) *origin {
	return newOrigin(t, dated(c, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			w.Header().Set("Cache-Control", "max-age=3600")
			w.Header().Set("Vary", r.Header.Get("X-Reply-Vary"))
			io.WriteString(w, "body of "+r.URL.Path)
			return
		}
		io.Copy(io.Discard, r.Body)
		for _, f := range []string{"Location", "Content-Location"} {
			if v := r.Header.Get("X-Reply-" + f); v != "" {
				w.Header().Set(f, v)
			}
		}
		code, _ := strconv.Atoi(r.Header.Get("X-Reply-Status"))
		w.WriteHeader(code)
	}))
}

// TestInvalidation is RFC 9111 §4.4: a non-error response (2xx, 3xx) to an
// unsafe request invalidates the stored responses for its target URI, and
// for the URIs in Location and Content-Location when they share its
// origin; an error response, a safe method or another origin invalidates
// nothing.
func TestInvalidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name            string
		method          string
		status          int
		location        string // relative to the origin's URL unless absolute; "other:" prefixes the other origin
		contentLocation string
		want            []string // the paths whose stored responses are gone
	}{
		{name: "POST 200", method: http.MethodPost, status: 200, want: []string{"/r"}},
		{name: "POST 201 with Location", method: http.MethodPost, status: 201, location: "/loc", want: []string{"/r", "/loc"}},
		{name: "PUT 204 with Content-Location", method: http.MethodPut, status: 204, contentLocation: "/cloc", want: []string{"/r", "/cloc"}},
		{name: "both fields", method: http.MethodPost, status: 200, location: "/loc", contentLocation: "/cloc", want: []string{"/r", "/loc", "/cloc"}},
		{name: "relative reference", method: http.MethodPost, status: 200, location: "loc", want: []string{"/r", "/loc"}},
		{name: "DELETE, Location on another origin", method: http.MethodDelete, status: 200, location: "other:/x", want: []string{"/r"}},
		{name: "same host, another port", method: http.MethodPost, status: 200, location: "http://127.0.0.1:1/loc", want: []string{"/r"}},
		{name: "PATCH 303", method: http.MethodPatch, status: 303, location: "/loc", want: []string{"/r", "/loc"}},
		{name: "custom unsafe method", method: "PURGE", status: 200, want: []string{"/r"}},
		{name: "POST 404 is an error", method: http.MethodPost, status: 404, location: "/loc"},
		{name: "POST 500 is an error", method: http.MethodPost, status: 500, location: "/loc"},
		{name: "OPTIONS is safe", method: http.MethodOptions, status: 200, location: "/loc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newClock()
			o := scriptedOrigin(t, c)
			// Another origin (another port), the subtest's own: its hit
			// count must not see the other subtests' requests.
			other := scriptedOrigin(t, c)
			rt, _ := newCCStack(t, c, ccOptions{})
			stored := map[string]string{"/r": o.URL + "/r", "/loc": o.URL + "/loc", "/cloc": o.URL + "/cloc", "other:/x": other.URL + "/x"}
			for _, u := range stored {
				get(t, rt, u)
			}
			head := func() *http.Response {
				resp, _ := do(t, rt, mustRequest(t, context.Background(), http.MethodHead, o.URL+"/r", nil))
				return resp
			}
			head()
			resolve := func(v string) string {
				switch {
				case strings.HasPrefix(v, "other:"):
					return other.URL + strings.TrimPrefix(v, "other:")
				case strings.HasPrefix(v, "/"):
					return o.URL + v
				}
				return v
			}
			req := mustRequest(t, context.Background(), tt.method, o.URL+"/r", strings.NewReader("payload"))
			req.Header.Set("X-Reply-Status", strconv.Itoa(tt.status))
			if tt.location != "" {
				req.Header.Set("X-Reply-Location", resolve(tt.location))
			}
			if tt.contentLocation != "" {
				req.Header.Set("X-Reply-Content-Location", resolve(tt.contentLocation))
			}
			resp, _ := do(t, rt, req)
			require.Equal(t, tt.status, resp.StatusCode)

			gone := map[string]bool{}
			for _, p := range tt.want {
				gone[p] = true
			}
			for p, u := range stored {
				before := o.hits.Load() + other.hits.Load()
				get(t, rt, u)
				contacted := o.hits.Load()+other.hits.Load() != before
				assert.Equal(t, gone[p], contacted, "%s invalidated", p)
			}
			before := o.hits.Load()
			head()
			assert.Equal(t, gone["/r"], o.hits.Load() != before, "HEAD /r invalidated")
		})
	}
}

// TestInvalidationReachesVariantsAndAliases checks that invalidating a URI
// removes all its Vary variants and the redirect aliases that lead to it.
func TestInvalidationReachesVariantsAndAliases(t *testing.T) {
	t.Parallel()
	c := newClock()
	o := newOrigin(t, dated(c, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPost:
			w.WriteHeader(http.StatusNoContent)
		case r.URL.Path == "/old":
			http.Redirect(w, r, "/new", http.StatusMovedPermanently)
		default:
			w.Header().Set("Cache-Control", "max-age=3600")
			w.Header().Set("Vary", "Accept-Language")
			io.WriteString(w, r.URL.Path+" in "+r.Header.Get("Accept-Language"))
		}
	}))
	rt, _ := newCCStack(t, c, ccOptions{redirect: true})
	client := &http.Client{Transport: rt}
	getLang := func(path, lang string) string {
		req := mustRequest(t, context.Background(), http.MethodGet, o.URL+path, nil)
		req.Header.Set("Accept-Language", lang)
		resp, err := client.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return string(b)
	}
	getLang("/old", "en") // /old -> /new (en)
	getLang("/new", "fr")
	n := o.hits.Load()
	assert.Equal(t, "/new in en", getLang("/old", "en"))
	assert.Equal(t, "/new in fr", getLang("/new", "fr"))
	require.Equal(t, n, o.hits.Load(), "all stored")

	do(t, rt, mustRequest(t, context.Background(), http.MethodPost, o.URL+"/new", nil))
	n = o.hits.Load()
	assert.Equal(t, "/new in fr", getLang("/new", "fr"))
	assert.Equal(t, n+1, o.hits.Load(), "the fr variant is gone")
	assert.Equal(t, "/new in en", getLang("/old", "en"))
	assert.Equal(t, n+3, o.hits.Load(), "the alias leads nowhere: /old and /new are fetched")
}

// TestInvalidationDropsParts is RFC 9111 §4.4 for partial responses: an
// unsafe request's success also drops the stored parts of the target's
// representation (§3.3), so a Range request within them goes to the
// origin.
func TestInvalidationDropsParts(t *testing.T) {
	t.Parallel()
	c := newClock()
	o := rangeOrigin(t, c, header("Etag", `"v1"`))
	rt, _ := newCCStack(t, c, ccOptions{})
	fetch(t, rt, o, o.URL, header("Range", "bytes=0-4"))
	_, _, contacted := fetch(t, rt, o, o.URL, header("Range", "bytes=1-2"))
	require.False(t, contacted, "answered from the stored part")
	do(t, rt, mustRequest(t, context.Background(), http.MethodPut, o.URL, strings.NewReader("new")))
	_, body, contacted := fetch(t, rt, o, o.URL, header("Range", "bytes=1-2"))
	assert.True(t, contacted, "the PUT dropped the parts")
	assert.Equal(t, "12", body)
}
