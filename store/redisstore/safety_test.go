package redisstore_test

import (
	"net/http"
	"testing"

	"github.com/cachestack/cachestack"
	"github.com/cachestack/cachestack/codec"
	"github.com/cachestack/cachestack/internal/leaktest"
)

// TestNothingSecretAtRest plants secrets through a cache over Redis and
// greps every key and value of the store's namespace for them.
func TestNothingSecretAtRest(t *testing.T) {
	c := newClient(t)
	s := open(t, c, nil)
	cache, err := cachestack.New(leaktest.Options(codec.Bind(s, codec.Response())))
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	defer tr.CloseIdleConnections()
	leaktest.Plant(t, &http.Client{Transport: cache.Middleware()(tr)})

	ctx := t.Context()
	if err := cache.Flush(ctx); err != nil { // writes are made in the background
		t.Fatal(err)
	}
	var all []byte
	for key, err := range s.Keys(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		v, err := c.Get(ctx, s.Namespace()+":"+key).Bytes() // the raw value, as Redis holds it
		if err != nil {
			t.Fatal(err)
		}
		all = append(append(all, key...), v...)
	}
	leaktest.Check(t, "redis", all)
}
