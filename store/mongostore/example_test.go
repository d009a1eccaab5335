package mongostore_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/cachestack/cachestack"
	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/mongostore"
)

// ExampleOpenResponses gives a cache a MongoDB store in one line. It needs
// a server, so it is compiled but not run; the package's tests make the
// same calls against a real one.
func ExampleOpenResponses() {
	s, err := mongostore.OpenResponses("mongodb://127.0.0.1:27017/myapp", nil) // database "myapp"
	if err != nil {
		panic(err)
	}
	defer s.Close() // disconnects the client OpenResponses made

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

// Example uses the byte store over a client of the caller's. Like
// ExampleOpenResponses, it needs a server and is compiled but not run.
func Example() {
	client, err := mongo.Connect(options.Client().ApplyURI("mongodb://127.0.0.1:27017"))
	if err != nil {
		panic(err)
	}
	defer client.Disconnect(context.Background()) // the caller's; Store.Close leaves it

	s, err := mongostore.New(client, &mongostore.Options{Database: "myapp", Timeout: time.Second})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	ctx := context.Background()

	// Stored as {_id: "GET https://example.com/", body: BinData(0, "hello"), expires: <in an hour>}.
	if err := s.Set(ctx, "GET https://example.com/", []byte("hello"), time.Hour); err != nil {
		fmt.Println(err) // e.g. mongostore set "GET https://example.com/": server selection error: …
		return
	}
	v, err := s.Get(ctx, "GET https://example.com/")
	fmt.Println(string(v), err)
	_, err = s.Get(ctx, "GET https://example.com/other")
	fmt.Println(errors.Is(err, store.ErrNotFound))
	native, why := s.NativeExpiry(ctx)
	fmt.Println(native, why) // false and NotImplemented on FerretDB 1.x
}

func ExampleNew_error() {
	client, _ := mongo.Connect(options.Client().ApplyURI("mongodb://127.0.0.1:27017")) // no I/O yet
	defer client.Disconnect(context.Background())

	_, err := mongostore.New(client, &mongostore.Options{Database: "my.app"})
	fmt.Println(err)
	_, err = mongostore.New(client, &mongostore.Options{Timeout: -time.Second})
	fmt.Println(err)
	// Output:
	// mongostore: Options.Database "my.app" contains '.', which MongoDB does not allow in a database name
	// mongostore: Options.Timeout is -1s, want >= 0
}
