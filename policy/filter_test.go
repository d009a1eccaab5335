package policy

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack/cached"
)

func TestMethods(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		give      []string
		allowed   []string
		forbidden []string
	}{
		{name: "default", give: nil, allowed: []string{"GET", "HEAD"}, forbidden: []string{"POST", "get", "head", "", "PUT"}},
		{name: "get post", give: []string{"GET", "POST"}, allowed: []string{"GET", "POST"}, forbidden: []string{"HEAD", "post"}},
		{name: "case kept", give: []string{"propfind"}, allowed: []string{"propfind"}, forbidden: []string{"PROPFIND", "GET"}},
		{name: "extension token", give: []string{"PROPFIND", "M-SEARCH"}, allowed: []string{"PROPFIND", "M-SEARCH"}, forbidden: []string{"GET"}},
		{name: "duplicates", give: []string{"GET", "GET"}, allowed: []string{"GET"}, forbidden: []string{"HEAD"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, err := NewMethods(tt.give...)
			require.NoError(t, err)
			for _, a := range tt.allowed {
				assert.True(t, m.Allows(a), a)
			}
			for _, f := range tt.forbidden {
				assert.False(t, m.Allows(f), f)
			}
		})
	}
}

func TestMethodsZeroIsDefault(t *testing.T) {
	t.Parallel()
	var m Methods
	assert.True(t, m.Allows("GET"))
	assert.True(t, m.Allows("HEAD"))
	assert.False(t, m.Allows("POST"))
	assert.Equal(t, DefaultMethods(), m)
}

func TestNewMethodsErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give    []string
		wantErr string
	}{
		{[]string{""}, `policy: invalid HTTP method "": not an RFC 9110 token`},
		{[]string{"GET", "GE T"}, `policy: invalid HTTP method "GE T": not an RFC 9110 token`},
		{[]string{"GET\n"}, `"GET\n"`},
		{[]string{"(GET)"}, `"(GET)"`},
		{[]string{"GÉT"}, `"GÉT"`},
		{[]string{"get"}, `policy: HTTP method "get" would never match: methods are case-sensitive (RFC 9110 §9.1), write "GET"`},
		{[]string{"GET", "Post"}, `write "POST"`},
	}
	for _, tt := range tests {
		t.Run(tt.wantErr, func(t *testing.T) {
			t.Parallel()
			_, err := NewMethods(tt.give...)
			assert.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestMethodsAllowsNoAlloc(t *testing.T) {
	m, err := NewMethods("GET", "POST", "QUERY")
	require.NoError(t, err)
	method := string([]byte("QUERY"))
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = m.Allows(method) }))
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = DefaultMethods().Allows(method) }))
}

func TestCodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		give      []int
		allowed   []int
		forbidden []int
	}{
		{name: "default", give: nil, allowed: []int{200}, forbidden: []int{201, 203, 301, 404, 418, 0, -1, 600}},
		{name: "seed teapot", give: []int{200, 418}, allowed: []int{200, 418}, forbidden: []int{404, 417, 419}},
		{name: "bounds", give: []int{100, 599, 163, 164}, allowed: []int{100, 599, 163, 164}, forbidden: []int{99, 600, 200, 162, 165, 1 << 40}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := NewCodes(tt.give...)
			require.NoError(t, err)
			for _, a := range tt.allowed {
				assert.True(t, c.Allows(a), a)
			}
			for _, f := range tt.forbidden {
				assert.False(t, c.Allows(f), f)
			}
		})
	}
}

func TestCodesZeroIsDefault(t *testing.T) {
	t.Parallel()
	var c Codes
	assert.True(t, c.Allows(200))
	assert.False(t, c.Allows(201))
	assert.Equal(t, DefaultCodes(), c)
}

func TestNewCodesErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give    []int
		wantErr string
	}{
		{[]int{99}, `policy: invalid status code 99: want 100..599`},
		{[]int{200, 600}, `policy: invalid status code 600: want 100..599`},
		{[]int{0}, `status code 0`},
		{[]int{-200}, `status code -200`},
	}
	for _, tt := range tests {
		t.Run(tt.wantErr, func(t *testing.T) {
			t.Parallel()
			_, err := NewCodes(tt.give...)
			assert.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestFilter(t *testing.T) {
	t.Parallel()
	small := &cached.Response{Body: make([]byte, 10)}
	big := &cached.Response{Body: make([]byte, 2<<20)}
	var bySize Filter = func(r *cached.Response) bool { return len(r.Body) <= 1<<20 }
	tests := []struct {
		name string
		f    Filter
		give *cached.Response
		want bool
	}{
		{name: "nil allows", f: nil, give: big, want: true},
		{name: "small", f: bySize, give: small, want: true},
		{name: "big", f: bySize, give: big, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, tt.f.Allows(tt.give))
		})
	}
}
