package diskstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/cachestack/cachestack/cached"
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

func ExampleOpenResponses() {
	dir, err := os.MkdirTemp("", "diskstore-example-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	// In a program, a directory like "~/.cache/myapp/http"; the store
	// goes to a cache as its Store.
	responses, err := diskstore.OpenResponses(dir, nil)
	if err != nil {
		panic(err)
	}
	defer responses.Close()
	ctx := context.Background()

	err = responses.Set(ctx, "GET https://example.com/", &cached.Response{
		Method: "GET", URL: "https://example.com/", StatusCode: 200, Body: []byte("hello"),
	}, time.Hour)
	fmt.Println(err)
	r, err := responses.Get(ctx, "GET https://example.com/")
	fmt.Println(r.StatusCode, string(r.Body), err)
	// Output:
	// <nil>
	// 200 hello <nil>
}

// New refuses a directory that holds files it did not write, such as a
// home or project directory given by mistake.
func ExampleNew_notCacheDir() {
	dir, err := os.MkdirTemp("", "diskstore-example-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o600); err != nil {
		panic(err)
	}

	_, err = diskstore.New(dir, nil)
	fmt.Println(errors.Is(err, diskstore.ErrNotCacheDir))
	_, err = os.Stat(filepath.Join(dir, "notes.txt"))
	fmt.Println(err)
	// Output:
	// true
	// <nil>
}
