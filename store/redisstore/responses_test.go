package redisstore_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack"
	"github.com/cachestack/cachestack/store/redisstore"
)

// TestOpenResponses: a cache over the store OpenResponses opens answers a
// repeated request from Redis, by address and by URL; closing the store
// closes the client it made (goleak checks its goroutines are gone).
func TestOpenResponses(t *testing.T) {
	newClient(t) // skips, or fails under CACHESTACK_REQUIRE_SERVICES=1, without Redis
	var calls atomic.Int64
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, "hello")
	}))
	defer origin.Close()
	for _, addr := range []string{redisAddr(), "redis://" + redisAddr() + "/0"} {
		t.Run(strings.SplitN(addr, ":", 2)[0], func(t *testing.T) {
			s, err := redisstore.OpenResponses(addr, &redisstore.Options{Namespace: namespace(t)})
			require.NoError(t, err)
			t.Cleanup(func() {
				require.NoError(t, s.Clear(context.Background()))
				require.NoError(t, s.Close())
				require.NoError(t, s.Close(), "a second Close is a no-op")
			})
			tr := http.DefaultTransport.(*http.Transport).Clone()
			defer tr.CloseIdleConnections()
			c, err := cachestack.New(&cachestack.Options{Store: s, Transport: tr})
			require.NoError(t, err)
			defer c.Close()
			before := calls.Load()
			for i := range 2 {
				resp, err := c.Client().Get(origin.URL + "/" + t.Name())
				require.NoError(t, err)
				_, err = io.ReadAll(resp.Body)
				require.NoError(t, err)
				resp.Body.Close()
				require.NoError(t, c.Flush(t.Context())) // writes to Redis are made in the background
				assert.Equal(t, i == 1, cachestack.InfoOf(resp).FromCache)
			}
			assert.Equal(t, before+1, calls.Load())
		})
	}
}

func TestOpenResponsesBadAddress(t *testing.T) {
	tests := []struct{ give, want string }{
		{"", "redisstore: OpenResponses: empty address"},
		{"http://127.0.0.1:6379", "redisstore: OpenResponses: the address is not a Redis URL: redis: invalid URL scheme: http"},
		{"redis://user:s3cret@[::1", "redisstore: OpenResponses: the address is not a Redis URL"},
	}
	for _, tt := range tests {
		_, err := redisstore.OpenResponses(tt.give, nil)
		require.Error(t, err)
		assert.Contains(t, err.Error(), tt.want)
		assert.NotContains(t, err.Error(), "s3cret", "the password is not quoted")
	}
	_, err := redisstore.OpenResponses("127.0.0.1:6379", &redisstore.Options{Namespace: "a:b"})
	assert.ErrorContains(t, err, "Options.Namespace")
}

func TestNewResponses(t *testing.T) {
	c := newClient(t)
	s, err := redisstore.NewResponses(c, &redisstore.Options{Namespace: namespace(t)})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.NoError(t, c.Ping(t.Context()).Err(), "the caller's client stays open")
}
