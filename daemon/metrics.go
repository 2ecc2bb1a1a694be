package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sony/gobreaker/v2"

	"mapgate/lookup"
	"mapgate/mysqlfront"
	"mapgate/socketmap"
)

// metrics is mapgate's Prometheus registry. It implements lookup.Observer.
// Label values come from fixed sets (map names from the configuration,
// host names from .cf files, results, reasons, classes): never from keys.
type metrics struct {
	reg *prometheus.Registry

	lookups      *prometheus.CounterVec
	lookupTime   *prometheus.HistogramVec
	rejected     *prometheus.CounterVec
	queries      *prometheus.CounterVec
	queryTime    *prometheus.HistogramVec
	reloads      *prometheus.CounterVec
	breakerTrans *prometheus.CounterVec
	cache        *prometheus.CounterVec

	// state reads, at scrape time, the running set, the socketmap
	// server and the MySQL front's counters (nil: no front).
	state func() (*lookup.Set, *socketmap.Server, *mysqlfront.Stats)
}

func newMetrics(version string) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.lookups = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "mapgate", Name: "lookups_total",
		Help: "Lookups answered, by map, result (ok, notfound, temp) and front (socketmap, mysql, pgsql).",
	}, []string{"map", "result", "front"})
	m.lookupTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "mapgate", Name: "lookup_duration_seconds",
		Help:    "Time to answer one lookup, all search steps and hosts included.",
		Buckets: []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5},
	}, []string{"map"})
	m.rejected = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "mapgate", Name: "keys_rejected_total",
		Help: "Search-step keys answered without a query (invalid_utf8, unrepresentable, nul, too_long, domain, suppressed) or after a key-caused database error (key_error).",
	}, []string{"map", "reason"})
	m.queries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "mapgate", Name: "queries_total",
		Help: "Query attempts on a database host, by outcome class: none (answered), key (a key-caused error), query (schema or .cf error), host (host fault), canceled, limit (expansion_limit exceeded), unknown.",
	}, []string{"map", "host", "class"})
	m.queryTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "mapgate", Name: "query_duration_seconds",
		Help:    "Time of one query attempt on one host.",
		Buckets: []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5},
	}, []string{"host"})
	m.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "mapgate", Name: "reloads_total",
		Help: "Configuration reloads (SIGHUP), by result: ok, error (configuration or .cf error), refused (a map could not reach its databases while the running one could).",
	}, []string{"result"})
	m.breakerTrans = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "mapgate", Name: "host_breaker_transitions_total",
		Help: "Host breaker state changes, by host and new state.",
	}, []string{"host", "to"})
	m.cache = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "mapgate", Name: "cache_total",
		Help: "Answer cache uses, by map and event: hit (rows within their TTL), miss (a query was needed), stale (rows past their TTL served because no database host was available).",
	}, []string{"map", "event"})
	m.reg.MustRegister(m.cache, m.lookups, m.lookupTime, m.rejected, m.queries, m.queryTime, m.reloads, m.breakerTrans,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&scrapeCollector{m: m})
	bi := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "mapgate", Name: "build_info", Help: "mapgate's version.",
		ConstLabels: prometheus.Labels{"version": version},
	})
	bi.Set(1)
	m.reg.MustRegister(bi)
	return m
}

// Result implements lookup.Observer.
func (m *metrics) Result(mapName, result string, d time.Duration) {
	m.lookups.WithLabelValues(mapName, result, "socketmap").Inc()
	m.lookupTime.WithLabelValues(mapName).Observe(d.Seconds())
}

// frontMetrics is the lookup.Observer of a SQL front's maps: lookups are
// counted with front="mysql" or front="pgsql".
type frontMetrics struct {
	*metrics
	front string
}

// Result implements lookup.Observer.
func (m frontMetrics) Result(mapName, result string, d time.Duration) {
	m.lookups.WithLabelValues(mapName, result, m.front).Inc()
	m.lookupTime.WithLabelValues(mapName).Observe(d.Seconds())
}

// Rejected implements lookup.Observer.
func (m *metrics) Rejected(mapName, reason string) {
	m.rejected.WithLabelValues(mapName, reason).Inc()
}

// Query implements lookup.Observer.
func (m *metrics) Query(mapName, host, class string, d time.Duration) {
	m.queries.WithLabelValues(mapName, host, class).Inc()
	m.queryTime.WithLabelValues(host).Observe(d.Seconds())
}

// Cache implements lookup.CacheObserver.
func (m *metrics) Cache(mapName, event string) {
	m.cache.WithLabelValues(mapName, event).Inc()
}

// Breaker is called on breaker state changes.
func (m *metrics) Breaker(host string, _, to gobreaker.State) {
	m.breakerTrans.WithLabelValues(host, to.String()).Inc()
}

// scrapeCollector reads state that lives elsewhere at scrape time: breaker
// states, database pools, client connections.
type scrapeCollector struct{ m *metrics }

var (
	descBreaker = prometheus.NewDesc("mapgate_host_breaker_state",
		"Host breaker state: 0 closed (in use), 1 half-open (probing), 2 open (skipped).", []string{"host"}, nil)
	descPoolConns = prometheus.NewDesc("mapgate_db_pool_connections",
		"Database connections per pool, by state (in_use, idle).", []string{"pool", "state"}, nil)
	descPoolMax = prometheus.NewDesc("mapgate_db_pool_max_connections",
		"Configured maximum connections per pool.", []string{"pool"}, nil)
	descPoolWaits = prometheus.NewDesc("mapgate_db_pool_waits_total",
		"Times a lookup waited for a free database connection.", []string{"pool"}, nil)
	descPoolWaitTime = prometheus.NewDesc("mapgate_db_pool_wait_seconds_total",
		"Total time lookups waited for a free database connection.", []string{"pool"}, nil)
	descClientOpen = prometheus.NewDesc("mapgate_client_connections",
		"Client (Postfix) connections open now.", nil, nil)
	descClientAccepted = prometheus.NewDesc("mapgate_client_connections_accepted_total",
		"Client connections accepted.", nil, nil)
	descClientRejected = prometheus.NewDesc("mapgate_client_connections_rejected_total",
		"Client connections closed at once because max_connections were open.", nil, nil)
	descMalformed = prometheus.NewDesc("mapgate_requests_malformed_total",
		"Client connections closed over a malformed request.", nil, nil)
	descReplies = prometheus.NewDesc("mapgate_replies_total",
		"Socketmap replies sent, by status.", []string{"status"}, nil)
	descCacheEntries = prometheus.NewDesc("mapgate_cache_entries",
		"Query results in the answer cache now.", nil, nil)
	descCacheBytes = prometheus.NewDesc("mapgate_cache_bytes",
		"Estimated memory of the answer cache's entries (each counted at least cache_max_bytes/cache_max_entries).", nil, nil)
	descFrontOpen = prometheus.NewDesc("mapgate_mysql_connections",
		"MySQL front client connections open now.", nil, nil)
	descFrontAccepted = prometheus.NewDesc("mapgate_mysql_connections_accepted_total",
		"MySQL front client connections accepted.", nil, nil)
	descFrontRejected = prometheus.NewDesc("mapgate_mysql_connections_rejected_total",
		"MySQL front client connections refused with error 1040 (or closed) because max_connections were open.", nil, nil)
	descFrontLogins = prometheus.NewDesc("mapgate_mysql_logins_failed_total",
		"MySQL front logins refused with error 1045 (wrong mysql_user or mysql_password).", nil, nil)
)

func (c *scrapeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descBreaker, descPoolConns, descPoolMax, descPoolWaits, descPoolWaitTime,
		descClientOpen, descClientAccepted, descClientRejected, descMalformed, descReplies, descCacheEntries, descCacheBytes,
		descFrontOpen, descFrontAccepted, descFrontRejected, descFrontLogins} {
		ch <- d
	}
}

func (c *scrapeCollector) Collect(ch chan<- prometheus.Metric) {
	s, srv, front := c.m.state()
	if s != nil {
		n, b := s.CacheEntries()
		ch <- prometheus.MustNewConstMetric(descCacheEntries, prometheus.GaugeValue, float64(n))
		ch <- prometheus.MustNewConstMetric(descCacheBytes, prometheus.GaugeValue, float64(b))
		for _, h := range s.Pools().Hosts() {
			ch <- prometheus.MustNewConstMetric(descBreaker, prometheus.GaugeValue, float64(h.State), h.Host)
		}
		for name, st := range s.Pools().DBStats() {
			ch <- prometheus.MustNewConstMetric(descPoolConns, prometheus.GaugeValue, float64(st.InUse), name, "in_use")
			ch <- prometheus.MustNewConstMetric(descPoolConns, prometheus.GaugeValue, float64(st.Idle), name, "idle")
			ch <- prometheus.MustNewConstMetric(descPoolMax, prometheus.GaugeValue, float64(st.MaxOpenConnections), name)
			ch <- prometheus.MustNewConstMetric(descPoolWaits, prometheus.CounterValue, float64(st.WaitCount), name)
			ch <- prometheus.MustNewConstMetric(descPoolWaitTime, prometheus.CounterValue, st.WaitDuration.Seconds(), name)
		}
	}
	if front != nil {
		ch <- prometheus.MustNewConstMetric(descFrontOpen, prometheus.GaugeValue, float64(front.Open))
		ch <- prometheus.MustNewConstMetric(descFrontAccepted, prometheus.CounterValue, float64(front.Accepted))
		ch <- prometheus.MustNewConstMetric(descFrontRejected, prometheus.CounterValue, float64(front.Rejected))
		ch <- prometheus.MustNewConstMetric(descFrontLogins, prometheus.CounterValue, float64(front.FailedLogins))
	}
	if srv != nil {
		st := srv.Stats()
		ch <- prometheus.MustNewConstMetric(descClientOpen, prometheus.GaugeValue, float64(st.Open))
		ch <- prometheus.MustNewConstMetric(descClientAccepted, prometheus.CounterValue, float64(st.Accepted))
		ch <- prometheus.MustNewConstMetric(descClientRejected, prometheus.CounterValue, float64(st.Rejected))
		ch <- prometheus.MustNewConstMetric(descMalformed, prometheus.CounterValue, float64(st.Malformed))
		for i, n := range st.Replies {
			ch <- prometheus.MustNewConstMetric(descReplies, prometheus.CounterValue, float64(n), socketmap.Status(i).String())
		}
	}
}

type metricsServer struct {
	srv *http.Server
}

func (s *metricsServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s.srv.Shutdown(ctx)
}

// startMetrics serves /metrics, /healthz (the process is up) and /readyz
// (serving, and some database host's breaker is not open: the pools and
// breakers are every front's, so this holds for the MySQL front too).
func startMetrics(addr string, m *metrics, ready *atomic.Bool, log *slog.Logger) (*metricsServer, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics listen %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	// Go's profiler, for "where does the time go": bound the metrics
	// listener to loopback (the default examples do).
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		if !ready.Load() {
			http.Error(w, "not serving", http.StatusServiceUnavailable)
			return
		}
		if s, _, _ := m.state(); s != nil {
			hosts := s.Pools().Hosts()
			open := 0
			for _, hs := range hosts {
				if hs.State == gobreaker.StateOpen {
					open++
				}
			}
			if len(hosts) > 0 && open == len(hosts) {
				http.Error(w, "every database host's breaker is open", http.StatusServiceUnavailable)
				return
			}
		}
		fmt.Fprintln(w, "ready")
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server", "err", err)
		}
	}()
	log.Info("metrics listening", "addr", l.Addr().String())
	return &metricsServer{srv: srv}, nil
}
