package middleware

import (
	"sync"
	"sync/atomic"
	"time"
)

// BreakerState is the state of a Store middleware's circuit breaker.
type BreakerState int32

// The breaker's states.
const (
	// BreakerClosed: the store is called.
	BreakerClosed BreakerState = iota
	// BreakerOpen: the store has failed or timed out Failures times in a
	// row and is skipped (every lookup is a miss, every write dropped)
	// until the back-off ends.
	BreakerOpen
	// BreakerHalfOpen: the back-off has ended and one call, the probe,
	// is let through; the others still skip the store. The probe's
	// caller waits no longer than its deadline, but the probe runs on
	// for up to the write deadline (StoreOptions.SetTimeout), so that a
	// store coming back has time to answer. The probe's
	// success closes the breaker; its failure opens it again for twice
	// as long, up to BreakerOptions.MaxOpenFor.
	BreakerHalfOpen
)

func (s BreakerState) String() string {
	switch s {
	case BreakerClosed:
		return "closed"
	case BreakerOpen:
		return "open"
	case BreakerHalfOpen:
		return "half-open"
	}
	return "unknown"
}

// Breaker defaults, used where BreakerOptions leaves a field zero.
const (
	DefaultBreakerFailures   = 5
	DefaultBreakerOpenFor    = time.Second
	DefaultBreakerMaxOpenFor = 30 * time.Second
)

// BreakerOptions configure the circuit breaker of a Store middleware. A
// nil *BreakerOptions, like the zero value, means the defaults.
type BreakerOptions struct {
	// Failures is how many store calls in a row must fail (an error, a
	// missed deadline, a panic) to open the breaker. A miss, an entry
	// too large for the store, and an entry that does not decode are
	// answers, not failures. Zero means DefaultBreakerFailures; negative
	// turns the breaker off.
	Failures int
	// OpenFor is how long the breaker stays open the first time before
	// it lets a probe through. Zero means DefaultBreakerOpenFor.
	OpenFor time.Duration
	// MaxOpenFor caps the back-off, which doubles after each failed
	// probe. Zero means DefaultBreakerMaxOpenFor; it must be at least
	// OpenFor.
	MaxOpenFor time.Duration
}

// breaker is a consecutive-failures circuit breaker with one probe. The
// closed state, the common one, costs one atomic load per call.
type breaker struct {
	failures   int64
	openFor    time.Duration
	maxOpenFor time.Duration
	now        func() time.Time // monotonic: time.Now
	changed    func(from, to BreakerState, failures int64, openFor time.Duration)

	state       atomic.Int32
	consecutive atomic.Int64
	opens       atomic.Int64

	mu      sync.Mutex
	until   time.Time     // end of the current open period
	backoff time.Duration // length of the current open period
	since   time.Time     // when the state last changed
}

func newBreaker(o BreakerOptions, changed func(from, to BreakerState, failures int64, openFor time.Duration)) *breaker {
	if o.Failures < 0 {
		return nil
	}
	if o.Failures == 0 {
		o.Failures = DefaultBreakerFailures
	}
	if o.OpenFor == 0 {
		o.OpenFor = DefaultBreakerOpenFor
		if o.MaxOpenFor > 0 {
			o.OpenFor = min(o.OpenFor, o.MaxOpenFor)
		}
	}
	if o.MaxOpenFor == 0 {
		o.MaxOpenFor = max(DefaultBreakerMaxOpenFor, o.OpenFor)
	}
	return &breaker{failures: int64(o.Failures), openFor: o.OpenFor, maxOpenFor: o.MaxOpenFor, now: time.Now, changed: changed, since: time.Now()}
}

// allow reports whether a store call may be made now; probe is set when
// the call is the half-open state's probe.
func (b *breaker) allow() (ok, probe bool) {
	if b == nil || BreakerState(b.state.Load()) == BreakerClosed {
		return true, false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if BreakerState(b.state.Load()) != BreakerOpen || b.now().Before(b.until) {
		return false, false
	}
	b.set(BreakerHalfOpen, 0)
	return true, true
}

// success records a store call that answered.
func (b *breaker) success(probe bool) {
	if b == nil {
		return
	}
	if b.consecutive.Load() != 0 {
		b.consecutive.Store(0)
	}
	if !probe {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if BreakerState(b.state.Load()) == BreakerHalfOpen {
		b.backoff = 0
		b.set(BreakerClosed, 0)
	}
}

// failure records a store call that failed.
func (b *breaker) failure(probe bool) {
	if b == nil {
		return
	}
	n := b.consecutive.Add(1)
	if !probe && (n < b.failures || BreakerState(b.state.Load()) != BreakerClosed) {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch s := BreakerState(b.state.Load()); {
	case probe && s == BreakerHalfOpen:
		b.backoff = min(2*b.backoff, b.maxOpenFor)
		b.open(n)
	case !probe && s == BreakerClosed:
		b.backoff = b.openFor
		b.open(n)
	}
}

// probeAbandoned hands the probe back when it was never made.
func (b *breaker) probeAbandoned() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if BreakerState(b.state.Load()) == BreakerHalfOpen {
		b.set(BreakerOpen, b.consecutive.Load())
	}
}

func (b *breaker) open(failures int64) {
	b.until = b.now().Add(b.backoff)
	b.opens.Add(1)
	b.set(BreakerOpen, failures)
}

// set changes the state; b.mu is held.
func (b *breaker) set(to BreakerState, failures int64) {
	from := BreakerState(b.state.Swap(int32(to)))
	b.since = b.now()
	if from != to && b.changed != nil {
		b.changed(from, to, failures, b.backoff)
	}
}

// BreakerStats is the breaker's state in a Stats snapshot.
type BreakerStats struct {
	Enabled bool   `json:"enabled"`
	State   string `json:"state"` // closed, open or half-open
	// Since is when the breaker entered State.
	Since time.Time `json:"since"`
	// ConsecutiveFailures is the current run of failed store calls.
	ConsecutiveFailures int64 `json:"consecutive_failures"`
	// Opens counts the times the breaker opened.
	Opens int64 `json:"opens"`
	// RetryAt is when an open breaker lets its next probe through.
	RetryAt time.Time `json:"retry_at,omitzero"`
	// Failures, OpenFor and MaxOpenFor are the settings in force.
	Failures   int64         `json:"failures"`
	OpenFor    time.Duration `json:"open_for"`
	MaxOpenFor time.Duration `json:"max_open_for"`
}

func (b *breaker) stats() BreakerStats {
	if b == nil {
		return BreakerStats{State: BreakerClosed.String()}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	s := BreakerState(b.state.Load())
	st := BreakerStats{
		Enabled: true, State: s.String(), Since: b.since, ConsecutiveFailures: b.consecutive.Load(),
		Opens: b.opens.Load(), Failures: b.failures, OpenFor: b.openFor, MaxOpenFor: b.maxOpenFor,
	}
	if s == BreakerOpen {
		st.RetryAt = b.until
	}
	return st
}
