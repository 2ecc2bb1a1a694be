package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"mapgate/lookup"
)

// generation is one configuration's maps: socketmap's set, which owns the
// pools, breakers and cache, and the MySQL front's view of the same tables.
// A reload swaps the whole generation; the old one closes as soon as the
// lookups that started on it have finished.
type generation struct {
	set   *lookup.Set
	front *lookup.Set // a view of set (nil: no front)
	pg    *lookup.Set // the PostgreSQL front's view of set (nil: no front)

	refs    atomic.Int64 // lookups running on it
	retired atomic.Bool
	idle    chan struct{} // signalled when refs drops to 0 after retiring
}

// acquire returns the current generation, counted as in use until release.
// The count is taken before the generation is checked to be still current,
// and retire stores the new one before it reads the count, so a generation
// is never closed under a lookup that uses it.
func (d *Daemon) acquire() *generation {
	for {
		g := d.cur.Load()
		g.refs.Add(1)
		if d.cur.Load() == g {
			return g
		}
		g.release()
	}
}

func (g *generation) release() {
	if g.refs.Add(-1) == 0 && g.retired.Load() {
		select {
		case g.idle <- struct{}{}:
		default:
		}
	}
}

// retire waits (at most max) for the lookups in flight on g, which is no
// longer current, and closes it. It returns how long it waited.
func (g *generation) retire(max time.Duration, log *slog.Logger) time.Duration {
	start := time.Now()
	g.retired.Store(true)
	limit := time.NewTimer(max)
	defer limit.Stop()
wait:
	for g.refs.Load() != 0 {
		select {
		case <-g.idle:
		case <-limit.C:
			log.Warn("reload: lookups still running on the previous maps; closing them anyway", "lookups", g.refs.Load(), "waited", max.String())
			break wait
		}
	}
	g.set.Close()
	return time.Since(start)
}

// build makes a generation from cfg: the maps, their pools and cache, and
// the front's view. Nothing is connected yet.
func (d *Daemon) build(cfg Config) (*generation, error) {
	po := cfg.Pool
	po.OnBreaker = d.met.Breaker
	set, err := lookup.Load(cfg.Maps, po, d.log, d.met)
	if err != nil {
		return nil, err
	}
	if err := set.UseCache(cfg.Cache); err != nil {
		set.Close()
		return nil, err
	}
	g := &generation{set: set, idle: make(chan struct{}, 1)}
	if d.hasFront {
		g.front = set.View(frontOptions, frontMetrics{d.met, "mysql"}, "front", "mysql")
	}
	if len(d.pgListeners) > 0 {
		g.pg = set.View(frontOptions, frontMetrics{d.met, "pgsql"}, "front", "pgsql")
	}
	return g, nil
}

// Reload asks for the configuration to be read again and the new whole
// swapped in. It returns at once. Requests made while a reload runs are
// coalesced into one more reload after it.
func (d *Daemon) Reload() {
	select {
	case d.reloadReq <- struct{}{}:
	default:
	}
}

func (d *Daemon) reloadLoop() {
	defer d.reloadWG.Done()
	for {
		select {
		case <-d.reloadReq:
			if !d.stopping() {
				d.reload()
			}
		case <-d.stop:
			return
		}
	}
}

// reload re-reads the configuration and every .cf file and swaps the new
// generation in; a broken configuration is refused and the old one keeps
// serving, and so is one with a map that no host can answer (unreachable, a
// refused password, an unknown column: see refusal) while the running map
// can. The parameters NeedsRestart names are logged and not applied.
//
// At most one generation besides the current one holds connections: a
// reload first waits until the generation the previous one swapped out is
// closed, whatever the rate of SIGHUPs.
func (d *Daemon) reload() {
	start := time.Now()
	if d.retiring != nil {
		<-d.retiring
		d.retiring = nil
	}
	running := d.cur.Load()
	// SIGHUP clears the cache, whether or not the reload is accepted (a
	// new generation starts with an empty one).
	if n, _ := running.set.Purge("", ""); n > 0 {
		d.log.Info("answer cache cleared", "entries", n)
	}
	next := d.cfg
	if d.env.Reload != nil {
		cfg, err := d.env.Reload()
		if err != nil {
			d.log.Error("reload refused: configuration error; still serving the previous maps", "err", err)
			d.met.reloads.WithLabelValues("error").Inc()
			return
		}
		for _, name := range NeedsRestart(d.cfg, cfg) {
			d.log.Warn("reload: this parameter changed but needs a restart; the running value is kept", "param", name)
		}
		next = applied(d.cfg, cfg)
	}
	g, err := d.build(next)
	if err != nil {
		d.log.Error("reload refused: map error; still serving the previous maps", "err", err)
		d.met.reloads.WithLabelValues("error").Inc()
		return
	}
	if err := refusal(g.set, running.set, d.log); err != nil {
		g.set.Close()
		d.log.Error("reload refused: the new maps cannot reach their databases; still serving the previous maps", "err", err)
		d.met.reloads.WithLabelValues("refused").Inc()
		return
	}
	if d.env.Level != nil {
		d.env.Level.Set(ParseLevel(next.LogLevel))
	}
	discover(g.set)
	d.cur.Store(g)
	retiring := make(chan struct{})
	d.retiring = retiring
	maxWait := d.cfg.LookupTimeout + 2*time.Second
	go func() {
		defer close(retiring)
		took := running.retire(maxWait, d.log)
		d.log.Debug("previous maps closed", "after", took.String())
	}()
	old := d.cfg
	d.cfg = next
	if d.hasFront && (next.MySQLUser != old.MySQLUser || next.MySQLPassword != old.MySQLPassword) {
		d.startFront(next)
		d.log.Info("MySQL front: new logins need the new mysql_user and mysql_password; connections logged in before keep serving")
	}
	if d.pg != nil && (next.PgSQLUser != old.PgSQLUser || next.PgSQLPassword != old.PgSQLPassword) {
		d.pg.SetCredentials(next.PgSQLUser, next.PgSQLPassword)
		d.log.Info("PostgreSQL front: new logins need the new pgsql_user and pgsql_password; connections logged in before keep serving")
	}
	if next.AdminSocket != old.AdminSocket {
		d.rebindAdmin(next.AdminSocket)
	}
	d.met.reloads.WithLabelValues("ok").Inc()
	d.log.Info("reloaded", "maps", g.set.Names(), "took", time.Since(start).Round(time.Millisecond).String())
}

// applied is the configuration a reload runs: next's values, except for
// the parameters NeedsRestart names, which keep running's.
func applied(running, next Config) Config {
	out := next
	out.Listen = running.Listen
	out.MySQLListen = running.MySQLListen
	out.PgSQLListen = running.PgSQLListen
	out.MetricsListen = running.MetricsListen
	out.Unix = running.Unix
	out.MaxConns = running.MaxConns
	out.LookupTimeout = running.LookupTimeout
	out.LogFormat = running.LogFormat
	return out
}

// rebindAdmin moves the admin socket to path (empty: none). When the new
// socket cannot be made, the old one is kept and the error logged.
func (d *Daemon) rebindAdmin(path string) {
	var a *adminServer
	if path != "" {
		var err error
		if a, err = startAdmin(path, d.purge, d.log); err != nil {
			d.log.Error("reload: admin_socket not moved", "err", err)
			return
		}
	}
	if d.admin != nil {
		d.admin.close()
	}
	d.admin = a
}

// ParseLevel is log_level's value as a slog.Level (info when unknown).
func ParseLevel(level string) slog.Level {
	switch level {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// checkSet asks every host of every map of set to prepare the map's
// query, bounded by a connection and two round trips.
func checkSet(set *lookup.Set) map[string]lookup.MapCheck {
	ctx, cancel := context.WithTimeout(context.Background(), checkTimeout(set))
	defer cancel()
	return set.Check(ctx)
}

func checkTimeout(set *lookup.Set) time.Duration {
	o := set.Pools().Options()
	return o.DialTimeout + 2*o.QueryTimeout
}

// refusal returns why the new set must not replace the running one: a map
// of the new set that no host can answer, while the running set's map of
// that name can be answered. nil: swap. A map that cannot be answered in
// either set (its databases are down) does not stop the reload: there is
// nothing to keep; it is logged.
func refusal(next, running *lookup.Set, log *slog.Logger) error {
	var why []string
	checks := checkSet(next)
	for _, name := range sortedNames(checks) {
		mc := checks[name]
		if mc.OK() {
			warnFailingHosts(mc, log)
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), checkTimeout(running))
		old, had := running.CheckMap(ctx, name)
		cancel()
		if had && old.OK() {
			why = append(why, fmt.Sprintf("map %s: %v", name, oneLine(mc.Err().Error())))
			continue
		}
		log.Warn("reload: this map cannot reach its databases now (nor could the running one); its lookups are TEMP until they answer",
			"map", name, "err", oneLine(mc.Err().Error()))
	}
	if len(why) == 0 {
		return nil
	}
	sort.Strings(why)
	return fmt.Errorf("%s", strings.Join(why, "; "))
}

// warnFailingHosts logs each host that cannot answer a map that another
// host can answer.
func warnFailingHosts(mc lookup.MapCheck, log *slog.Logger) {
	for _, f := range mc.Files {
		for _, h := range f.Hosts {
			if h.Err != nil {
				log.Warn("reload: a host cannot answer this map; the others can", "map", mc.Map, "file", f.Path,
					"host", h.Host, "err", oneLine(h.Err.Error()))
			}
		}
	}
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", "; ") }
