package pgstore_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack"
	"github.com/cachestack/cachestack/store/pgstore"
)

// TestDefaultStack: the default cache over the one-line typed form serves a
// hit end to end, and a new cache over the same table, as after a restart
// or in another process, serves it too.
func TestDefaultStack(t *testing.T) {
	pool := newPool(t)
	schema := newSchema(t, pool)
	var originHits atomic.Int64
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		originHits.Add(1)
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Cache-Control", "max-age=3600")
		_, _ = io.WriteString(w, "hello from "+r.URL.Path)
	}))
	defer origin.Close()
	transport := &http.Transport{}
	defer transport.CloseIdleConnections()

	get := func(c *cachestack.Cache) (string, bool) {
		t.Helper()
		resp, err := c.Client().Get(origin.URL + "/page")
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, "text/plain", resp.Header.Get("Content-Type"))
		return string(b), cachestack.InfoOf(resp).FromCache
	}
	for run := range 2 {
		responses, err := pgstore.OpenResponses(pgDSN(), &pgstore.Options{Schema: schema, Table: "http"})
		require.NoError(t, err)
		c, err := cachestack.New(&cachestack.Options{Store: responses, Transport: transport})
		require.NoError(t, err)
		body, hit := get(c)
		assert.Equal(t, "hello from /page", body)
		assert.Equal(t, run == 1, hit, "run %d, first GET", run)
		body, hit = get(c)
		assert.Equal(t, "hello from /page", body)
		assert.True(t, hit, "run %d, second GET", run)
		require.NoError(t, c.Close())
		require.NoError(t, responses.Close())
	}
	assert.Equal(t, int64(1), originHits.Load(), "one request reached the origin")
}
