// Command mapgate serves Postfix's mysql_table(5) lookups over the socketmap
// protocol, safely: keys are checked against the columns they are compared
// with, queries are parameterised, and a key can never black out the pool.
//
//	mapgate serve --listen unix:/var/spool/postfix/private/mapgate --map virtual_alias=/etc/postfix/mysql_virtual_alias_maps.cf
//	mapgate query --map virtual_alias=/etc/postfix/mysql_virtual_alias_maps.cf virtual_alias bob@example.jp
//	mapgate version
package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"slices"
	"strings"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// Exit codes.
const (
	exitOK       = 0
	exitNotFound = 1 // query: not found (as postmap -q)
	exitUsage    = 2
	exitFailure  = 3 // query: TEMP/PERM/TIMEOUT, or a runtime failure
)

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	name, rest := args[0], args[1:]
	for _, c := range commands {
		if c.name == name || slices.Contains(c.aliases, name) {
			return c.run(rest, stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "mapgate: unknown command %q\n", name)
	usage(stderr)
	return exitUsage
}

// command is one of mapgate's subcommands.
type command struct {
	name, summary string
	aliases       []string
	run           func(args []string, stdout, stderr io.Writer) int
}

// commands are mapgate's subcommands: what run dispatches to, and what
// usage and the manual page list. Set in init: help's manual page lists
// them.
var commands []command

func init() {
	commands = []command{
		{name: "serve", summary: "serve mysql_table(5) maps over Postfix's socketmap protocol", run: cmdServe},
		{name: "query", summary: "look up one key, like postmap -q (exit 0 found, 1 not found, 3 error)", run: cmdQuery},
		{name: "check", summary: "check the configuration against the live databases, like postfix check (serve --check)", run: cmdCheck},
		{name: "audit", summary: "check the schemas behind the maps for keys that will break them", run: cmdAudit},
		{name: "purge", summary: "clear a running server's cached answers (all, one map's, or one key's) over its admin socket", run: cmdPurge},
		{name: "bench", summary: "load-test a running mapgate over the socketmap protocol", run: cmdBench},
		{name: "migrate", summary: "turn a Postfix main.cf's mysql: and pgsql: maps into a mapgate configuration (socketmap, or the MySQL and PostgreSQL fronts)", run: cmdMigrate},
		{name: "version", summary: "print the version", aliases: []string{"--version", "-version"}, run: cmdVersion},
		{name: "help", summary: "this text; 'help config': the configuration parameters; 'help man': the manual page mapgate(8), as roff", aliases: []string{"-h", "--help"}, run: cmdHelp},
	}
}

func cmdVersion(_ []string, stdout, _ io.Writer) int {
	fmt.Fprintln(stdout, "mapgate", versionString())
	return exitOK
}

func usage(w io.Writer) {
	fmt.Fprint(w, "usage: mapgate COMMAND [flags]\n\ncommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\nRun 'mapgate COMMAND -h' for a command's flags.\n")
}

// cmdHelp prints the usage, the configuration parameters or the manual page.
func cmdHelp(args []string, stdout, stderr io.Writer) int {
	switch {
	case len(args) == 0:
		usage(stdout)
	case len(args) == 1 && args[0] == "config":
		configHelp(stdout)
	case len(args) == 1 && args[0] == "man":
		writeMan(stdout)
	default:
		fmt.Fprintf(stderr, "mapgate help: want no argument, 'config' or 'man', not %q\n", strings.Join(args, " "))
		return exitUsage
	}
	return exitOK
}

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		rev, dirty := "", ""
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					dirty = "-dirty"
				}
			}
		}
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if rev != "" {
			return "devel-" + rev + dirty + " " + bi.GoVersion
		}
		return "devel " + bi.GoVersion
	}
	return "devel"
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// commonFlags are the flags serve, query and audit share: where the maps
// and settings come from.
type commonFlags struct {
	config string
	listen listFlag
	maps   listFlag
	sets   listFlag
}

func (c *commonFlags) register(fs *flag.FlagSet, withListen bool) {
	fs.StringVar(&c.config, "config", "", "mapgate configuration file (Postfix name = value syntax)")
	fs.Var(&c.maps, "map", "NAME=FILE: serve mysql_table(5) FILE as socketmap NAME (repeatable)")
	fs.Var(&c.sets, "set", "name=value: any configuration parameter, e.g. virtual_alias_address_search=no (repeatable)")
	fs.Func("recipient-delimiter", "address extension delimiters (default: postconf -h recipient_delimiter)", func(v string) error {
		c.sets = append(c.sets, "recipient_delimiter="+v)
		return nil
	})
	if withListen {
		fs.Var(&c.listen, "listen", "unix:/path or inet:host:port (repeatable)")
	}
}

// settings merges the config file and the flags.
func (c *commonFlags) settings() (*settings, error) {
	s := newSettings()
	if c.config != "" {
		if err := s.loadFile(c.config); err != nil {
			return nil, err
		}
	}
	for _, m := range c.maps {
		if err := s.set("maps", m, "--map"); err != nil {
			return nil, err
		}
	}
	for _, l := range c.listen {
		if err := s.set("listen", l, "--listen"); err != nil {
			return nil, err
		}
	}
	for _, kv := range c.sets {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("--set %q: want name=value", kv)
		}
		if err := s.set(strings.TrimSpace(k), strings.TrimSpace(v), "--set"); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func newLogger(w io.Writer, format, level string) *slog.Logger {
	var lv slog.Level
	switch level {
	case "debug":
		lv = slog.LevelDebug
	case "warn":
		lv = slog.LevelWarn
	case "error":
		lv = slog.LevelError
	}
	opts := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
