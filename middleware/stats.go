package middleware

import (
	"context"
	"sync/atomic"
)

// Monitor gives access to a Store middleware's state while it runs: pass
// it in StoreOptions.Monitor, then read Stats. The zero value is ready to
// use; a Monitor serves one Store middleware (the last attached).
type Monitor struct {
	st atomic.Pointer[storeStage]
}

func (m *Monitor) attach(st *storeStage) { m.st.Store(st) }

// Stats is a snapshot of what a Store middleware has done and how its
// store is doing.
type Stats struct {
	// Counts holds every Metric by name (Metric.String).
	Counts Counts `json:"counts"`
	// StoreLatency holds the store calls' latency by operation (get,
	// set, delete). Calls that missed their deadline count at the
	// deadline; calls skipped by the breaker are not counted.
	StoreLatency map[string]LatencyStats `json:"store_latency"`
	Breaker      BreakerStats            `json:"breaker"`
	WriteBack    WriteBackStats          `json:"write_back"`
	// StuckCalls is the number of store calls still running past their
	// deadline.
	StuckCalls int64 `json:"stuck_calls"`
	// Inline is true when the store declared it never blocks, and is
	// called without deadlines.
	Inline bool `json:"inline"`
	// Deadlines are the store calls' deadlines by operation.
	Deadlines map[string]string `json:"deadlines"`
}

// Stats returns a snapshot; the zero Stats when no Store middleware is
// attached.
func (m *Monitor) Stats() Stats {
	st := m.st.Load()
	if st == nil {
		return Stats{}
	}
	s := Stats{
		Counts:       st.counters.Snapshot(),
		StoreLatency: make(map[string]LatencyStats, numOps),
		Breaker:      st.breaker.stats(),
		WriteBack:    st.wb.stats(),
		StuckCalls:   st.stuckCalls.Load(),
		Inline:       st.inline,
		Deadlines:    make(map[string]string, numOps),
	}
	for op := range numOps {
		s.StoreLatency[op.String()] = st.lat[op].stats()
		s.Deadlines[op.String()] = st.timeouts[op].String()
	}
	return s
}

// Flush waits until the writes queued in the write-back queue so far have
// been made (or dropped), or ctx ends. Without a write-back queue it
// returns at once.
func (m *Monitor) Flush(ctx context.Context) error {
	st := m.st.Load()
	if st == nil || st.wb == nil {
		return nil
	}
	return st.wb.flush(ctx)
}
