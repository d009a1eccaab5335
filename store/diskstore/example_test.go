package diskstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/diskstore"
)

func Example() {
	dir, err := os.MkdirTemp("", "diskstore-example-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	// In a program, a directory like "~/.cache/myapp/http".
	s, err := diskstore.New(dir, &diskstore.Options{MaxBytes: 64 << 20})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	ctx := context.Background()

	_ = s.Set(ctx, "GET https://example.com/", []byte("hello"), time.Hour)
	v, err := s.Get(ctx, "GET https://example.com/")
	fmt.Println(string(v), err)

	_, err = s.Get(ctx, "GET https://example.com/other")
	fmt.Println(errors.Is(err, store.ErrNotFound))

	// A second store on the same directory — another process, say —
	// sees the entry.
	other, err := diskstore.New(dir, nil)
	if err != nil {
		panic(err)
	}
	defer other.Close()
	for key, err := range other.Keys(ctx) {
		fmt.Println(key, err)
	}
	// Output:
	// hello <nil>
	// true
	// GET https://example.com/ <nil>
}

func ExampleNew_error() {
	_, err := diskstore.New("/tmp", &diskstore.Options{MaxBytes: -5})
	fmt.Println(err)
	// Output:
	// diskstore: Options.MaxBytes is -5, want >= 0
}
