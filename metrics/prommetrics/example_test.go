package prommetrics_test

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cachestack/cachestack"
	"github.com/cachestack/cachestack/metrics/prommetrics"
)

// A cache whose counts, store latency and breaker state are exported to
// Prometheus (serve reg with promhttp.HandlerFor).
func Example() {
	reg := prometheus.NewRegistry() // or prometheus.DefaultRegisterer
	m, err := prommetrics.New(reg, nil)
	if err != nil {
		panic(err)
	}
	c, err := cachestack.New(&cachestack.Options{Metrics: m})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	families, _ := reg.Gather()
	fmt.Println(len(families) > 0)
	// Output: true
}
