package pgstore_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cachestack/cachestack"
	"github.com/cachestack/cachestack/middleware"
	"github.com/cachestack/cachestack/store"
	"github.com/cachestack/cachestack/store/pgstore"
)

// server is a PostgreSQL server a test starts on a port of its own, in a
// data directory of its own, so that it can stop and restart it.
type server struct {
	t       *testing.T
	bin     string // the directory of postgres and initdb
	dir     string // data directory
	port    int
	cred    *syscall.Credential // the postgres user's, when running as root
	cmd     *exec.Cmd
	log     bytes.Buffer
	stopped chan struct{}
}

// findPGBin returns the directory of the newest installed PostgreSQL's
// binaries, or "" when there is none.
func findPGBin() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(dirs[i])), 64)
		vj, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(dirs[j])), 64)
		return vi < vj
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "initdb")); err == nil {
			return dirs[i]
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p)
	}
	return ""
}

// startServer initialises a data directory and starts a server on a free
// loopback port. The server is stopped, and the directory removed, when t
// ends. Without PostgreSQL's binaries it skips t, or fails it when the
// services are required.
func startServer(t *testing.T) *server {
	t.Helper()
	bin := findPGBin()
	if bin == "" {
		msg := "PostgreSQL's server binaries (initdb, postgres) are not installed (apt-get install postgresql, or run scripts/services.sh on CI)"
		if required() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	s := &server{t: t, bin: bin}
	dir, err := os.MkdirTemp("", "pgstore-server-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	s.dir = filepath.Join(dir, "data")
	if os.Geteuid() == 0 {
		// The server refuses to run as root: run it as the postgres user.
		u, err := user.Lookup("postgres")
		require.NoError(t, err, "running as root needs the postgres user to start a server")
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		require.NoError(t, os.Chown(dir, uid, gid))
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s.port = l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())

	initdb := s.command(filepath.Join(bin, "initdb"), "-D", s.dir, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
	out, err := initdb.CombinedOutput()
	require.NoError(t, err, "initdb: %s", out)
	s.start()
	t.Cleanup(func() {
		if s.cmd != nil {
			s.stop()
		}
	})
	return s
}

func (s *server) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = filepath.Dir(s.dir)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	return cmd
}

// dsn is the server's DSN, for database postgres.
func (s *server) dsn() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", s.port)
}

// start starts the server process and waits until it accepts connections.
func (s *server) start() {
	s.t.Helper()
	s.cmd = s.command(filepath.Join(s.bin, "postgres"), "-D", s.dir, "-p", strconv.Itoa(s.port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="+filepath.Dir(s.dir),
		"-c", "fsync=off", "-c", "full_page_writes=off", "-c", "shared_buffers=16MB", "-c", "max_connections=20")
	s.log.Reset()
	s.cmd.Stdout, s.cmd.Stderr = &s.log, &s.log
	require.NoError(s.t, s.cmd.Start())
	s.stopped = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) {
		_ = cmd.Wait()
		close(done)
	}(s.cmd, s.stopped)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		c, err := pgx.Connect(ctx, s.dsn())
		cancel()
		if err == nil {
			_ = c.Close(context.Background())
			return
		}
		select {
		case <-s.stopped:
			s.t.Fatalf("the server exited: %s", s.log.String())
		default:
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("the server did not accept connections within 30s: %v\n%s", err, s.log.String())
		}
		time.Sleep(100 * time.Millisecond) // polling the server to come up
	}
}

// stop stops the server by its PID with SIGINT (fast shutdown: sessions
// are ended at once) and waits for it to exit.
func (s *server) stop() {
	s.t.Helper()
	require.NoError(s.t, syscall.Kill(s.cmd.Process.Pid, syscall.SIGINT))
	select {
	case <-s.stopped:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.stopped
		s.t.Fatalf("the server did not stop within 30s")
	}
	s.cmd = nil
}

// TestServerStopsAndRestarts: a cache over pgstore, on a server this test
// starts itself. Stopped mid-test by its PID, every store call fails fast
// and the HTTP cache answers every request from the network; restarted on
// the same port, the same pool serves again, with the entries stored before
// the stop.
func TestServerStopsAndRestarts(t *testing.T) {
	srv := startServer(t)
	var originHits atomic.Int64
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		originHits.Add(1)
		w.Header().Set("Cache-Control", "max-age=3600")
		_, _ = io.WriteString(w, "body of "+r.URL.Path)
	}))
	defer origin.Close()
	transport := &http.Transport{}
	defer transport.CloseIdleConnections()

	const timeout = 2 * time.Second
	responses, err := pgstore.OpenResponses(srv.dsn(), &pgstore.Options{Timeout: timeout})
	require.NoError(t, err)
	defer responses.Close()
	raw, err := pgstore.New(mustPool(t, srv.dsn()), &pgstore.Options{Table: "raw", Timeout: timeout})
	require.NoError(t, err)
	defer raw.Close()

	cache, err := cachestack.New(&cachestack.Options{
		Store:     responses,
		Transport: transport,
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		// This test is about the pool replacing its dead connections the
		// first time it is asked after the restart: without the breaker,
		// which would rightly skip the store for its back-off after the
		// stop, and with a lookup deadline a loaded machine cannot miss.
		Breaker:    &middleware.BreakerOptions{Failures: -1},
		GetTimeout: timeout,
	})
	require.NoError(t, err)
	defer cache.Close()
	client := cache.Client()
	get := func(path string) (string, bool) {
		t.Helper()
		resp, err := client.Get(origin.URL + path)
		require.NoError(t, err, "GET %s", path)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		return string(b), cachestack.InfoOf(resp).FromCache
	}

	body, hit := get("/a")
	require.Equal(t, "body of /a", body)
	require.False(t, hit)
	body, hit = get("/a")
	require.Equal(t, "body of /a", body)
	require.True(t, hit, "the second GET is a hit from PostgreSQL")
	require.Equal(t, int64(1), originHits.Load())
	ctx := t.Context()
	require.NoError(t, raw.Set(ctx, "k", []byte("before"), 0))

	srv.stop()

	// Every store call fails, promptly, with an error that is not a miss.
	wantDown := func(op string, f func() error) {
		t.Helper()
		start := time.Now()
		err := f()
		took := time.Since(start)
		require.Error(t, err, "%s with the server stopped", op)
		assert.NotErrorIs(t, err, store.ErrNotFound, op)
		assert.ErrorContains(t, err, "pgstore "+op)
		assert.Less(t, took, timeout, "%s took %v with the server stopped", op, took)
	}
	for range 3 {
		wantDown("get", func() error { _, err := raw.Get(ctx, "k"); return err })
		wantDown("set", func() error { return raw.Set(ctx, "k", []byte("v"), 0) })
		wantDown("delete", func() error { return raw.Delete(ctx, "k") })
		wantDown("keys", func() error {
			for _, err := range raw.Keys(ctx) {
				return err
			}
			return nil
		})
		wantDown("clear", func() error { return raw.Clear(ctx) })
	}

	// The cache answers every request from the network, promptly; only a
	// response it fetched moments ago and still holds in its write-back
	// queue (the write fails with the store down) may answer a repeat.
	before := originHits.Load()
	start := time.Now()
	queued := 0
	for i := range 20 {
		path := fmt.Sprintf("/down/%d", i%4)
		if i%5 == 0 {
			path = "/a"
		}
		body, hit := get(path)
		assert.Equal(t, "body of "+path, body)
		if path == "/a" {
			assert.False(t, hit, "%s answered from a store that is down", path)
		} else if hit {
			queued++
		}
	}
	assert.Equal(t, before+20-int64(queued), originHits.Load(), "every other request went to the origin")
	t.Logf("20 requests with the store down took %v", time.Since(start))
	assert.Less(t, time.Since(start), 20*timeout/4, "requests waited on the store that is down")

	srv.start()

	// The same pools work again: their dead connections are replaced.
	deadline := time.Now().Add(10 * time.Second)
	for {
		v, err := raw.Get(ctx, "k")
		if err == nil {
			assert.Equal(t, "before", string(v), "the entry stored before the stop")
			break
		}
		require.True(t, time.Now().Before(deadline), "the store did not recover within 10s of the restart: %v", err)
		time.Sleep(50 * time.Millisecond) // polling the server to come back
	}
	require.NoError(t, raw.Set(ctx, "k", []byte("after"), 0))
	v, err := raw.Get(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, "after", string(v))

	before = originHits.Load()
	var hits int
	for range 5 {
		if _, hit := get("/a"); hit {
			hits++
		}
	}
	assert.Positive(t, hits, "/a, stored before the stop, is served from the store again")
	assert.LessOrEqual(t, originHits.Load(), before+1, "at most one request finds a dead connection and goes to the origin")
}

// mustPool returns a pool of its own for dsn, closed when t ends.
func mustPool(t *testing.T, dsn string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), dsn)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}
