package main_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack"
	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/codec"
	"github.com/cachestack/cachestack/internal/leaktest"
	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/diskstore"
	"github.com/cachestack/cachestack/store/pgstore"
	"github.com/cachestack/cachestack/store/redisstore"
	"github.com/cachestack/cachestack/store/sqlitestore"
)

// binDir holds the cachestack binary the tests run, built on first use
// (so that a run that selects no test of this package builds nothing).
var binDir string

var buildBin = sync.OnceValues(func() (string, error) {
	bin := filepath.Join(binDir, "cachestack")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building cachestack: %v\n%s", err, out)
	}
	return bin, nil
})

func TestMain(m *testing.M) {
	var err error
	if binDir, err = os.MkdirTemp("", "cachestack-test-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(binDir)
	os.Exit(code)
}

// result is what one run of the binary gave.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// outputs collects every output of the binary, to check for secrets.
type outputs struct {
	mu  sync.Mutex
	all bytes.Buffer
}

func (o *outputs) add(r result) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.all.WriteString(r.stdout)
	o.all.WriteString(r.stderr)
}

// cli runs the binary with args, stdin from in (not a terminal), and
// returns what it did.
func cli(t *testing.T, in string, args ...string) result {
	t.Helper()
	bin, err := buildBin()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdin = strings.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running cachestack %v: %v", args, err)
	}
	return r
}

// must runs the binary and fails t unless it exits 0.
func must(t *testing.T, o *outputs, args ...string) result {
	t.Helper()
	r := cli(t, "", args...)
	o.add(r)
	require.Equal(t, 0, r.code, "cachestack %v:\n%v", args, r)
	return r
}

// entry is an object of ls --json.
type entry struct {
	Key     string     `json:"key"`
	Method  string     `json:"method"`
	URL     string     `json:"url"`
	Status  int        `json:"status"`
	Size    int        `json:"size"`
	Created time.Time  `json:"created"`
	Expires *time.Time `json:"expires"`
	Stale   bool       `json:"stale"`
	Vary    []string   `json:"vary"`
}

type shown struct {
	entry
	Proto  string              `json:"proto"`
	Header map[string][]string `json:"header"`
	Body   *string             `json:"body_base64"`
}

type stats struct {
	Backend    string `json:"backend"`
	Responses  int    `json:"responses"`
	Fresh      int    `json:"fresh"`
	Stale      int    `json:"stale"`
	BodyBytes  int64  `json:"body_bytes"`
	StoreBytes *int64 `json:"store_bytes"`
	Redirects  int    `json:"redirects"`
	Variants   int    `json:"variant_indexes"`
}

func lsJSON(t *testing.T, o *outputs, args ...string) []entry {
	t.Helper()
	r := must(t, o, append([]string{"ls", "--json"}, args...)...)
	var es []entry
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &es), r.stdout)
	return es
}

// under returns the entries whose URL starts with prefix.
func under(es []entry, prefix string) map[string][]entry {
	m := map[string][]entry{}
	for _, e := range es {
		if strings.HasPrefix(e.URL, prefix) {
			m[strings.TrimPrefix(e.URL, prefix)] = append(m[strings.TrimPrefix(e.URL, prefix)], e)
		}
	}
	return m
}

// cookieSecret is a Set-Cookie value a cache that shares credentials
// stores, and that cachestack must never print.
const cookieSecret = "SECRET-stored-set-cookie-a83f"

var binBody = func() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}()

// newOrigin is the server the fixtures' responses come from.
func newOrigin(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		switch r.URL.Path {
		case "/a":
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "alpha body")
		case "/bin":
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Write(binBody)
		case "/missing":
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, "nothing here")
		case "/old":
			io.WriteString(w, "old body")
		case "/vary":
			w.Header().Set("Vary", "Accept")
			io.WriteString(w, "as "+r.Header.Get("Accept"))
		case "/cookie":
			http.SetCookie(w, &http.Cookie{Name: "session", Value: cookieSecret})
			io.WriteString(w, "cookie body")
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, c *cachestack.Cache, url string, h http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	if h != nil {
		req.Header = h
	}
	resp, err := c.RoundTrip(req)
	require.NoError(t, err)
	_, err = io.Copy(io.Discard, resp.Body)
	require.NoError(t, err)
	resp.Body.Close()
}

// fill stores, through the library, the origin's responses (one of them
// stale, one varying on Accept, one with a Set-Cookie stored by a cache that
// shares credentials) and leaktest's planted secrets. It returns the cache
// that stays open while the binary runs.
func fill(t *testing.T, s store.Store[string, *cached.Response], origin string) *cachestack.Cache {
	ctx := t.Context()
	// Deadlines long enough for a loaded machine: a store call past its
	// deadline is a miss or a dropped write, and an entry would be missing.
	opts := func(o cachestack.Options) *cachestack.Options {
		o.Store, o.GetTimeout, o.SetTimeout, o.DeleteTimeout = s, 10*time.Second, 10*time.Second, 10*time.Second
		return &o
	}
	c, err := cachestack.New(opts(cachestack.Options{}))
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	for _, p := range []string{"/a", "/bin", "/missing"} {
		get(t, c, origin+p, nil)
	}
	get(t, c, origin+"/vary", http.Header{"Accept": {"text/plain"}})
	get(t, c, origin+"/vary", http.Header{"Accept": {"application/json"}})
	require.NoError(t, c.Flush(ctx))

	// A response stored two hours ago with an hour of freshness: stale now,
	// and still stored (its storage lifetime counts from when it was
	// stored, by the cache's clock).
	past := func() time.Time { return time.Now().Add(-2 * time.Hour) }
	old, err := cachestack.New(opts(cachestack.Options{Clock: past}))
	require.NoError(t, err)
	get(t, old, origin+"/old", nil)
	require.NoError(t, old.Flush(ctx))
	old.Close()

	shared, err := cachestack.New(opts(cachestack.Options{ShareCredentials: true}))
	require.NoError(t, err)
	get(t, shared, origin+"/cookie", nil)
	require.NoError(t, shared.Flush(ctx))
	shared.Close()

	lo := leaktest.Options(s)
	lo.SetTimeout, lo.DeleteTimeout = 10*time.Second, 10*time.Second
	leak, err := cachestack.New(lo)
	require.NoError(t, err)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	defer tr.CloseIdleConnections()
	leaktest.Plant(t, &http.Client{Transport: leak.Middleware()(tr)})
	require.NoError(t, leak.Flush(ctx))
	leak.Close()
	return c
}

// backend is a cache of one kind for the binary to open.
type backend struct {
	store store.Store[string, *cached.Response]
	args  []string // the cache and the flags that locate it
}

// busyWriter writes entries through s, in this process, until stop is
// called, which returns how many writes it made and the first error. It
// overwrites the same 50 keys: once full closes, the set of entries it
// keeps is the same from one listing to the next.
func busyWriter(s store.Store[string, *cached.Response]) (full <-chan struct{}, stop func() (int, error)) {
	ctx, cancel := context.WithCancel(context.Background())
	var n atomic.Int64
	var first error
	done, filled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ctx.Err() == nil; i++ {
			if i == 50 {
				close(filled)
			}
			e := &cached.Response{Method: "GET", URL: fmt.Sprintf("http://busy.invalid/%d", i%50), StatusCode: 200,
				Proto: "HTTP/1.1", Body: []byte("busy"), Created: time.Now(), Expires: time.Now().Add(time.Hour)}
			err := s.Set(ctx, fmt.Sprintf("busy-%d", i%50), e, time.Hour)
			if err != nil && ctx.Err() == nil {
				first = err
				return
			}
			n.Add(1)
			time.Sleep(time.Millisecond) // pacing: the writer shares two cores with the binary
		}
	}()
	return filled, func() (int, error) {
		cancel()
		<-done
		return int(n.Load()), first
	}
}

// exercise runs every subcommand against a cache filled through the
// library, while this process keeps the cache open and writes to it.
func exercise(t *testing.T, b backend) {
	var out outputs
	origin := newOrigin(t)
	c := fill(t, b.store, origin.URL)
	// args puts the cache after the command: args("rm", x) is rm CACHE x;
	// args() is the cache alone, for lsJSON.
	args := func(a ...string) []string {
		if len(a) == 0 {
			return b.args
		}
		cmd := append([]string{a[0]}, b.args...)
		return append(cmd, a[1:]...)
	}
	ls := func(extra ...string) []entry {
		t.Helper()
		return lsJSON(t, &out, append(append([]string{}, b.args...), extra...)...)
	}
	full, stop := busyWriter(b.store)
	stopped := false
	defer func() {
		if !stopped {
			stop()
		}
	}()

	// ls, as text and JSON, while the cache is written to.
	text := must(t, &out, args("ls")...)
	assert.Contains(t, text.stdout, origin.URL+"/a")
	assert.True(t, strings.HasPrefix(text.stdout, "METHOD"), text.stdout)
	all := ls()
	mine := under(all, origin.URL)
	for _, p := range []string{"/a", "/bin", "/missing", "/old", "/cookie"} {
		require.Len(t, mine[p], 1, "ls --json has %s once: %v", p, all)
		assert.Equal(t, "GET", mine[p][0].Method)
		assert.NotEmpty(t, mine[p][0].Key)
		assert.False(t, mine[p][0].Created.IsZero())
		require.NotNil(t, mine[p][0].Expires)
	}
	require.Len(t, mine["/vary"], 2, "two variants of /vary")
	assert.Equal(t, []string{"Accept"}, mine["/vary"][0].Vary)
	assert.Equal(t, 200, mine["/a"][0].Status)
	assert.Equal(t, 404, mine["/missing"][0].Status)
	assert.Equal(t, 256, mine["/bin"][0].Size)
	assert.True(t, mine["/old"][0].Stale, "/old is stale")
	assert.False(t, mine["/a"][0].Stale, "/a is fresh")

	// Filters.
	only := func(es []entry) []string {
		var urls []string
		for _, e := range es {
			if strings.HasPrefix(e.URL, origin.URL) {
				urls = append(urls, strings.TrimPrefix(e.URL, origin.URL))
			}
		}
		return urls
	}
	assert.Equal(t, []string{"/a"}, only(ls(origin.URL+"/a")), "an exact URL")
	assert.ElementsMatch(t, []string{"/missing"}, only(ls("--status", "404")))
	assert.ElementsMatch(t, []string{"/missing"}, only(ls("--status", "4xx")))
	assert.ElementsMatch(t, []string{"/old"}, only(ls("--stale")))
	assert.Empty(t, ls("-X", "POST"))
	host := strings.TrimPrefix(origin.URL, "http://")
	assert.ElementsMatch(t, []string{"/vary", "/vary"}, only(ls(host+"/v")), "a pattern without a scheme is a prefix")
	assert.ElementsMatch(t, []string{"/a", "/bin"}, only(ls(origin.URL+"/[ab]*", "--fresh", "--status", "200")))
	assert.Contains(t, must(t, &out, args("ls", "--keys", origin.URL+"/a")...).stdout, mine["/a"][0].Key)

	// show: the raw body on stdout; -i and -I the header; --json all of it.
	r := must(t, &out, args("show", origin.URL+"/bin")...)
	assert.Equal(t, binBody, []byte(r.stdout), "show prints the body as stored")
	r = must(t, &out, args("show", "-i", origin.URL+"/a")...)
	assert.True(t, strings.HasPrefix(r.stdout, "HTTP/1.1 200 OK\n"), r.stdout)
	assert.Contains(t, r.stdout, "Content-Type: text/plain\n")
	assert.True(t, strings.HasSuffix(r.stdout, "\n\nalpha body"), r.stdout)
	r = must(t, &out, args("show", "-I", origin.URL+"/missing")...)
	assert.True(t, strings.HasPrefix(r.stdout, "HTTP/1.1 404 Not Found\n"), r.stdout)
	assert.NotContains(t, r.stdout, "nothing here")
	var sj shown
	r = must(t, &out, args("show", "--json", origin.URL+"/bin")...)
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &sj), r.stdout)
	require.NotNil(t, sj.Body)
	body, err := base64.StdEncoding.DecodeString(*sj.Body)
	require.NoError(t, err)
	assert.Equal(t, binBody, body)
	assert.Equal(t, []string{"application/octet-stream"}, sj.Header["Content-Type"])
	assert.Equal(t, mine["/bin"][0].Key, sj.Key)
	r = must(t, &out, args("show", "--json", "--no-body", origin.URL+"/a")...)
	sj = shown{}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &sj), r.stdout)
	assert.Nil(t, sj.Body)
	// The Set-Cookie a credential-sharing cache stored is never printed.
	r = must(t, &out, args("show", "-i", origin.URL+"/cookie")...)
	assert.Contains(t, r.stdout, "Set-Cookie: [redacted]\n")
	r = must(t, &out, args("show", "--json", origin.URL+"/cookie")...)
	sj = shown{}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &sj), r.stdout)
	assert.Equal(t, []string{"[redacted]"}, sj.Header["Set-Cookie"])
	// Two variants: show asks for a key, and takes it.
	r = cli(t, "", args("show", origin.URL+"/vary")...)
	out.add(r)
	assert.Equal(t, 1, r.code, "%v", r)
	assert.Contains(t, r.stderr, mine["/vary"][0].Key)
	assert.Contains(t, r.stderr, mine["/vary"][1].Key)
	r = must(t, &out, args("show", "--key", mine["/vary"][1].Key)...)
	assert.True(t, strings.HasPrefix(r.stdout, "as "), r.stdout)
	r = cli(t, "", args("show", origin.URL+"/nowhere")...)
	assert.Equal(t, 1, r.code, "%v", r)
	assert.Contains(t, r.stderr, "no response to GET "+origin.URL+"/nowhere")

	must(t, &out, args("stats")...)
	select {
	case <-full:
	case <-time.After(time.Minute):
		t.Fatal("the writer has not written its 50 entries in a minute")
	}

	// Every entry, shown every way, and stats: no secret in any output.
	all = ls()
	for _, e := range all {
		if strings.HasPrefix(e.URL, "http://busy.invalid/") {
			continue // this process's own, without secrets
		}
		must(t, &out, args("show", "-i", "--key", e.Key)...)
		must(t, &out, args("show", "--json", "--key", e.Key)...)
	}
	must(t, &out, args("ls", "--keys")...)
	st := stats{}
	r = must(t, &out, args("stats", "--json")...)
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &st), r.stdout)
	for _, s := range append(leaktest.Secrets(), cookieSecret) {
		assert.NotContains(t, out.all.String(), s, "a secret in cachestack's output")
	}
	assert.Equal(t, len(all), st.Responses, "stats counts what ls lists")
	assert.Equal(t, st.Responses, st.Fresh+st.Stale)
	assert.GreaterOrEqual(t, st.Stale, 1)
	assert.GreaterOrEqual(t, st.Redirects, 1, "leaktest's redirect")
	assert.GreaterOrEqual(t, st.Variants, 1)
	var bodies int64
	for _, e := range all {
		bodies += int64(e.Size)
	}
	assert.Equal(t, bodies, st.BodyBytes)

	// rm: an exact URL; nothing matching is exit status 1 unless -f; a
	// pattern takes the variants with it.
	r = must(t, &out, args("rm", "-v", origin.URL+"/a")...)
	assert.Equal(t, "removed GET "+origin.URL+"/a\n", r.stdout)
	r = cli(t, "", args("rm", origin.URL+"/a", origin.URL+"/bin")...)
	assert.Equal(t, 1, r.code, "%v", r)
	assert.Contains(t, r.stderr, origin.URL+"/a: no such entry")
	must(t, &out, args("rm", "-f", origin.URL+"/a")...)
	must(t, &out, args("rm", host+"/vary")...)
	r = cli(t, "", args("rm", "--key", "no-such-key")...)
	assert.Equal(t, 1, r.code, "%v", r)
	mine = under(ls(), origin.URL)
	assert.Empty(t, mine["/a"])
	assert.Empty(t, mine["/bin"], "removed with /a, which matched nothing")
	assert.Empty(t, mine["/vary"])
	assert.Len(t, mine["/missing"], 1)
	must(t, &out, args("rm", "--key", mine["/missing"][0].Key)...)

	// rm takes the redirects that led to what it removed with it.
	var home string
	for _, e := range ls() {
		if strings.Contains(e.URL, "/home") {
			home = e.URL
		}
	}
	require.NotEmpty(t, home, "leaktest's redirect target")
	must(t, &out, args("rm", home)...)
	var after stats
	r = must(t, &out, args("stats", "--json")...)
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &after), r.stdout)
	assert.Less(t, after.Redirects, st.Redirects, "the redirect to %s is removed with it", home)

	// purge removes what is stale.
	r = must(t, &out, args("purge", "--json")...)
	var purged struct{ Removed int }
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &purged), r.stdout)
	assert.GreaterOrEqual(t, purged.Removed, 1)
	assert.Empty(t, ls("--stale"))
	assert.Len(t, under(ls(), origin.URL)["/cookie"], 1, "purge keeps what is fresh")

	n, err := stop()
	stopped = true
	require.NoError(t, err, "this process's writes while the binary ran")
	require.Positive(t, n)

	// clear: refused without --yes when stdin is not a terminal.
	r = cli(t, "y\n", args("clear")...)
	assert.Equal(t, 2, r.code, "%v", r)
	assert.NotEmpty(t, ls(), "nothing cleared")
	must(t, &out, args("clear", "--yes")...)
	assert.Empty(t, ls())

	// The cache this process holds open still works.
	ctx := t.Context()
	require.NoError(t, b.store.Set(ctx, "after", &cached.Response{Method: "GET", URL: "http://after.invalid/", StatusCode: 200, Created: time.Now()}, 0))
	got, err := b.store.Get(ctx, "after")
	require.NoError(t, err)
	assert.Equal(t, "http://after.invalid/", got.URL)
	get(t, c, origin.URL+"/a", nil)
	require.NoError(t, c.Flush(ctx))
	assert.Len(t, under(ls(), origin.URL)["/a"], 1)

	for _, s := range append(leaktest.Secrets(), cookieSecret) {
		assert.NotContains(t, out.all.String(), s, "a secret in cachestack's output")
	}
}

func TestDisk(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	s, err := diskstore.OpenResponses(dir, nil)
	require.NoError(t, err)
	defer s.Close()
	exercise(t, backend{store: s, args: []string{dir}})
}

func TestSQLite(t *testing.T) {
	file := filepath.Join(t.TempDir(), "http.sqlite")
	s, err := sqlitestore.OpenResponses(file, &sqlitestore.Options{Table: "responses"})
	require.NoError(t, err)
	defer s.Close()
	exercise(t, backend{store: s, args: []string{"sqlite:" + file, "--table", "responses"}})
}

// TestSQLiteKeepsJournalMode: rm on a database in rollback-journal mode
// leaves it in that mode, and a path is taken for a SQLite file.
func TestSQLiteKeepsJournalMode(t *testing.T) {
	file := filepath.Join(t.TempDir(), "http.sqlite")
	s, err := sqlitestore.OpenResponses(file, &sqlitestore.Options{JournalMode: "DELETE"})
	require.NoError(t, err)
	defer s.Close()
	origin := newOrigin(t)
	c, err := cachestack.New(&cachestack.Options{Store: s, SetTimeout: 10 * time.Second})
	require.NoError(t, err)
	defer c.Close()
	get(t, c, origin.URL+"/a", nil)
	require.NoError(t, c.Flush(t.Context()))
	var out outputs
	must(t, &out, "rm", file, origin.URL+"/a")
	assert.Empty(t, lsJSON(t, &out, file))
	db, err := sql.Open("sqlite", "file:"+file+"?mode=ro")
	require.NoError(t, err)
	defer db.Close()
	var mode string
	require.NoError(t, db.QueryRow(`PRAGMA journal_mode`).Scan(&mode))
	assert.Equal(t, "delete", mode)
}

// pgDSN is the PostgreSQL server of the tests: CACHESTACK_PG_DSN, or the
// machine's, database test.
func pgDSN(t *testing.T) string {
	dsn := os.Getenv("CACHESTACK_PG_DSN")
	if dsn == "" {
		dsn = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable&connect_timeout=3"
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err == nil {
		conn.Close(ctx)
		return dsn
	}
	unavailable(t, fmt.Sprintf("no PostgreSQL at %s: %v", dsn, err))
	return ""
}

func unavailable(t *testing.T, msg string) {
	if os.Getenv("CACHESTACK_REQUIRE_SERVICES") == "1" {
		t.Fatal(msg + "; CACHESTACK_REQUIRE_SERVICES=1, so this fails")
	}
	t.Skip(msg)
}

func suffix() string {
	var b [4]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// pgTable returns a table name of this test's own, dropped at the end.
func pgTable(t *testing.T, dsn string) string {
	table := "cstool_" + suffix()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return
		}
		defer conn.Close(ctx)
		conn.Exec(ctx, `DROP TABLE IF EXISTS `+table+`, `+table+`_usage CASCADE`)
		conn.Exec(ctx, `DROP FUNCTION IF EXISTS `+table+`_usage_fn CASCADE`)
	})
	return table
}

func TestPostgres(t *testing.T) {
	dsn := pgDSN(t)
	table := pgTable(t, dsn)
	s, err := pgstore.OpenResponses(dsn, &pgstore.Options{Table: table})
	require.NoError(t, err)
	defer s.Close()
	exercise(t, backend{store: s, args: []string{dsn, "--table", table}})
}

func redisURL(t *testing.T) (string, *redis.Client) {
	addr := os.Getenv("CACHESTACK_REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 2 * time.Second, MaxRetries: -1})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		unavailable(t, fmt.Sprintf("no Redis at %s: %v", addr, err))
	}
	t.Cleanup(func() { c.Close() })
	return "redis://" + addr + "/0", c
}

// redisNamespace returns a namespace of this test's own, emptied at the end.
func redisNamespace(t *testing.T, c *redis.Client) string {
	ns := "cstool-" + suffix()
	t.Cleanup(func() {
		ctx := context.Background()
		keys, _ := c.Keys(ctx, ns+":*").Result()
		if len(keys) > 0 {
			c.Del(ctx, keys...)
		}
	})
	return ns
}

func TestRedis(t *testing.T) {
	url, c := redisURL(t)
	ns := redisNamespace(t, c)
	s, err := redisstore.New(c, &redisstore.Options{Namespace: ns})
	require.NoError(t, err)
	exercise(t, backend{store: codec.Bind(s, codec.Response()), args: []string{url, "--namespace", ns}})
}

// refusals runs every subcommand against something that is not a cache
// and checks each exits 1 with a message.
func refusals(t *testing.T, args ...string) {
	t.Helper()
	for _, cmd := range [][]string{
		{"ls"}, {"ls", "--json"}, {"stats"}, {"show", "http://example.com/"},
		{"rm", "http://example.com/"}, {"rm", "*"}, {"purge"}, {"clear", "--yes"},
	} {
		a := append([]string{cmd[0]}, args...)
		a = append(a, cmd[1:]...)
		r := cli(t, "", a...)
		assert.Equal(t, 1, r.code, "cachestack %v:\n%v", a, r)
		assert.NotEmpty(t, r.stderr, "cachestack %v says why", a)
		assert.Empty(t, r.stdout, "cachestack %v", a)
	}
}

// snapshot records every file under dir, with its content, mode and
// modification time; dirTimes records directories' modification times too.
func snapshot(t *testing.T, dir string, dirTimes bool) map[string]string {
	m := map[string]string{}
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		v := fi.Mode().String()
		if dirTimes || !d.IsDir() {
			v += " " + fi.ModTime().String()
		}
		if d.Type().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			v += fmt.Sprintf(" sha256 %x", sha256.Sum256(b))
		}
		m[p] = v
		return nil
	}))
	return m
}

func TestRefusesADirectoryThatIsNotACache(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o600))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "3f"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "3f", strings.Repeat("3f", 32)), []byte("CSDS not really"), 0o600))
	before := snapshot(t, dir, true)
	refusals(t, dir)
	refusals(t, "disk:"+dir)
	assert.Equal(t, before, snapshot(t, dir, true), "nothing in the directory changed")

	empty := t.TempDir()
	refusals(t, empty)
	entries, err := os.ReadDir(empty)
	require.NoError(t, err)
	assert.Empty(t, entries, "an empty directory is not marked")

	missing := filepath.Join(t.TempDir(), "nothing")
	refusals(t, missing)
	refusals(t, "sqlite:"+missing)
	_, err = os.Stat(missing)
	assert.ErrorIs(t, err, fs.ErrNotExist, "nothing created")
}

func TestRefusesASQLiteDatabaseThatIsNotACache(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "app.db")
	db, err := sql.Open("sqlite", file)
	require.NoError(t, err)
	_, err = db.Exec(`CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO users (name) VALUES ('ada')`)
	require.NoError(t, err)
	require.NoError(t, db.Close())
	// A cache table of another name, which the message suggests.
	s, err := sqlitestore.OpenResponses(filepath.Join(dir, "other.db"), &sqlitestore.Options{Table: "http"})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	// The directory's time is not compared: a connection to other.db,
	// which is in WAL mode, makes SQLite create its -wal and -shm files,
	// and remove them when it closes.
	before := snapshot(t, dir, false)
	refusals(t, file)
	refusals(t, "sqlite:"+file)
	r := cli(t, "", "ls", filepath.Join(dir, "other.db"))
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, `no table "cachestack"`)
	assert.Contains(t, r.stderr, "http; choose one with --table")
	assert.Equal(t, before, snapshot(t, dir, false), "nothing in the databases changed")

	text := filepath.Join(dir, "text.db")
	require.NoError(t, os.WriteFile(text, []byte("plain text, not a database"), 0o600))
	refusals(t, text)
	b, err := os.ReadFile(text)
	require.NoError(t, err)
	assert.Equal(t, "plain text, not a database", string(b))
}

func TestRefusesAPostgresTableThatIsNotACache(t *testing.T) {
	dsn := pgDSN(t)
	missing := pgTable(t, dsn)
	other := pgTable(t, dsn)
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `CREATE TABLE `+other+` (id int PRIMARY KEY, name text); INSERT INTO `+other+` VALUES (1, 'ada')`)
	require.NoError(t, err)

	refusals(t, dsn, "--table", missing)
	var exists bool
	require.NoError(t, conn.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL OR to_regclass($2) IS NOT NULL`, missing, missing+"_usage").Scan(&exists))
	assert.False(t, exists, "no table created")

	refusals(t, dsn, "--table", other)
	var n int
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM `+other).Scan(&n))
	assert.Equal(t, 1, n, "the other table's rows are there")
	require.NoError(t, conn.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, other+"_usage").Scan(&exists))
	assert.False(t, exists)
}

func TestRefusesARedisNamespaceThatIsNotACache(t *testing.T) {
	url, c := redisURL(t)
	ns := redisNamespace(t, c)
	ctx := t.Context()
	require.NoError(t, c.Set(ctx, ns+":session-1", "somebody else's data", 0).Err())
	for _, cmd := range [][]string{{"ls"}, {"stats"}, {"show", "http://example.com/"}, {"clear", "--yes"}} {
		a := append([]string{cmd[0], url, "--namespace", ns}, cmd[1:]...)
		r := cli(t, "", a...)
		assert.Equal(t, 1, r.code, "cachestack %v:\n%v", a, r)
		assert.Contains(t, r.stderr, "is not a cache")
	}
	// rm and purge touch only cache entries.
	r := cli(t, "", "rm", url, "--namespace", ns, "*")
	assert.Equal(t, 1, r.code, "%v", r)
	r = cli(t, "", "purge", url, "--namespace", ns)
	assert.Equal(t, 1, r.code, "%v", r)
	v, err := c.Get(ctx, ns+":session-1").Result()
	require.NoError(t, err)
	assert.Equal(t, "somebody else's data", v)

	// An empty namespace is an empty cache.
	empty := redisNamespace(t, c)
	r = cli(t, "", "ls", "--json", url, "--namespace", empty)
	assert.Equal(t, 0, r.code, "%v", r)
	assert.JSONEq(t, "[]", r.stdout)
	assert.Contains(t, r.stderr, "holds no keys")
}

func TestUsageErrors(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	s, err := diskstore.OpenResponses(dir, nil)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	tests := []struct {
		name string
		give []string
		want string
	}{
		{"no command", nil, "usage: cachestack <command>"},
		{"unknown command", []string{"list", dir}, `no command "list"`},
		{"no cache", []string{"ls"}, "no cache given"},
		{"unknown flag", []string{"ls", dir, "--bogus"}, "-bogus"},
		{"show a pattern", []string{"show", dir, "example.com/*"}, "not a pattern"},
		{"show nothing", []string{"show", dir}, "give one URL"},
		{"rm nothing", []string{"rm", dir}, "give URLs"},
		{"bad status", []string{"ls", dir, "--status", "abc"}, "--status"},
		{"bad pattern", []string{"rm", dir, "example.com/[z-a]"}, "example.com/[z-a]"},
		{"stale and fresh", []string{"ls", dir, "--stale", "--fresh"}, "select nothing"},
		{"clear without a terminal", []string{"clear", dir}, "--yes"},
		{"unknown scheme", []string{"ls", "mongodb://127.0.0.1/x"}, "mongodb://"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := cli(t, "", tt.give...)
			assert.Equal(t, 2, r.code, "%v", r)
			assert.Contains(t, r.stderr, tt.want)
			assert.Empty(t, r.stdout)
		})
	}
	r := cli(t, "", "help", "ls")
	assert.Equal(t, 0, r.code)
	assert.Contains(t, r.stdout, "--json")
	r = cli(t, "", "rm", "-h")
	assert.Equal(t, 0, r.code)
	assert.Contains(t, r.stdout, "usage: cachestack rm")
}
