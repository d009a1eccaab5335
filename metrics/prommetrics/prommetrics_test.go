package prommetrics_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack"
	"github.com/cachestack/cachestack/metrics/prommetrics"
)

func TestCountsAndLatencyAreExported(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := prommetrics.New(reg, &prommetrics.Options{ConstLabels: prometheus.Labels{"cache": "api"}})
	require.NoError(t, err)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "hello")
	}))
	defer origin.Close()
	c, err := cachestack.New(&cachestack.Options{Metrics: m, Transport: &http.Transport{}})
	require.NoError(t, err)
	defer c.Close()
	for range 3 {
		resp, err := c.Client().Get(origin.URL + "/x")
		require.NoError(t, err)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP cachestack_hits_total cachestack hits (see middleware.Metric).
# TYPE cachestack_hits_total counter
cachestack_hits_total{cache="api"} 2
# HELP cachestack_misses_total cachestack misses (see middleware.Metric).
# TYPE cachestack_misses_total counter
cachestack_misses_total{cache="api"} 1
# HELP cachestack_stored_bytes_total cachestack stored_bytes (see middleware.Metric).
# TYPE cachestack_stored_bytes_total counter
cachestack_stored_bytes_total{cache="api"} 5
# HELP cachestack_breaker_state State of the store's circuit breaker: 0 closed, 1 open, 2 half-open.
# TYPE cachestack_breaker_state gauge
cachestack_breaker_state{cache="api"} 0
`), "cachestack_hits_total", "cachestack_misses_total", "cachestack_stored_bytes_total", "cachestack_breaker_state"))
	n, err := testutil.GatherAndCount(reg, "cachestack_store_duration_seconds")
	require.NoError(t, err)
	assert.Positive(t, n)

	// A second cache in the same registry needs labels of its own.
	_, err = prommetrics.New(reg, &prommetrics.Options{ConstLabels: prometheus.Labels{"cache": "api"}})
	assert.Error(t, err)
}

func TestNilRegisterer(t *testing.T) {
	_, err := prommetrics.New(nil, nil)
	assert.Error(t, err)
}
