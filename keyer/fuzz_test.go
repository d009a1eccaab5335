package keyer_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/url"
	"testing"

	"github.com/cachestack/cachestack/keyer"
)

func FuzzKeyURL(f *testing.F) {
	for _, s := range []string{
		"http://example.com/", "HTTP://Example.COM:80/a/../b?b=2&a=1#f", "https://h:443?a&&b=%7e+c",
		"http://[fe80::1%25en0]:8080/%2f?q=%zz", "http:opaque%41?x", "http://u:p@h/", "file:///x",
		"http://h/é?é=ü", "http://a:b:80/", "http://h/?token=s&token=t", "http://h/a%2Fb;c",
	} {
		f.Add(s)
	}
	k, err := keyer.New(&keyer.Options{IgnoredParams: []string{"token"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		r1, err := k.KeyOf("GET", raw)
		if err != nil {
			return
		}
		r2, err := k.KeyOf("GET", raw)
		if err != nil || r1 != r2 {
			t.Fatalf("unstable: %v %v, %v", r1, r2, err)
		}
		if len(r1.Key) != 32 {
			t.Fatalf("key %q", r1.Key)
		}
		// Key on a request built from the same URL agrees.
		u, _ := url.Parse(raw)
		res, out, err := k.Key(&http.Request{Method: "GET", URL: u, Header: http.Header{}})
		if err != nil || res != r1 || out == nil {
			t.Fatalf("Key = %v, %v; KeyOf = %v", res, err, r1)
		}
		// The normalised URL parses, is a fixed point, and keeps the key
		// (unless userinfo, which is keyed but not shown, was dropped).
		n, err := k.KeyOf("GET", r1.URL)
		if err != nil {
			t.Fatalf("normalised URL %q of %q: %v", r1.URL, raw, err)
		}
		if n.URL != r1.URL {
			t.Fatalf("not a fixed point: %q -> %q -> %q", raw, r1.URL, n.URL)
		}
		if u.User == nil && n.Key != r1.Key {
			t.Fatalf("key changed: %q -> %q", raw, r1.URL)
		}
	})
}

func FuzzKeyBody(f *testing.F) {
	f.Add("application/json", []byte(`{"b":[1,{"y":2,"x":"\u00e9"}],"a":null,"token":"s"}`))
	f.Add("application/json", []byte(`{"a":1,"a":2}`))
	f.Add("application/vnd.api+json", []byte(`[true, false, 1e3, "x\"y"]`))
	f.Add("application/x-www-form-urlencoded", []byte("b=2&a=1&token=s&c=%zz+d"))
	f.Add("text/plain", []byte("hello"))
	f.Add("", []byte(""))
	f.Add("application/json", bytes.Repeat([]byte("["), 70))
	k, err := keyer.New(&keyer.Options{IgnoredParams: []string{"token"}, MaxBodyBytes: 64})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, ctype string, body []byte) {
		send := func() (keyer.Result, []byte, error) {
			req, err := http.NewRequest("POST", "http://h/", io.NopCloser(bytes.NewReader(body)))
			if err != nil {
				t.Fatal(err)
			}
			req.Header["Content-Type"] = []string{ctype}
			r, out, err := k.Key(req)
			if out == nil {
				t.Fatal("nil out")
			}
			got, rerr := io.ReadAll(out.Body)
			if rerr != nil {
				t.Fatal(rerr)
			}
			return r, got, err
		}
		r1, got, err := send()
		if !bytes.Equal(got, body) {
			t.Fatalf("replayed %q, want %q", got, body)
		}
		if len(body) > 64 {
			if !errors.Is(err, keyer.ErrBodyTooLarge) {
				t.Fatalf("err = %v, want ErrBodyTooLarge", err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		r2, _, err := send()
		if err != nil || r1 != r2 {
			t.Fatalf("unstable: %v %v %v", r1, r2, err)
		}
	})
}
