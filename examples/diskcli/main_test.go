package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRunTwice runs the command twice over one cache directory, as a user
// would: the second run answers from the disk without asking the origin.
func TestRunTwice(t *testing.T) {
	var asked atomic.Int64
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		w.Header().Set("Cache-Control", "max-age=3600")
		fmt.Fprintf(w, "the answer for %s\n", r.URL.Path)
	}))
	defer origin.Close()
	transport := &http.Transport{}
	defer transport.CloseIdleConnections()
	dir := t.TempDir()
	args := []string{"-dir", dir, origin.URL + "/a", origin.URL + "/b"}

	var first bytes.Buffer
	require.NoError(t, run(context.Background(), args, &first, transport))
	assert.Contains(t, first.String(), "/a  200  18 bytes  from cache: false")
	assert.EqualValues(t, 2, asked.Load())

	var second bytes.Buffer
	require.NoError(t, run(context.Background(), args, &second, transport))
	assert.Contains(t, second.String(), "/a  200  18 bytes  from cache: true  Cache-Status: cachestack; hit")
	assert.Contains(t, second.String(), "/b  200  18 bytes  from cache: true")
	assert.EqualValues(t, 2, asked.Load(), "the second run reached the origin")
}

// TestRunHeaderBlind caches a response the origin says nothing about,
// for -ttl, with -ignore-cache-control; without it, nothing is kept.
func TestRunHeaderBlind(t *testing.T) {
	var asked atomic.Int64
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		w.Write([]byte("go1.26.8\n"))
	}))
	defer origin.Close()
	transport := &http.Transport{}
	defer transport.CloseIdleConnections()

	dir := t.TempDir()
	for range 2 {
		require.NoError(t, run(context.Background(), []string{"-dir", dir, origin.URL}, &bytes.Buffer{}, transport))
	}
	assert.EqualValues(t, 2, asked.Load(), "RFC 9111: no freshness, no validator, not reused")

	args := []string{"-dir", t.TempDir(), "-ignore-cache-control", "-ttl", "1h", origin.URL}
	require.NoError(t, run(context.Background(), args, &bytes.Buffer{}, transport))
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), args, &out, transport))
	assert.Contains(t, out.String(), "from cache: true")
	assert.EqualValues(t, 3, asked.Load())
}

// TestRunRefusesAForeignDirectory shows that -dir never takes over a
// directory of other files.
func TestRunRefusesAForeignDirectory(t *testing.T) {
	err := run(context.Background(), []string{"-dir", ".", "http://127.0.0.1:1/"}, &bytes.Buffer{}, http.DefaultTransport)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "main.go")
}

func TestRunUsage(t *testing.T) {
	err := run(context.Background(), nil, &bytes.Buffer{}, http.DefaultTransport)
	assert.ErrorContains(t, err, "usage")
}
