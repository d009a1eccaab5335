package store_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/cachestack/cachestack/store"
)

type tryGetter struct{ neverBlocks bool }

func (tryGetter) TryGet(context.Context, string) ([]byte, error) { return nil, store.ErrWouldBlock }
func (g tryGetter) NeverBlocks() bool                            { return g.neverBlocks }

type tryGetterSource struct{ inner any }

func (s tryGetterSource) TryGetter() (store.TryGetter[string, []byte], bool) {
	return store.TryGetterOf[string, []byte](s.inner)
}

func TestTryGetterOf(t *testing.T) {
	tests := []struct {
		name string
		give any
		want bool
	}{
		{"a TryGetter", tryGetter{}, true},
		{"a TryGetter that never blocks: its Get is the call", tryGetter{neverBlocks: true}, false},
		{"a wrapper of a TryGetter", tryGetterSource{tryGetter{}}, true},
		{"a wrapper of a store without", tryGetterSource{struct{}{}}, false},
		{"neither", struct{}{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, ok := store.TryGetterOf[string, []byte](tt.give)
			assert.Equal(t, tt.want, ok)
			assert.Equal(t, tt.want, g != nil)
		})
	}
}
