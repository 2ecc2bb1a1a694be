package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"mapgate/daemon"
)

func cmdServe(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: mapgate serve [--config FILE] [--listen unix:/PATH | inet:HOST:PORT ...] [--map NAME=FILE ...] [--set name=value ...]

Serves mysql_table(5) files over Postfix's socketmap protocol. Started by
systemd with the sockets of a .socket unit (socket activation: LISTEN_FDS),
it serves those and does not use --listen; a restart then loses no lookup.
SIGHUP reloads the configuration and the maps; SIGTERM or SIGINT lets the
lookups in flight finish and stops.

`)
		fs.PrintDefaults()
		fmt.Fprintf(stderr, "\nConfiguration parameters (mapgate help config says what each does and its default): %s.\n", paramNames())
	}
	var flags commonFlags
	flags.register(fs, true)
	metrics := fs.String("metrics-listen", "", "host:port to serve /metrics, /healthz and /readyz (overrides metrics_listen)")
	check := fs.Bool("check", false, "check the configuration against the live databases (every host prepares every map's query) and exit, without serving")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "mapgate serve: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if *metrics != "" {
		flags.sets = append(flags.sets, "metrics_listen="+*metrics)
	}
	load := func() (*Config, error) {
		s, err := flags.settings()
		if err != nil {
			return nil, err
		}
		return s.build()
	}
	// Before anything else runs a child process: the environment variables
	// of socket activation are removed here.
	inh, err := daemon.InheritedListeners()
	if err != nil {
		fmt.Fprintf(stderr, "mapgate serve: %v\n", err)
		return exitFailure
	}
	closeInherited := func() {
		for _, in := range inh {
			in.L.Close()
		}
	}
	cfg, err := load()
	if err != nil {
		closeInherited()
		fmt.Fprintf(stderr, "mapgate serve: %v\n", err)
		return exitUsage
	}
	if *check {
		closeInherited()
		if len(cfg.Maps) == 0 {
			fmt.Fprintln(stderr, "mapgate check: need at least one --map (or maps in --config)")
			return exitUsage
		}
		return runCheck(cfg, stdout, newLogger(stderr, cfg.LogFormat, "warn"))
	}
	if len(cfg.Listen) == 0 && len(inh) == 0 && len(cfg.MySQL.Listen) == 0 && len(cfg.PgSQL.Listen) == 0 || len(cfg.Maps) == 0 {
		closeInherited()
		fmt.Fprintln(stderr, "mapgate serve: need at least one --listen (or sockets from systemd) and one --map (or listen/maps in --config)")
		return exitUsage
	}
	log, level := newLevelLogger(stderr, cfg.LogFormat, cfg.LogLevel)
	for _, w := range cfg.Warnings {
		log.Warn(w)
	}
	if err := serve(cfg, inh, load, log, level); err != nil {
		log.Error("mapgate stopped", "err", err)
		return exitFailure
	}
	return exitOK
}

// serve runs the daemon until a signal stops it: SIGHUP reloads, SIGTERM or
// SIGINT drains (a second one closes at once).
func serve(cfg *Config, inh []daemon.Inherited, reloadConfig func() (*Config, error), log *slog.Logger, level *slog.LevelVar) error {
	dcfg := cfg.daemonConfig(log)
	d, err := daemon.Start(dcfg, daemon.Env{
		Log: log, Level: level, Inherited: inh, Version: versionString(),
		Reload: func() (daemon.Config, error) {
			c, err := reloadConfig()
			if err != nil {
				return daemon.Config{}, err
			}
			return c.daemonConfig(log), nil
		},
	})
	if err != nil {
		return err
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	for {
		select {
		case err := <-d.Err():
			d.Close()
			return err
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				d.Reload()
				continue
			}
			log.Info("shutting down: finishing lookups in flight", "signal", sig.String())
			start := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), cfg.LookupTimeout+2*time.Second)
			done := make(chan error, 1)
			go func() { done <- d.Shutdown(ctx) }()
			select {
			case err := <-done:
				if err != nil {
					log.Warn("shutdown: forced", "err", err)
				}
			case sig := <-sigs:
				log.Warn("second signal: exiting now", "signal", sig.String())
				d.Close()
				<-done
			}
			cancel()
			log.Info("stopped", "took", time.Since(start).Round(time.Millisecond).String())
			return nil
		}
	}
}
