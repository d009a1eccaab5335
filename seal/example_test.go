package seal_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/cachestack/cachestack/codec"
	"github.com/cachestack/cachestack/middleware"
	"github.com/cachestack/cachestack/seal"
	"github.com/cachestack/cachestack/sign"
	"github.com/cachestack/cachestack/store/memstore"
)

// In real use, keys are 32 random bytes from a secret manager:
//
//	key := make([]byte, seal.KeySize)
//	rand.Read(key) // crypto/rand
var (
	keyA = bytes.Repeat([]byte("A"), 32)
	keyB = bytes.Repeat([]byte("B"), 32)
)

func ExampleNew() {
	_, err := seal.New(keyA, []byte("too short"))
	fmt.Println(err)
	_, err = seal.New([]byte("3f1a9c0e5b7d2468ace013579bdf2468ace013579bdf2468ace013579bdf2468"))
	fmt.Println(err)
	_, err = seal.New(keyA, keyB, keyA)
	fmt.Println(err)
	// Output:
	// seal: key 1 is 9 bytes, want 32
	// seal: key 0 is 64 bytes, want 32 (decode a hex or base64 key to its bytes first)
	// seal: key 2 repeats key 0
}

func ExampleSealer_Open() {
	s, err := seal.New(keyA)
	if err != nil {
		panic(err)
	}
	sealed := s.Seal("GET https://example.com/", []byte("hello"))
	fmt.Println(len(sealed), "bytes sealed;", bytes.Contains(sealed, []byte("hello")))

	data, err := s.Open("GET https://example.com/", sealed)
	fmt.Printf("%q %v\n", data, err)

	_, err = s.Open("GET https://example.com/other", sealed)
	fmt.Println(err)

	sealed[len(sealed)-1] ^= 1
	_, err = s.Open("GET https://example.com/", sealed)
	fmt.Println(err, errors.Is(err, seal.ErrInvalid), errors.Is(err, codec.ErrFormat))
	fmt.Printf("%+v\n", s.Stats())
	// Output:
	// 38 bytes sealed; false
	// "hello" <nil>
	// seal: entry fails authentication
	// seal: entry fails authentication true true
	// {Sealed:1 Opened:1 OldKey:0 Rejected:2}
}

// Rotation: seal with the newest key, open with any listed.
func ExampleNew_rotation() {
	before, _ := seal.New(keyA)
	after, _ := seal.New(keyB, keyA) // newest first
	later, _ := seal.New(keyB)

	old := before.Seal("k", []byte("old entry"))
	data, err := after.Open("k", old)
	fmt.Printf("after rotation: %q %v\n", data, err)
	fmt.Println("opened with an older key:", after.Stats().OldKey)

	_, err = later.Open("k", old)
	fmt.Println("once the old key is dropped:", err)

	data, err = later.Open("k", after.Seal("k", []byte("new entry")))
	fmt.Printf("sealed with the newest: %q %v\n", data, err)
	// Output:
	// after rotation: "old entry" <nil>
	// opened with an older key: 1
	// once the old key is dropped: seal: entry sealed with a key that is not listed
	// sealed with the newest: "new entry" <nil>
}

// Wrap encrypts a byte store's entries and binds each to its key. Here the
// store under it stands for a shared Redis that others can read and write.
func ExampleWrap() {
	ctx := context.Background()
	sealer, _ := seal.New(keyA)
	shared, _ := memstore.New[string, []byte](nil)
	st := seal.Wrap(shared, sealer)
	defer st.Close()

	_ = st.Set(ctx, "GET https://example.com/a", []byte("response a: the account balance"), 0)
	_ = st.Set(ctx, "GET https://example.com/b", []byte("response b"), 0)
	v, err := st.Get(ctx, "GET https://example.com/a")
	fmt.Printf("%q %v\n", v, err)

	// A reader of the store sees ciphertext only.
	raw, _ := shared.Get(ctx, "GET https://example.com/a")
	fmt.Println("in clear at rest:", bytes.Contains(raw, []byte("balance")))

	// Someone with write access copies a's entry over b's, and plants an
	// entry in clear.
	_ = shared.Set(ctx, "GET https://example.com/b", raw, 0)
	_ = shared.Set(ctx, "GET https://example.com/c", []byte("planted"), 0)

	for _, key := range []string{"GET https://example.com/b", "GET https://example.com/c"} {
		v, err = st.Get(ctx, key)
		fmt.Printf("%q %v\n", v, err)
	}
	fmt.Printf("%+v\n", sealer.Stats())
	// Output:
	// "response a: the account balance" <nil>
	// in clear at rest: false
	// "" seal get "GET https://example.com/b": seal: entry fails authentication
	// "" seal get "GET https://example.com/c": seal: entry too short to be sealed
	// {Sealed:2 Opened:1 OldKey:0 Rejected:2}
}

// Codec encrypts a codec's output where bytes are kept without their key,
// binding them to a context string instead.
func ExampleCodec() {
	sealer, _ := seal.New(keyA)
	type token struct{ User string }
	c := seal.Codec(codec.CBOR[token](), sealer, "tokens")

	b, _ := c.Marshal(token{User: "ada"})
	fmt.Println("in clear:", bytes.Contains(b, []byte("ada")))
	tok, err := c.Unmarshal(b) // decrypts in place: b is the codec's now
	fmt.Println(tok.User, err)

	b, _ = c.Marshal(token{User: "ada"})
	b[len(b)-1] ^= 1
	_, err = c.Unmarshal(b)
	fmt.Println(err)
	// Output:
	// in clear: false
	// ada <nil>
	// seal: entry fails authentication
}

// With sign as well, sign goes beneath seal: the store holds signed
// ciphertext, checked before anything is decrypted.
func ExampleWrap_withSign() {
	ctx := context.Background()
	sealer, _ := seal.New(keyA)
	signer, _ := sign.New(keyB)
	raw, _ := memstore.New[string, []byte](nil)
	st := seal.Wrap(sign.Wrap(raw, signer), sealer)
	defer st.Close()

	_ = st.Set(ctx, "k", []byte("hello"), 0)
	v, err := st.Get(ctx, "k")
	fmt.Printf("%q %v\n", v, err)

	b, _ := raw.Get(ctx, "k")
	fmt.Println(len(b), "bytes at rest:", len("hello"), "+", seal.Overhead, "sealing +", 37, "signing")
	b[len(b)-1] ^= 1
	_ = raw.Set(ctx, "k", b, 0)
	_, err = st.Get(ctx, "k")
	fmt.Println(err)
	// Output:
	// "hello" <nil>
	// 75 bytes at rest: 5 + 33 sealing + 37 signing
	// sign get "k": sign: signature mismatch
}

// Middleware encrypts every entry a cache stack stores, whatever the store
// (here a byte store behind codec.Bind), and opens every entry it reads.
func ExampleMiddleware() {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, "account balance: 42")
	}))
	defer origin.Close()

	sealer, _ := seal.New(keyA)
	sealing, err := seal.Middleware(sealer)
	if err != nil {
		panic(err)
	}
	raw, _ := memstore.New[string, []byte](nil)
	st, _ := middleware.Store(codec.Bind(raw, codec.Response()), nil)
	client := &http.Client{Transport: middleware.Chain(sealing, st)(nil)}
	for range 2 {
		resp, err := client.Get(origin.URL + "/account")
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("%q from cache: %v\n", body, middleware.InfoOf(resp).FromCache)
	}

	ctx := context.Background()
	for key := range raw.Keys(ctx) {
		b, _ := raw.Get(ctx, key)
		fmt.Println("in clear in the store:", bytes.Contains(b, []byte("balance")), bytes.Contains(b, []byte("/account")))
	}
	fmt.Printf("%+v\n", sealer.Stats())
	// Output:
	// "account balance: 42" from cache: false
	// "account balance: 42" from cache: true
	// in clear in the store: false false
	// {Sealed:1 Opened:1 OldKey:0 Rejected:0}
}
