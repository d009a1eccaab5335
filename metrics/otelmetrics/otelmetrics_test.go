package otelmetrics_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/cachestack/cachestack"
	"github.com/cachestack/cachestack/metrics/otelmetrics"
)

func TestCountsAndLatencyReachTheReader(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer provider.Shutdown(context.Background())
	m, err := otelmetrics.New(provider.Meter("test"), &otelmetrics.Options{Attributes: []attribute.KeyValue{attribute.String("cache", "api")}})
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

	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	sums := map[string]int64{}
	var gets uint64
	for _, sm := range rm.ScopeMetrics {
		for _, md := range sm.Metrics {
			switch d := md.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					v, _ := p.Attributes.Value("cache")
					assert.Equal(t, "api", v.AsString(), md.Name)
					sums[md.Name] += p.Value
				}
			case metricdata.Histogram[float64]:
				require.Equal(t, "cachestack.store.duration", md.Name)
				for _, p := range d.DataPoints {
					if op, _ := p.Attributes.Value("op"); op.AsString() == "get" {
						gets += p.Count
					}
				}
			}
		}
	}
	assert.EqualValues(t, 2, sums["cachestack.hits"])
	assert.EqualValues(t, 1, sums["cachestack.misses"])
	assert.EqualValues(t, 1, sums["cachestack.stored"])
	assert.EqualValues(t, 5, sums["cachestack.stored_bytes"])
	assert.EqualValues(t, 3, gets, "three lookups timed")
}

func TestNilMeter(t *testing.T) {
	_, err := otelmetrics.New(nil, nil)
	assert.Error(t, err)
}
