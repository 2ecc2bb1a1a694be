package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"mapgate/bench"
	"mapgate/internal/mgproc"
	"mapgate/internal/pfinst"
	"mapgate/internal/testpg"
)

// pgsqlReport is phase (g): the distinct-keys comparison of (a) and (b)
// for pgsql_table(5) maps, on a private PostgreSQL.
type pgsqlReport struct {
	Server      string          `json:"server"`
	Encoding    string          `json:"database_encoding"`
	Rows        int             `json:"rows"`
	LoadSeconds float64         `json:"load_seconds"`
	Rounds      int             `json:"rounds"`
	LoadBefore  string          `json:"loadavg_before"`
	LoadAfter   string          `json:"loadavg_after"`
	Streams     []*pgsqlStreams `json:"streams"`
}

// pgsqlStreams is one stream count of phase (g): the median round of each
// table, the ratios of mapgate's socketmap and of Postfix's pgsql: client
// on mapgate's PostgreSQL front against pgsql: and proxy:pgsql: (medians of
// the same rounds, the tables taking turns within each round), mapgate's
// CPU per lookup and the peak connections of role postfix.
type pgsqlStreams struct {
	Streams      int            `json:"streams"`
	Pgsql        *streamsResult `json:"pgsql"`
	Proxy        *streamsResult `json:"proxy_pgsql,omitempty"`
	Socketmap    *streamsResult `json:"mapgate_socketmap"`
	PgsqlRuns    []float64      `json:"pgsql_runs_s"`
	ProxyRuns    []float64      `json:"proxy_pgsql_runs_s,omitempty"`
	MGRuns       []float64      `json:"mapgate_runs_s"`
	RatioPgsql   float64        `json:"ratio_mapgate_to_pgsql"`
	RatioProxy   float64        `json:"ratio_mapgate_to_proxy_pgsql,omitempty"`
	Front        *streamsResult `json:"mapgate_pgsql_front,omitempty"`
	FrontRuns    []float64      `json:"mapgate_pgsql_front_runs_s,omitempty"`
	RatioFront   float64        `json:"ratio_pgsql_front_to_pgsql,omitempty"`
	CPUUs        float64        `json:"mapgate_cpu_us_per_lookup"`
	FrontCPUUs   float64        `json:"pgsql_front_cpu_us_per_lookup,omitempty"`
	PgsqlConns   int            `json:"pgsql_peak_db_conns"`
	ProxyConns   int            `json:"proxy_pgsql_peak_db_conns,omitempty"`
	MapgateConns int            `json:"mapgate_peak_db_conns"`
}

// pgsqlEncoding is the bench database's encoding (the keys are ASCII, so
// Postfix 3.7's hard-wired LATIN1 client encoding sends them faithfully).
const pgsqlEncoding = "UTF8"

// pgsqlEnv is what phase (g) starts: the server, the .cf file, mapgate
// (socketmap and its PostgreSQL front), the front's .cf file.
type pgsqlEnv struct {
	s       *testpg.Server
	cf      string
	mg      *mgproc.Proc
	pf      *pfinst.Instance
	frontCF string
}

// startPgsql starts a private PostgreSQL (internal/testpg: initdb once
// into a temp dir, copied per server, its own port on 127.0.0.1 and its own
// socket, run as "nobody" when benchrun is root; never the system
// instance), loads the data set of the MySQL phases into PostfixAdmin's
// pgsql alias table, writes the pgsql_table(5) file and starts a mapgate
// of its own (map "alias", address search off, cache off) so that its CPU
// is measured apart.
func (h *harness) startPgsql(rep *pgsqlReport) *pgsqlEnv {
	step := time.Now()
	s, err := testpg.New()
	must(h.tb, err)
	h.tb.Cleanup(testpg.RemoveTemplate)
	h.tb.Cleanup(s.Close)
	must(h.tb, s.CreateDB("postfix", pgsqlEncoding))
	must(h.tb, s.Exec("postfix", fmt.Sprintf(`CREATE TABLE alias (
  address varchar(255) PRIMARY KEY, goto text NOT NULL, domain varchar(255) NOT NULL,
  active boolean NOT NULL DEFAULT true);
INSERT INTO alias (address, goto, domain)
  SELECT 'user' || i || '@bulk.example', 'user' || i || '@dest.example', 'bulk.example' FROM generate_series(0, %d) AS i;
ANALYZE alias`, h.o.rows-1)))
	must(h.tb, s.GrantRead("postfix"))
	rep.Server = fmt.Sprintf("internal/testpg: a private postgres on %s (own initdb cluster in %s, run as %s when root)", s.Addr(), s.Dir, testpg.RunAs)
	rep.Encoding, rep.Rows = pgsqlEncoding, h.o.rows
	rep.LoadSeconds = round(time.Since(step).Seconds(), 2)
	h.logf("PostgreSQL: %d aliases (%s) on %s (%.1fs)", h.o.rows, pgsqlEncoding, s.Addr(), rep.LoadSeconds)

	e := &pgsqlEnv{s: s, cf: filepath.Join(h.dir, "pgalias.cf")}
	cf := fmt.Sprintf("# mapgate bench: PostfixAdmin's virtual alias query (pgsql)\nhosts = inet:%s\nuser = %s\npassword = %s\ndbname = postfix\nquery = SELECT goto FROM alias WHERE address='%%s' AND active = '1'\n",
		s.Addr(), testpg.User, testpg.Password)
	must(h.tb, os.WriteFile(e.cf, []byte(cf), 0o644))
	// The PostgreSQL front on a unix socket (libpq's DIR/.s.PGSQL.5432),
	// with the .cf migrate would write (query = '%s').
	sock := filepath.Join(h.dir, "pgfront")
	must(h.tb, os.MkdirAll(sock, 0o755))
	e.frontCF = filepath.Join(h.dir, "pgfront.cf")
	must(h.tb, os.WriteFile(e.frontCF, []byte(fmt.Sprintf("# mapgate bench: mapgate's PostgreSQL front\nhosts = unix:%s\nuser = postfix\npassword = %s\ndbname = alias\nquery = '%%s'\n",
		sock, frontPassword)), 0o644))
	e.mg = mgproc.Start(h.tb, h.mgBin, "serve", "--map", "alias=pgsql:"+e.cf,
		"--set", "alias_address_search=no", "--set", "pool_size="+strconv.Itoa(h.o.poolSize),
		"--set", "pgsql_listen=unix:"+filepath.Join(sock, ".s.PGSQL.5432"), "--set", "pgsql_password="+frontPassword)
	h.logf("mapgate (pgsql:): pid %d on %s and its PostgreSQL front in %s, pool_size %d", e.mg.PID(), e.mg.Addr, sock, h.o.poolSize)
	return e
}

func (e *pgsqlEnv) pgsqlCmd(h *harness) func(context.Context) *exec.Cmd {
	return func(ctx context.Context) *exec.Cmd {
		return exec.CommandContext(ctx, h.postmap, "-c", h.dir, "-q", "-", "pgsql:"+e.cf)
	}
}

func (e *pgsqlEnv) socketmapCmd(h *harness) func(context.Context) *exec.Cmd {
	return func(ctx context.Context) *exec.Cmd {
		return exec.CommandContext(ctx, h.postmap, "-c", h.dir, "-q", "-", "socketmap:inet:"+e.mg.Addr+":alias")
	}
}

func (e *pgsqlEnv) frontCmd(h *harness) func(context.Context) *exec.Cmd {
	return func(ctx context.Context) *exec.Cmd {
		return exec.CommandContext(ctx, h.postmap, "-c", h.dir, "-q", "-", "pgsql:"+e.frontCF)
	}
}

func (e *pgsqlEnv) proxyCmd() func(context.Context) *exec.Cmd {
	return func(ctx context.Context) *exec.Cmd {
		return e.pf.Command(ctx, "postmap", "-q", "-", "proxy:pgsql:"+e.cf)
	}
}

// pgsql runs phase (g): for 1 and 8 streams, rounds of postmap -q - over
// pgsql:, proxy:pgsql: (a private Postfix's proxymap; root needed) and
// mapgate's socketmap, the tables taking turns within each round, every
// answer checked; the median round of each is reported.
func (h *harness) pgsql() error {
	rep := &pgsqlReport{Rounds: h.o.repeats, LoadBefore: bench.LoadAvg()}
	h.rep.Pgsql = rep
	e := h.startPgsql(rep)
	if err := pfinst.Installed(); h.o.noPostfix || err != nil || os.Geteuid() != 0 {
		h.rep.Notes = append(h.rep.Notes, fmt.Sprintf("(g) no private Postfix instance (root and Postfix needed: %v): proxy:pgsql: skipped", err))
	} else {
		e.pf = pfinst.New(h.tb, pfinst.Options{VirtualAliasMaps: "proxy:pgsql:" + e.cf})
		defer func() {
			if err := e.pf.Stop(); err != nil {
				h.logf("  stop instance: %v", err)
			}
		}()
	}
	h.logf("(g) pgsql: distinct keys, %d keys per stream (half present), %d rounds", len(h.keys), h.o.repeats)
	// Warm each client once (connections, the server's caches).
	for _, mk := range []func(context.Context) *exec.Cmd{e.pgsqlCmd(h), e.socketmapCmd(h), e.frontCmd(h)} {
		if _, err := postmapStreams(h.ctx, "warm", mk, h.keyFile, h.keys, 1, h.data); err != nil {
			return err
		}
	}
	for _, streams := range []int{1, 8} {
		ps := &pgsqlStreams{Streams: streams}
		rep.Streams = append(rep.Streams, ps)
		var pg, px, sm, fr []*streamsResult
		var cpu, frontCPU time.Duration
		for range h.o.repeats {
			r, peak, err := h.pgRun(e, "pgsql:", e.pgsqlCmd(h), streams, false)
			if err != nil {
				return err
			}
			pg, ps.PgsqlConns = append(pg, r), max(ps.PgsqlConns, peak)
			if e.pf != nil {
				if r, peak, err = h.pgRun(e, "proxy:pgsql:", e.proxyCmd(), streams, false); err != nil {
					return err
				}
				px, ps.ProxyConns = append(px, r), max(ps.ProxyConns, peak)
			}
			cpu0 := procCPU(e.mg.PID())
			r, peak, err = h.pgRun(e, "socketmap: (mapgate)", e.socketmapCmd(h), streams, true)
			if err != nil {
				return err
			}
			cpu += procCPU(e.mg.PID()) - cpu0
			sm, ps.MapgateConns = append(sm, r), max(ps.MapgateConns, peak)
			cpu0 = procCPU(e.mg.PID())
			if r, peak, err = h.pgRun(e, "pgsql: (mapgate front)", e.frontCmd(h), streams, true); err != nil {
				return err
			}
			frontCPU += procCPU(e.mg.PID()) - cpu0
			fr, ps.MapgateConns = append(fr, r), max(ps.MapgateConns, peak)
		}
		ps.Pgsql, ps.PgsqlRuns = medianRun(pg)
		ps.Socketmap, ps.MGRuns = medianRun(sm)
		ps.RatioPgsql = ps.Socketmap.Seconds / ps.Pgsql.Seconds
		ps.Front, ps.FrontRuns = medianRun(fr)
		ps.RatioFront = ps.Front.Seconds / ps.Pgsql.Seconds
		ps.CPUUs = float64(cpu.Microseconds()) / float64(streams*h.o.repeats*len(h.keys))
		ps.FrontCPUUs = float64(frontCPU.Microseconds()) / float64(streams*h.o.repeats*len(h.keys))
		if len(px) > 0 {
			ps.Proxy, ps.ProxyRuns = medianRun(px)
			ps.RatioProxy = ps.Socketmap.Seconds / ps.Proxy.Seconds
		}
		h.logf("  %d stream(s): mapgate/pgsql: %.3f, mapgate/proxy:pgsql: %.3f, PostgreSQL front/pgsql: %.3f; mapgate CPU %.1f µs per lookup (front %.1f); peak connections pgsql: %d, proxy:pgsql: %d, mapgate %d",
			streams, ps.RatioPgsql, ps.RatioProxy, ps.RatioFront, ps.CPUUs, ps.FrontCPUUs, ps.PgsqlConns, ps.ProxyConns, ps.MapgateConns)
	}
	rep.LoadAfter = bench.LoadAvg()
	return nil
}

// pgRun runs one round of one table and the peak number of connections
// role postfix held meanwhile: mapgate's if mapgate is set, else the
// others'.
func (h *harness) pgRun(e *pgsqlEnv, table string, mk func(context.Context) *exec.Cmd, streams int, mapgate bool) (*streamsResult, int, error) {
	w := watchPgConns(e.s, mapgate)
	r, err := postmapStreams(h.ctx, table, mk, h.keyFile, h.keys, streams, h.data)
	peak := w.end()
	if err != nil {
		return nil, 0, err
	}
	h.logf("  %-22s %d stream(s) × %d keys: %.2fs (%.0f lookups/s) correct %d wrong %d errors %d, peak connections %d",
		table, streams, len(h.keys), r.Seconds, r.PerSec, r.Counts.Correct(), r.Counts.Wrong, r.Counts.Errors, peak)
	if r.Stderr != "" {
		h.logf("    stderr: %s", r.Stderr)
	}
	return r, peak, nil
}

// medianRun returns the run with the median time, with the counts of all
// runs summed, and every run's time in the order run.
func medianRun(runs []*streamsResult) (*streamsResult, []float64) {
	secs := make([]float64, len(runs))
	for i, r := range runs {
		secs[i] = r.Seconds
	}
	sorted := append([]*streamsResult(nil), runs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Seconds < sorted[j].Seconds })
	med := *sorted[len(sorted)/2]
	med.Counts = runs[0].Counts
	for _, r := range runs[1:] {
		med.Counts.Add(r.Counts)
	}
	return &med, secs
}

// pgConnWatch polls pg_stat_activity every 10 ms for the connections of
// role postfix (testpg.User), keeping the peak of mapgate's (it sets
// application_name "mapgate") and of the others' (Postfix's libpq client
// sets none) apart: mapgate's pool stays open while the other tables run.
type pgConnWatch struct {
	stop, done chan struct{}
	mapgate    bool
	peak       int
}

func watchPgConns(s *testpg.Server, mapgate bool) *pgConnWatch {
	w := &pgConnWatch{stop: make(chan struct{}), done: make(chan struct{}), mapgate: mapgate}
	go func() {
		defer close(w.done)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c, err := pgx.Connect(ctx, s.SuperConnString("postgres"))
		cancel()
		if err != nil {
			w.peak = -1
			return
		}
		defer c.Close(context.Background())
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			var n int
			if err := c.QueryRow(context.Background(), "SELECT count(*) FROM pg_stat_activity WHERE usename = $1 AND (application_name = 'mapgate') = $2", testpg.User, w.mapgate).Scan(&n); err == nil {
				w.peak = max(w.peak, n)
			}
			select {
			case <-w.stop:
				return
			case <-t.C:
			}
		}
	}()
	return w
}

// end stops polling and returns the peak (-1: the poller could not connect).
func (w *pgConnWatch) end() int {
	close(w.stop)
	<-w.done
	return w.peak
}

// pgsqlSmoke is phase (g) in short for -smoke: one round of 1 stream over
// pgsql: and 2 streams over mapgate's socketmap; check counts answers.
func (h *harness) pgsqlSmoke(check func(string, bench.Counts, int)) error {
	rep := &pgsqlReport{Rounds: 1, LoadBefore: bench.LoadAvg()}
	h.rep.Pgsql = rep
	e := h.startPgsql(rep)
	h.logf("smoke: postmap -q - over pgsql: and over mapgate's socketmap (pgsql: map), %d keys", len(h.keys))
	for _, t := range []struct {
		table   string
		mk      func(context.Context) *exec.Cmd
		streams int
		mapgate bool
	}{{"pgsql:", e.pgsqlCmd(h), 1, false}, {"socketmap: (mapgate)", e.socketmapCmd(h), 2, true}, {"pgsql: (mapgate front)", e.frontCmd(h), 2, true}} {
		r, _, err := h.pgRun(e, t.table, t.mk, t.streams, t.mapgate)
		if err != nil {
			return err
		}
		ps := &pgsqlStreams{Streams: t.streams}
		if t.table == "pgsql: (mapgate front)" {
			ps.Front = r
		} else if t.mapgate {
			ps.Socketmap = r
		} else {
			ps.Pgsql = r
		}
		rep.Streams = append(rep.Streams, ps)
		check("postmap "+t.table+" (pgsql map)", r.Counts, t.streams*len(h.keys))
	}
	rep.LoadAfter = bench.LoadAvg()
	return nil
}

// writeText writes phase (g) into report.txt.
func (p *pgsqlReport) writeText(w io.Writer) {
	fmt.Fprintf(w, "(g) pgsql: distinct keys, postmap -q - (median of %d rounds; loadavg %s → %s):\n", p.Rounds, p.LoadBefore, p.LoadAfter)
	fmt.Fprintf(w, "  %s; %d aliases, %s database, loaded in %.1f s\n", p.Server, p.Rows, p.Encoding, p.LoadSeconds)
	sr := func(label string, s *streamsResult) {
		if s != nil {
			fmt.Fprintf(w, "    %-22s %6.2f s  %8.0f lookups/s  (correct %d, wrong %d, errors %d)\n", label, s.Seconds, s.PerSec, s.Counts.Correct(), s.Counts.Wrong, s.Counts.Errors)
		}
	}
	for _, s := range p.Streams {
		fmt.Fprintf(w, "  %d stream(s):\n", s.Streams)
		sr("pgsql:", s.Pgsql)
		sr("proxy:pgsql:", s.Proxy)
		sr("socketmap: (mapgate)", s.Socketmap)
		sr("pgsql: (mapgate front)", s.Front)
		if s.RatioPgsql > 0 {
			fmt.Fprintf(w, "    ratio mapgate/pgsql: %.3f, mapgate/proxy:pgsql: %.3f, PostgreSQL front/pgsql: %.3f; mapgate CPU %.1f µs per lookup (front %.1f)\n",
				s.RatioPgsql, s.RatioProxy, s.RatioFront, s.CPUUs, s.FrontCPUUs)
			fmt.Fprintf(w, "    peak DB connections of role postfix: pgsql: %d, proxy:pgsql: %d, mapgate %d\n", s.PgsqlConns, s.ProxyConns, s.MapgateConns)
		}
	}
}
