package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"mapgate/bench"
	"mapgate/internal/pfinst"
)

// report is report.json.
type report struct {
	Started       time.Time `json:"started"`
	Seconds       float64   `json:"seconds"`
	LoadBefore    string    `json:"loadavg_before"`
	LoadAfter     string    `json:"loadavg_after"`
	Cores         int       `json:"cores"`
	Rows          int       `json:"rows"`
	KeysPerStream int       `json:"keys_per_stream"`
	PoolSize      int       `json:"mapgate_pool_size"`
	Notes         []string  `json:"notes"`

	OneStream struct {
		MySQL     *streamsResult `json:"mysql"`
		Socketmap *streamsResult `json:"mapgate_socketmap"`
		MySQLRuns []float64      `json:"mysql_runs_s"`
		MGRuns    []float64      `json:"mapgate_runs_s"`
		Ratio     float64        `json:"ratio_mapgate_to_mysql"`
		// Front is Postfix's mysql: client pointed at mapgate's MySQL front.
		Front      *streamsResult `json:"mapgate_mysql_front,omitempty"`
		FrontRuns  []float64      `json:"mapgate_mysql_front_runs_s,omitempty"`
		RatioFront float64        `json:"ratio_mysql_front_to_mysql,omitempty"`
	} `json:"one_stream"`
	EightStreams struct {
		MySQL          *streamsResult `json:"mysql"`
		Proxy          *streamsResult `json:"proxy_mysql,omitempty"`
		Socketmap      *streamsResult `json:"mapgate_socketmap"`
		Front          *streamsResult `json:"mapgate_mysql_front,omitempty"`
		MySQLConns     int            `json:"mysql_peak_db_conns"`
		MapgateConns   int            `json:"mapgate_peak_db_conns"`
		MapgateMaxUsed int64          `json:"mapgate_phase_max_used_connections"`
		RatioMySQL     float64        `json:"ratio_mapgate_to_mysql"`
		RatioProxy     float64        `json:"ratio_mapgate_to_proxy,omitempty"`
		RatioFront     float64        `json:"ratio_mysql_front_to_mysql,omitempty"`
		// CPU per lookup of each mapgate process (10 ms ticks).
		SocketmapCPUUs float64 `json:"mapgate_cpu_us_per_lookup"`
		FrontCPUUs     float64 `json:"mysql_front_cpu_us_per_lookup,omitempty"`
	} `json:"eight_streams"`
	NativeClient *bench.Result `json:"mapgate_native_client,omitempty"`
	RawDriver    []*rawResult  `json:"raw_driver"`
	Attack       struct {
		NoFlood         *bench.Result `json:"no_flood"`
		Flood           *bench.Result `json:"flood"`
		ThroughputRatio float64       `json:"good_throughput_ratio"`
		P99Ratio        float64       `json:"good_p99_ratio"`
	} `json:"attack"`
	Memory *memResult    `json:"memory"`
	Chart  *chartResult  `json:"chart,omitempty"`
	Goals  []goal        `json:"goals"`
	Smoke  *bench.Result `json:"smoke,omitempty"`
	Trace  *traceReport  `json:"trace,omitempty"`
	Pgsql  *pgsqlReport  `json:"pgsql,omitempty"`
	// MapgateCPUUs is mapgate's CPU per lookup in the one-stream run
	// (distinct keys, cache off).
	MapgateCPUUs float64 `json:"mapgate_cpu_us_per_lookup_one_stream"`
	// FrontCPUUs is the same for the MySQL front's mapgate.
	FrontCPUUs float64 `json:"mysql_front_cpu_us_per_lookup_one_stream,omitempty"`
}

type rawResult struct {
	Workers int          `json:"workers"`
	Queries int          `json:"queries"`
	Seconds float64      `json:"seconds"`
	PerSec  float64      `json:"queries_per_s"`
	Counts  bench.Counts `json:"counts"`
}

type memResult struct {
	Conns        int     `json:"idle_conns"`
	RSSBeforeMiB float64 `json:"rss_before_mib"`
	RSSMiB       float64 `json:"rss_mib"`
}

type chartResult struct {
	File    string                        `json:"file"`
	Method  string                        `json:"method"`
	Clients map[string]bench.ClassSummary `json:"good_keys"`
	Floods  map[string]bench.Counts       `json:"flood"`
}

// goal is one of the performance goals.
type goal struct {
	Name     string  `json:"name"`
	Goal     string  `json:"goal"`
	Measured float64 `json:"measured"`
	Met      string  `json:"result"` // "met" or "missed"
}

func (h *harness) goal(name, g string, measured float64, ok bool) {
	r := "missed"
	if ok {
		r = "met"
	}
	h.rep.Goals = append(h.rep.Goals, goal{Name: name, Goal: g, Measured: round(measured, 3), Met: r})
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

// full runs every phase and writes the report.
func (h *harness) full() error {
	r := h.rep
	start := time.Now()
	r.Cores = numCPU()
	r.Notes = append(r.Notes,
		"postmap -q - asks one query per key; mapgate's map \"alias\" has address search off so that it does the same (map \"virtual_alias\", address search on, is used for the attack profile and the chart, as smtpd would ask).",
		"the machine is shared (see loadavg); timings are noisy, ratios of runs measured back to back are the figures to read.")

	h.logf("(a) one stream, %d keys (half present)", len(h.keys))
	var err error
	for range h.o.repeats { // interleave to share the machine's noise
		if _, _, err = h.timed("mysql:", h.mysqlCmd, 1, 1); err != nil {
			return err
		}
	}
	if r.OneStream.MySQL, r.OneStream.MySQLRuns, err = h.timed("mysql:", h.mysqlCmd, 1, h.o.repeats); err != nil {
		return err
	}
	cpu0 := procCPU(h.mg.PID())
	if r.OneStream.Socketmap, r.OneStream.MGRuns, err = h.timed("socketmap: (mapgate)", h.socketmapCmd, 1, h.o.repeats); err != nil {
		return err
	}
	r.MapgateCPUUs = float64((procCPU(h.mg.PID()) - cpu0).Microseconds()) / float64(h.o.repeats*len(h.keys))
	h.logf("  mapgate CPU %.1f µs per lookup (cache off, distinct keys)", r.MapgateCPUUs)
	r.OneStream.Ratio = r.OneStream.Socketmap.Seconds / r.OneStream.MySQL.Seconds
	h.goal("issue 15: one stream, distinct keys: mapgate time / mysql: time", "<= 1.5", r.OneStream.Ratio, r.OneStream.Ratio <= 1.5)
	h.goal("one stream: mapgate time / mysql: time", "<= 1.3 (goal 1.1)", r.OneStream.Ratio, r.OneStream.Ratio <= 1.3)
	h.goal("one stream: mapgate time / mysql: time, stretch goal", "<= 1.1", r.OneStream.Ratio, r.OneStream.Ratio <= 1.1)
	cpu0 = procCPU(h.front.PID())
	if r.OneStream.Front, r.OneStream.FrontRuns, err = h.timed("mysql: (mapgate front)", h.frontCmd, 1, h.o.repeats); err != nil {
		return err
	}
	r.FrontCPUUs = float64((procCPU(h.front.PID()) - cpu0).Microseconds()) / float64(h.o.repeats*len(h.keys))
	h.logf("  mapgate MySQL front CPU %.1f µs per lookup (cache off, distinct keys)", r.FrontCPUUs)
	r.OneStream.RatioFront = r.OneStream.Front.Seconds / r.OneStream.MySQL.Seconds
	h.goal("issue 25: one stream: socketmap time / mysql: time", "<= 1.5", r.OneStream.Ratio, r.OneStream.Ratio <= 1.5)
	h.goal("issue 25: one stream: MySQL front time / mysql: time", "<= 1.6", r.OneStream.RatioFront, r.OneStream.RatioFront <= 1.6)
	h.goal("issue 25: one stream: socketmap mapgate CPU µs/lookup", "<= 15", r.MapgateCPUUs, r.MapgateCPUUs <= 15)
	h.goal("issue 25: one stream: MySQL front mapgate CPU µs/lookup", "<= 15", r.FrontCPUUs, r.FrontCPUUs <= 15)

	h.logf("(b) 8 streams at once, %d keys each", len(h.keys))
	w := watchConns(h.root)
	r.EightStreams.MySQL, _, err = h.timed("mysql:", h.mysqlCmd, 8, h.o.repeats)
	r.EightStreams.MySQLConns, _ = w.end()
	if err != nil {
		return err
	}
	w = watchConns(h.root)
	cpu0 = procCPU(h.mg.PID())
	r.EightStreams.Socketmap, _, err = h.timed("socketmap: (mapgate)", h.socketmapCmd, 8, h.o.repeats)
	r.EightStreams.MapgateConns, r.EightStreams.MapgateMaxUsed = w.end()
	if err != nil {
		return err
	}
	r.EightStreams.SocketmapCPUUs = float64((procCPU(h.mg.PID()) - cpu0).Microseconds()) / float64(8*h.o.repeats*len(h.keys))
	cpu0 = procCPU(h.front.PID())
	if r.EightStreams.Front, _, err = h.timed("mysql: (mapgate front)", h.frontCmd, 8, h.o.repeats); err != nil {
		return err
	}
	r.EightStreams.FrontCPUUs = float64((procCPU(h.front.PID()) - cpu0).Microseconds()) / float64(8*h.o.repeats*len(h.keys))
	h.logf("  mapgate CPU per lookup at 8 streams: socketmap %.1f µs, MySQL front %.1f µs", r.EightStreams.SocketmapCPUUs, r.EightStreams.FrontCPUUs)
	r.EightStreams.RatioMySQL = r.EightStreams.Socketmap.Seconds / r.EightStreams.MySQL.Seconds
	r.EightStreams.RatioFront = r.EightStreams.Front.Seconds / r.EightStreams.MySQL.Seconds
	h.goal("issue 25: 8 streams: socketmap time / mysql: time", "<= 1.5", r.EightStreams.RatioMySQL, r.EightStreams.RatioMySQL <= 1.5)
	h.goal("issue 25: 8 streams: MySQL front time / mysql: time", "<= 1.6", r.EightStreams.RatioFront, r.EightStreams.RatioFront <= 1.6)
	h.goal("issue 15: 8 streams, distinct keys: mapgate time / mysql: time", "<= 1.5", r.EightStreams.RatioMySQL, r.EightStreams.RatioMySQL <= 1.5)
	h.goal("8 streams: mapgate time / mysql: time", "<= 1.3", r.EightStreams.RatioMySQL, r.EightStreams.RatioMySQL <= 1.3)
	// Each map has its own pools: pool_size for lookups, and room for 2
	// more (column discovery), per map.
	maxConns := servedMaps * (h.o.poolSize + 2)
	h.goal("8 streams: mapgate's peak DB connections", fmt.Sprintf("<= %d maps × (pool_size %d + 2) (mysql: held %d)", servedMaps, h.o.poolSize, r.EightStreams.MySQLConns),
		float64(r.EightStreams.MapgateConns), r.EightStreams.MapgateConns <= maxConns)

	var pf *pfinst.Instance
	if !h.o.noPostfix {
		if err := pfinst.Installed(); err != nil || os.Geteuid() != 0 {
			r.Notes = append(r.Notes, fmt.Sprintf("no private Postfix instance (root and Postfix needed: %v): proxy:mysql: and the chart skipped", err))
		} else {
			pf = pfinst.New(h.tb, pfinst.Options{VirtualAliasMaps: "proxy:mysql:" + h.cf, Extra: smtpdExtra()})
			proxyCmd := func(ctx context.Context) *exec.Cmd { return pf.Command(ctx, "postmap", "-q", "-", "proxy:mysql:"+h.cf) }
			r.EightStreams.Proxy, _, err = h.timed("proxy:mysql:", proxyCmd, 8, 1)
			if err != nil {
				return err
			}
			r.EightStreams.RatioProxy = r.EightStreams.Socketmap.Seconds / r.EightStreams.Proxy.Seconds
			h.goal("8 streams: mapgate time / proxy:mysql: time", "<= 0.5", r.EightStreams.RatioProxy, r.EightStreams.RatioProxy <= 0.5)
			h.goal("issue 25: 8 streams: socketmap time / proxy:mysql: time", "<= 0.6", r.EightStreams.RatioProxy, r.EightStreams.RatioProxy <= 0.6)
		}
	}

	if !h.o.onlyDistinct {
		if err := h.pgsql(); err != nil {
			return err
		}
	}

	if h.o.onlyDistinct {
		r.Seconds = time.Since(start).Seconds()
		r.LoadAfter = bench.LoadAvg()
		return h.write()
	}
	h.logf("mapgate's own client, 8 connections, 5 s, as fast as possible")
	if r.NativeClient, err = h.load(bench.Config{Map: "alias", Keys: h.keys, Conns: 8, Duration: 5 * time.Second, Label: "native 8 conns"}); err != nil {
		return err
	}

	h.logf("(c) raw driver ceiling: go-sql-driver, statement prepared once per connection")
	for _, wk := range []int{1, 8} {
		rr, err := h.rawDriver(wk, 20000/wk*2)
		if err != nil {
			return err
		}
		h.logf("  %d worker(s): %.0f queries/s (wrong %d errors %d)", wk, rr.PerSec, rr.Counts.Wrong, rr.Counts.Errors)
		r.RawDriver = append(r.RawDriver, rr)
	}

	h.logf("(d) attack profile: %.0f good keys/s (half present), then with a 10:1 flood of unrepresentable keys", h.o.rate)
	base := bench.Config{Map: "virtual_alias", Mix: bench.Mix{Present: 1, Absent: 1}, Conns: 8, Rate: h.o.rate, Duration: h.o.attackDur}
	nf := base
	nf.Label = "no flood"
	if r.Attack.NoFlood, err = h.load(nf); err != nil {
		return err
	}
	fl := base
	fl.Label, fl.Flood = "10:1 flood", bench.Flood{Ratio: 10, Conns: 8}
	if r.Attack.Flood, err = h.load(fl); err != nil {
		return err
	}
	r.Attack.ThroughputRatio = r.Attack.Flood.Good.CorrectPerSec / r.Attack.NoFlood.Good.CorrectPerSec
	r.Attack.P99Ratio = r.Attack.Flood.Good.Latency.P99 / r.Attack.NoFlood.Good.Latency.P99
	h.goal("10:1 flood: good-key throughput / no-flood", ">= 0.9", r.Attack.ThroughputRatio, r.Attack.ThroughputRatio >= 0.9)
	h.goal("10:1 flood: good-key p99 / no-flood", "<= 1.5", r.Attack.P99Ratio, r.Attack.P99Ratio <= 1.5)

	h.logf("(e) memory with 1000 idle client connections")
	if r.Memory, err = h.memory(1000); err != nil {
		return err
	}
	h.logf("  VmRSS %.1f MiB (%.1f MiB before)", r.Memory.RSSMiB, r.Memory.RSSBeforeMiB)
	h.goal("memory: mapgate VmRSS with 1000 idle connections (MiB)", "< 64", r.Memory.RSSMiB, r.Memory.RSSMiB < 64)

	if pf != nil {
		if err := h.chart(pf); err != nil {
			return err
		}
	}

	h.logf("(f) the Postfix trace, the floor, a dictionary attack and an outage (mapgate with its cache on)")
	if err := h.trace(); err != nil {
		return err
	}

	r.Seconds = time.Since(start).Seconds()
	r.LoadAfter = bench.LoadAvg()
	if err := h.write(); err != nil {
		return err
	}
	if h.wrongTotal() > 0 {
		return fmt.Errorf("%w: %d (see report)", errWrong, h.wrongTotal())
	}
	return nil
}

// wrongTotal sums the wrong answers mapgate gave anywhere in the run.
func (h *harness) wrongTotal() uint64 {
	r := h.rep
	n := h.wrongExtra
	ss := []*streamsResult{r.OneStream.Socketmap, r.EightStreams.Socketmap, r.OneStream.Front, r.EightStreams.Front}
	if r.Pgsql != nil {
		for _, p := range r.Pgsql.Streams {
			ss = append(ss, p.Socketmap)
		}
	}
	for _, s := range ss {
		if s != nil {
			n += s.Counts.Wrong + s.Counts.Errors
		}
	}
	for _, x := range []*bench.Result{r.NativeClient, r.Attack.NoFlood, r.Attack.Flood, r.Smoke} {
		if x != nil {
			n += x.Good.Wrong
			if x.Flood != nil {
				n += x.Flood.Wrong
			}
		}
	}
	return n
}

// load runs a bench.Run against mapgate and prints its summary.
func (h *harness) load(cfg bench.Config) (*bench.Result, error) {
	cfg.Target, cfg.Data = "inet:"+h.mg.Addr, h.data
	if h.progress() {
		cfg.Progress = os.Stderr
		st, _ := os.Stderr.Stat()
		cfg.ProgressTTY = st != nil && st.Mode()&os.ModeCharDevice != 0
	}
	res, err := bench.Run(h.ctx, cfg)
	if err != nil {
		return nil, err
	}
	res.WriteText(os.Stderr)
	return res, nil
}

// smtpdExtra are main.cf settings for the private smtpd: the bulk domain
// as a virtual alias domain, and no tarpitting of a client that gets many
// 550s (the driver sends many unknown recipients on purpose).
func smtpdExtra() map[string]string {
	return map[string]string{
		"virtual_alias_domains":    "bulk.example",
		"smtpd_soft_error_limit":   "100000",
		"smtpd_hard_error_limit":   "100000",
		"smtpd_error_sleep_time":   "0",
		"smtpd_junk_command_limit": "100000",
		"default_process_limit":    "200",
	}
}

// chart drives three private smtpd's (virtual_alias_maps = mysql:,
// proxy:mysql:, mapgate's socketmap) with the same good traffic and the same
// flood, and draws attack.png.
func (h *harness) chart(proxyInst *pfinst.Instance) error {
	const (
		total     = 30 * time.Second
		floodFrom = 6 * time.Second
		floodTo   = 20 * time.Second
		rate      = 20.0 // smtpd sessions are dear on 2 shared cores: keep every client far from saturation
	)
	h.logf("chart: smtpd RCPT traffic, %.0f good recipients/s, 10:1 flood from %v to %v, %v per client", rate, floodFrom, floodTo, total)
	cr := &chartResult{File: "attack.png", Clients: map[string]bench.ClassSummary{}, Floods: map[string]bench.Counts{}}
	cr.Method = "each client is a private Postfix smtpd (internal/pfinst) whose virtual_alias_maps is the table under test; " +
		"the driver opens short SMTP sessions (EHLO, MAIL FROM, 5 RCPT TO, QUIT) so smtpd processes are reused across clients as in production; " +
		"good sessions send half present, half absent recipients at a steady rate, the flood sends 10 unrepresentable recipients per good one in its own sessions; " +
		"250 = found, 550 = unknown (both checked against the data set), 4xx = lookup failure. Latency is RCPT to reply."
	targets := []struct {
		name string
		maps string
		inst *pfinst.Instance
	}{
		{"mapgate (socketmap:)", "socketmap:inet:" + h.mg.Addr + ":virtual_alias", nil},
		{"Postfix mysql:", "mysql:" + h.cf, nil},
		{"Postfix proxy:mysql:", "proxy:mysql:" + h.cf, proxyInst},
	}
	var lines []chartLine
	for _, t := range targets {
		inst := t.inst
		if inst == nil {
			inst = pfinst.New(h.tb, pfinst.Options{VirtualAliasMaps: t.maps, Extra: smtpdExtra()})
		}
		good, flood, err := bench.SMTPLoad(h.ctx, bench.SMTPConfig{
			Addr: inst.Addr, Data: h.data, Mix: bench.Mix{Present: 1, Absent: 1},
			Conns: 4, Rate: rate, Duration: total, RcptsPerSession: 5,
			FloodRatio: 10, FloodConns: 8, FloodFrom: floodFrom, FloodTo: floodTo,
		})
		if err != nil {
			return err
		}
		gs := bench.Summarize(good, total)
		fc, _ := flood.Totals()
		cr.Clients[t.name], cr.Floods[t.name] = gs, fc
		h.logf("  %-22s good: correct %.1f%%  OK %d NOTFOUND %d TEMP %d wrong %d errors %d  p99 %.1fms | flood: %d sent, TEMP %d",
			t.name, 100*gs.SuccessRate, gs.OK, gs.NotFound, gs.Temp, gs.Wrong, gs.Errors, gs.Latency.P99/1000, fc.Total(), fc.Temp)
		lines = append(lines, chartLine{Name: t.name, Series: good.Seconds()})
		if inst != proxyInst {
			if err := inst.Stop(); err != nil {
				h.logf("  stop instance: %v", err)
			}
		}
	}
	err := writeChart(filepath.Join(h.o.out, cr.File), chartSpec{
		Title:     "Good recipients during a 10:1 flood of unrepresentable keys (latin1 table, Postfix smtpd RCPT)",
		Lines:     lines,
		FloodFrom: floodFrom, FloodTo: floodTo,
	})
	if err != nil {
		return err
	}
	h.rep.Chart = cr
	return nil
}

// smoke runs a few seconds of checked traffic and fails on any wrong or
// missing answer. It never looks at timings.
func (h *harness) smoke() error {
	r := h.rep
	r.Cores = numCPU()
	start := time.Now()
	var bad []string
	check := func(what string, c bench.Counts, total int) {
		h.logf("  %-32s correct %d of %d, wrong %d, temp %d, errors %d", what, c.Correct(), total, c.Wrong, c.Temp+c.Timeout+c.Perm, c.Errors)
		if c.Wrong > 0 || int(c.Correct()) != total || c.Total() != uint64(total) {
			bad = append(bad, fmt.Sprintf("%s: %d correct of %d (wrong %d, failed %d)", what, c.Correct(), total, c.Wrong, c.Total()-c.Correct()-c.Wrong))
		}
	}
	h.logf("smoke: postmap -q - over mysql: and over mapgate's socketmap, %d keys", len(h.keys))
	var err error
	if r.OneStream.MySQL, _, err = h.timed("mysql:", h.mysqlCmd, 1, 1); err != nil {
		return err
	}
	check("postmap mysql: (reference)", r.OneStream.MySQL.Counts, len(h.keys))
	if r.OneStream.Socketmap, _, err = h.timed("socketmap: (mapgate)", h.socketmapCmd, 2, 1); err != nil {
		return err
	}
	check("postmap socketmap: (mapgate)", r.OneStream.Socketmap.Counts, 2*len(h.keys))

	if err := h.pgsqlSmoke(check); err != nil {
		return err
	}

	h.logf("smoke: mapgate's own client, present/absent/unrepresentable 5:4:1, with a 10:1 flood")
	res, err := h.load(bench.Config{Map: "virtual_alias", Mix: bench.Mix{Present: 5, Absent: 4, Unrepresentable: 1},
		Conns: 4, Count: 3000, Duration: 20 * time.Second, Flood: bench.Flood{Ratio: 10, Conns: 4}, Label: "smoke"})
	if err != nil {
		return err
	}
	r.Smoke = res
	check("socketmap normal traffic", res.Good.Counts, 3000)
	if res.Flood != nil {
		check("socketmap flood", res.Flood.Counts, int(res.Flood.Total()))
	}
	r.Seconds = time.Since(start).Seconds()
	r.LoadAfter = bench.LoadAvg()
	if err := h.write(); err != nil {
		return err
	}
	if len(bad) > 0 {
		return fmt.Errorf("%w:\n  %s", errWrong, strings.Join(bad, "\n  "))
	}
	h.logf("smoke: all answers correct (%.1fs)", r.Seconds)
	return nil
}

// write writes report.json and report.txt.
func (h *harness) write() error {
	if err := writeJSON(filepath.Join(h.o.out, "report.json"), h.rep); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(h.o.out, "report.txt"))
	if err != nil {
		return err
	}
	h.rep.writeText(f)
	if err := f.Close(); err != nil {
		return err
	}
	h.rep.writeText(os.Stdout)
	return nil
}

func (r *report) writeText(w io.Writer) {
	fmt.Fprintf(w, "mapgate benchmark, %s (%.0f s; %d cores; loadavg %s → %s)\n", r.Started.Format(time.RFC3339), r.Seconds, r.Cores, r.LoadBefore, r.LoadAfter)
	enc := "latin1"
	if r.Pgsql != nil && r.OneStream.MySQL == nil {
		enc = r.Pgsql.Encoding
	}
	fmt.Fprintf(w, "data: %d aliases (%s), %d keys per stream (half present); mapgate pool_size %d\n\n", r.Rows, enc, r.KeysPerStream, r.PoolSize)
	if len(r.Goals) > 0 {
		fmt.Fprintln(w, "goals (met or missed; the issue each comes from is in its name):")
		for _, g := range r.Goals {
			fmt.Fprintf(w, "  %-7s %-60s %8.3f  (goal %s)\n", g.Met, g.Name, g.Measured, g.Goal)
		}
		fmt.Fprintln(w)
	}
	sr := func(label string, s *streamsResult) {
		if s != nil {
			fmt.Fprintf(w, "  %-24s %6.2f s  %8.0f lookups/s  (correct %d, wrong %d, errors %d)\n", label, s.Seconds, s.PerSec, s.Counts.Correct(), s.Counts.Wrong, s.Counts.Errors)
		}
	}
	if r.OneStream.MySQL != nil {
		fmt.Fprintln(w, "(a) one stream, postmap -q - (median):")
		sr("mysql:", r.OneStream.MySQL)
		sr("socketmap: (mapgate)", r.OneStream.Socketmap)
		sr("mysql: (mapgate front)", r.OneStream.Front)
		if r.OneStream.Ratio > 0 {
			fmt.Fprintf(w, "  ratio mapgate/mysql: %.3f\n", r.OneStream.Ratio)
		}
		if r.OneStream.RatioFront > 0 {
			fmt.Fprintf(w, "  ratio MySQL front/mysql: %.3f\n", r.OneStream.RatioFront)
		}
	}
	if r.EightStreams.MySQL != nil {
		fmt.Fprintln(w, "(b) 8 streams at once:")
		sr("mysql:", r.EightStreams.MySQL)
		sr("proxy:mysql:", r.EightStreams.Proxy)
		sr("socketmap: (mapgate)", r.EightStreams.Socketmap)
		sr("mysql: (mapgate front)", r.EightStreams.Front)
		fmt.Fprintf(w, "  ratio mapgate/mysql: %.3f, mapgate/proxy:mysql: %.3f, MySQL front/mysql: %.3f\n", r.EightStreams.RatioMySQL, r.EightStreams.RatioProxy, r.EightStreams.RatioFront)
		fmt.Fprintf(w, "  mapgate CPU per lookup: socketmap %.1f µs, MySQL front %.1f µs\n", r.EightStreams.SocketmapCPUUs, r.EightStreams.FrontCPUUs)
		fmt.Fprintf(w, "  peak DB connections of account postfix: mysql: %d, mapgate %d (pool_size %d)\n", r.EightStreams.MySQLConns, r.EightStreams.MapgateConns, r.PoolSize)
	}
	if r.Pgsql != nil {
		r.Pgsql.writeText(w)
	}
	if r.NativeClient != nil {
		fmt.Fprintln(w, "mapgate over its own Go client:")
		r.NativeClient.WriteText(w)
	}
	if len(r.RawDriver) > 0 {
		fmt.Fprintln(w, "(c) raw driver ceiling (go-sql-driver, prepared once per connection):")
		for _, d := range r.RawDriver {
			fmt.Fprintf(w, "  %d worker(s): %8.0f queries/s (wrong %d, errors %d)\n", d.Workers, d.PerSec, d.Counts.Wrong, d.Counts.Errors)
		}
	}
	if r.Attack.NoFlood != nil {
		fmt.Fprintln(w, "(d) attack profile (map virtual_alias, address search on):")
		r.Attack.NoFlood.WriteText(w)
		r.Attack.Flood.WriteText(w)
		fmt.Fprintf(w, "  good-key throughput ratio %.3f, p99 ratio %.3f\n", r.Attack.ThroughputRatio, r.Attack.P99Ratio)
	}
	if r.Memory != nil {
		fmt.Fprintf(w, "(e) memory: VmRSS %.1f MiB with %d idle connections (%.1f MiB before)\n", r.Memory.RSSMiB, r.Memory.Conns, r.Memory.RSSBeforeMiB)
	}
	if r.Chart != nil {
		fmt.Fprintf(w, "chart %s: %s\n", r.Chart.File, r.Chart.Method)
		for name, c := range r.Chart.Clients {
			fmt.Fprintf(w, "  %-22s good: correct %.1f%% (OK %d, NOTFOUND %d, TEMP %d, wrong %d, errors %d), p99 %.1f ms; flood %d sent, %d TEMP\n",
				name, 100*c.SuccessRate, c.OK, c.NotFound, c.Temp, c.Wrong, c.Errors, c.Latency.P99/1000, r.Chart.Floods[name].Total(), r.Chart.Floods[name].Temp)
		}
	}
	if r.MapgateCPUUs > 0 {
		fmt.Fprintf(w, "mapgate CPU per lookup, one stream, distinct keys, cache off: socketmap %.1f µs, MySQL front %.1f µs\n", r.MapgateCPUUs, r.FrontCPUUs)
	}
	if t := r.Trace; t != nil {
		fmt.Fprintf(w, "(f) Postfix trace: %d lookups recorded while delivering %d messages (%s)\n", t.Lookups, t.Messages, traceFile)
		for _, x := range t.Results {
			fmt.Fprintf(w, "  %-8s %-20s %5d lookups %5d found %7.3f s %6d statements (%5.2f/message)  CPU %6.0f µs/lookup (server %6.0f)\n",
				x.Table, x.Client, x.Lookups, x.Found, x.Seconds, x.Statements, x.StmtsPerMsg, x.CPUMicros, x.ServerCPUUs)
		}
		for _, c := range traceClients {
			if x := t.Totals[c]; x != nil {
				fmt.Fprintf(w, "  %-8s %-20s %5d lookups %5d found %7.3f s %6d statements (%5.2f/message)  CPU %6.0f µs/lookup (server %6.0f)\n",
					"all", c, x.Lookups, x.Found, x.Seconds, x.Statements, x.StmtsPerMsg, x.CPUMicros, x.ServerCPUUs)
			}
		}
		fmt.Fprintf(w, "  floor: database round trip %.0f µs + trivial socketmap hop %.0f µs = %.0f µs per lookup (trace: %.3f s)\n",
			t.DBRoundUs, t.HopUs, t.FloorUs, t.FloorUs*float64(t.Lookups)/1e6)
		if d := t.Dictionary; d != nil {
			fmt.Fprintf(w, "  dictionary attack (virtual_alias, address search on, cache on): %d keys, %d statements, %.3f per key, %d wrong\n", d.Keys, d.Statements, d.PerKey, d.Wrong)
		}
		if o := t.Outage; o != nil {
			fmt.Fprintf(w, "  outage %.0f s: known OK %d, known not OK %d; unknown TEMP %d, NOTFOUND within the negative TTL %d, wrong %d\n",
				o.Seconds, o.KnownOK, o.KnownOther, o.UnknownTemp, o.UnknownFreshNF, o.UnknownWrong)
		}
	}
	if r.Smoke != nil {
		fmt.Fprintln(w, "smoke:")
		r.Smoke.WriteText(w)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}
