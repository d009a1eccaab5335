package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRun runs the chain against an origin that fails once and demands
// the token: the retry recovers, the cache answers the rest, and the
// origin saw the token every time.
func TestRun(t *testing.T) {
	var asked, unauthorized atomic.Int64
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if asked.Add(1) == 1 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		if r.Header.Get("Authorization") != "Bearer s3cret" {
			unauthorized.Add(1)
		}
		w.Header().Set("Cache-Control", "private, max-age=60")
		w.Write([]byte("{}\n"))
	}))
	defer origin.Close()
	transport := &http.Transport{}
	defer transport.CloseIdleConnections()

	var out bytes.Buffer
	require.NoError(t, run(&out, origin.URL+"/me", transport))
	assert.Contains(t, out.String(), "GET 1: 200 {}  from cache: false")
	assert.Contains(t, out.String(), "GET 2: 200 {}  from cache: true")
	assert.Contains(t, out.String(), "GET 3: 200 {}  from cache: true")
	assert.EqualValues(t, 2, asked.Load(), "the 503, its retry, and no more")
	assert.Zero(t, unauthorized.Load())
}

// TestMainRuns runs main itself, so the command as documented cannot rot.
func TestMainRuns(t *testing.T) { main() }
