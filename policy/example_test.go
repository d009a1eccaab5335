package policy_test

import (
	"fmt"
	"net/http"
	"time"

	"github.com/cachestack/cachestack/policy"
)

func ExampleParseExpiry() {
	// aiohttp-client-cache's expire_after forms, as they might come from a config file.
	for _, v := range []any{-1, 0, 360, 30 * 24 * time.Hour, "90s", "never", "2026-01-02T15:04:05Z", 1.5} {
		e, err := policy.ParseExpiry(v)
		if err != nil {
			fmt.Println("error:", err)
			continue
		}
		fmt.Println(e)
	}
	// Output:
	// never
	// do-not-store
	// after 6m0s
	// after 720h0m0s
	// after 1m30s
	// never
	// at 2026-01-02T15:04:05Z
	// error: policy: invalid expiry 1.5 (float64): unsupported type
}

func ExampleExpiry_ExpiresAt() {
	now := time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC)
	for _, e := range []policy.Expiry{
		policy.Never(),
		policy.DoNotStore(),
		policy.After(90 * time.Second),
		policy.At(now.Add(time.Hour)),
		policy.At(now.Add(-time.Hour)),
	} {
		t, store := e.ExpiresAt(now)
		fmt.Printf("%-27s store=%-5v expires=%v\n", e, store, t.Format(time.Kitchen))
	}
	// Output:
	// never                       store=true  expires=12:00AM
	// do-not-store                store=false expires=12:00AM
	// after 1m30s                 store=true  expires=3:01PM
	// at 2026-01-02T16:00:00Z     store=true  expires=4:00PM
	// at 2026-01-02T14:00:00Z     store=false expires=12:00AM
}

func ExampleDecisions() {
	// Middlewares offer expiries in any order; aiohttp-client-cache's precedence decides.
	var d policy.Decisions
	d.Offer(policy.SourceResponseCacheControl, policy.After(10*time.Second))
	d.Offer(policy.SourceSession, policy.After(time.Hour))
	d.Offer(policy.SourceURL, policy.Never())
	e, src := d.Decide()
	fmt.Println(e, "from", src)
	// Output: after 10s from response-cache-control
}

func ExampleCompilePatterns() {
	// aiohttp-client-cache's urls_expire_after example.
	p, err := policy.CompilePatterns([]policy.URLExpiry{
		{Pattern: "*.site_1.com", Expiry: policy.After(30 * time.Second)},
		{Pattern: "site_2.com/resource_1", Expiry: policy.After(2 * time.Minute)},
		{Pattern: "site_2.com/resource_2", Expiry: policy.After(24 * time.Hour)},
		{Pattern: "site_2.com/static", Expiry: policy.Never()},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, url := range []string{
		"https://api.site_1.com/items",
		"http://site_2.com/resource_1?page=2",
		"https://site_2.com/static/logo.png",
		"https://site_3.com/",
	} {
		if e, ok := p.Match(url); ok {
			fmt.Println(url, "->", e)
		} else {
			fmt.Println(url, "-> no match: session expiry applies")
		}
	}

	_, err = policy.CompilePatterns([]policy.URLExpiry{
		{Pattern: "site.com/a", Expiry: policy.Never()},
		{Pattern: "site.com/b", Expiry: policy.Never()},
		{Pattern: "site.com/[a", Expiry: policy.Never()},
	})
	fmt.Println(err)
	// Output:
	// https://api.site_1.com/items -> after 30s
	// http://site_2.com/resource_1?page=2 -> after 2m0s
	// https://site_2.com/static/logo.png -> never
	// https://site_3.com/ -> no match: session expiry applies
	// policy: URL pattern 2 "site.com/[a": missing ]
}

func ExampleGlob() {
	g, err := policy.CompileGlob("http*://Site.com/v[0-9]/*.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(g.Match("https://site.com/v2/a/b.json?x=1"))
	fmt.Println(g.Match("ftp://site.com/v2/a.json"))
	fmt.Println(g.Match("https://site.com/V2/a.json"))
	// Output:
	// true
	// false
	// false
}

// ExampleSatisfiableRanges resolves a Range field against a representation
// of 10 bytes: overlapping ranges are coalesced and sorted, and a range
// past the end is left out.
func ExampleSatisfiableRanges() {
	specs, ok := policy.ParseRange("bytes=6-7, 0-2, 1-3, 20-30")
	fmt.Println(ok)
	for _, r := range policy.SatisfiableRanges(specs, 10) {
		fmt.Println(r.First, r.Last)
	}
	// Output:
	// true
	// 0 3
	// 6 7
}

// ExampleNoneMatch evaluates a caller's If-None-Match against a stored
// ETag with the weak comparison: a 304 answers it.
func ExampleNoneMatch() {
	notModified, ok := policy.NoneMatch([]string{`"v0", W/"v1"`}, `"v1"`)
	fmt.Println(notModified, ok)
	// Output: true true
}

func ExampleAppendVaryKey() {
	fields, _ := policy.ParseVaryLines("Accept-Encoding, Accept-Language")
	var buf [64]byte // on the stack: nothing is allocated for short values
	key := policy.AppendVaryKey(buf[:0], fields, http.Header{"Accept-Encoding": {"br, GZIP"}})
	fmt.Println(string(key))
	// Output: 15:Accept-Encoding7:br,gzip15:Accept-Language-
}
