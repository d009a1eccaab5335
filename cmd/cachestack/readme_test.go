package main_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack"
	"github.com/cachestack/cachestack/cached"
	"github.com/cachestack/cachestack/codec"
	"github.com/cachestack/cachestack/sign"
	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/diskstore"
	"github.com/cachestack/cachestack/store/pgstore"
	"github.com/cachestack/cachestack/store/redisstore"
	"github.com/cachestack/cachestack/store/sqlitestore"
)

// readmeCommands returns the cachestack commands of the README's section
// on the command, each split into words as sh would (single quotes only).
func readmeCommands(t *testing.T) [][]string {
	b, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	_, sec, ok := strings.Cut(string(b), "## Looking inside a cache: the cachestack command")
	require.True(t, ok, "the README has the section")
	sec, _, _ = strings.Cut(sec, "\n## ")
	var cmds [][]string
	for line := range strings.Lines(sec) {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "cachestack ") {
			continue
		}
		var words []string
		for i, part := range strings.Split(line, "'") {
			if i%2 == 1 {
				words = append(words, part)
			} else {
				words = append(words, strings.Fields(part)...)
			}
		}
		cmds = append(cmds, words[1:])
	}
	require.Len(t, cmds, 9, "the README's commands")
	return cmds
}

func put(t *testing.T, s store.Store[string, *cached.Response], url string, body []byte, expires time.Time) {
	t.Helper()
	e := &cached.Response{Method: "GET", URL: url, StatusCode: 200, Proto: "HTTP/1.1",
		Header: cached.NewHeader(http.Header{"Content-Type": {"image/png"}}), Body: body,
		Created: time.Now().Add(-2 * time.Hour), Expires: expires}
	require.NoError(t, s.Set(t.Context(), "key "+url, e, time.Hour))
}

// TestReadmeExamples runs the README's example commands, with the caches
// they name filled through the library, and checks that each does what
// its comment says.
func TestReadmeExamples(t *testing.T) {
	dsn := pgDSN(t)
	rurl, rc := redisURL(t)
	home := t.TempDir()
	t.Setenv("HOME", home)
	fresh, stale := time.Now().Add(time.Hour), time.Now().Add(-time.Hour)
	png := []byte("\x89PNG\r\n\x1a\n not really")

	disk, err := diskstore.OpenResponses(filepath.Join(home, ".cache/myapp/http"), nil)
	require.NoError(t, err)
	defer disk.Close()
	put(t, disk, "https://example.com/api/users", []byte("[]"), stale)
	put(t, disk, "https://example.com/api/fresh", []byte("{}"), fresh)
	lite, err := sqlitestore.OpenResponses(filepath.Join(home, ".cache/myapp/http.sqlite"), nil)
	require.NoError(t, err)
	defer lite.Close()
	put(t, lite, "https://example.com/logo.png", png, fresh)
	table := pgTable(t, dsn)
	pg, err := pgstore.OpenResponses(dsn, &pgstore.Options{Table: table})
	require.NoError(t, err)
	defer pg.Close()
	put(t, pg, "https://example.com/a", []byte("a"), fresh)
	put(t, pg, "https://example.com/b", []byte("b"), fresh)
	ns := redisNamespace(t, rc)
	rs, err := redisstore.New(rc, &redisstore.Options{Namespace: ns})
	require.NoError(t, err)
	red := codec.Bind(rs, codec.Response())
	put(t, red, "https://example.com/old", []byte("old"), stale)
	put(t, red, "https://example.com/new", []byte("new"), fresh)

	var out outputs
	for i, words := range readmeCommands(t) {
		var args []string
		saveTo := ""
		for j := 0; j < len(words); j++ {
			switch w := words[j]; {
			case w == ">":
				saveTo = words[j+1]
				j++
			case strings.HasPrefix(w, "postgres://app@db"):
				args = append(args, dsn)
			case w == "http_cache":
				args = append(args, table)
			case strings.HasPrefix(w, "redis://"):
				args = append(args, rurl)
			case w == "myapp":
				args = append(args, ns)
			default:
				args = append(args, w)
			}
		}
		r := must(t, &out, args...)
		switch i {
		case 0:
			assert.Contains(t, r.stdout, "https://example.com/api/users")
			assert.Contains(t, r.stdout, "https://example.com/api/fresh")
		case 1:
			var es []entry
			require.NoError(t, json.Unmarshal([]byte(r.stdout), &es), r.stdout)
			require.Len(t, es, 1)
			assert.Equal(t, "https://example.com/api/users", es[0].URL)
		case 2:
			require.Equal(t, "logo.png", saveTo)
			assert.Equal(t, png, []byte(r.stdout))
		case 3:
			assert.Equal(t, "HTTP/1.1 200 OK\nContent-Type: image/png\n\n", r.stdout)
		case 4:
			assert.Equal(t, []string{"https://example.com/b"}, urls(lsJSON(t, &out, dsn, "--table", table)))
		case 5:
			assert.Empty(t, lsJSON(t, &out, dsn, "--table", table))
		case 6:
			assert.Equal(t, "removed 1 expired entry\n", r.stdout)
			assert.Equal(t, []string{"https://example.com/new"}, urls(lsJSON(t, &out, rurl, "--namespace", ns)))
		case 7:
			var st stats
			require.NoError(t, json.Unmarshal([]byte(r.stdout), &st), r.stdout)
			assert.Equal(t, 1, st.Responses)
		case 8:
			assert.Empty(t, lsJSON(t, &out, filepath.Join(home, ".cache/myapp/http")))
		}
	}
}

func urls(es []entry) []string {
	var u []string
	for _, e := range es {
		u = append(u, e.URL)
	}
	return u
}

// TestSignedEntries: entries a cache signed are counted, not shown, and ls
// says why it leaves them out.
func TestSignedEntries(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	s, err := diskstore.OpenResponses(dir, nil)
	require.NoError(t, err)
	defer s.Close()
	signer, err := sign.New([]byte("a signing key of thirty-two bytes!"))
	require.NoError(t, err)
	c, err := cachestack.New(&cachestack.Options{Store: s, Signer: signer})
	require.NoError(t, err)
	defer c.Close()
	get(t, c, newOrigin(t).URL+"/a", nil)
	require.NoError(t, c.Flush(t.Context()))

	var out outputs
	r := must(t, &out, "ls", dir)
	assert.Contains(t, r.stderr, "not listed: 1 signed or sealed entry")
	var st struct{ Protected, Responses int }
	require.NoError(t, json.Unmarshal([]byte(must(t, &out, "stats", dir, "--json").stdout), &st))
	assert.Equal(t, 1, st.Protected)
	assert.Equal(t, 0, st.Responses)
}
