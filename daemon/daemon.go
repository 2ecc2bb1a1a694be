// Package daemon is the running mapgate: from a Config it builds the maps,
// one set of pools with one breaker per database host, one answer cache,
// and the fronts that serve them (socketmap, the MySQL front for Postfix's
// own mysql: client, the PostgreSQL front for its pgsql: client), with
// metrics and the admin socket. A reload
// builds the new whole and swaps it in; shutdown drains it. cmd/mapgate is
// the flags and the signals around it.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"mapgate/answer"
	"mapgate/internal/accept"
	"mapgate/internal/conncore"
	"mapgate/lookup"
	"mapgate/mysqlfront"
	"mapgate/pgfront"
	"mapgate/smfront"
	"mapgate/socketmap"
)

// Env is what a daemon runs with besides its Config.
type Env struct {
	Log *slog.Logger
	// Level is the logger's level, set from log_level by a reload (nil:
	// a reload leaves the level alone).
	Level *slog.LevelVar
	// Reload reads the configuration again (Daemon.Reload); nil: a reload
	// only refreshes the maps from the same Config.
	Reload func() (Config, error)
	// Inherited are the sockets systemd passed (InheritedListeners): each
	// front serves those of its name instead of its listen setting.
	Inherited []Inherited
	// Version is reported as mapgate_build_info.
	Version string
}

// Daemon is one running mapgate.
type Daemon struct {
	env Env
	log *slog.Logger
	met *metrics

	cur   atomic.Pointer[generation]
	ready atomic.Bool

	sm          *socketmap.Server
	smListeners []net.Listener

	// The MySQL front (hasFront): the daemon accepts on frontListeners
	// and hands connections to the current server's relay.
	hasFront       bool
	frontListeners []net.Listener
	relay          atomic.Pointer[relay]
	frontMu        sync.Mutex
	fronts         []*mysqlfront.Server // the current one last; older ones keep their logged-in connections
	frontDone      mysqlfront.Stats     // the counters of older servers that have ended
	frontWG        sync.WaitGroup

	// The PostgreSQL front (package pgfront): one server on pgListeners,
	// nil without one.
	pgListeners []net.Listener
	pg          *pgfront.Server

	metricsSrv *metricsServer
	errc       chan error
	serveWG    sync.WaitGroup

	// Owned by the reload goroutine once Start returned.
	cfg      Config
	admin    *adminServer
	retiring chan struct{} // closed when the generation swapped out last is closed

	reloadReq chan struct{}
	stop      chan struct{}
	stopOnce  sync.Once
	reloadWG  sync.WaitGroup
}

// Start builds everything cfg describes, listens, and serves. The lookups
// of every front go to the same maps, pools, breakers and cache.
func Start(cfg Config, env Env) (_ *Daemon, err error) {
	if env.Log == nil {
		env.Log = slog.Default()
	}
	d := &Daemon{env: env, log: env.Log, met: newMetrics(env.Version), cfg: cfg,
		errc: make(chan error, 1), reloadReq: make(chan struct{}, 1), stop: make(chan struct{})}
	d.met.state = d.scrapeState
	defer func() {
		if err != nil {
			d.closeListeners()
			if g := d.cur.Load(); g != nil {
				g.set.Close()
			}
			if d.metricsSrv != nil {
				d.metricsSrv.close()
			}
			if d.admin != nil {
				d.admin.close()
			}
		}
	}()
	if err := d.listen(); err != nil {
		return nil, err
	}
	d.sm = &socketmap.Server{Handler: smfront.Handler{Core: socketmapCore{d}}, Logger: d.log,
		RequestTimeout: cfg.LookupTimeout, MaxConns: cfg.MaxConns}

	g, err := d.build(cfg)
	if err != nil {
		return nil, err
	}
	d.cur.Store(g)
	if cfg.Cache.Enabled() {
		d.log.Info("answer cache on", "ttl", cfg.Cache.TTL.String(), "negative_ttl", cfg.Cache.NegativeTTL.String(),
			"stale_max", cfg.Cache.StaleMax.String(), "max_entries", cfg.Cache.MaxEntries, "max_bytes", cfg.Cache.MaxBytes)
	}
	if cfg.MetricsListen != "" {
		if d.metricsSrv, err = startMetrics(cfg.MetricsListen, d.met, &d.ready, d.log); err != nil {
			return nil, err
		}
	}
	if cfg.AdminSocket != "" {
		if d.admin, err = startAdmin(cfg.AdminSocket, d.purge, d.log); err != nil {
			return nil, err
		}
	}
	// Find the columns before serving, bounded: a database that is down now
	// is discovered later by the maps themselves.
	discover(g.set)

	for _, l := range d.smListeners {
		d.serveWG.Add(1)
		go func() {
			defer d.serveWG.Done()
			if err := d.sm.Serve(l); err != nil && !errors.Is(err, socketmap.ErrServerClosed) {
				d.fail(fmt.Errorf("socketmap %s: %w", l.Addr(), err))
			}
		}()
	}
	if d.hasFront {
		d.startFront(cfg)
		for _, l := range d.frontListeners {
			d.serveWG.Add(1)
			go func() {
				defer d.serveWG.Done()
				err := accept.Loop(l, d.stopping, d.stop, d.log, "mysqlfront", d.handOff)
				if !errors.Is(err, accept.ErrClosed) {
					d.fail(fmt.Errorf("mysql front %s: %w", l.Addr(), err))
				}
			}()
		}
	}
	if len(d.pgListeners) > 0 {
		d.startPg(cfg)
	}
	d.reloadWG.Add(1)
	go d.reloadLoop()
	d.ready.Store(true)
	d.log.Info("mapgate ready", "version", env.Version, "maps", g.set.Names())
	return d, nil
}

// Err reports a listener that failed for good.
func (d *Daemon) Err() <-chan error { return d.errc }

func (d *Daemon) fail(err error) {
	select {
	case d.errc <- err:
	default:
	}
}

func (d *Daemon) stopping() bool {
	select {
	case <-d.stop:
		return true
	default:
		return false
	}
}

// listen takes each front's sockets: those systemd passed under its name
// (FileDescriptorName=mysql for the MySQL front, any other name for
// socketmap), else those of its listen setting.
func (d *Daemon) listen() error {
	cfg := d.cfg
	var smInh, frontInh, pgInh []net.Listener
	for _, in := range d.env.Inherited {
		if in.Name == FrontMySQL {
			frontInh = append(frontInh, in.L)
		} else if in.Name == FrontPgSQL {
			pgInh = append(pgInh, in.L)
		} else {
			smInh = append(smInh, in.L)
		}
		d.log.Info("listening on a socket from systemd", "name", in.Name, "addr", in.L.Addr().Network()+":"+in.L.Addr().String())
	}
	// The inherited sockets are closed by closeListeners on any error.
	d.smListeners = append(d.smListeners, smInh...)
	d.frontListeners = append(d.frontListeners, frontInh...)
	d.pgListeners = append(d.pgListeners, pgInh...)
	for _, l := range pgInh {
		if err := pgLoopbackOrUnix(l.Addr()); err != nil {
			return fmt.Errorf("socket %q from systemd: %w", FrontPgSQL, err)
		}
	}
	for _, l := range frontInh {
		if err := loopbackOrUnixAddr(l.Addr()); err != nil {
			return fmt.Errorf("socket %q from systemd: %w", FrontMySQL, err)
		}
	}
	open := func(what string, specs []string, inh []net.Listener, dst *[]net.Listener) error {
		if len(inh) > 0 {
			if len(specs) > 0 {
				d.log.Info("socket-activated: the "+what+" setting is not used; the .socket unit decides where mapgate listens", what, strings.Join(specs, " "))
			}
			return nil
		}
		for _, spec := range specs {
			l, err := socketmap.Listen(spec, cfg.Unix)
			if err != nil {
				return fmt.Errorf("%s %s: %w", what, spec, err)
			}
			*dst = append(*dst, l)
			d.log.Info("listening", "param", what, "addr", spec)
		}
		return nil
	}
	if err := open("listen", cfg.Listen, smInh, &d.smListeners); err != nil {
		return err
	}
	if err := open("mysql_listen", cfg.MySQLListen, frontInh, &d.frontListeners); err != nil {
		return err
	}
	if err := open("pgsql_listen", cfg.PgSQLListen, pgInh, &d.pgListeners); err != nil {
		return err
	}
	d.hasFront = len(d.frontListeners) > 0
	if d.hasFront && cfg.MySQLPassword == "" {
		return errors.New("the MySQL front (mysql_listen, or a socket named mysql from systemd) needs mysql_password")
	}
	if len(d.pgListeners) > 0 && cfg.PgSQLPassword == "" {
		return errors.New("the PostgreSQL front (pgsql_listen, or a socket named pgsql from systemd) needs pgsql_password")
	}
	if len(d.smListeners) == 0 && !d.hasFront && len(d.pgListeners) == 0 {
		return errors.New("nothing to listen on: no listen, no mysql_listen, no pgsql_listen, no socket from systemd")
	}
	return nil
}

// loopbackOrUnixAddr refuses a TCP address that is not a loopback one: the
// front's password travels as a SHA1 challenge response.
func loopbackOrUnixAddr(a net.Addr) error {
	if ta, ok := a.(*net.TCPAddr); ok && !ta.IP.IsLoopback() {
		return fmt.Errorf("%s: the MySQL front listens on a unix socket or a loopback address only", a)
	}
	return nil
}

func (d *Daemon) closeListeners() {
	for _, l := range slices.Concat(d.smListeners, d.frontListeners, d.pgListeners) {
		l.Close()
	}
}

// startFront starts a MySQL front server with cfg's credentials on a new
// relay; the previous relay, if any, is closed, and its server keeps the
// connections it has.
// frontLimits are a SQL front's connection settings from the
// configuration: the lookup deadline and the connection cap of socketmap.
func frontLimits(cfg Config) conncore.Limits {
	return conncore.Limits{RequestTimeout: cfg.LookupTimeout, MaxConns: cfg.MaxConns}
}

func (d *Daemon) startFront(cfg Config) {
	var addr net.Addr
	if len(d.frontListeners) > 0 {
		addr = d.frontListeners[0].Addr()
	}
	r := newRelay(addr)
	srv := &mysqlfront.Server{
		Resolver: sqlResolver{d, mysqlView}, User: cfg.MySQLUser, Password: cfg.MySQLPassword,
		Logger: d.log, Limits: frontLimits(d.cfg),
	}
	d.frontMu.Lock()
	// Servers whose listener closed and whose last connection ended are
	// done.
	cur := d.currentFront()
	d.fronts = slices.DeleteFunc(d.fronts, func(s *mysqlfront.Server) bool {
		st := s.Stats()
		if s == cur || st.Open != 0 {
			return false
		}
		addStats(&d.frontDone, st)
		return true
	})
	d.fronts = append(d.fronts, srv)
	d.frontMu.Unlock()
	old := d.relay.Swap(r)
	d.frontWG.Add(1)
	go func() {
		defer d.frontWG.Done()
		if err := srv.Serve(r); err != nil && !errors.Is(err, mysqlfront.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			d.log.Error("MySQL front stopped", "err", err)
		}
	}()
	if old != nil {
		old.Close()
	}
}

// currentFront is the server new front connections go to (frontMu held).
func (d *Daemon) currentFront() *mysqlfront.Server {
	if len(d.fronts) == 0 {
		return nil
	}
	return d.fronts[len(d.fronts)-1]
}

// handOff gives a connection accepted on a front socket to the current
// server.
func (d *Daemon) handOff(nc net.Conn) {
	for {
		r := d.relay.Load()
		select {
		case r.conns <- nc:
			return
		case <-r.done: // swapped: the next one is stored already
		case <-d.stop:
			nc.Close()
			return
		}
	}
}

func (d *Daemon) scrapeState() (*lookup.Set, *socketmap.Server, *mysqlfront.Stats) {
	var set *lookup.Set
	if g := d.cur.Load(); g != nil {
		set = g.set
	}
	if !d.hasFront {
		return set, d.sm, nil
	}
	d.frontMu.Lock()
	defer d.frontMu.Unlock()
	sum := d.frontDone
	for _, s := range d.fronts {
		addStats(&sum, s.Stats())
	}
	return set, d.sm, &sum
}

// addStats adds st to sum: the front's counters are those of every server
// it ran.
func addStats(sum *mysqlfront.Stats, st mysqlfront.Stats) {
	sum.Accepted += st.Accepted
	sum.Rejected += st.Rejected
	sum.FailedLogins += st.FailedLogins
	sum.Open += st.Open
}

// socketmapCore is the lookup core socketmap serves: the current maps.
type socketmapCore struct{ d *Daemon }

func (c socketmapCore) Lookup(ctx context.Context, name, key string) answer.Result {
	g := c.d.acquire()
	defer g.release()
	return g.set.Lookup(ctx, name, key)
}

// purge is the admin socket's purge: the cache every front shares.
func (d *Daemon) purge(name, key string) (int, error) {
	g := d.acquire()
	defer g.release()
	return g.set.Purge(name, key)
}

// Maps returns the names of the maps served now.
func (d *Daemon) Maps() []string {
	g := d.acquire()
	defer g.release()
	return g.set.Names()
}

// discover finds the columns of every map's queries, bounded.
func discover(set *lookup.Set) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	set.Discover(ctx)
	cancel()
}

// Shutdown stops listening, lets the lookups in flight on every front
// answer, and closes the maps and pools; when ctx ends first, it closes
// every connection at once.
func (d *Daemon) Shutdown(ctx context.Context) error {
	d.ready.Store(false)
	d.stopOnce.Do(func() { close(d.stop) })
	d.reloadWG.Wait()
	d.closeListeners()
	if r := d.relay.Load(); r != nil {
		r.Close()
	}
	d.frontMu.Lock()
	fronts := slices.Clone(d.fronts)
	d.frontMu.Unlock()
	errs := make(chan error, len(fronts)+2)
	var wg sync.WaitGroup
	for _, s := range fronts {
		wg.Add(1)
		go func() { defer wg.Done(); errs <- s.Shutdown(ctx) }()
	}
	if d.pg != nil {
		wg.Add(1)
		go func() { defer wg.Done(); errs <- d.pg.Shutdown(ctx) }()
	}
	errs <- d.sm.Shutdown(ctx)
	wg.Wait()
	d.serveWG.Wait()
	d.frontWG.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	d.closeRest()
	return errors.Join(all...)
}

// Close closes everything at once.
func (d *Daemon) Close() {
	d.ready.Store(false)
	d.stopOnce.Do(func() { close(d.stop) })
	d.closeListeners()
	d.sm.Close()
	d.frontMu.Lock()
	for _, s := range d.fronts {
		s.Close()
	}
	d.frontMu.Unlock()
	if d.pg != nil {
		d.pg.Close()
	}
}

func (d *Daemon) closeRest() {
	if d.retiring != nil {
		<-d.retiring
	}
	d.cur.Load().set.Close()
	if d.admin != nil {
		d.admin.close()
	}
	if d.metricsSrv != nil {
		d.metricsSrv.close()
	}
}

// sortedNames lists a map's keys, sorted.
func sortedNames(m map[string]lookup.MapCheck) []string {
	out := make([]string, 0, len(m))
	for n := range m {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
