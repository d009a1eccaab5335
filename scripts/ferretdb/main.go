// Command ferretdb runs FerretDB, a MongoDB wire-protocol server, for
// cachestack's integration tests of store/mongostore. It embeds FerretDB
// through its github.com/FerretDB/FerretDB/ferretdb package, since the
// project's own command cannot be installed with go install.
//
// It serves until SIGINT or SIGTERM:
//
//	ferretdb -listen 127.0.0.1:27017 -handler postgresql -postgresql-url postgres://postgres@127.0.0.1:5432/test
//	ferretdb -listen 127.0.0.1:27017 -handler sqlite -sqlite-url file:/tmp/ferretdb/
//
// scripts/services.sh builds it (outside the repository, keyed by this
// module's go.sum) and starts it. This module is not in go.work: the tests
// never import it.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP `address` to serve the MongoDB wire protocol on")
	handler := flag.String("handler", "postgresql", "storage backend: postgresql or sqlite")
	pgURL := flag.String("postgresql-url", "postgres://postgres@127.0.0.1:5432/test", "PostgreSQL connection `URL`, for -handler postgresql")
	sqliteURL := flag.String("sqlite-url", "file:ferretdb-data/", "SQLite `URI` of a directory, for -handler sqlite")
	logLevel := flag.String("log-level", "warn", "log `level`: debug, info, warn or error")
	flag.Parse()

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb: -log-level: %v\n", err)
		os.Exit(2)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:      ferretdb.ListenerConfig{TCP: *listen},
		Logger:        logger,
		Handler:       *handler,
		PostgreSQLURL: *pgURL,
		SQLiteURL:     *sqliteURL,
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb: %v\n", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := f.Run(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb: %v\n", err)
		os.Exit(1)
	}
}
