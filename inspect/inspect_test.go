package inspect_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack"
	"github.com/cachestack/cachestack/inspect"
	"github.com/cachestack/cachestack/middleware"
)

// filled returns a cache that has stored n responses under /item/<i>,
// each fetched with a secret token the cache ignores, and the debug
// handler's server.
func filled(t *testing.T, n int) (*cachestack.Cache, *httptest.Server) {
	t.Helper()
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		io.WriteString(w, "body of "+r.URL.Path)
	}))
	t.Cleanup(origin.Close)
	c, err := cachestack.New(&cachestack.Options{IgnoredParams: []string{"token"}, Transport: &http.Transport{}})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	for i := range n {
		for range 2 {
			resp, err := c.Client().Get(origin.URL + "/item/" + strconv.Itoa(i) + "?token=SECRET-42&v=1")
			require.NoError(t, err)
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	srv := httptest.NewServer(http.StripPrefix("/debug/cache", inspect.Handler(c, &inspect.Options{PageSize: 10})))
	t.Cleanup(srv.Close)
	return c, srv
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	require.NoError(t, json.NewDecoder(resp.Body).Decode(v))
}

func TestStatsJSON(t *testing.T) {
	t.Parallel()
	_, srv := filled(t, 3)
	var s middleware.Stats
	getJSON(t, srv.URL+"/debug/cache/stats.json", &s)
	assert.EqualValues(t, 3, s.Counts["hits"])
	assert.EqualValues(t, 3, s.Counts["misses"])
	assert.EqualValues(t, 3, s.Counts["stored"])
	assert.Equal(t, "closed", s.Breaker.State)
	assert.True(t, s.Inline, "the default store is in memory")
	assert.EqualValues(t, 6, s.StoreLatency["get"].Count)
}

func TestEntriesJSONPagesFiltersAndRedacts(t *testing.T) {
	t.Parallel()
	_, srv := filled(t, 25)
	var p inspect.Page
	getJSON(t, srv.URL+"/debug/cache/entries.json", &p)
	assert.Len(t, p.Entries, 10)
	assert.Equal(t, 10, p.Next)

	seen := map[string]bool{}
	for offset := 0; offset >= 0; offset = p.Next {
		p = inspect.Page{}
		getJSON(t, srv.URL+"/debug/cache/entries.json?offset="+strconv.Itoa(offset), &p)
		for _, e := range p.Entries {
			assert.NotContains(t, e.URL, "SECRET", "ignored parameters never reach the page")
			assert.NotContains(t, e.URL, "token")
			assert.Contains(t, e.URL, "v=1")
			assert.Equal(t, http.StatusOK, e.Status)
			u, err := url.Parse(e.URL)
			require.NoError(t, err)
			assert.Equal(t, len("body of "+u.Path), e.Size)
			assert.False(t, e.Stale)
			assert.Positive(t, e.TTL)
			seen[e.URL] = true
		}
	}
	assert.Len(t, seen, 25, "the pages list every entry once")

	p = inspect.Page{}
	getJSON(t, srv.URL+"/debug/cache/entries.json?q=/ITEM/1", &p)
	assert.Len(t, p.Entries, 10, "/item/1 and /item/10 to /item/19: a page and one more")
	assert.Equal(t, 10, p.Next)
	p = inspect.Page{}
	getJSON(t, srv.URL+"/debug/cache/entries.json?q=/ITEM/1&offset=10", &p)
	assert.Len(t, p.Entries, 1)
	assert.Equal(t, -1, p.Next)
	p = inspect.Page{}
	getJSON(t, srv.URL+"/debug/cache/entries.json?status=404", &p)
	assert.Empty(t, p.Entries)
	assert.Equal(t, -1, p.Next)
}

func TestReadOnlyAndBadQueries(t *testing.T) {
	t.Parallel()
	_, srv := filled(t, 1)
	for _, m := range []string{http.MethodPost, http.MethodDelete, http.MethodPut} {
		req, err := http.NewRequest(m, srv.URL+"/debug/cache/", nil)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode, m)
	}
	for _, q := range []string{"offset=-1", "limit=x", "status=ok"} {
		resp, err := http.Get(srv.URL + "/debug/cache/entries.json?" + q)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, q)
	}
}

func TestHTMLPageEscapesAndLinks(t *testing.T) {
	t.Parallel()
	_, srv := filled(t, 12)
	resp, err := http.Get(srv.URL + "/debug/cache/?q=%3Cscript%3E")
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	assert.NotContains(t, string(b), "<script>", "the filter is escaped")
	assert.Contains(t, string(b), "no entries match")
}
