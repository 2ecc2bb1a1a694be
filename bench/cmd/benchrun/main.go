// Command benchrun runs mapgate's side-by-side benchmark in one go: a
// private MariaDB with the bulk aliases, mapgate, and Postfix's own clients
// on the same keys, and writes report.json, report.txt and attack.png to
// -out. With -smoke it runs a few seconds of checked traffic on a small
// data set and asserts correctness counts only (exit 1 on any wrong or
// missing answer), for CI.
//
//	go run ./bench/cmd/benchrun -out bench/out          # make bench
//	go run ./bench/cmd/benchrun -smoke -out bench/out   # make bench-smoke
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"

	"mapgate/bench"
	"mapgate/internal/mgproc"
	"mapgate/internal/testdb"
	"mapgate/socketmap"
)

func main() { os.Exit(run()) }

// options are benchrun's flags.
type options struct {
	out          string
	smoke        bool
	progress     bool
	rows         int
	keys         int
	poolSize     int
	repeats      int
	rate         float64
	attackDur    time.Duration
	noPostfix    bool
	record       string
	outage       time.Duration
	onlyTrace    bool
	onlyDistinct bool
}

func run() (code int) {
	var o options
	flag.StringVar(&o.out, "out", "bench/out", "directory for report.json, report.txt and attack.png")
	flag.BoolVar(&o.smoke, "smoke", false, "a few seconds of checked traffic on a small data set; assert correctness only")
	flag.BoolVar(&o.progress, "progress", false, "progress lines on stderr even when it is not a terminal")
	flag.IntVar(&o.rows, "rows", 100000, "aliases in the data set")
	flag.IntVar(&o.keys, "keys", 20000, "keys per stream (half present)")
	flag.IntVar(&o.poolSize, "pool", 8, "mapgate's pool_size")
	flag.IntVar(&o.repeats, "repeats", 3, "runs of each postmap timing (the median is reported)")
	flag.Float64Var(&o.rate, "attack-rate", 1000, "good-key requests per second in the attack profile")
	flag.DurationVar(&o.attackDur, "attack-duration", 10*time.Second, "length of each attack-profile run")
	flag.BoolVar(&o.noPostfix, "no-postfix-instance", false, "skip what needs a private Postfix instance (proxy:mysql:, the smtpd chart)")
	flag.StringVar(&o.record, "record-trace", "", "record the Postfix trace (root and Postfix needed) to this file, and exit")
	flag.BoolVar(&o.onlyTrace, "only-trace", false, "run only the trace phase (f)")
	flag.BoolVar(&o.onlyDistinct, "only-distinct", false, "run only the distinct-keys phases (a) and (b), with proxy:mysql:")
	flag.DurationVar(&o.outage, "outage", 60*time.Second, "how long every database host is down in the trace's outage run")
	flag.Parse()
	if o.record != "" {
		if err := recordTrace(o.record); err != nil {
			fmt.Fprintf(os.Stderr, "benchrun: %v\n", err)
			return 3
		}
		return 0
	}
	if o.smoke {
		o.rows, o.keys, o.repeats = 2000, 2000, 1
	}

	tb := &harnessTB{}
	defer tb.runCleanups()
	defer func() {
		if p := recover(); p != nil {
			f, ok := p.(fatal)
			if !ok {
				tb.runCleanups()
				panic(p)
			}
			fmt.Fprintf(os.Stderr, "benchrun: %s\n", f.msg)
			code = 3
		}
	}()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if err := os.MkdirAll(o.out, 0o755); err != nil {
		tb.Fatal(err)
	}
	h := newHarness(ctx, tb, o)
	var err error
	switch {
	case o.smoke:
		err = h.smoke()
	case o.onlyTrace:
		if err = h.trace(); err == nil {
			h.rep.LoadAfter = bench.LoadAvg()
			err = h.write()
		}
	default:
		err = h.full()
	}
	if err == nil && ctx.Err() != nil {
		err = fmt.Errorf("interrupted: %w", ctx.Err())
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "benchrun: %v\n", err)
		if errors.Is(err, errWrong) {
			return 1
		}
		return 3
	}
	return 0
}

// errWrong marks a run with wrong or missing answers.
var errWrong = errors.New("wrong answers")

// harness holds what a run started: the database, the .cf file, mapgate.
type harness struct {
	ctx     context.Context
	tb      *harnessTB
	o       options
	data    bench.BulkAliases
	db      *testdb.Server
	root    *sql.DB
	dir     string // temp dir: alias.cf, main.cf (for postmap -c), keys.txt
	cf      string
	keys    []bench.Key
	keyFile string
	mg      *mgproc.Proc
	// front is a second mapgate serving the same map "alias" through its
	// MySQL front (frontCF is the .cf Postfix's mysql: client reads for
	// it), a process of its own so that its CPU and its database
	// connections are measured apart from socketmap's.
	front     *mgproc.Proc
	frontAddr string
	frontCF   string
	mgBin     string
	postmap   string
	rep       *report
	// stmtOverlap: a prepared execution counts in Com_select too.
	stmtOverlap bool
	// wrongExtra counts wrong answers of phases without a bench.Result.
	wrongExtra uint64
}

func newHarness(ctx context.Context, tb *harnessTB, o options) *harness {
	h := &harness{ctx: ctx, tb: tb, o: o, data: bench.BulkAliases{N: o.rows}, rep: &report{}}
	h.rep.Started = time.Now()
	h.rep.LoadBefore = bench.LoadAvg()
	h.rep.Rows, h.rep.KeysPerStream, h.rep.PoolSize = o.rows, o.keys, o.poolSize
	step := time.Now()
	db, err := testdb.New()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(db.Close)
	h.db = db
	if err := db.Exec(testdb.Schema("postfix", "latin1", "latin1_general_ci")); err != nil {
		tb.Fatal(err)
	}
	if err := db.Exec(testdb.BulkAliases("postfix", o.rows)); err != nil {
		tb.Fatal(err)
	}
	if h.root, err = sql.Open("mysql", db.RootDSN("")); err != nil {
		tb.Fatal(err)
	}
	h.root.SetMaxOpenConns(1)
	tb.Cleanup(func() { h.root.Close() })
	h.logf("database: %d aliases on %s (%.1fs)", o.rows, db.Addr(), time.Since(step).Seconds())

	h.dir = tb.TempDir()
	// Postfix's proxymap and smtpd read the .cf as the postfix user.
	must(tb, os.Chmod(h.dir, 0o755))
	h.cf = filepath.Join(h.dir, "alias.cf")
	cf := fmt.Sprintf("# mapgate bench: PostfixAdmin's virtual alias query\nhosts = inet:%s\nuser = %s\npassword = %s\ndbname = postfix\nquery = SELECT goto FROM alias WHERE address='%%s' AND active = '1'\n",
		db.Addr(), testdb.User, testdb.Password)
	must(tb, os.WriteFile(h.cf, []byte(cf), 0o644))
	must(tb, os.WriteFile(filepath.Join(h.dir, "main.cf"), nil, 0o644))
	h.keys = bench.Keys(h.data, bench.Mix{Present: 1, Absent: 1}, o.keys)
	var kb strings.Builder
	for _, k := range h.keys {
		kb.WriteString(k.Key + "\n")
	}
	h.keyFile = filepath.Join(h.dir, "keys.txt")
	must(tb, os.WriteFile(h.keyFile, []byte(kb.String()), 0o644))
	if h.postmap, err = lookPath("postmap"); err != nil {
		tb.Fatal(err)
	}

	// The binary: bin/mapgate when make built it, else mgproc builds one.
	if os.Getenv("MAPGATE_BIN") == "" {
		if abs, err := filepath.Abs("bin/mapgate"); err == nil {
			if st, err := os.Stat(abs); err == nil && !st.IsDir() {
				os.Setenv("MAPGATE_BIN", abs)
			}
		}
	}
	h.mgBin = mgproc.Build(tb)
	tb.Cleanup(mgproc.RemoveBuild)
	// Two maps on the same .cf: "alias" without address search (one query
	// per key, as postmap -q asks mysql:), and "virtual_alias" with
	// Postfix's address search (full address, then @domain), as smtpd asks
	// mysql: in production.
	// servedMaps is 2: keep it in step.
	h.mg = mgproc.Start(tb, h.mgBin, "serve",
		"--map", "alias="+h.cf, "--map", "virtual_alias="+h.cf,
		"--set", "alias_address_search=no", "--set", "recipient_delimiter=+",
		"--set", "pool_size="+strconv.Itoa(o.poolSize))
	h.logf("mapgate: pid %d on %s, pool_size %d", h.mg.PID(), h.mg.Addr, o.poolSize)
	if !o.smoke {
		h.startFront()
	}
	return h
}

// frontPassword is the MySQL front's password in the harness.
const frontPassword = "bench-front"

// startFront starts the mapgate whose MySQL front serves map "alias" on
// a loopback port, and writes the .cf file for postmap's mysql: client
// (query = '%s', as migrate --via mysql writes it).
func (h *harness) startFront() {
	port, err := testdb.FreePort()
	must(h.tb, err)
	h.frontAddr = "127.0.0.1:" + strconv.Itoa(port)
	h.front = mgproc.Start(h.tb, h.mgBin, "serve", "--map", "alias="+h.cf,
		"--set", "mysql_listen=inet:"+h.frontAddr, "--set", "mysql_password="+frontPassword,
		"--set", "pool_size="+strconv.Itoa(h.o.poolSize))
	h.frontCF = filepath.Join(h.dir, "front.cf")
	must(h.tb, os.WriteFile(h.frontCF, []byte(frontCF(h.frontAddr, "alias")), 0o644))
	h.logf("mapgate MySQL front: pid %d on %s", h.front.PID(), h.frontAddr)
}

// frontCF is a mysql: table file that asks map name of mapgate's MySQL
// front at addr.
func frontCF(addr, name string) string {
	return fmt.Sprintf("# mapgate bench: mapgate's MySQL front\nhosts = inet:%s\nuser = postfix\npassword = %s\ndbname = %s\nquery = '%%s'\n",
		addr, frontPassword, name)
}

// servedMaps is how many maps the harness's mapgate serves (each has its
// own database connections).
const servedMaps = 2

func must(tb *harnessTB, err error) {
	if err != nil {
		tb.Fatal(err)
	}
}

func (h *harness) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "benchrun: "+format+"\n", args...)
}

func (h *harness) progress() bool {
	if h.o.progress {
		return true
	}
	st, err := os.Stderr.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// mysqlCmd is `postmap -c DIR -q - mysql:FILE`.
func (h *harness) mysqlCmd(ctx context.Context) *exec.Cmd {
	return exec.CommandContext(ctx, h.postmap, "-c", h.dir, "-q", "-", "mysql:"+h.cf)
}

// socketmapCmd is `postmap -c DIR -q - socketmap:inet:ADDR:alias`.
func (h *harness) socketmapCmd(ctx context.Context) *exec.Cmd {
	return exec.CommandContext(ctx, h.postmap, "-c", h.dir, "-q", "-", "socketmap:inet:"+h.mg.Addr+":alias")
}

// frontCmd is `postmap -c DIR -q - mysql:FRONT.cf`: Postfix's mysql:
// client pointed at mapgate's MySQL front.
func (h *harness) frontCmd(ctx context.Context) *exec.Cmd {
	return exec.CommandContext(ctx, h.postmap, "-c", h.dir, "-q", "-", "mysql:"+h.frontCF)
}

// timed runs postmapStreams repeats times and returns the run with the
// median time, with the counts of all runs summed.
func (h *harness) timed(table string, mk func(context.Context) *exec.Cmd, streams, repeats int) (*streamsResult, []float64, error) {
	var runs []*streamsResult
	var all bench.Counts
	for range repeats {
		r, err := postmapStreams(h.ctx, table, mk, h.keyFile, h.keys, streams, h.data)
		if err != nil {
			return nil, nil, err
		}
		all.Add(r.Counts)
		runs = append(runs, r)
		h.logf("  %-22s %d stream(s) × %d keys: %.2fs (%.0f lookups/s) correct %d wrong %d errors %d",
			table, streams, len(h.keys), r.Seconds, r.PerSec, r.Counts.Correct(), r.Counts.Wrong, r.Counts.Errors)
		if r.Stderr != "" {
			h.logf("    stderr: %s", r.Stderr)
		}
	}
	secs := make([]float64, len(runs))
	for i, r := range runs {
		secs[i] = r.Seconds
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i].Seconds < runs[j].Seconds })
	med := *runs[len(runs)/2]
	med.Counts = all
	return &med, secs, nil
}

// rawDriver measures go-sql-driver's point-select rate with a statement
// prepared once per connection (one round trip per query).
func (h *harness) rawDriver(workers int, perWorker int) (*rawResult, error) {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.Addr, cfg.DBName = testdb.User, testdb.Password, "tcp", h.db.Addr(), "postfix"
	cfg.Timeout, cfg.ReadTimeout, cfg.WriteTimeout = 2*time.Second, 5*time.Second, 5*time.Second
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	db.SetMaxOpenConns(workers)
	db.SetMaxIdleConns(workers)
	stmt, err := db.Prepare("SELECT goto FROM alias WHERE address = ? AND active = '1'")
	if err != nil {
		return nil, err
	}
	defer stmt.Close()
	// Warm every connection (and its prepared statement) first.
	warm := make(chan error, workers)
	for range workers {
		go func() {
			var s string
			err := stmt.QueryRow(h.keys[0].Key).Scan(&s)
			warm <- err
		}()
	}
	for range workers {
		if err := <-warm; err != nil {
			return nil, err
		}
	}
	type wres struct {
		c bench.Counts
	}
	res := make(chan wres, workers)
	start := time.Now()
	for w := range workers {
		go func() {
			var r wres
			for i := range perWorker {
				k := h.keys[(w*perWorker/workers+i)%len(h.keys)]
				var v string
				err := stmt.QueryRow(k.Key).Scan(&v)
				switch {
				case errors.Is(err, sql.ErrNoRows):
					if k.Want.Status == socketmap.StatusNotFound {
						r.c.NotFound++
					} else {
						r.c.Wrong++
					}
				case err != nil:
					r.c.Errors++
				case v == k.Want.Text && k.Want.Status == socketmap.StatusOK:
					r.c.OK++
				default:
					r.c.Wrong++
				}
			}
			res <- r
		}()
	}
	var c bench.Counts
	for range workers {
		r := <-res
		c.Add(r.c)
	}
	el := time.Since(start)
	return &rawResult{Workers: workers, Queries: workers * perWorker, Seconds: el.Seconds(), PerSec: float64(workers*perWorker) / el.Seconds(), Counts: c}, nil
}

// memory opens n idle client connections to mapgate (each after one lookup,
// so the server has set it up fully) and reads mapgate's VmRSS.
func (h *harness) memory(n int) (*memResult, error) {
	before, err := vmRSS(h.mg.PID())
	if err != nil {
		return nil, err
	}
	conns := make([]interface{ Close() error }, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range n {
		c, err := dialLookup(h.mg.Addr, "alias", h.keys[i%len(h.keys)])
		if err != nil {
			return nil, fmt.Errorf("connection %d: %w", i, err)
		}
		conns = append(conns, c)
	}
	time.Sleep(time.Second)
	after, err := vmRSS(h.mg.PID())
	if err != nil {
		return nil, err
	}
	return &memResult{Conns: n, RSSBeforeMiB: before, RSSMiB: after}, nil
}

// vmRSS reads VmRSS of pid from /proc, in MiB.
func vmRSS(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) >= 1 {
				kb, err := strconv.ParseFloat(f[0], 64)
				return kb / 1024, err
			}
		}
	}
	return 0, errors.New("no VmRSS in /proc status")
}

func lookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range []string{"/usr/sbin", "/usr/local/sbin"} {
		p := filepath.Join(d, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found (run make deps)", name)
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func numCPU() int { return runtime.NumCPU() }

// dialLookup connects to a socketmap server and does one lookup, checked.
func dialLookup(addr, mapName string, k bench.Key) (*socketmap.Client, error) {
	c, err := socketmap.Dial("inet:" + addr)
	if err != nil {
		return nil, err
	}
	c.Timeout = 10 * time.Second
	r, err := c.Lookup(mapName, k.Key)
	if err == nil && bench.Check(k, r, nil) > bench.OutNotFound {
		err = fmt.Errorf("lookup %q: got %v", k.Key, r)
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}
