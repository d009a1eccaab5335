package codec_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/codec"
	"github.com/cachestack/cachestack/store"
)

func ExampleResponse() {
	c := codec.Response()
	b, err := c.Marshal(&cached.Response{
		Method:     http.MethodGet,
		URL:        "https://example.com/",
		StatusCode: http.StatusOK,
		Proto:      "HTTP/1.1",
		Header:     cached.NewHeader(http.Header{"Content-Type": {"text/plain"}}),
		Body:       []byte("hello"),
		Created:    time.Date(2025, 6, 1, 12, 0, 0, 123456789, time.UTC),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%q\n", b[:4])

	r, err := c.Unmarshal(b) // r.Body aliases b from here on
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.StatusCode, r.URL, r.Header.Get("Content-Type"))
	fmt.Println(string(r.Body))
	fmt.Println(r.Created.Format(time.RFC3339Nano), r.Expires.IsZero())
	// Output:
	// "CSR\x03"
	// 200 https://example.com/ text/plain
	// hello
	// 2025-06-01T12:00:00.123456789Z true
}

func ExampleErrFormat() {
	c := codec.Response()
	for _, b := range [][]byte{
		[]byte("junk"),
		[]byte("CSR\x07\xa0"), // a future version
		nil,
	} {
		_, err := c.Unmarshal(b)
		fmt.Println(errors.Is(err, codec.ErrFormat))
	}
	// Output:
	// true
	// true
	// true
}

func ExampleErrChecksum() {
	c := codec.Response()
	b, err := c.Marshal(&cached.Response{StatusCode: http.StatusOK, Body: []byte("hello")})
	if err != nil {
		fmt.Println(err)
		return
	}
	b[len(b)-1] ^= 0x20 // "hello" becomes "hellO" in the store

	_, err = c.Unmarshal(b)
	fmt.Println(err)
	fmt.Println(errors.Is(err, codec.ErrChecksum), errors.Is(err, codec.ErrFormat))
	// Output:
	// codec: bad format: checksum mismatch
	// true true
}

func ExampleBind() {
	ctx := context.Background()
	// byteStore stands in for any store.Store[string, []byte]: a disk or
	// network store.
	s := codec.Bind[string](newByteStore(), codec.Response())
	defer s.Close()

	err := s.Set(ctx, "GET https://example.com/", &cached.Response{
		StatusCode: http.StatusOK,
		Body:       []byte("hello"),
	}, time.Minute)
	if err != nil {
		fmt.Println(err)
		return
	}
	r, err := s.Get(ctx, "GET https://example.com/")
	fmt.Println(r.StatusCode, string(r.Body), err)

	_, err = s.Get(ctx, "GET https://example.com/other")
	fmt.Println(errors.Is(err, store.ErrNotFound))

	// The byte store cannot list its keys, so neither can the typed one.
	fmt.Println(errors.Is(s.Clear(ctx), errors.ErrUnsupported))
	// Output:
	// 200 hello <nil>
	// true
	// true
}

func ExampleCBOR() {
	type point struct {
		X, Y int
		At   time.Time
	}
	c := codec.CBOR[point]()
	b, err := c.Marshal(point{X: 1, Y: 2, At: time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)})
	if err != nil {
		fmt.Println(err)
		return
	}
	p, err := c.Unmarshal(b)
	fmt.Println(p.X, p.Y, p.At.Format(time.RFC3339Nano), err)
	// Output:
	// 1 2 2025-01-02T03:04:05.000000006Z <nil>
}
