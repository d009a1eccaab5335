// Package browsertest loads the debug page of package inspect in a real
// headless browser (Debian's chromium, driven with chromedp) and checks
// what a person would see and do: the counts, the breaker, the entry list,
// paging and filtering. It is a module of its own so that the browser
// driver is never a dependency of the cache.
package browsertest
