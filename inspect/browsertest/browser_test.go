package browsertest

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack"
	"github.com/cachestack/cachestack/inspect"
)

// browser returns the path of a Chromium to drive, or skips (fails with
// CACHESTACK_REQUIRE_SERVICES=1) when there is none.
func browser(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no chromium installed (apt-get install chromium; scripts/services.sh does on CI)"
	if os.Getenv("CACHESTACK_REQUIRE_SERVICES") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

func TestDebugPageInABrowser(t *testing.T) {
	exe := browser(t)

	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		io.WriteString(w, "body of "+r.URL.Path)
	}))
	defer origin.Close()
	c, err := cachestack.New(&cachestack.Options{IgnoredParams: []string{"token"}, Transport: &http.Transport{}})
	require.NoError(t, err)
	defer c.Close()
	for i := range 12 {
		for range 2 {
			resp, err := c.Client().Get(origin.URL + "/item/" + strconv.Itoa(i) + "?token=SECRET-42")
			require.NoError(t, err)
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	mux := http.NewServeMux()
	mux.Handle("/debug/cache/", http.StripPrefix("/debug/cache", inspect.Handler(c, &inspect.Options{PageSize: 10})))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.Headless,
		chromedp.Flag("disable-dev-shm-usage", true)) // CI runs as root, in a container
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, stop := context.WithTimeout(ctx, 60*time.Second)
	defer stop()

	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		require.NoError(t, err, sel)
		return strings.TrimSpace(v)
	}
	rows := func() int {
		t.Helper()
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("tr.entry").length`))
		require.NoError(t, err)
		return n
	}

	// waitFor waits for a page that a click or a form loads: the
	// expression is evaluated until it is true, again when the page it
	// ran in went away under it.
	waitFor := func(js string) {
		t.Helper()
		for {
			_, err := chromedp.Run(ctx, chromedp.Poll[bool](js))
			if err == nil {
				return
			}
			require.NoError(t, ctx.Err(), "waiting for %s: %v", js, err)
		}
	}

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/debug/cache/"),
		chromedp.WaitVisible(chromedp.CSS("#entries"))))
	assert.Equal(t, "12", text("#count-hits"))
	assert.Equal(t, "12", text("#count-misses"))
	assert.Equal(t, "closed", text("#breaker"))
	assert.Equal(t, 10, rows(), "a page of ten")
	assert.Contains(t, text("tr.entry td.url"), origin.URL+"/item/")
	assert.NotContains(t, text("body"), "SECRET", "ignored parameters never reach the page")

	// The next page holds the last two entries.
	// (A click that loads a page is waited for in the page's script:
	// the DOM queries' document is the one before the click.)
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#next"))))
	waitFor(`document.readyState === "complete" && document.querySelector("#prev") !== null`)
	assert.Equal(t, 2, rows())

	// Filtering with the form: /item/1, /item/10 and /item/11.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS(`input[name="q"]`), "/item/1"),
		chromedp.Submit(chromedp.CSS("#filter"))))
	waitFor(`location.search.includes("q=") && document.readyState === "complete" && document.querySelector("#entries") !== null`)
	assert.Equal(t, 3, rows())
	assert.Empty(t, func() string { // no further page
		n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#next").length`))
		return strings.Repeat("x", n)
	}())

	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/debug/cache/stats.json")))
	stats := text("body")
	assert.Contains(t, stats, `"hits": 12`)
	assert.Contains(t, stats, `"state": "closed"`)
}
