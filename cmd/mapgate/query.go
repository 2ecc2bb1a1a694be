package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"mapgate/lookup"
	"mapgate/smfront"
	"mapgate/socketmap"
)

// cmdQuery looks up one key the way the server would, without a server:
// the admin's postmap -q. Exit 0 found (value printed), 1 not found,
// 3 TEMP/TIMEOUT/PERM (reason on stderr).
func cmdQuery(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("query", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: mapgate query [--config FILE] [--map NAME=FILE ...] NAME KEY")
		fs.PrintDefaults()
	}
	var flags commonFlags
	flags.register(fs, false)
	verbose := fs.Bool("v", false, "log what the lookup does to stderr")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return exitUsage
	}
	name, key := fs.Arg(0), fs.Arg(1)
	s, err := flags.settings()
	if err != nil {
		fmt.Fprintf(stderr, "mapgate query: %v\n", err)
		return exitUsage
	}
	cfg, err := s.build()
	if err != nil {
		fmt.Fprintf(stderr, "mapgate query: %v\n", err)
		return exitUsage
	}
	level := "error"
	if *verbose {
		level = "debug"
	}
	log := newLogger(stderr, cfg.LogFormat, level)
	set, err := lookup.Load(cfg.Maps, cfg.Pool, log, nil)
	if err != nil {
		fmt.Fprintf(stderr, "mapgate query: %v\n", err)
		return exitUsage
	}
	defer set.Close()
	ctx, cancel := context.WithTimeout(context.Background(), cfg.LookupTimeout)
	defer cancel()
	set.Discover(ctx)
	r := smfront.Reply(set.Lookup(ctx, name, key))
	switch r.Status {
	case socketmap.StatusOK:
		fmt.Fprintln(stdout, r.Text)
		return exitOK
	case socketmap.StatusNotFound:
		return exitNotFound
	default:
		fmt.Fprintf(stderr, "mapgate query: %s %s\n", r.Status, r.Text)
		return exitFailure
	}
}
