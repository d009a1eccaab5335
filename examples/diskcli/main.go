// Command diskcli is a command-line tool whose HTTP responses are cached on
// disk, so that they survive from one run to the next: the Go counterpart
// of aiohttp-client-cache's filesystem backend.
//
// It fetches each URL given and prints its status, size, whether it came
// from the cache and the RFC 9211 Cache-Status field. Run it twice; the
// second run answers from the cache. By default the origin's Cache-Control
// decides what may be kept and for how long (RFC 9111); with
// -ignore-cache-control and -ttl, every 200 response is kept for -ttl
// whatever the origin says (aiohttp-client-cache's cache_control=False
// with expire_after):
//
//	go run ./examples/diskcli -ignore-cache-control -ttl 1h https://go.dev/VERSION?m=text
//	go run ./examples/diskcli -ignore-cache-control -ttl 1h https://go.dev/VERSION?m=text
//	go run ./examples/diskcli -dir /tmp/diskcli-cache https://example.com/
//
// The cache lives in -dir (default: diskcli under the user's cache
// directory, os.UserCacheDir, such as ~/.cache/diskcli on Linux). The
// directory becomes the disk store's own: diskstore refuses a non-empty
// directory of other files, so -dir can never take over your files.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/cachestack/cachestack"
	"github.com/cachestack/cachestack/policy"
	"github.com/cachestack/cachestack/store/diskstore"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, http.DefaultTransport); err != nil {
		fmt.Fprintln(os.Stderr, "diskcli:", err)
		os.Exit(1)
	}
}

// run is main without the process, so that a test can run it against a
// local origin.
func run(ctx context.Context, args []string, stdout io.Writer, transport http.RoundTripper) error {
	fs := flag.NewFlagSet("diskcli", flag.ContinueOnError)
	dir := fs.String("dir", "", "cache directory (default: diskcli in the user's cache directory)")
	maxBytes := fs.Int64("max-bytes", 256<<20, "disk budget of the cache in bytes")
	blind := fs.Bool("ignore-cache-control", false, "cache regardless of the origin's Cache-Control (aiohttp-client-cache's cache_control=False)")
	ttl := fs.Duration("ttl", 0, "how long a response stays fresh when the origin does not say (0: the origin decides)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("usage: diskcli [-dir DIR] URL...")
	}
	if *dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return fmt.Errorf("no -dir and no user cache directory: %w", err)
		}
		*dir = filepath.Join(base, "diskcli")
	}

	// One line for a persistent store of cached responses.
	responses, err := diskstore.OpenResponses(*dir, &diskstore.Options{MaxBytes: *maxBytes})
	if err != nil {
		return err
	}
	defer responses.Close() // after the cache's Close, which flushes pending writes

	opts := &cachestack.Options{Store: responses, Transport: transport, IgnoreCacheControl: *blind}
	if *ttl > 0 {
		opts.ExpireAfter = policy.After(*ttl)
	}
	cache, err := cachestack.New(opts)
	if err != nil {
		return err
	}
	defer cache.Close()
	client := cache.Client()
	client.Timeout = 30 * time.Second

	for _, u := range fs.Args() {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		n, err := io.Copy(io.Discard, resp.Body) // read to EOF: that is what stores a response
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", u, err)
		}
		fmt.Fprintf(stdout, "%s  %d  %d bytes  from cache: %v  Cache-Status: %s\n",
			u, resp.StatusCode, n, cachestack.InfoOf(resp).FromCache, resp.Header.Get("Cache-Status"))
	}
	return nil
}
