package sign_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"

	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/codec"
	"github.com/cachestack/cachestack/middleware"
	"github.com/cachestack/cachestack/sign"
	"github.com/cachestack/cachestack/store/memstore"
)

// In real use, secrets are 32 random bytes from a secret manager:
//
//	secret := make([]byte, 32)
//	rand.Read(secret) // crypto/rand
var (
	secretA = bytes.Repeat([]byte("A"), 32)
	secretB = bytes.Repeat([]byte("B"), 32)
)

func ExampleNew() {
	_, err := sign.New(secretA, []byte("too short"))
	fmt.Println(err)
	// Output:
	// sign: secret 1 is 9 bytes, want at least 32
}

func ExampleSigner_Verify() {
	s, err := sign.New(secretA)
	if err != nil {
		panic(err)
	}
	signed := s.Sign("GET https://example.com/", []byte("hello"))
	fmt.Println(len(signed), "bytes signed")

	data, err := s.Verify("GET https://example.com/", signed)
	fmt.Printf("%q %v\n", data, err)

	_, err = s.Verify("GET https://example.com/other", signed)
	fmt.Println(err)

	signed[len(signed)-1] = '!'
	_, err = s.Verify("GET https://example.com/", signed)
	fmt.Println(err, errors.Is(err, sign.ErrInvalid), errors.Is(err, codec.ErrFormat))
	fmt.Printf("%+v\n", s.Stats())
	// Output:
	// 42 bytes signed
	// "hello" <nil>
	// sign: signature mismatch
	// sign: signature mismatch true true
	// {Verified:1 Rejected:2}
}

// Rotation: sign with the newest secret, verify with any listed.
func ExampleNew_rotation() {
	before, _ := sign.New(secretA)
	after, _ := sign.New(secretB, secretA) // newest first
	later, _ := sign.New(secretB)

	old := before.Sign("k", []byte("old entry"))
	data, err := after.Verify("k", old)
	fmt.Printf("after rotation: %q %v\n", data, err)

	_, err = later.Verify("k", old)
	fmt.Println("once the old secret is dropped:", err)

	data, err = later.Verify("k", after.Sign("k", []byte("new entry")))
	fmt.Printf("signed with the newest: %q %v\n", data, err)
	// Output:
	// after rotation: "old entry" <nil>
	// once the old secret is dropped: sign: entry signed with a secret that is not listed
	// signed with the newest: "new entry" <nil>
}

// Wrap signs a byte store's entries and binds each to its key. Here the
// store under it stands for a shared Redis that someone else can write.
func ExampleWrap() {
	ctx := context.Background()
	signer, _ := sign.New(secretA)
	shared, _ := memstore.New[string, []byte](nil)
	st := sign.Wrap(shared, signer)
	defer st.Close()

	_ = st.Set(ctx, "GET https://example.com/a", []byte("response a"), 0)
	_ = st.Set(ctx, "GET https://example.com/b", []byte("response b"), 0)
	v, err := st.Get(ctx, "GET https://example.com/a")
	fmt.Printf("%q %v\n", v, err)

	// Someone with write access to the store copies a's entry over b's,
	// and plants an unsigned entry.
	raw, _ := shared.Get(ctx, "GET https://example.com/a")
	_ = shared.Set(ctx, "GET https://example.com/b", raw, 0)
	_ = shared.Set(ctx, "GET https://example.com/c", []byte("planted"), 0)

	for _, key := range []string{"GET https://example.com/b", "GET https://example.com/c"} {
		v, err = st.Get(ctx, key)
		fmt.Printf("%q %v\n", v, err)
	}
	fmt.Printf("%+v\n", signer.Stats())
	// Output:
	// "response a" <nil>
	// "" sign get "GET https://example.com/b": sign: signature mismatch
	// "" sign get "GET https://example.com/c": sign: entry too short to be signed
	// {Verified:1 Rejected:2}
}

// Codec signs a codec's output where bytes are kept without their key,
// binding them to a context string instead.
func ExampleCodec() {
	signer, _ := sign.New(secretA)
	type token struct{ User string }
	c := sign.Codec(codec.CBOR[token](), signer, "tokens")

	b, _ := c.Marshal(token{User: "ada"})
	tok, err := c.Unmarshal(b)
	fmt.Println(tok.User, err)

	b[len(b)-1] ^= 1
	_, err = c.Unmarshal(b)
	fmt.Println(err)
	// Output:
	// ada <nil>
	// sign: signature mismatch
}

// Middleware signs every entry a cache stack stores, here in a typed
// in-memory store, and verifies every entry it reads: an entry planted in
// the store by someone without the secret is a miss, counted, and the
// request goes to the origin.
func ExampleMiddleware() {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, "from the origin")
	}))
	defer origin.Close()

	signer, _ := sign.New(secretA)
	signing, err := sign.Middleware(signer)
	if err != nil {
		panic(err)
	}
	mem, _ := memstore.New[string, *cached.Response](nil)
	counters := new(middleware.Counters)
	st, _ := middleware.Store(mem, &middleware.StoreOptions{Counters: counters, Logger: slog.New(slog.DiscardHandler)})
	client := &http.Client{Transport: middleware.Chain(signing, st)(nil)}
	get := func() {
		resp, err := client.Get(origin.URL + "/page")
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("%q from cache: %v\n", body, middleware.InfoOf(resp).FromCache)
	}
	get()
	get()

	// Someone who can write the store replaces the entry with their own.
	ctx := context.Background()
	for key := range mem.Keys(ctx) {
		stored, _ := mem.Get(ctx, key)
		fmt.Println("stored:", stored.Kind == cached.KindSealed, stored.URL == origin.URL+"/page")
		_ = mem.Set(ctx, key, &cached.Response{
			Method: stored.Method, URL: stored.URL, StatusCode: http.StatusOK,
			Header: cached.NewHeader(http.Header{}), Body: []byte("forged"),
		}, 0)
	}
	get()
	fmt.Println("corrupt:", counters.Corrupt.Load())
	fmt.Printf("%+v\n", signer.Stats())
	// Output:
	// "from the origin" from cache: false
	// "from the origin" from cache: true
	// stored: true true
	// "from the origin" from cache: false
	// corrupt: 1
	// {Verified:1 Rejected:1}
}
