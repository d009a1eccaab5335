package otelmetrics_test

import (
	"fmt"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/cachestack/cachestack"
	"github.com/cachestack/cachestack/metrics/otelmetrics"
)

// A cache whose counts and store latency are recorded with OpenTelemetry.
func Example() {
	provider := sdkmetric.NewMeterProvider() // or otel.GetMeterProvider()
	m, err := otelmetrics.New(provider.Meter("github.com/cachestack/cachestack"), nil)
	if err != nil {
		panic(err)
	}
	c, err := cachestack.New(&cachestack.Options{Metrics: m})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	fmt.Println(c.Stats().Breaker.State)
	// Output: closed
}
