package policy

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestSourceString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give Source
		want string
	}{
		{SourceNone, "none"},
		{SourceSession, "session"},
		{SourceHeuristic, "heuristic"},
		{SourceURL, "url"},
		{SourceRequest, "request"},
		{SourceResponseCacheControl, "response-cache-control"},
		{SourceRequestCacheControl, "request-cache-control"},
		{Source(9), "Source(9)"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.give.String())
	}
}

func TestSourceOrder(t *testing.T) {
	t.Parallel()
	// aiohttp-client-cache's "Expiration Precedence", highest first.
	order := []Source{SourceRequestCacheControl, SourceResponseCacheControl, SourceRequest, SourceURL, SourceHeuristic, SourceSession, SourceNone}
	for i := 1; i < len(order); i++ {
		assert.Greater(t, order[i-1], order[i])
	}
}

type offer struct {
	src Source
	e   Expiry
}

func TestDecisionsEmpty(t *testing.T) {
	t.Parallel()
	var d Decisions
	e, src := d.Decide()
	assert.Equal(t, Never(), e)
	assert.Equal(t, SourceNone, src)

	d.Offer(SourceURL, Expiry{}) // unset: no opinion
	d.Offer(Source(42), DoNotStore())
	e, src = d.Decide()
	assert.Equal(t, Never(), e)
	assert.Equal(t, SourceNone, src)
}

func TestDecisions(t *testing.T) {
	t.Parallel()
	session := offer{SourceSession, After(time.Hour)}
	url := offer{SourceURL, After(time.Minute)}
	request := offer{SourceRequest, Never()}
	respCC := offer{SourceResponseCacheControl, After(10 * time.Second)}
	reqCC := offer{SourceRequestCacheControl, DoNotStore()}
	tests := []struct {
		name    string
		give    []offer
		want    Expiry
		wantSrc Source
	}{
		{name: "all five", give: []offer{session, url, request, respCC, reqCC}, want: DoNotStore(), wantSrc: SourceRequestCacheControl},
		{name: "no request cache-control", give: []offer{session, url, request, respCC}, want: After(10 * time.Second), wantSrc: SourceResponseCacheControl},
		{name: "no cache-control", give: []offer{session, url, request}, want: Never(), wantSrc: SourceRequest},
		{name: "session and url", give: []offer{session, url}, want: After(time.Minute), wantSrc: SourceURL},
		{name: "session only", give: []offer{session}, want: After(time.Hour), wantSrc: SourceSession},
		{name: "unset ignored", give: []offer{session, url, {SourceRequest, Expiry{}}, {SourceRequestCacheControl, Expiry{}}}, want: After(time.Minute), wantSrc: SourceURL},
		{name: "none source", give: []offer{{SourceNone, After(time.Second)}}, want: After(time.Second), wantSrc: SourceNone},
		{name: "session beats none", give: []offer{{SourceNone, After(time.Second)}, session}, want: After(time.Hour), wantSrc: SourceSession},
		{name: "session then url then cc", give: []offer{session, url, respCC}, want: After(10 * time.Second), wantSrc: SourceResponseCacheControl},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// Order independence: every permutation decides the same.
			n := 0
			permute(tt.give, func(p []offer) {
				n++
				var d Decisions
				for _, o := range p {
					d.Offer(o.src, o.e)
				}
				got, src := d.Decide()
				assert.Equal(t, tt.want, got, "order %v", p)
				assert.Equal(t, tt.wantSrc, src, "order %v", p)
			})
			assert.Equal(t, factorial(len(tt.give)), n)
		})
	}
}

func TestDecisionsSameSourceLastWins(t *testing.T) {
	t.Parallel()
	var d Decisions
	d.Offer(SourceURL, After(time.Minute))
	d.Offer(SourceURL, Never())
	d.Offer(SourceSession, DoNotStore())
	d.Offer(SourceURL, Expiry{}) // unset does not erase
	e, src := d.Decide()
	assert.Equal(t, Never(), e)
	assert.Equal(t, SourceURL, src)

	d = Decisions{}
	e, src = d.Decide()
	assert.Equal(t, Never(), e)
	assert.Equal(t, SourceNone, src)
}

func TestDecisionsNoAlloc(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() {
		var d Decisions
		d.Offer(SourceSession, After(time.Hour))
		d.Offer(SourceURL, At(testNow))
		d.Offer(SourceResponseCacheControl, Never())
		_, _ = d.Decide()
	})
	assert.Zero(t, allocs)
}

// permute calls f with every ordering of s (Heap's algorithm).
func permute(s []offer, f func([]offer)) {
	p := append([]offer(nil), s...)
	var gen func(k int)
	gen = func(k int) {
		if k <= 1 {
			f(p)
			return
		}
		for i := range k {
			gen(k - 1)
			if i < k-1 {
				if k%2 == 0 {
					p[i], p[k-1] = p[k-1], p[i]
				} else {
					p[0], p[k-1] = p[k-1], p[0]
				}
			}
		}
	}
	gen(len(p))
}

func factorial(n int) int {
	if n <= 1 {
		return 1
	}
	return n * factorial(n-1)
}
