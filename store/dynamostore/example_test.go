package dynamostore_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cachestack/cachestack"
	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/dynamostore"
)

// ExampleOpenResponses gives a cache a DynamoDB store in one line, here on
// DynamoDB Local. It needs a server, so it is compiled but not run; the
// package's tests make the same calls against a real one.
func ExampleOpenResponses() {
	s, err := dynamostore.OpenResponses("http-cache", &dynamostore.Options{
		Endpoint:    "http://127.0.0.1:8000", // empty for AWS itself
		CreateTable: true,                    // for development; create it with your infrastructure in production
	})
	if err != nil {
		panic(err)
	}
	defer s.Close()

	c, err := cachestack.New(&cachestack.Options{Store: s})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	resp, err := c.Client().Get("https://example.com/")
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, cachestack.InfoOf(resp).FromCache)
}

// Example uses the byte store. Like ExampleOpenResponses, it needs a
// server and is compiled but not run.
func Example() {
	s, err := dynamostore.Open("http-cache", &dynamostore.Options{Region: "eu-west-1", Timeout: time.Second})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	ctx := context.Background()

	// Stored as {key: "GET https://example.com/", body: "hello", expires: <in an hour>}.
	if err := s.Set(ctx, "GET https://example.com/", []byte("hello"), time.Hour); err != nil {
		fmt.Println(err)
		return
	}
	v, err := s.Get(ctx, "GET https://example.com/")
	fmt.Println(string(v), err)
	_, err = s.Get(ctx, "GET https://example.com/other")
	fmt.Println(errors.Is(err, store.ErrNotFound))

	err = s.Set(ctx, "GET https://example.com/huge", make([]byte, 500<<10), 0)
	fmt.Println(errors.Is(err, dynamostore.ErrTooLarge), s.TooLarge())
}

func ExampleNew_error() {
	_, err := dynamostore.New(nil, "http-cache", nil)
	fmt.Println(err)
	_, err = dynamostore.Open("http cache", &dynamostore.Options{Endpoint: "http://127.0.0.1:8000"})
	fmt.Println(err)
	// Output:
	// dynamostore: client is nil
	// dynamostore: table "http cache" contains ' '; DynamoDB allows only a-z, A-Z, 0-9, '_', '-' and '.'
}
