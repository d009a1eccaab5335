package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"golang.org/x/term"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// usageError is a mistake in the command line: exit code 2.
type usageError string

func (e usageError) Error() string { return string(e) }

// env is what a command runs with: its streams, and whether stdin is a
// terminal (for clear's question).
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	stdinTTY       bool
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], env{
		stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr,
		stdinTTY: term.IsTerminal(int(os.Stdin.Fd())),
	})
	stop()
	os.Exit(code)
}

// command is one subcommand.
type command struct {
	name, args, summary, help string
	json                      bool // takes --json
	flags                     func(fs *flag.FlagSet) any
	run                       func(ctx context.Context, e env, c *common, opts any, args []string) error
}

// common are the flags every command takes.
type common struct {
	storeOptions
	json    bool
	timeout time.Duration
}

func (c *common) register(fs *flag.FlagSet, withJSON bool) {
	fs.StringVar(&c.table, "table", "", "SQLite or PostgreSQL: the cache's table (default \"cachestack\")")
	fs.StringVar(&c.schema, "schema", "", "PostgreSQL: the table's schema (default: the connection's current schema)")
	fs.StringVar(&c.namespace, "namespace", "", "Redis: the cache's key namespace; keys are \"<namespace>:<key>\" (default \"cachestack\")")
	fs.DurationVar(&c.timeout, "timeout", 0, "give up after this long, e.g. 30s (default: no limit)")
	if withJSON {
		fs.BoolVar(&c.json, "json", false, "print JSON")
	}
}

var commands = []*command{lsCmd, showCmd, rmCmd, purgeCmd, clearCmd, statsCmd}

func run(ctx context.Context, args []string, e env) int {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, overview)
		return exitUsage
	}
	name, args := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(args) > 0 {
			if c := lookup(args[0]); c != nil {
				printHelp(e.stdout, c)
				return exitOK
			}
			fmt.Fprintf(e.stderr, "cachestack: help: no command %q\n", args[0])
			return exitUsage
		}
		fmt.Fprint(e.stdout, overview)
		return exitOK
	case "version", "-version", "--version":
		fmt.Fprintln(e.stdout, "cachestack", version())
		return exitOK
	}
	c := lookup(name)
	if c == nil {
		fmt.Fprintf(e.stderr, "cachestack: no command %q (run \"cachestack help\")\n", name)
		return exitUsage
	}
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var cm common
	opts := c.flags(fs)
	cm.register(fs, c.json)
	pos, err := parse(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		printHelp(e.stdout, c)
		return exitOK
	}
	if err == nil && len(pos) == 0 {
		err = errors.New("no cache given")
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "cachestack %s: %v\nusage: cachestack %s %s\n(run \"cachestack help %s\" for more)\n", c.name, err, c.name, c.args, c.name)
		return exitUsage
	}
	if cm.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cm.timeout)
		defer cancel()
	}
	err = c.run(ctx, e, &cm, opts, pos)
	if err == nil {
		return exitOK
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(e.stderr, "cachestack %s: %v\nusage: cachestack %s %s\n", c.name, err, c.name, c.args)
		return exitUsage
	}
	if errors.Is(err, errSilent) {
		return exitError
	}
	fmt.Fprintf(e.stderr, "cachestack %s: %v\n", c.name, err)
	return exitError
}

// errSilent is a failure already reported on stderr.
var errSilent = errors.New("failed")

func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// parse parses args with fs, flags and operands in any order ("ls ./cache
// --json" as well as "ls --json ./cache"); "--" ends the flags.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		if f := fs.Lookup(name); f != nil && !isBool(f) && i+1 < len(args) {
			flags = append(flags, args[i+1])
			i++
		}
	}
	if err := fs.Parse(flags); err != nil {
		return nil, err
	}
	return pos, nil
}

func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

func printHelp(w io.Writer, c *command) {
	fmt.Fprintf(w, "usage: cachestack %s %s\n\n%s\n", c.name, c.args, strings.TrimSpace(c.help))
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	var cm common
	c.flags(fs)
	cm.register(fs, c.json)
	fmt.Fprintf(w, "\nflags:\n")
	fs.SetOutput(w)
	fs.PrintDefaults()
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(unknown)"
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }

const overview = `cachestack looks inside a cachestack HTTP cache: lists, shows and removes
stored responses, on disk, in SQLite, in PostgreSQL or in Redis.

usage: cachestack <command> CACHE [arguments] [flags]

commands:
  ls     CACHE [URL|PATTERN]...   list stored responses
  show   CACHE URL | --key KEY    print one stored response's body (-i, -I: its header)
  rm     CACHE URL|PATTERN...     remove stored responses
  purge  CACHE                    remove expired responses
  clear  CACHE                    remove every entry (asks first unless --yes)
  stats  CACHE                    count entries, bytes, fresh and stale
  help   [command]                this text, or a command's flags
  version                         the command's version

CACHE is one of:
  ./dir, disk:./dir               a diskstore cache directory (it holds .cachestack-diskstore)
  ./http.sqlite, sqlite:PATH,     a SQLite database file with a cache table
    file:PATH?params              (--table, default "cachestack")
  postgres://user@host/db         a PostgreSQL database with a cache table
                                  (--table, default "cachestack"; --schema)
  redis://host:6379/0, rediss://  a Redis database; the cache is the keys of one
                                  namespace (--namespace, default "cachestack")

URL is an absolute URL, matched exactly as ls shows it. An argument without
"://", or with "*" or "[", is a PATTERN, as in cachestack.Options.URLExpiry:
it matches URLs that start with it, "*" matches anything, and without a
scheme any scheme matches: "example.com/api/" matches every URL below it.

Exit status: 0 success, 1 failure (including a cache that is not one, and an
rm or show that matches nothing), 2 a mistake in the command line.
`
