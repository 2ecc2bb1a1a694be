package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"mapgate/bench"
)

// cmdBench load-tests a running mapgate over the socketmap protocol and
// checks every answer against the bulk data set (internal/testdb's
// BulkAliases: user<i>@bulk.example → user<i>@dest.example for i < N).
// Exit 0 when every answer was correct, 1 when any was wrong, 3 on failure.
func cmdBench(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: mapgate bench --target inet:127.0.0.1:PORT --map NAME [flags]")
		fs.PrintDefaults()
	}
	target := fs.String("target", "", "socketmap endpoint of a running mapgate: inet:host:port or unix:/path")
	mapName := fs.String("map", "", "socketmap map name to query")
	rows := fs.Int("rows", 100000, "N of the bulk data set the map serves (user<i>@bulk.example, i < N)")
	mixStr := fs.String("mix", "5:5:0", "key mix present:absent:unrepresentable")
	conns := fs.Int("conns", 8, "connections (one request at a time each, like Postfix)")
	rate := fs.Float64("rate", 0, "requests per second over all connections; 0: as fast as possible")
	dur := fs.Duration("duration", 10*time.Second, "run time (0: until --count)")
	count := fs.Int64("count", 0, "number of requests (0: until --duration)")
	flood := fs.Float64("flood", 0, "attack profile: unrepresentable-key requests per normal request (10 for 10:1); 0: none")
	floodConns := fs.Int("flood-conns", 0, "connections of the flood (0: as --conns)")
	timeout := fs.Duration("timeout", 5*time.Second, "per-request timeout")
	jsonOut := fs.String("json", "", "also write the result as JSON to this file ('-' for stdout)")
	progress := fs.Bool("progress", false, "progress line on stderr even when it is not a terminal")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "mapgate bench: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	mix, err := bench.ParseMix(*mixStr)
	if err != nil {
		fmt.Fprintf(stderr, "mapgate bench: %v\n", err)
		return exitUsage
	}
	cfg := bench.Config{
		Target: *target, Map: *mapName, Data: bench.BulkAliases{N: *rows}, Mix: mix,
		Conns: *conns, Rate: *rate, Duration: *dur, Count: *count,
		Flood: bench.Flood{Ratio: *flood, Conns: *floodConns}, Timeout: *timeout, Label: "mapgate bench",
	}
	if tty := isTerminal(os.Stderr); tty || *progress {
		cfg.Progress, cfg.ProgressTTY = stderr, tty
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := bench.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "mapgate bench: %v\n", err)
		if cfg.Target == "" || cfg.Map == "" || (cfg.Duration <= 0 && cfg.Count <= 0) {
			return exitUsage
		}
		return exitFailure
	}
	res.WriteText(stdout)
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		b = append(b, '\n')
		if *jsonOut == "-" {
			stdout.Write(b)
		} else if err := os.WriteFile(*jsonOut, b, 0o644); err != nil {
			fmt.Fprintf(stderr, "mapgate bench: %v\n", err)
			return exitFailure
		}
	}
	wrong := res.Good.Wrong
	if res.Flood != nil {
		wrong += res.Flood.Wrong
	}
	if wrong > 0 {
		fmt.Fprintf(stderr, "mapgate bench: %d wrong answers\n", wrong)
		return exitNotFound
	}
	return exitOK
}

// isTerminal reports whether f is a character device (a terminal).
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
