package daemon

import (
	"errors"
	"fmt"
	"net"

	"github.com/prometheus/client_golang/prometheus"

	"mapgate/pgfront"
)

// FrontPgSQL is the FileDescriptorName= of a socket the PostgreSQL front
// serves.
const FrontPgSQL = "pgsql"

// startPg starts the PostgreSQL front on its listeners. A reload changes
// its credentials in place (pgfront.Server.SetCredentials): new logins
// need the new ones, connections logged in keep serving.
func (d *Daemon) startPg(cfg Config) {
	d.pg = &pgfront.Server{Resolver: sqlResolver{d, pgView}, User: cfg.PgSQLUser, Password: cfg.PgSQLPassword,
		Logger: d.log, Limits: frontLimits(cfg)}
	d.met.reg.MustRegister(pgCollector{d.pg})
	for _, l := range d.pgListeners {
		d.serveWG.Add(1)
		go func() {
			defer d.serveWG.Done()
			if err := d.pg.Serve(l); err != nil && !errors.Is(err, pgfront.ErrServerClosed) {
				d.fail(fmt.Errorf("pgsql front %s: %w", l.Addr(), err))
			}
		}()
	}
}

// pgLoopbackOrUnix refuses a systemd socket for the PostgreSQL front that
// is TCP on an address other than loopback: the front has no TLS, so keys
// and answers would cross the network in clear.
func pgLoopbackOrUnix(a net.Addr) error {
	if ta, ok := a.(*net.TCPAddr); ok && !ta.IP.IsLoopback() {
		return fmt.Errorf("%s: the PostgreSQL front listens on a unix socket or a loopback address only", a)
	}
	return nil
}

var (
	descPgOpen = prometheus.NewDesc("mapgate_pgsql_connections",
		"PostgreSQL front client connections open now.", nil, nil)
	descPgAccepted = prometheus.NewDesc("mapgate_pgsql_connections_accepted_total",
		"PostgreSQL front client connections accepted.", nil, nil)
	descPgRejected = prometheus.NewDesc("mapgate_pgsql_connections_rejected_total",
		"PostgreSQL front client connections refused with FATAL 53300 because max_connections were logged in.", nil, nil)
	descPgLogins = prometheus.NewDesc("mapgate_pgsql_logins_failed_total",
		"PostgreSQL front logins refused (wrong pgsql_user or pgsql_password, a malformed startup, an unknown map).", nil, nil)
	descPgRefused = prometheus.NewDesc("mapgate_pgsql_statements_refused_total",
		"PostgreSQL front statements refused and never executed (not one quoted key).", nil, nil)
	descPgEvicted = prometheus.NewDesc("mapgate_pgsql_connections_evicted_total",
		"PostgreSQL front connections closed before logging in to make room for a new one.", nil, nil)
)

// pgCollector reads the PostgreSQL front's counters at scrape time.
type pgCollector struct{ s *pgfront.Server }

func (c pgCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPgOpen, descPgAccepted, descPgRejected, descPgLogins, descPgRefused, descPgEvicted} {
		ch <- d
	}
}

func (c pgCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.Stats()
	ch <- prometheus.MustNewConstMetric(descPgOpen, prometheus.GaugeValue, float64(st.Open))
	ch <- prometheus.MustNewConstMetric(descPgAccepted, prometheus.CounterValue, float64(st.Accepted))
	ch <- prometheus.MustNewConstMetric(descPgRejected, prometheus.CounterValue, float64(st.Rejected))
	ch <- prometheus.MustNewConstMetric(descPgLogins, prometheus.CounterValue, float64(st.FailedLogins))
	ch <- prometheus.MustNewConstMetric(descPgRefused, prometheus.CounterValue, float64(st.Refused))
	ch <- prometheus.MustNewConstMetric(descPgEvicted, prometheus.CounterValue, float64(st.Evicted))
}
