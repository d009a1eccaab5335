package cachestack_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack"
	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/codec"
	"github.com/cachestack/cachestack/internal/leaktest"
	"github.com/cachestack/cachestack/keyer"
	"github.com/cachestack/cachestack/policy"
	"github.com/cachestack/cachestack/seal"
	"github.com/cachestack/cachestack/sign"
	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/memstore"
)

var quietLogger = slog.New(slog.DiscardHandler)

// rawStore is a store the cache writes through, seen from beneath: what an
// attacker who can write the store, but holds no secret, can do to it.
type rawStore struct {
	name string
	// typed is what the cache is given.
	typed store.Store[string, *cached.Response]
	// entry decodes what is stored under key (nil if nothing).
	entry func(t *testing.T, key string) *cached.Response
	// copy stores the raw value under from again under to.
	copy func(t *testing.T, from, to string)
	// flip changes the last byte of the protected payload stored under key.
	flip func(t *testing.T, key string)
	// plant stores e under key as the store would hold it.
	plant func(t *testing.T, key string, e *cached.Response)
}

func typedRaw(t *testing.T) *rawStore {
	m, err := memstore.New[string, *cached.Response](nil)
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	ctx := context.Background()
	get := func(t *testing.T, key string) *cached.Response {
		e, err := m.Get(ctx, key)
		if err == store.ErrNotFound {
			return nil
		}
		require.NoError(t, err)
		return e
	}
	return &rawStore{
		name:  "typed memstore",
		typed: m,
		entry: get,
		copy: func(t *testing.T, from, to string) {
			require.NoError(t, m.Set(ctx, to, get(t, from), 0))
		},
		flip: func(t *testing.T, key string) {
			e := *get(t, key)
			e.Body = bytes.Clone(e.Body)
			e.Body[len(e.Body)-1] ^= 1
			require.NoError(t, m.Set(ctx, key, &e, 0))
		},
		plant: func(t *testing.T, key string, e *cached.Response) {
			require.NoError(t, m.Set(ctx, key, e, 0))
		},
	}
}

func byteRaw(t *testing.T) *rawStore {
	m, err := memstore.New[string, []byte](nil)
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	ctx := context.Background()
	get := func(t *testing.T, key string) []byte {
		b, err := m.Get(ctx, key)
		if err == store.ErrNotFound {
			return nil
		}
		require.NoError(t, err)
		return b
	}
	return &rawStore{
		name:  "byte memstore",
		typed: codec.Bind(m, codec.Response()),
		entry: func(t *testing.T, key string) *cached.Response {
			b := get(t, key)
			if b == nil {
				return nil
			}
			e, err := codec.Response().Unmarshal(b)
			require.NoError(t, err)
			return e
		},
		copy: func(t *testing.T, from, to string) {
			require.NoError(t, m.Set(ctx, to, get(t, from), 0))
		},
		flip: func(t *testing.T, key string) {
			// A tamper that rewrites the entry's checksum too, so that the
			// protector, not the codec's checksum, is what catches it.
			e, err := codec.Response().Unmarshal(get(t, key))
			require.NoError(t, err)
			e.Body = append([]byte(nil), e.Body...)
			e.Body[len(e.Body)-1] ^= 1
			b, err := codec.Response().Marshal(e)
			require.NoError(t, err)
			require.NoError(t, m.Set(ctx, key, b, 0))
		},
		plant: func(t *testing.T, key string, e *cached.Response) {
			b, err := codec.Response().Marshal(e)
			require.NoError(t, err)
			require.NoError(t, m.Set(ctx, key, b, 0))
		},
	}
}

// keyOf is the key the cache stores a plain GET of url under.
func keyOf(t *testing.T, url string) string {
	t.Helper()
	k, err := keyer.New(nil)
	require.NoError(t, err)
	id, err := k.KeyOf(http.MethodGet, url)
	require.NoError(t, err)
	return id.Key
}

func newSigner(t *testing.T, secrets ...string) *sign.Signer {
	t.Helper()
	var b [][]byte
	for _, s := range secrets {
		b = append(b, bytes.Repeat([]byte(s), sign.MinSecretLen))
	}
	s, err := sign.New(b...)
	require.NoError(t, err)
	return s
}

func newSealer(t *testing.T, keys ...string) *seal.Sealer {
	t.Helper()
	var b [][]byte
	for _, k := range keys {
		b = append(b, bytes.Repeat([]byte(k), seal.KeySize))
	}
	s, err := seal.New(b...)
	require.NoError(t, err)
	return s
}

// TestProtectedStores runs the drop-in cache with a Signer, a Sealer and
// both, over a typed and a byte store, against a real origin: responses
// are hits, every stored entry is protected, and an entry changed beneath
// the cache (a flipped byte, another key's entry, an unprotected entry
// planted under the key) is a miss, counted, answered from the network and
// replaced.
func TestProtectedStores(t *testing.T) {
	t.Parallel()
	configs := []struct {
		name  string
		hides bool                                                    // the body is not in clear in the store
		opts  func(t *testing.T, o *cachestack.Options) func() uint64 // returns a rejection counter
	}{
		{"Signer", false, func(t *testing.T, o *cachestack.Options) func() uint64 {
			s := newSigner(t, "a")
			o.Signer = s
			return func() uint64 { return s.Stats().Rejected }
		}},
		{"Sealer", true, func(t *testing.T, o *cachestack.Options) func() uint64 {
			s := newSealer(t, "k")
			o.Sealer = s
			return func() uint64 { return s.Stats().Rejected }
		}},
		{"SignerAndSealer", true, func(t *testing.T, o *cachestack.Options) func() uint64 {
			signer, sealer := newSigner(t, "a"), newSealer(t, "k")
			o.Signer, o.Sealer = signer, sealer
			// The signature, outermost in the store, rejects every change.
			return func() uint64 { return signer.Stats().Rejected }
		}},
	}
	for _, cfg := range configs {
		for _, open := range []func(*testing.T) *rawStore{typedRaw, byteRaw} {
			raw := open(t)
			t.Run(cfg.name+"/"+raw.name, func(t *testing.T) {
				t.Parallel()
				srv, calls := countingOrigin(t, func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Cache-Control", "max-age=600")
					io.WriteString(w, "body of "+r.URL.Path)
				})
				o := &cachestack.Options{Store: raw.typed, Logger: quietLogger}
				rejected := cfg.opts(t, o)
				c := newCache(t, o)
				client := c.Client()
				a, b := srv.URL+"/a", srv.URL+"/b"
				ka, kb := keyOf(t, a), keyOf(t, b)

				fetch := func(url string, fromCache bool) {
					t.Helper()
					resp, body := get(t, client, url)
					require.Equal(t, "body of "+url[len(srv.URL):], body)
					require.Equal(t, fromCache, cachestack.InfoOf(resp).FromCache, url)
				}
				fetch(a, false)
				fetch(b, false)
				fetch(a, true)
				fetch(b, true)
				require.EqualValues(t, 2, calls.Load())
				for _, k := range []string{ka, kb} {
					e := raw.entry(t, k)
					require.NotNil(t, e)
					require.Equal(t, cached.KindSealed, e.Kind, "stored entries are protected envelopes")
					if cfg.hides {
						require.NotContains(t, string(e.Body), "body of /")
					} else {
						require.Contains(t, string(e.Body), "body of /", "signed, not encrypted: the test can see it")
					}
				}

				tampers := []struct {
					name string
					do   func(t *testing.T)
				}{
					{"flipped byte", func(t *testing.T) { raw.flip(t, ka) }},
					{"another key's entry", func(t *testing.T) { raw.copy(t, kb, ka) }},
					{"unprotected entry", func(t *testing.T) {
						raw.plant(t, ka, &cached.Response{
							Method: http.MethodGet, URL: a, StatusCode: 200, Proto: "HTTP/1.1",
							Header: cached.NewHeader(http.Header{"Cache-Control": {"max-age=600"}}),
							Body:   []byte("planted"), ResponseTime: time.Now(), Expires: time.Now().Add(time.Hour),
						})
					}},
					{"unprotected envelope", func(t *testing.T) {
						raw.plant(t, ka, &cached.Response{Kind: cached.KindSealed, Method: http.MethodGet, URL: a, Body: []byte("planted")})
					}},
				}
				for i, tt := range tampers {
					tt.do(t)
					before := calls.Load()
					fetch(a, false)
					assert.Equal(t, before+1, calls.Load(), "%s: answered from the network", tt.name)
					assert.EqualValues(t, i+1, c.Counters().Corrupt.Load(), "%s: counted", tt.name)
					assert.EqualValues(t, i+1, rejected(), "%s: rejected by the protector", tt.name)
					fetch(a, true) // replaced by the fresh response
				}
				assert.Zero(t, c.Counters().Mismatched.Load(), "rejected before the identity check")
			})
		}
	}
}

// TestProtectedListing runs the cache's operations over a signed and a
// sealed store: they read entries through verification and write them
// protected, so they work as over a plain store, and skip what fails.
func TestProtectedListing(t *testing.T) {
	t.Parallel()
	for _, sealed := range []bool{false, true} {
		for _, open := range []func(*testing.T) *rawStore{typedRaw, byteRaw} {
			raw := open(t)
			name := map[bool]string{false: "signed", true: "sealed"}[sealed] + "/" + raw.name
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				ctx := context.Background()
				srv, calls := countingOrigin(t, func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path == "/old" {
						http.Redirect(w, r, "/new", http.StatusMovedPermanently)
						return
					}
					w.Header().Set("Cache-Control", "max-age=600")
					io.WriteString(w, "body of "+r.URL.Path)
				})
				clock := &testClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
				o := &cachestack.Options{Store: raw.typed, Clock: clock.Now, Logger: quietLogger,
					KeepStale: 24 * time.Hour} // the store follows the clock: expired entries stay for DeleteExpired
				if sealed {
					o.Sealer = newSealer(t, "k")
				} else {
					o.Signer = newSigner(t, "a")
				}
				c := newCache(t, o)
				client := c.Client()
				get(t, client, srv.URL+"/a")
				get(t, client, srv.URL+"/old")
				require.EqualValues(t, 3, calls.Load())

				var urls []string
				for u, err := range c.URLs(ctx) {
					require.NoError(t, err)
					urls = append(urls, u)
				}
				slices.Sort(urls)
				require.Equal(t, []string{srv.URL + "/a", srv.URL + "/new"}, urls)
				var redirects []cachestack.Redirect
				for r, err := range c.Redirects(ctx) {
					require.NoError(t, err)
					redirects = append(redirects, r)
				}
				require.Equal(t, []cachestack.Redirect{{From: srv.URL + "/old", Status: 301, Location: srv.URL + "/new", To: srv.URL + "/new"}}, redirects)
				has, err := c.HasURL(ctx, "", srv.URL+"/a")
				require.NoError(t, err)
				require.True(t, has)
				resp, body := get(t, client, srv.URL+"/old")
				require.Equal(t, "body of /new", body)
				require.True(t, cachestack.InfoOf(resp).FromCache, "the protected alias is followed")
				require.EqualValues(t, 3, calls.Load())

				// ResetExpiry rewrites entries: protected again, and still hits.
				n, err := c.ResetExpiry(ctx, policy.After(time.Hour))
				require.NoError(t, err)
				require.Zero(t, n)
				require.Equal(t, cached.KindSealed, raw.entry(t, keyOf(t, srv.URL+"/a")).Kind)
				resp, _ = get(t, client, srv.URL+"/a")
				require.True(t, cachestack.InfoOf(resp).FromCache)

				// A planted entry is not listed; DeleteExpired keeps what
				// verifies and is fresh.
				raw.plant(t, "planted", &cached.Response{Method: http.MethodGet, URL: srv.URL + "/planted", StatusCode: 200})
				urls = urls[:0]
				for u, err := range c.URLs(ctx) {
					require.NoError(t, err)
					urls = append(urls, u)
				}
				require.Len(t, urls, 2, "the planted entry is not listed")
				n, err = c.DeleteExpired(ctx)
				require.NoError(t, err)
				require.Zero(t, n)

				clock.Advance(2 * time.Hour)
				n, err = c.DeleteExpired(ctx)
				require.NoError(t, err)
				require.Equal(t, 2, n, "two responses; the alias, stored for the redirect's ten minutes, left the store by the cache's clock")

				get(t, client, srv.URL+"/a")
				require.NoError(t, c.DeleteURL(ctx, "", srv.URL+"/a"))
				has, err = c.HasURL(ctx, "", srv.URL+"/a")
				require.NoError(t, err)
				require.False(t, has)
			})
		}
	}
}

// TestSignRotation rotates a signing secret over a shared store the way
// package sign's documentation says, one cache per deployment step: no
// step turns stored entries into misses until the old secret is dropped,
// and then they are counted misses, fetched again.
func TestSignRotation(t *testing.T) {
	t.Parallel()
	raw := byteRaw(t)
	srv, calls := countingOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, "body of "+r.URL.Path)
	})
	fetch := func(c *cachestack.Cache, path string) bool {
		resp, body := get(t, c.Client(), srv.URL+path)
		require.Equal(t, "body of "+path, body)
		return cachestack.InfoOf(resp).FromCache
	}
	old := newCache(t, &cachestack.Options{Store: raw.typed, Signer: newSigner(t, "a"), Logger: quietLogger})
	require.False(t, fetch(old, "/a"))

	both := newCache(t, &cachestack.Options{Store: raw.typed, Signer: newSigner(t, "a", "b"), Logger: quietLogger})
	require.True(t, fetch(both, "/a"), "step 1: the new secret is listed, the old one verifies")

	next := newCache(t, &cachestack.Options{Store: raw.typed, Signer: newSigner(t, "b", "a"), Logger: quietLogger})
	require.True(t, fetch(next, "/a"), "step 2: signing with the new secret, the old one verifies")
	require.False(t, fetch(next, "/b"))
	require.True(t, fetch(both, "/b"), "a process still at step 1 verifies the new secret")

	done := newCache(t, &cachestack.Options{Store: raw.typed, Signer: newSigner(t, "b"), Logger: quietLogger})
	require.True(t, fetch(done, "/b"))
	require.False(t, fetch(done, "/a"), "step 3: an entry signed with a dropped secret is a miss")
	require.EqualValues(t, 1, done.Counters().Corrupt.Load())
	require.True(t, fetch(done, "/a"), "and is replaced")
	require.EqualValues(t, 3, calls.Load())
}

// TestSealedNothingAtRest plants secrets through a sealed cache over a
// byte store and greps the bytes: nothing of them, nor of the URLs or the
// bodies, is in clear.
func TestSealedNothingAtRest(t *testing.T) {
	t.Parallel()
	m, err := memstore.New[string, []byte](nil)
	require.NoError(t, err)
	o := leaktest.Options(codec.Bind(m, codec.Response()))
	o.Sealer = newSealer(t, "k")
	c := newCache(t, o)
	leaktest.Plant(t, c.Client())
	var all []byte
	for k, err := range m.Keys(context.Background()) {
		require.NoError(t, err)
		v, err := m.Get(context.Background(), k)
		require.NoError(t, err)
		all = append(all, v...)
	}
	leaktest.Check(t, "sealed memstore", all)
	for _, clear := range []string{"127.0.0.1", "/vary", "/login", "/home", "body of", "Set-Cookie", "Location", "Authorization"} {
		assert.NotContains(t, string(all), clear, "in clear in a sealed store")
	}
}

// TestProtectOptionErrors: a Signer or Sealer that New did not make is an
// error naming the option.
func TestProtectOptionErrors(t *testing.T) {
	t.Parallel()
	_, err := cachestack.New(&cachestack.Options{Signer: &sign.Signer{}})
	require.ErrorContains(t, err, "cachestack: Options.Signer: ")
	_, err = cachestack.New(&cachestack.Options{Sealer: &seal.Sealer{}})
	require.ErrorContains(t, err, "cachestack: Options.Sealer: ")
}

// TestProtectedVaryAndRevalidation: the cache's bookkeeping entries (a
// URL's Vary index) are protected like responses, variants are found
// through a verified index, and a stale protected response is revalidated
// with its validator and stored protected again.
func TestProtectedVaryAndRevalidation(t *testing.T) {
	t.Parallel()
	for _, open := range []func(*testing.T) *rawStore{typedRaw, byteRaw} {
		raw := open(t)
		t.Run(raw.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			srv, calls := countingOrigin(t, func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/vary":
					w.Header().Set("Vary", "Accept")
					w.Header().Set("Cache-Control", "max-age=600")
					io.WriteString(w, "as "+r.Header.Get("Accept"))
				case "/etag":
					w.Header().Set("Etag", `"v1"`)
					w.Header().Set("Cache-Control", "max-age=0")
					if r.Header.Get("If-None-Match") == `"v1"` {
						w.WriteHeader(http.StatusNotModified)
						return
					}
					io.WriteString(w, "tagged")
				}
			})
			signer := newSigner(t, "a")
			c := newCache(t, &cachestack.Options{Store: raw.typed, Signer: signer, Logger: quietLogger})
			client := c.Client()
			for round := range 2 {
				for _, accept := range []string{"text/plain", "application/json"} {
					resp, body := get(t, client, srv.URL+"/vary", "Accept", accept)
					require.Equal(t, "as "+accept, body)
					require.Equal(t, round == 1, cachestack.InfoOf(resp).FromCache, accept)
				}
			}
			require.EqualValues(t, 2, calls.Load())

			get(t, client, srv.URL+"/etag")
			resp, body := get(t, client, srv.URL+"/etag")
			require.Equal(t, "tagged", body)
			require.Contains(t, resp.Header.Get("Cache-Status"), "fwd-status=304", "revalidated with the stored validator")
			require.EqualValues(t, 1, c.Counters().Revalidated.Load())

			var kinds []cached.Kind
			for k, err := range raw.typed.(store.Lister[string]).Keys(ctx) {
				require.NoError(t, err)
				kinds = append(kinds, raw.entry(t, k).Kind)
			}
			require.Len(t, kinds, 3, "an index holding one variant inline, the other variant (displaced) and a response")
			for _, k := range kinds {
				require.Equal(t, cached.KindSealed, k)
			}
			require.Zero(t, c.Counters().Corrupt.Load())
			require.Zero(t, signer.Stats().Rejected)
		})
	}
}

// A cache over a store others can read and write: Sealer encrypts every
// entry and Signer signs it, each bound to its key. Listing still works;
// the store holds nothing in clear.
func Example_sealedAndSigned() {
	origin := newOrigin("max-age=60")
	defer origin.Close()

	// In real use, 32 random bytes each, from a secret manager.
	sealer, err := seal.New(bytes.Repeat([]byte("k"), seal.KeySize))
	if err != nil {
		log.Fatal(err)
	}
	signer, err := sign.New(bytes.Repeat([]byte("s"), sign.MinSecretLen))
	if err != nil {
		log.Fatal(err)
	}
	shared, _ := memstore.New[string, []byte](nil) // stands for Redis, a disk, a database
	cache, err := cachestack.New(&cachestack.Options{
		Store:  codec.Bind(shared, codec.Response()),
		Sealer: sealer,
		Signer: signer,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer cache.Close()

	for range 2 {
		resp := fetch(cache.Client(), origin.URL+"/report")
		fmt.Println("from cache:", cachestack.InfoOf(resp).FromCache)
	}
	ctx := context.Background()
	for url := range cache.URLs(ctx) {
		fmt.Println("listed:", url == origin.URL+"/report")
	}
	for key := range shared.Keys(ctx) {
		b, _ := shared.Get(ctx, key)
		fmt.Println("in clear:", bytes.Contains(b, []byte("hello")), bytes.Contains(b, []byte("/report")))
	}
	// Output:
	// from cache: false
	// from cache: true
	// listed: true
	// in clear: false false
}
