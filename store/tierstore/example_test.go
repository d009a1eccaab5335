package tierstore_test

import (
	"context"
	"fmt"
	"time"

	"github.com/cachestack/cachestack/store/bigcachestore"
	"github.com/cachestack/cachestack/store/memstore"
	"github.com/cachestack/cachestack/store/tierstore"
)

func Example() {
	front, err := memstore.New[string, []byte](&memstore.Options[[]byte]{MaxBytes: 1 << 20})
	if err != nil {
		panic(err)
	}
	back, err := bigcachestore.New(&bigcachestore.Options{MaxBytes: 64 << 20})
	if err != nil {
		panic(err)
	}
	s, err := tierstore.New[string, []byte](front, back, &tierstore.Options{FrontTTL: 30 * time.Second})
	if err != nil {
		panic(err)
	}
	defer s.Close() // closes front and back
	ctx := context.Background()

	// Only the back has it, as after a restart of the front.
	_ = back.Set(ctx, "greeting", []byte("hello"), time.Hour)

	v, err := s.Get(ctx, "greeting") // a front miss, read through
	fmt.Println(string(v), err)
	v, err = front.Get(ctx, "greeting") // now in the front for 30s
	fmt.Println(string(v), err)

	_ = s.Delete(ctx, "greeting")
	_, err = s.Get(ctx, "greeting")
	fmt.Println(err)
	// Output:
	// hello <nil>
	// hello <nil>
	// store: not found
}
