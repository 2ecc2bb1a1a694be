package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"mapgate/internal/mgproc"
	"mapgate/internal/pfinst"
	"mapgate/internal/testdb"
	"mapgate/socketmap"
)

// The Postfix trace: the keys, in order, that a private Postfix (smtpd,
// cleanup, trivial-rewrite, qmgr, virtual) asks its mysql: tables while
// it delivers traceMessages messages to traceRecipients mailboxes, one
// message in five to an unknown recipient (refused at RCPT). Recorded once
// with -record-trace, from the server's general log, into
// bench/testdata/postfix-trace.txt: "TABLE<TAB>KEY" per statement.
const (
	traceMessages   = 500
	traceRecipients = 50
	traceDomain     = "trace.example"
	traceFile       = "bench/testdata/postfix-trace.txt"
)

// traceTables are PostfixAdmin's three tables a virtual mailbox setup
// reads, by the name the trace gives them.
var traceTables = []struct{ name, param, query string }{
	{"domains", "virtual_mailbox_domains", "SELECT domain FROM domain WHERE domain='%s' AND active = '1'"},
	{"alias", "virtual_alias_maps", "SELECT goto FROM alias WHERE address='%s' AND active = '1'"},
	{"mailbox", "virtual_mailbox_maps", "SELECT maildir FROM mailbox WHERE username='%s' AND active = '1'"},
}

// traceSQL adds the trace's domain, mailboxes and their aliases (each
// mailbox has an alias to itself, as PostfixAdmin makes them).
func traceSQL(db string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "USE `%s`;\nINSERT INTO domain (domain) VALUES ('%s');\n", db, traceDomain)
	for i := range traceRecipients {
		a := fmt.Sprintf("user%d@%s", i, traceDomain)
		fmt.Fprintf(&b, "INSERT INTO mailbox (username, maildir, local_part, domain) VALUES ('%s','%s/user%d/','user%d','%s');\n", a, traceDomain, i, i, traceDomain)
		fmt.Fprintf(&b, "INSERT INTO alias (address, goto, domain) VALUES ('%s','%s','%s');\n", a, a, traceDomain)
	}
	return b.String()
}

// traceCF writes table t's .cf file for a database.
func traceCF(dir string, db *testdb.Server, t int) (string, error) {
	p := filepath.Join(dir, "trace-"+traceTables[t].name+".cf")
	text := fmt.Sprintf("hosts = inet:%s\nuser = %s\npassword = %s\ndbname = postfix\nquery = %s\n",
		db.Addr(), testdb.User, testdb.Password, traceTables[t].query)
	return p, os.WriteFile(p, []byte(text), 0o644)
}

var generalLogQuery = regexp.MustCompile(`Query\s+SELECT \w+ FROM (\w+) WHERE \w+='([^'\\]*)'`)

// recordTrace runs a private Postfix with mysql: tables and writes the
// keys they were asked to path.
func recordTrace(path string) error {
	dir, err := os.MkdirTemp("", "mgtrace")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	must0 := os.Chmod(dir, 0o755)
	if must0 != nil {
		return must0
	}
	logPath := filepath.Join(dir, "general.log")
	db, err := testdb.NewArgs("--general-log=1", "--general-log-file="+logPath)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Exec(testdb.Schema("postfix", "latin1", "latin1_general_ci") + traceSQL("postfix")); err != nil {
		return err
	}
	extra := map[string]string{"smtpd_recipient_restrictions": "permit_mynetworks, reject_unauth_destination"}
	cfs := map[string]string{} // table in the query → trace name
	for i, t := range traceTables {
		p, err := traceCF(dir, db, i)
		if err != nil {
			return err
		}
		extra[t.param] = "mysql:" + p
		cfs[strings.Fields(t.query)[3]] = t.name
	}
	in, err := pfinst.Start(pfinst.Options{VirtualMailboxes: true, Extra: extra})
	if err != nil {
		return err
	}
	defer in.Stop()
	if err := os.Truncate(logPath, 0); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(15, 15))
	for m := range traceMessages {
		rcpt := fmt.Sprintf("user%d@%s", rng.IntN(traceRecipients), traceDomain)
		if m%5 == 4 {
			rcpt = fmt.Sprintf("unknown%d@%s", m, traceDomain)
		}
		code, line := in.Send(rcpt, fmt.Sprintf("message %d", m))
		if (code == 250) != (m%5 != 4) {
			return fmt.Errorf("message %d to %s: %d %s", m, rcpt, code, line)
		}
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		d, a, i, err := in.Queue()
		if err != nil {
			return err
		}
		if d > 0 {
			return fmt.Errorf("deferred mail: see %s", in.MailLog)
		}
		if a+i == 0 {
			break
		}
		if time.Now().After(deadline) {
			return errors.New("mail not delivered in 2 minutes")
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(time.Second) // the last delivery's lookups are logged
	log, err := os.ReadFile(logPath)
	if err != nil {
		return err
	}
	var out strings.Builder
	fmt.Fprintf(&out, "# the keys a private Postfix asked its mysql: tables while delivering %d messages to %d mailboxes\n", traceMessages, traceRecipients)
	fmt.Fprintf(&out, "# (one in five to an unknown recipient, refused at RCPT): benchrun -record-trace, from the general log\n")
	n := 0
	for _, m := range generalLogQuery.FindAllStringSubmatch(string(log), -1) {
		name, ok := cfs[m[1]]
		if !ok {
			continue
		}
		fmt.Fprintf(&out, "%s\t%s\n", name, m[2])
		n++
	}
	if n == 0 {
		return errors.New("no lookups in the general log")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "benchrun: %d lookups recorded to %s\n", n, path)
	return os.WriteFile(path, []byte(out.String()), 0o644)
}

// traceKey is one recorded lookup.
type traceKey struct{ table, key string }

func readTrace(path string) ([]traceKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var ks []traceKey
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		t, k, ok := strings.Cut(line, "\t")
		if !ok {
			return nil, fmt.Errorf("%s: bad line %q", path, line)
		}
		ks = append(ks, traceKey{t, k})
	}
	return ks, nil
}

// traceClients are the trace's clients, in the order they run: Postfix's
// mysql: straight to the database, through proxymap, over mapgate's
// socketmap and pointed at mapgate's MySQL front (traceFront).
var traceClients = []string{"mysql:", "proxy:mysql:", "mapgate (cache on)", traceFront}

// traceFront is Postfix's mysql: client pointed at mapgate's MySQL front.
const traceFront = "mapgate MySQL front"

// traceResult is one client's replay of the trace's keys of one table.
type traceResult struct {
	Client        string  `json:"client"`
	Table         string  `json:"table"`
	Lookups       int     `json:"lookups"`
	Found         int     `json:"found"`
	Seconds       float64 `json:"seconds"`
	Statements    int64   `json:"statements"`
	StmtsPerMsg   float64 `json:"statements_per_message"`
	CPUMicros     float64 `json:"cpu_us_per_lookup"`        // client and server processes
	ServerCPUUs   float64 `json:"server_cpu_us_per_lookup"` // mapgate or proxymap alone
	ServerCPUNote string  `json:"server_cpu_note,omitempty"`
}

// traceReport is the trace phase's part of report.json.
type traceReport struct {
	Messages   int                     `json:"messages"`
	Lookups    int                     `json:"lookups"`
	Results    []*traceResult          `json:"results"`
	Totals     map[string]*traceResult `json:"totals"`
	FloorUs    float64                 `json:"floor_us_per_lookup"`
	DBRoundUs  float64                 `json:"db_round_trip_us"`
	HopUs      float64                 `json:"trivial_socketmap_hop_us"`
	Dictionary *dictResult             `json:"dictionary_attack"`
	Outage     *outageResult           `json:"outage"`
}

type dictResult struct {
	Keys       int     `json:"keys"`
	Statements int64   `json:"statements"`
	PerKey     float64 `json:"statements_per_key"`
	Wrong      int     `json:"wrong"`
}

type outageResult struct {
	Seconds        float64 `json:"seconds"`
	KnownOK        int     `json:"known_ok"`
	KnownOther     int     `json:"known_not_ok"`
	UnknownTemp    int     `json:"unknown_temp"`
	UnknownFreshNF int     `json:"unknown_notfound_within_negative_ttl"`
	UnknownWrong   int     `json:"unknown_wrong"`
}

// statements reads the server's statement counters; a prepared execution
// may count under Com_select too (calibrated once: overlap).
func (h *harness) statements() int64 {
	sel, err1 := h.db.GlobalStatus("Com_select")
	exe, err2 := h.db.GlobalStatus("Com_stmt_execute")
	if err1 != nil || err2 != nil {
		return -1
	}
	if h.stmtOverlap {
		return sel
	}
	return sel + exe
}

// calibrateStatements finds whether a prepared execution also counts in
// Com_select, so that each statement is counted once.
func (h *harness) calibrateStatements() error {
	before, err := h.db.GlobalStatus("Com_select")
	if err != nil {
		return err
	}
	stmt, err := h.root.Prepare("SELECT 1 FROM postfix.domain WHERE domain = ?")
	if err != nil {
		return err
	}
	defer stmt.Close()
	rows, err := stmt.Query("x")
	if err != nil {
		return err
	}
	rows.Close()
	after, err := h.db.GlobalStatus("Com_select")
	if err != nil {
		return err
	}
	h.stmtOverlap = after > before
	return nil
}

// procCPU is a process's user+system CPU time, from /proc.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+st) * time.Second / 100 // USER_HZ
}

// childrenCPU sums the CPU of ppid's children named comm.
func childrenCPU(ppid int, comm string) time.Duration {
	ents, _ := os.ReadDir("/proc")
	var sum time.Duration
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		s := string(b)
		l, r := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if l < 0 || r < l || s[l+1:r] != comm {
			continue
		}
		f := strings.Fields(s[r+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(ppid) {
			sum += procCPU(pid)
		}
	}
	return sum
}

// postmapOnce runs one postmap -q - over keys and returns the number of
// keys found, the time and the process's CPU.
func postmapOnce(ctx context.Context, cmd *exec.Cmd, keys []string) (found int, secs float64, cpu time.Duration, err error) {
	var out, errb bytes.Buffer
	cmd.Stdin = strings.NewReader(strings.Join(keys, "\n") + "\n")
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return 0, 0, 0, fmt.Errorf("%s: %v: %s", strings.Join(cmd.Args, " "), err, firstLines(errb.String(), 3))
	}
	secs = time.Since(start).Seconds()
	if strings.Contains(errb.String(), "fatal") || strings.Contains(errb.String(), "warning") {
		return 0, 0, 0, fmt.Errorf("%s: %s", strings.Join(cmd.Args, " "), firstLines(errb.String(), 3))
	}
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		found++
	}
	return found, secs, cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), nil
}

// trivialHop measures postmap -q - against a socketmap server that
// answers every key at once (OK: postmap -q - exits 1 when it finds
// nothing): the hop alone, µs per lookup.
func (h *harness) trivialHop(keys []string) (float64, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	srv := &socketmap.Server{Handler: socketmap.HandlerFunc(func(context.Context, string, string) socketmap.Reply {
		return socketmap.OK("x")
	})}
	go srv.Serve(l)
	defer srv.Close()
	cmd := exec.CommandContext(h.ctx, h.postmap, "-c", h.dir, "-q", "-", "socketmap:inet:"+l.Addr().String()+":x")
	_, secs, _, err := postmapOnce(h.ctx, cmd, keys)
	if err != nil {
		return 0, err
	}
	return secs * 1e6 / float64(len(keys)), nil
}

// trace runs the trace phase: each table's recorded keys through mysql:,
// proxy:mysql: and mapgate with its cache on; the floor; the dictionary
// attack; and (last: it kills the database for a while) the outage.
func (h *harness) trace() error {
	ks, err := readTrace(traceFile)
	if err != nil {
		return fmt.Errorf("%w (record it: go run ./bench/cmd/benchrun -record-trace %s)", err, traceFile)
	}
	if err := h.db.Exec(traceSQL("postfix")); err != nil {
		return err
	}
	if err := h.calibrateStatements(); err != nil {
		return err
	}
	tr := &traceReport{Messages: traceMessages, Lookups: len(ks), Totals: map[string]*traceResult{}}
	h.rep.Trace = tr
	byTable := map[string][]string{}
	for _, k := range ks {
		byTable[k.table] = append(byTable[k.table], k.key)
	}
	cfs := make([]string, len(traceTables))
	for i := range traceTables {
		if cfs[i], err = traceCF(h.dir, h.db, i); err != nil {
			return err
		}
	}

	// mapgate with its cache on, one map per table, no address search
	// (the trace's keys are already Postfix's search steps).
	args := []string{"serve", "--set", "recipient_delimiter=+", "--set", "cache_ttl=60s", "--set", "cache_stale_max=1h",
		"--map", "virtual_alias=" + h.cf}
	for i, t := range traceTables {
		args = append(args, "--map", "t_"+t.name+"="+cfs[i], "--set", "t_"+t.name+"_address_search=no")
	}
	// Its MySQL front too, for Postfix's mysql: client pointed at it
	// (each table's front .cf names its map).
	port, err := testdb.FreePort()
	if err != nil {
		return err
	}
	frontAddr := "127.0.0.1:" + strconv.Itoa(port)
	args = append(args, "--set", "mysql_listen=inet:"+frontAddr, "--set", "mysql_password="+frontPassword)
	mg := mgproc.Start(h.tb, h.mgBin, args...)
	frontCFs := make([]string, len(traceTables))
	for i, t := range traceTables {
		frontCFs[i] = filepath.Join(h.dir, "trace-front-"+t.name+".cf")
		if err := os.WriteFile(frontCFs[i], []byte(frontCF(frontAddr, "t_"+t.name)), 0o644); err != nil {
			return err
		}
	}

	var pf *pfinst.Instance
	if !h.o.noPostfix && pfinst.Installed() == nil && os.Geteuid() == 0 {
		var read []string
		for _, p := range cfs {
			read = append(read, "proxy:mysql:"+p)
		}
		pf, err = pfinst.Start(pfinst.Options{Extra: map[string]string{"proxy_read_maps": strings.Join(read, " ")}})
		if err != nil {
			return err
		}
		defer pf.Stop()
	}
	masterPID := func() int {
		b, err := os.ReadFile(filepath.Join(pf.QueueDir, "pid", "master.pid"))
		if err != nil {
			return 0
		}
		n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		return n
	}

	clients := traceClients
	for i, t := range traceTables {
		keys := byTable[t.name]
		if len(keys) == 0 {
			continue
		}
		for _, c := range clients {
			var cmd *exec.Cmd
			switch c {
			case "mysql:":
				cmd = exec.CommandContext(h.ctx, h.postmap, "-c", h.dir, "-q", "-", "mysql:"+cfs[i])
			case "proxy:mysql:":
				if pf == nil {
					continue
				}
				cmd = pf.Command(h.ctx, "postmap", "-q", "-", "proxy:mysql:"+cfs[i])
			case traceFront:
				cmd = exec.CommandContext(h.ctx, h.postmap, "-c", h.dir, "-q", "-", "mysql:"+frontCFs[i])
			default:
				cmd = exec.CommandContext(h.ctx, h.postmap, "-c", h.dir, "-q", "-", "socketmap:inet:"+mg.Addr+":t_"+t.name)
			}
			var srvBefore time.Duration
			switch {
			case c == "proxy:mysql:":
				srvBefore = childrenCPU(masterPID(), "proxymap")
			case c == "mapgate (cache on)" || c == traceFront:
				srvBefore = procCPU(mg.PID())
			}
			st0 := h.statements()
			found, secs, cpu, err := postmapOnce(h.ctx, cmd, keys)
			if err != nil {
				return err
			}
			st := h.statements() - st0
			r := &traceResult{Client: c, Table: t.name, Lookups: len(keys), Found: found, Seconds: secs, Statements: st,
				StmtsPerMsg: float64(st) / traceMessages}
			var srv time.Duration
			switch {
			case c == "proxy:mysql:":
				srv = childrenCPU(masterPID(), "proxymap") - srvBefore
				r.ServerCPUNote = "proxymap processes of the instance, 10 ms ticks"
			case c == "mapgate (cache on)" || c == traceFront:
				srv = procCPU(mg.PID()) - srvBefore
				r.ServerCPUNote = "mapgate process, 10 ms ticks"
			}
			r.ServerCPUUs = float64(srv.Microseconds()) / float64(len(keys))
			r.CPUMicros = float64((cpu + srv).Microseconds()) / float64(len(keys))
			tr.Results = append(tr.Results, r)
			tot := tr.Totals[c]
			if tot == nil {
				tot = &traceResult{Client: c, Table: "all"}
				tr.Totals[c] = tot
			}
			tot.Lookups += r.Lookups
			tot.Found += r.Found
			tot.Seconds += r.Seconds
			tot.Statements += r.Statements
			tot.StmtsPerMsg = float64(tot.Statements) / traceMessages
			tot.CPUMicros += r.CPUMicros * float64(r.Lookups)
			tot.ServerCPUUs += r.ServerCPUUs * float64(r.Lookups)
			h.logf("  trace %-8s %-20s %5d lookups (%d found): %.3fs, %d statements (%.2f/message), CPU %.0f µs/lookup (server %.0f)",
				t.name, c, r.Lookups, r.Found, r.Seconds, r.Statements, r.StmtsPerMsg, r.CPUMicros, r.ServerCPUUs)
		}
	}
	for _, tot := range tr.Totals {
		if tot.Lookups > 0 {
			tot.CPUMicros /= float64(tot.Lookups)
			tot.ServerCPUUs /= float64(tot.Lookups)
		}
	}
	my, mgt := tr.Totals["mysql:"], tr.Totals["mapgate (cache on)"]
	if fr := tr.Totals[traceFront]; my != nil && fr != nil {
		if my.Found != fr.Found {
			h.rep.Notes = append(h.rep.Notes, fmt.Sprintf("trace: mysql: found %d keys, mapgate's MySQL front %d", my.Found, fr.Found))
			h.wrongExtra++
		}
		rt := fr.Seconds / my.Seconds
		h.goal("trace, cache on: MySQL front time / mysql: time", "<= 1.0", rt, rt <= 1.0)
	}
	if my != nil && mgt != nil {
		if my.Found != mgt.Found {
			h.rep.Notes = append(h.rep.Notes, fmt.Sprintf("trace: mysql: found %d keys, mapgate %d", my.Found, mgt.Found))
			h.wrongExtra++
		}
		rt := mgt.Seconds / my.Seconds
		rs := float64(mgt.Statements) / float64(max(my.Statements, 1))
		h.goal("trace, cache on: mapgate time / mysql: time", "<= 1.0", rt, rt <= 1.0)
		h.goal("trace, cache on: mapgate statements / mysql: statements", "<= 0.3", rs, rs <= 0.3)
	}

	// The floor: a database round trip (the raw driver, one worker) plus
	// the trivial socketmap hop, per lookup.
	rr, err := h.rawDriver(1, 5000)
	if err != nil {
		return err
	}
	tr.DBRoundUs = 1e6 / rr.PerSec
	var all []string
	for _, k := range ks {
		all = append(all, k.key)
	}
	for len(all) < 5000 {
		all = append(all, all...)
	}
	if tr.HopUs, err = h.trivialHop(all); err != nil {
		return err
	}
	tr.FloorUs = tr.DBRoundUs + tr.HopUs
	h.logf("  floor: database round trip %.0f µs + trivial socketmap hop %.0f µs = %.0f µs per lookup", tr.DBRoundUs, tr.HopUs, tr.FloorUs)

	// The dictionary attack: random unknown local parts in one domain,
	// address search on (map virtual_alias), cache on.
	c, err := socketmap.Dial("inet:" + mg.Addr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.Timeout = 10 * time.Second
	d := &dictResult{Keys: 5000}
	rng := rand.New(rand.NewPCG(1, 1))
	st0 := h.statements()
	for i := range d.Keys {
		r, err := c.Lookup("virtual_alias", fmt.Sprintf("x%d%08x@bulk.example", i, rng.Uint32()))
		if err != nil || r != socketmap.NotFound() {
			d.Wrong++
		}
	}
	d.Statements = h.statements() - st0
	d.PerKey = float64(d.Statements) / float64(d.Keys)
	tr.Dictionary = d
	h.wrongExtra += uint64(d.Wrong)
	h.logf("  dictionary attack: %d keys, %d statements (%.3f per key), %d not NOTFOUND", d.Keys, d.Statements, d.PerKey, d.Wrong)
	h.goal("dictionary attack, cache on: statements per key", "<= 1.1", d.PerKey, d.PerKey <= 1.1)

	// The outage: the trace's keys again, then every host down for
	// outageFor: known keys (found before) must stay OK, unknown ones TEMP
	// once their negative entry is older than cache_negative_ttl.
	known := map[traceKey]bool{}
	for _, k := range ks {
		r, err := c.Lookup("t_"+k.table, k.key)
		if err != nil {
			return err
		}
		known[k] = r.Status == socketmap.StatusOK
	}
	h.logf("  outage: the database is killed for %v; the trace's keys are asked in a loop", h.o.outage)
	if err := h.db.Kill(); err != nil {
		return err
	}
	o := &outageResult{}
	start := time.Now()
	for time.Since(start) < h.o.outage && h.ctx.Err() == nil {
		for _, k := range ks {
			r, err := c.Lookup("t_"+k.table, k.key)
			if err != nil {
				return err
			}
			switch {
			case known[k] && r.Status == socketmap.StatusOK:
				o.KnownOK++
			case known[k]:
				o.KnownOther++
			case r.Status == socketmap.StatusTemp:
				o.UnknownTemp++
			case r.Status == socketmap.StatusNotFound && time.Since(start) < 2*time.Second:
				o.UnknownFreshNF++ // the default cache_negative_ttl
			default:
				o.UnknownWrong++
			}
		}
	}
	o.Seconds = time.Since(start).Seconds()
	tr.Outage = o
	h.logf("  outage %.0fs: known keys OK %d, not OK %d; unknown TEMP %d, NOTFOUND within the negative TTL %d, other %d",
		o.Seconds, o.KnownOK, o.KnownOther, o.UnknownTemp, o.UnknownFreshNF, o.UnknownWrong)
	h.goal("outage: known recipients not answered OK", "0", float64(o.KnownOther), o.KnownOther == 0)
	h.goal("outage: unknown recipients answered other than TEMP (after the negative TTL)", "0", float64(o.UnknownWrong), o.UnknownWrong == 0)
	if err := h.db.Start(); err != nil {
		return err
	}
	return nil
}
