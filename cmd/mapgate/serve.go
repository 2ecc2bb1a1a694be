package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"mapgate/answer"
	"mapgate/lookup"
	"mapgate/mysqlfront"
	"mapgate/smfront"
	"mapgate/socketmap"
)

// liveSet is the lookup core the front end serves: the current map set,
// swapped whole on reload. The lookup's time budget is the server's request deadline
// (socketmap.Server.RequestTimeout = lookup_timeout).
type liveSet struct {
	cur atomic.Pointer[lookup.Set]
}

func (h *liveSet) Lookup(ctx context.Context, name, key string) answer.Result {
	return h.cur.Load().Lookup(ctx, name, key)
}

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
	inh, err := inheritedListeners()
	if err != nil {
		fmt.Fprintf(stderr, "mapgate serve: %v\n", err)
		return exitFailure
	}
	closeInherited := func() {
		for _, in := range inh {
			in.l.Close()
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
	if len(cfg.Listen) == 0 && len(inh) == 0 && len(cfg.MySQL.Listen) == 0 || len(cfg.Maps) == 0 {
		closeInherited()
		fmt.Fprintln(stderr, "mapgate serve: need at least one --listen (or sockets from systemd) and one --map (or listen/maps in --config)")
		return exitUsage
	}
	log := newLogger(stderr, cfg.LogFormat, cfg.LogLevel)
	for _, w := range cfg.Warnings {
		log.Warn(w)
	}
	if err := serve(cfg, inh, load, log); err != nil {
		log.Error("mapgate stopped", "err", err)
		return exitFailure
	}
	return exitOK
}

// serve runs the server until a signal stops it. It serves the listeners
// inherited from systemd when there are any (cfg.Listen is then not used),
// else it opens cfg.Listen itself.
func serve(cfg *Config, inh []inherited, reloadConfig func() (*Config, error), log *slog.Logger) error {
	var listeners []net.Listener
	closeAll := func() {
		for _, l := range listeners {
			l.Close()
		}
	}
	for _, in := range inh {
		listeners = append(listeners, in.l)
	}
	met := newMetrics()
	cfg.Pool.OnBreaker = met.Breaker
	set, err := lookup.Load(cfg.Maps, cfg.Pool, log, met)
	if err != nil {
		closeAll()
		return err
	}
	if err := set.UseCache(cfg.Cache); err != nil {
		closeAll()
		set.Close()
		return err
	}
	if cfg.Cache.Enabled() {
		log.Info("answer cache on", "ttl", cfg.Cache.TTL.String(), "negative_ttl", cfg.Cache.NegativeTTL.String(),
			"stale_max", cfg.Cache.StaleMax.String(), "max_entries", cfg.Cache.MaxEntries, "max_bytes", cfg.Cache.MaxBytes)
	}
	met.watch(set)
	handler := &liveSet{}
	handler.cur.Store(set)

	// The MySQL front has its own map set: the same .cf files with every
	// search off (Postfix's client runs its own), its own pools.
	var front *liveSet
	var fsrv *mysqlfront.Server
	if len(cfg.MySQL.Listen) > 0 {
		fset, err := lookup.Load(frontSpecs(cfg.Maps), cfg.Pool, log.With("front", "mysql"), frontMetrics{met})
		if err != nil {
			closeAll()
			set.Close()
			return err
		}
		front = &liveSet{}
		front.cur.Store(fset)
		fsrv = &mysqlfront.Server{
			Resolver: frontResolver{front}, User: cfg.MySQL.User, Password: cfg.MySQL.Password,
			Logger: log, RequestTimeout: cfg.LookupTimeout, MaxConns: cfg.MaxConns,
		}
		if cfg.Unix.Group == "" && slices.ContainsFunc(cfg.MySQL.Listen, func(s string) bool { return strings.HasPrefix(s, "unix:") }) {
			cfg.Unix.Group = postfixGroup(log)
		}
		for _, spec := range cfg.MySQL.Listen {
			l, err := socketmap.Listen(spec, cfg.Unix)
			if err != nil {
				closeAll()
				set.Close()
				fset.Close()
				return fmt.Errorf("mysql_listen %s: %w", spec, err)
			}
			fl := l
			defer fl.Close()
			log.Info("MySQL front listening", "addr", spec)
			go func() {
				if err := fsrv.Serve(fl); err != nil && !errors.Is(err, mysqlfront.ErrServerClosed) {
					log.Error("MySQL front stopped", "addr", spec, "err", err)
				}
			}()
		}
		dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		fset.Discover(dctx)
		cancel()
	}
	stopFront := func(ctx context.Context) {
		if fsrv == nil {
			return
		}
		if err := fsrv.Shutdown(ctx); err != nil {
			log.Warn("MySQL front shutdown: forced", "err", err)
		}
		front.cur.Load().Close()
	}

	srv := &socketmap.Server{
		Handler:        smfront.Handler{Core: handler},
		Logger:         log,
		RequestTimeout: cfg.LookupTimeout,
		MaxConns:       cfg.MaxConns,
	}
	met.server = srv

	if len(inh) > 0 {
		for _, in := range inh {
			log.Info("listening on a socket from systemd", "name", in.name, "addr", in.l.Addr().Network()+":"+in.l.Addr().String())
		}
		if len(cfg.Listen) > 0 {
			log.Info("socket-activated: the listen setting is not used; the .socket unit decides where mapgate listens", "listen", strings.Join(cfg.Listen, " "))
		}
	} else {
		if cfg.Unix.Group == "" && slices.ContainsFunc(cfg.Listen, func(s string) bool { return strings.HasPrefix(s, "unix:") }) {
			cfg.Unix.Group = postfixGroup(log)
		}
		for _, spec := range cfg.Listen {
			l, err := socketmap.Listen(spec, cfg.Unix)
			if err != nil {
				closeAll()
				set.Close()
				return fmt.Errorf("listen %s: %w", spec, err)
			}
			listeners = append(listeners, l)
			log.Info("listening", "addr", spec)
		}
	}

	ready := &atomic.Bool{}
	var metricsSrv *metricsServer
	if cfg.MetricsListen != "" {
		metricsSrv, err = startMetrics(cfg.MetricsListen, met, ready, handler, log)
		if err != nil {
			closeAll()
			set.Close()
			return err
		}
	}

	var admin *adminServer
	if cfg.AdminSocket != "" {
		admin, err = startAdmin(cfg.AdminSocket, handler, log)
		if err != nil {
			closeAll()
			set.Close()
			if metricsSrv != nil {
				metricsSrv.close()
			}
			return err
		}
		defer admin.close()
	}

	// Find the columns before serving, bounded: a database that is down now
	// is discovered later by the maps themselves.
	dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	set.Discover(dctx)
	cancel()

	errc := make(chan error, len(listeners))
	var wg sync.WaitGroup
	for _, l := range listeners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Serve(l); err != nil && !errors.Is(err, socketmap.ErrServerClosed) {
				errc <- err
			}
		}()
	}
	ready.Store(true)
	log.Info("mapgate ready", "version", versionString(), "maps", set.Names())

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	for {
		select {
		case err := <-errc:
			srv.Close()
			if fsrv != nil {
				fsrv.Close()
				front.cur.Load().Close()
			}
			handler.cur.Load().Close()
			return err
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				reload(handler, reloadConfig, cfg, log, met)
				if front != nil {
					reloadFront(front, reloadConfig, cfg, log, met)
				}
				continue
			}
			log.Info("shutting down: finishing lookups in flight", "signal", sig.String())
			ready.Store(false)
			start := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), cfg.LookupTimeout+2*time.Second)
			done := make(chan error, 1)
			go func() {
				var wg sync.WaitGroup
				wg.Add(1)
				go func() { defer wg.Done(); stopFront(ctx) }()
				err := srv.Shutdown(ctx)
				wg.Wait()
				done <- err
			}()
			select {
			case err := <-done:
				if err != nil {
					log.Warn("shutdown: forced", "err", err)
				}
			case sig := <-sigs:
				log.Warn("second signal: exiting now", "signal", sig.String())
				srv.Close()
				if fsrv != nil {
					fsrv.Close()
				}
			}
			cancel()
			wg.Wait()
			handler.cur.Load().Close()
			if metricsSrv != nil {
				metricsSrv.close()
			}
			log.Info("stopped", "took", time.Since(start).Round(time.Millisecond).String())
			return nil
		}
	}
}

// reload re-reads the configuration and every .cf file and swaps the new
// maps in; a broken configuration is refused and the old one keeps serving,
// and so is one with a map that no host can answer (unreachable, a refused
// password, an unknown column: see refusal) while the running map can.
// Listeners are not changed by a reload.
func reload(h *liveSet, reloadConfig func() (*Config, error), old *Config, log *slog.Logger, met *metrics) {
	// SIGHUP clears the cache, whether or not the reload is accepted (a
	// new set starts with an empty one).
	if n, _ := h.cur.Load().Purge("", ""); n > 0 {
		log.Info("answer cache cleared", "entries", n)
	}
	cfg, err := reloadConfig()
	if err != nil {
		log.Error("reload refused: configuration error; still serving the previous maps", "err", err)
		met.reloads.WithLabelValues("error").Inc()
		return
	}
	cfg.Pool.OnBreaker = met.Breaker
	set, err := lookup.Load(cfg.Maps, cfg.Pool, log, met)
	if err == nil {
		if err = set.UseCache(cfg.Cache); err != nil {
			set.Close()
		}
	}
	if err != nil {
		log.Error("reload refused: map error; still serving the previous maps", "err", err)
		met.reloads.WithLabelValues("error").Inc()
		return
	}
	if err := refusal(set, h.cur.Load(), log); err != nil {
		set.Close()
		log.Error("reload refused: the new maps cannot reach their databases; still serving the previous maps", "err", err)
		met.reloads.WithLabelValues("refused").Inc()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	set.Discover(ctx)
	cancel()
	prev := h.cur.Swap(set)
	prev.Purge("", "")
	met.watch(set)
	prev.CloseAfter(old.LookupTimeout + 2*time.Second)
	met.reloads.WithLabelValues("ok").Inc()
	log.Info("reloaded", "maps", set.Names())
}

// reloadFront swaps in the MySQL front's maps after a reload (the same
// configuration, searches off). Its listeners do not change.
func reloadFront(h *liveSet, reloadConfig func() (*Config, error), old *Config, log *slog.Logger, met *metrics) {
	cfg, err := reloadConfig()
	if err != nil {
		return // logged by reload
	}
	cfg.Pool.OnBreaker = met.Breaker
	set, err := lookup.Load(frontSpecs(cfg.Maps), cfg.Pool, log.With("front", "mysql"), frontMetrics{met})
	if err != nil {
		log.Error("MySQL front: reload refused; still serving the previous maps", "err", err)
		return
	}
	if err := refusal(set, h.cur.Load(), log); err != nil {
		set.Close()
		log.Error("MySQL front: reload refused: the new maps cannot reach their databases", "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	set.Discover(ctx)
	cancel()
	h.cur.Swap(set).CloseAfter(old.LookupTimeout + 2*time.Second)
	log.Info("MySQL front reloaded", "maps", set.Names())
}
