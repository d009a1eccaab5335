package cachestack_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack"
	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/policy"
	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/diskstore"
	"github.com/cachestack/cachestack/store/memstore"
)

func newRequest(t *testing.T, method, url, body string) *http.Request {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	require.NoError(t, err)
	return req
}

// do sends req and reads its body to the end, which stores the response.
func do(t *testing.T, client *http.Client, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := client.Do(req)
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	return resp, string(b)
}

func collect(t *testing.T, seq func(func(string, error) bool)) []string {
	t.Helper()
	var out []string
	for k, err := range seq {
		require.NoError(t, err)
		out = append(out, k)
	}
	return out
}

func TestKeyGetContainsKeysLenDelete(t *testing.T) {
	t.Parallel()
	origin, calls := countingOrigin(t, nil)
	c := newCache(t, &cachestack.Options{ExpireAfter: policy.After(time.Hour)})
	client := c.Client()
	ctx := context.Background()

	keyA, err := c.Key(newRequest(t, "GET", origin.URL+"/a?x=1&y=2", ""))
	require.NoError(t, err)
	resp, _ := do(t, client, newRequest(t, "GET", origin.URL+"/a?y=2&x=1", ""))
	assert.False(t, cachestack.InfoOf(resp).FromCache)
	assert.Equal(t, keyA, cachestack.InfoOf(resp).Key, "a stored miss says where it went, and Key normalises as the cache does")
	resp, _ = do(t, client, newRequest(t, "GET", origin.URL+"/a?x=1&y=2", ""))
	info := cachestack.InfoOf(resp)
	assert.True(t, info.FromCache)
	assert.False(t, info.Revalidated)
	assert.Equal(t, keyA, info.Key)
	do(t, client, newRequest(t, "GET", origin.URL+"/b", ""))
	keyB, err := c.Key(newRequest(t, "GET", origin.URL+"/b", ""))
	require.NoError(t, err)

	ok, err := c.Contains(ctx, keyA)
	require.NoError(t, err)
	assert.True(t, ok)
	e, err := c.Get(ctx, keyA)
	require.NoError(t, err)
	assert.Equal(t, origin.URL+"/a?x=1&y=2", e.URL)
	assert.Equal(t, "body of /a", string(e.Body))
	assert.ElementsMatch(t, []string{keyA, keyB}, collect(t, c.Keys(ctx)))
	n, err := c.Len(ctx)
	require.NoError(t, err)
	assert.Equal(t, 2, n)

	_, err = c.Get(ctx, "no such key")
	assert.ErrorIs(t, err, store.ErrNotFound)
	ok, err = c.Contains(ctx, "no such key")
	require.NoError(t, err)
	assert.False(t, ok)

	require.NoError(t, c.Delete(ctx, keyA, "no such key"))
	ok, err = c.Contains(ctx, keyA)
	require.NoError(t, err)
	assert.False(t, ok)
	assert.Equal(t, []string{keyB}, collect(t, c.Keys(ctx)))
	before := calls.Load()
	resp, _ = do(t, client, newRequest(t, "GET", origin.URL+"/a?x=1&y=2", ""))
	assert.False(t, cachestack.InfoOf(resp).FromCache)
	assert.Equal(t, before+1, calls.Load(), "a deleted key is fetched again")
}

// TestKeyLeavesTheRequest: Key reads a copy of the body, so the request
// can still be sent, and its key is the one the cache stores under.
func TestKeyLeavesTheRequest(t *testing.T) {
	t.Parallel()
	origin, _ := countingOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		io.WriteString(w, "echo "+string(b))
	})
	c := newCache(t, &cachestack.Options{AllowedMethods: []string{"GET", "POST"}, IgnoreCacheControl: true})
	req := newRequest(t, "POST", origin.URL+"/q", `{"b":2,"a":1}`)
	req.Header.Set("Content-Type", "application/json")
	key, err := c.Key(req)
	require.NoError(t, err)
	resp, body := do(t, c.Client(), req)
	assert.Equal(t, `echo {"b":2,"a":1}`, body, "the body was sent whole")
	assert.Equal(t, key, cachestack.InfoOf(resp).Key)

	same := newRequest(t, "POST", origin.URL+"/q", `{"a":1, "b":2}`)
	same.Header.Set("Content-Type", "application/json")
	sameKey, err := c.Key(same)
	require.NoError(t, err)
	assert.Equal(t, key, sameKey, "JSON bodies are keyed canonically")

	noCopy := newRequest(t, "POST", origin.URL+"/q", "x")
	noCopy.GetBody = nil
	_, err = c.Key(noCopy)
	assert.ErrorContains(t, err, "no GetBody")
	_, err = c.Key(nil)
	assert.Error(t, err)
}

func TestVariedResponses(t *testing.T) {
	t.Parallel()
	origin, _ := countingOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Vary", "Accept-Language")
		io.WriteString(w, "hello in "+r.Header.Get("Accept-Language"))
	})
	c := newCache(t, nil)
	client := c.Client()
	ctx := context.Background()
	req := func(lang string) *http.Request {
		r := newRequest(t, "GET", origin.URL+"/greet", "")
		r.Header.Set("Accept-Language", lang)
		return r
	}
	do(t, client, req("fr"))
	do(t, client, req("de"))
	resp, _ := do(t, client, req("fr"))
	info := cachestack.InfoOf(resp)
	require.True(t, info.FromCache)

	key, err := c.Key(req("fr"))
	require.NoError(t, err)
	assert.NotEqual(t, key, info.Key, "a variant is stored under a key of its own")
	_, err = c.Get(ctx, key)
	assert.ErrorIs(t, err, cachestack.ErrVaries)
	ok, err := c.Contains(ctx, key)
	require.NoError(t, err)
	assert.True(t, ok)

	e, err := c.Get(ctx, info.Key)
	require.NoError(t, err)
	assert.Equal(t, "hello in fr", string(e.Body))
	for lang, want := range map[string]string{"fr": "hello in fr", "de": "hello in de"} {
		e, err = c.Response(ctx, req(lang))
		require.NoError(t, err)
		assert.Equal(t, want, string(e.Body))
	}
	_, err = c.Response(ctx, req("en"))
	assert.ErrorIs(t, err, store.ErrNotFound)
	assert.Len(t, collect(t, c.Keys(ctx)), 2, "the two variants, not their index")
}

func TestRedirectedKeys(t *testing.T) {
	t.Parallel()
	origin, _ := countingOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/old" {
			http.Redirect(w, r, "/new", http.StatusMovedPermanently)
			return
		}
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, "body of "+r.URL.Path)
	})
	c := newCache(t, nil)
	ctx := context.Background()
	do(t, c.Client(), newRequest(t, "GET", origin.URL+"/old", ""))
	oldKey, err := c.Key(newRequest(t, "GET", origin.URL+"/old", ""))
	require.NoError(t, err)
	newKey, err := c.Key(newRequest(t, "GET", origin.URL+"/new", ""))
	require.NoError(t, err)

	e, err := c.Get(ctx, oldKey)
	require.NoError(t, err, "the recorded redirect is followed")
	assert.Equal(t, origin.URL+"/new", e.URL)
	e, err = c.Response(ctx, newRequest(t, "GET", origin.URL+"/old", ""))
	require.NoError(t, err)
	assert.Equal(t, origin.URL+"/new", e.URL)
	assert.Equal(t, []string{newKey}, collect(t, c.Keys(ctx)), "a redirect is not a response")

	require.NoError(t, c.Delete(ctx, newKey))
	ok, err := c.Contains(ctx, oldKey)
	require.NoError(t, err)
	assert.False(t, ok, "deleting a response deletes the redirects to it")
}

func TestInfoRevalidated(t *testing.T) {
	t.Parallel()
	origin, calls := countingOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=0")
		w.Header().Set("ETag", `"v1"`)
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		io.WriteString(w, "hello")
	})
	c := newCache(t, nil)
	req := func() *http.Request { return newRequest(t, "GET", origin.URL+"/r", "") }
	key, err := c.Key(req())
	require.NoError(t, err)
	resp, _ := do(t, c.Client(), req())
	assert.Equal(t, cachestack.Info{Key: key}, cachestack.InfoOf(resp))
	resp, body := do(t, c.Client(), req())
	info := cachestack.InfoOf(resp)
	assert.Equal(t, "hello", body)
	assert.True(t, info.FromCache)
	assert.True(t, info.Revalidated)
	assert.Equal(t, key, info.Key)
	assert.EqualValues(t, 2, calls.Load())
}

func TestSetExpiry(t *testing.T) {
	t.Parallel()
	origin, _ := countingOrigin(t, nil)
	clock := &testClock{now: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	c := newCache(t, &cachestack.Options{ExpireAfter: policy.After(time.Hour), Clock: clock.Now})
	client := c.Client()
	assert.Equal(t, policy.After(time.Hour), c.Expiry())

	resp := getBody(t, client, origin.URL+"/before")
	assert.Equal(t, clock.Now().Add(time.Hour), cachestack.InfoOf(getBody(t, client, origin.URL+"/before")).Expires)
	_ = resp

	require.NoError(t, c.SetExpiry(policy.After(time.Minute)))
	assert.Equal(t, policy.After(time.Minute), c.Expiry())
	getBody(t, client, origin.URL+"/after")
	assert.Equal(t, clock.Now().Add(time.Minute), cachestack.InfoOf(getBody(t, client, origin.URL+"/after")).Expires,
		"responses stored after the change get the new expiry")
	assert.Equal(t, clock.Now().Add(time.Hour), cachestack.InfoOf(getBody(t, client, origin.URL+"/before")).Expires,
		"responses stored before keep theirs")

	err := c.SetExpiry(policy.After(-time.Second))
	assert.ErrorIs(t, err, policy.ErrInvalidExpiry)
	assert.ErrorContains(t, err, "cachestack: SetExpiry")
	assert.Equal(t, policy.After(time.Minute), c.Expiry(), "an invalid expiry changes nothing")

	// Changing it while requests run is safe (run with -race).
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 5 {
				if i%2 == 0 {
					assert.NoError(t, c.SetExpiry(policy.After(time.Duration(j+1)*time.Minute)))
				} else {
					getBody(t, client, origin.URL+"/busy")
				}
			}
		})
	}
	wg.Wait()
}

func TestKeyFunc(t *testing.T) {
	t.Parallel()
	origin, calls := countingOrigin(t, nil)
	errNoTenant := errors.New("no tenant")
	c := newCache(t, &cachestack.Options{
		IgnoreCacheControl: true,
		KeyFunc: func(req *http.Request) (string, error) {
			tenant := req.Header.Get("X-Tenant")
			if tenant == "" {
				return "", errNoTenant
			}
			return tenant, nil // X-Request-Id and every other field are not keyed
		},
	})
	client := c.Client()
	send := func(tenant, id, auth string) bool {
		r := newRequest(t, "GET", origin.URL+"/k", "")
		if tenant != "" {
			r.Header.Set("X-Tenant", tenant)
		}
		r.Header.Set("X-Request-Id", id)
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		resp, body := do(t, client, r)
		assert.Equal(t, "body of /k", body)
		return cachestack.InfoOf(resp).FromCache
	}
	assert.False(t, send("acme", "1", ""))
	assert.True(t, send("acme", "2", ""), "the same tenant, another request id: a hit")
	assert.False(t, send("other", "3", ""), "another tenant: a miss")
	assert.False(t, send("acme", "4", "Bearer alice"), "credentials stay keyed")
	assert.True(t, send("acme", "5", "Bearer alice"))
	assert.False(t, send("acme", "6", "Bearer bob"))

	before := calls.Load()
	assert.False(t, send("", "7", ""), "an error from KeyFunc sends the request uncached")
	assert.False(t, send("", "8", ""))
	assert.Equal(t, before+2, calls.Load())

	// DeleteURL and HasURL key through KeyFunc as well: a request
	// without header fields has no tenant.
	_, err := c.HasURL(context.Background(), "GET", origin.URL+"/k")
	assert.ErrorIs(t, err, errNoTenant)
}

// TestClockReachesTheStore: a disk store opened with its defaults expires
// entries by the cache's Clock, not by the wall clock.
func TestClockReachesTheStore(t *testing.T) {
	t.Parallel()
	origin, calls := countingOrigin(t, nil)
	clock := &testClock{now: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	s, err := diskstore.OpenResponses(t.TempDir(), nil)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	c := newCache(t, &cachestack.Options{Store: s, ExpireAfter: policy.After(time.Hour), IgnoreCacheControl: true, Clock: clock.Now})
	client := c.Client()
	ctx := context.Background()
	getBody(t, client, origin.URL+"/d")
	require.NoError(t, c.Flush(ctx))
	key, err := c.Key(newRequest(t, "GET", origin.URL+"/d", ""))
	require.NoError(t, err)
	_, err = s.Get(ctx, key)
	require.NoError(t, err, "stored")

	clock.Advance(59 * time.Minute)
	_, err = s.Get(ctx, key)
	require.NoError(t, err, "still fresh by the cache's clock")
	assert.True(t, cachestack.InfoOf(getBody(t, client, origin.URL+"/d")).FromCache)
	clock.Advance(2 * time.Minute)
	_, err = s.Get(ctx, key)
	assert.ErrorIs(t, err, store.ErrNotFound, "the store expired it by the cache's clock")
	assert.EqualValues(t, 1, calls.Load())

	// A store built with a clock of its own keeps it.
	own := &testClock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	s2, err := diskstore.OpenResponses(t.TempDir(), &diskstore.Options{Clock: own.Now})
	require.NoError(t, err)
	t.Cleanup(func() { s2.Close() })
	assert.False(t, s2.UseClock(clock.Now))
	assert.True(t, s.UseClock(clock.Now))
}

// TestVariantCopyInIndex: the variant a Vary index holds inline (see
// cached.Response.Variant) is one response to Len, Keys and Entries,
// however many copies, Response finds it, and Delete, DeleteExpired and
// ResetExpiry treat it as the variant it is: it never answers after it
// was removed or given a shorter life.
func TestVariantCopyInIndex(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	origin, calls := countingOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		lang := r.Header.Get("Accept-Language")
		w.Header().Set("Vary", "Accept-Language")
		w.Header().Set("Cache-Control", "max-age=600")
		if lang == "de" {
			w.Header().Set("Cache-Control", "max-age=1")
		}
		io.WriteString(w, "hello in "+lang)
	})
	ms, err := memstore.New[string, *cached.Response](&memstore.Options[*cached.Response]{Clock: clock})
	require.NoError(t, err)
	t.Cleanup(func() { ms.Close() })
	c := newCache(t, &cachestack.Options{Store: ms, Clock: clock, KeepStale: time.Hour})
	client := c.Client()
	ctx := context.Background()
	req := func(lang string) *http.Request {
		r := newRequest(t, "GET", origin.URL+"/greet", "")
		r.Header.Set("Accept-Language", lang)
		return r
	}
	index := func() *cached.Response {
		key, err := c.Key(req("fr"))
		require.NoError(t, err)
		idx, err := ms.Get(ctx, key)
		require.NoError(t, err)
		require.Equal(t, cached.KindVariants, idx.Kind)
		return idx
	}
	do(t, client, req("de"))
	resp, _ := do(t, client, req("fr"))
	frKey := cachestack.InfoOf(resp).Key
	require.NotNil(t, index().Variant, "the index holds fr")

	n, err := c.Len(ctx)
	require.NoError(t, err)
	assert.Equal(t, 2, n, "two responses, however many copies")
	assert.Len(t, collect(t, c.Keys(ctx)), 2)
	assert.Len(t, collect(t, c.URLs(ctx)), 2)
	e, err := c.Response(ctx, req("fr"))
	require.NoError(t, err)
	assert.Equal(t, "hello in fr", string(e.Body))

	// Deleting a variant drops its copy, even when the variant itself
	// has already left the store (as the copy makes likely: hits read
	// the index, never the variant, which the store evicts first).
	require.NoError(t, ms.Delete(ctx, frKey))
	require.NoError(t, c.Delete(ctx, frKey))
	assert.Nil(t, index().Variant)
	before := calls.Load()
	do(t, client, req("fr"))
	assert.Equal(t, before+1, calls.Load(), "fr was deleted")
	require.NotNil(t, index().Variant)

	// de expires, fr does not: the index stays, without its copy of de.
	resp, _ = do(t, client, req("de"))
	require.NoError(t, c.Delete(ctx, cachestack.InfoOf(resp).Key))
	do(t, client, req("de")) // stored again: the index holds de
	de, err := c.Response(ctx, req("de"))
	require.NoError(t, err)
	require.Same(t, index().Variant, de, "the index holds de")
	advance(2 * time.Second)
	removed, err := c.DeleteExpired(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, removed, "the expired variant")
	assert.Nil(t, index().Variant)

	// ResetExpiry shortens fr's life to what has passed: the copy goes
	// with it, so fr is fetched again.
	resp, _ = do(t, client, req("fr"))
	require.NoError(t, c.Delete(ctx, cachestack.InfoOf(resp).Key))
	do(t, client, req("fr")) // stored again: the index holds fr
	require.NotNil(t, index().Variant)
	advance(2 * time.Second)
	_, err = c.ResetExpiry(ctx, policy.After(time.Second))
	require.NoError(t, err)
	before = calls.Load()
	_, body := do(t, client, req("fr"))
	assert.Equal(t, "hello in fr", body)
	assert.Equal(t, before+1, calls.Load(), "fr expired by ResetExpiry")
}

// TestInlineVariantListed: a variant written only inline in its Vary index
// (the cache writes a varying response once) is listed under its variant
// key, once, whether or not a copy is also under that key; Get and
// Contains find it by that key; deleting the URL removes everything.
func TestInlineVariantListed(t *testing.T) {
	t.Parallel()
	origin, _ := countingOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Vary", "Accept-Language")
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, "hello in "+r.Header.Get("Accept-Language"))
	})
	ms, err := memstore.New[string, *cached.Response](nil)
	require.NoError(t, err)
	t.Cleanup(func() { ms.Close() })
	c := newCache(t, &cachestack.Options{Store: ms})
	client := c.Client()
	ctx := context.Background()
	req := func(lang string) *http.Request {
		r := newRequest(t, "GET", origin.URL+"/greet", "")
		r.Header.Set("Accept-Language", lang)
		return r
	}
	sorted := func(keys ...string) []string { slices.Sort(keys); return keys }
	listed := func() []string {
		keys := collect(t, c.Keys(ctx))
		n, err := c.Len(ctx)
		require.NoError(t, err)
		assert.Equal(t, len(keys), n)
		entries := 0
		for _, err := range c.Entries(ctx) {
			require.NoError(t, err)
			entries++
		}
		assert.Equal(t, n, entries)
		return sorted(keys...)
	}
	resp, _ := do(t, client, req("fr"))
	frKey := cachestack.InfoOf(resp).Key
	stored := collect(t, ms.Keys(ctx))
	require.Len(t, stored, 1, "the index alone, holding fr")
	assert.Equal(t, []string{frKey}, listed())
	e, err := c.Get(ctx, frKey)
	require.NoError(t, err)
	assert.Equal(t, "hello in fr", string(e.Body))
	ok, err := c.Contains(ctx, frKey)
	require.NoError(t, err)
	assert.True(t, ok)

	resp, _ = do(t, client, req("de"))
	deKey := cachestack.InfoOf(resp).Key
	assert.Len(t, collect(t, ms.Keys(ctx)), 2, "the index holding de, and fr under its own key")
	assert.Equal(t, sorted(frKey, deKey), listed())
	// A copy of de under its own key too: still listed once.
	key, err := c.Key(req("de"))
	require.NoError(t, err)
	idx, err := ms.Get(ctx, key)
	require.NoError(t, err)
	require.Equal(t, deKey, idx.Variant.Ref)
	require.NoError(t, ms.Set(ctx, deKey, idx.Variant, 0))
	assert.Equal(t, sorted(frKey, deKey), listed())

	require.NoError(t, c.Delete(ctx, deKey))
	assert.Equal(t, []string{frKey}, listed())
	_, err = c.Get(ctx, deKey)
	assert.ErrorIs(t, err, store.ErrNotFound)
	resp, _ = do(t, client, req("de"))
	require.Equal(t, deKey, cachestack.InfoOf(resp).Key)
	require.NoError(t, c.Delete(ctx, key, frKey))
	assert.Empty(t, listed(), "the URL's index, with what it holds, and the other variant")
	assert.Empty(t, collect(t, ms.Keys(ctx)))
}
