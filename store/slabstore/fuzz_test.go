package slabstore_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/store/slabstore"
)

// FuzzRoundTrip stores responses of arbitrary fields and checks that Get
// returns each as it was given, whatever its strings hold.
func FuzzRoundTrip(f *testing.F) {
	f.Add("GET", "https://example.com/a", "HTTP/1.1", "", 200, []byte("body"), "Content-Type", "text/plain", "Accept", "d", int64(0), uint8(0))
	f.Add("", "", "", "ref", -1, []byte{}, "", "", "", "", int64(-1), uint8(3))
	s, err := slabstore.New(&slabstore.Options{MaxBytes: 1 << 20})
	require.NoError(f, err)
	f.Cleanup(func() { _ = s.Close() })
	f.Fuzz(func(t *testing.T, method, url, proto, ref string, status int, body []byte, hk, hv, vk, vv string, ns int64, kind uint8) {
		want := &cached.Response{
			Method: method, URL: url, Proto: proto, Ref: ref, StatusCode: status, Kind: cached.Kind(kind),
			Header:       cached.NewHeader(http.Header{hk: {hv}}),
			InitialAge:   time.Duration(ns),
			ResponseTime: time.Unix(0, ns).UTC(),
		}
		if len(body) > 0 {
			want.Body = body
		}
		if vk != "" {
			want.VaryHeader = http.Header{vk: {vv, hv}}
			want.Vary = []string{vk, vv}
		}
		key := url + "\x00" + method
		require.NoError(t, s.Set(t.Context(), key, want, 0))
		got, err := s.Get(t.Context(), key)
		require.NoError(t, err)
		require.Equal(t, want, got)
	})
}
