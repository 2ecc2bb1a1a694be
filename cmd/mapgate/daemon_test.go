package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"mapgate/internal/mgproc"
	"mapgate/internal/testdb"
	"mapgate/socketmap"
)

// The tests of package daemon's part, through the binary: one set of
// pools, breakers and cache for both fronts (issue 20, defects 3 and 4),
// reloads (5, 6), sockets from systemd by name (7), the admin socket.

// frontDB is a client of the MySQL front on a unix socket, with one
// connection, as one Postfix process's mysql: table holds.
func frontDB(t *testing.T, sock, password string) *sql.DB {
	t.Helper()
	return frontDBMap(t, sock, password, "virtual_alias")
}

// frontDBMap is frontDB for the map mapName (its dbname).
func frontDBMap(t *testing.T, sock, password, mapName string) *sql.DB {
	t.Helper()
	cfg := mysql.NewConfig()
	cfg.Net, cfg.Addr, cfg.User, cfg.Passwd, cfg.DBName = "unix", sock, "postfix", password, mapName
	cfg.Timeout = 5 * time.Second
	cfg.ReadTimeout = 10 * time.Second
	db, err := sql.Open("mysql", cfg.FormatDSN())
	require.NoError(t, err)
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

// frontAsk asks the front for key, as Postfix's mysql: client sends it.
func frontAsk(db *sql.DB, key string) ([]string, error) {
	rows, err := db.Query("'" + key + "'")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// connSampler counts the connections the database sees from mapgate's
// account (information_schema.PROCESSLIST), every few milliseconds, and
// keeps the peak.
type connSampler struct {
	peak atomic.Int64
	stop chan struct{}
	done chan struct{}
}

func sampleConns(t *testing.T, dbs ...*testdb.Server) *connSampler {
	t.Helper()
	s := &connSampler{stop: make(chan struct{}), done: make(chan struct{})}
	var roots []*sql.DB
	for _, d := range dbs {
		root, err := sql.Open("mysql", d.RootDSN(""))
		require.NoError(t, err)
		root.SetMaxOpenConns(1)
		roots = append(roots, root)
	}
	go func() {
		defer close(s.done)
		for {
			var total int64
			for _, root := range roots {
				var n int64
				if root.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = ?", testdb.User).Scan(&n) == nil {
					total += n
				}
			}
			if total > s.peak.Load() {
				s.peak.Store(total)
			}
			select {
			case <-s.stop:
				for _, r := range roots {
					r.Close()
				}
				return
			case <-time.After(3 * time.Millisecond):
			}
		}
	}()
	return s
}

func (s *connSampler) finish() int64 {
	close(s.stop)
	<-s.done
	return s.peak.Load()
}

// bulkKeys is how many aliases runLoad's clients ask for (testdb.BulkAliases),
// each at random: distinct keys, so that the map's in-flight queries are
// not shared and the lookups hold the pool's connections.
const bulkKeys = 2000

// runLoad runs n socketmap clients and n front clients asking for bulk
// aliases until stop is called; it counts the answers and failures of each.
type loadStats struct{ smOK, smFailed, frontOK, frontFailed atomic.Int64 }

func runLoad(t *testing.T, smAddr, frontSock, password string, n int, maps ...string) (st *loadStats, stop func()) {
	t.Helper()
	if len(maps) == 0 {
		maps = []string{"virtual_alias"}
	}
	st = &loadStats{}
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("MAPGATE_LOAD_SEED"); v != "" {
		fmt.Sscan(v, &seed)
	}
	t.Logf("load seed %d (replay: MAPGATE_LOAD_SEED=%d)", seed, seed)
	var quit atomic.Bool
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for k := range n {
		c := dial(t, smAddr)
		mapName := maps[k%len(maps)]
		smRand, frontRand := rand.New(rand.NewPCG(seed, uint64(2*k))), rand.New(rand.NewPCG(seed, uint64(2*k+1)))
		db := frontDBMap(t, frontSock, password, mapName)
		wg.Add(2)
		go func() {
			defer wg.Done()
			for !quit.Load() {
				i := smRand.IntN(bulkKeys)
				r, err := c.Lookup(mapName, fmt.Sprintf("user%d@bulk.example", i))
				if err == nil && r == socketmap.OK(fmt.Sprintf("user%d@dest.example", i)) {
					st.smOK.Add(1)
					continue
				}
				st.smFailed.Add(1)
				firstErr.CompareAndSwap(nil, fmt.Sprintf("socketmap: %v %v", r, err))
			}
		}()
		go func() {
			defer wg.Done()
			for !quit.Load() {
				i := frontRand.IntN(bulkKeys)
				v, err := frontAsk(db, fmt.Sprintf("user%d@bulk.example", i))
				if err == nil && len(v) == 1 && v[0] == fmt.Sprintf("user%d@dest.example", i) {
					st.frontOK.Add(1)
					continue
				}
				st.frontFailed.Add(1)
				firstErr.CompareAndSwap(nil, fmt.Sprintf("front: %v %v", v, err))
			}
		}()
	}
	return st, func() {
		quit.Store(true)
		wg.Wait()
		if e := firstErr.Load(); e != nil {
			t.Logf("first failed lookup: %v", e)
		}
	}
}

// slowCF is the fixture's map with a query that takes 5 ms per answer, so
// that concurrent lookups hold the pool's connections, and the bulk
// aliases in the fixture's database.
func (f *fixture) slowCF(t *testing.T, hosts string) {
	t.Helper()
	f.db.MustExec(t, testdb.BulkAliases("postfix", bulkKeys))
	text := fmt.Sprintf("hosts = %s\nuser = %s\npassword = %s\ndbname = postfix\nquery = SELECT goto FROM alias WHERE address='%%s' AND active = '1' AND SLEEP(0.005) = 0\n",
		hosts, testdb.User, testdb.Password)
	require.NoError(t, os.WriteFile(f.cf, []byte(text), 0o600))
}

// discoveryConns are the connections a pool holds beyond pool_size, for
// column discovery (hosts/pool.go).
const discoveryConns = 2

// countSeries counts the samples of one metric.
func countSeries(m map[string]float64, name string) int {
	n := 0
	for k := range m {
		if strings.HasPrefix(k, name+"{") {
			n++
		}
	}
	return n
}

// TestServeBothFrontsShareOnePoolSet (issue 20, defects 3 and 4): with
// socketmap and the MySQL front both under load, the database sees at most
// one pool's connections for the map's one host (pool_size), /metrics has
// one breaker and one pool series for it, and the front's connections are
// counted. Before, the front had its own pools: up to twice pool_size.
func TestServeBothFrontsShareOnePoolSet(t *testing.T) {
	f := newFixture(t)
	f.slowCF(t, "inet:"+f.db.Addr())
	maddr := freeAddr(t)
	sock := filepath.Join(f.dir, "front.sock")
	p := mgproc.Start(t, f.bin, "serve", "--map", "virtual_alias="+f.cf, "--metrics-listen", maddr,
		"--set", "mysql_listen=unix:"+sock, "--set", "mysql_password=pw", "--set", "socket_group=0",
		"--set", "pool_size=3")
	sampler := sampleConns(t, f.db)
	st, stop := runLoad(t, p.Addr, sock, "pw", 8)
	time.Sleep(2 * time.Second)
	stop()
	peak := sampler.finish()
	t.Logf("8 socketmap + 8 front clients, pool_size 3: %d + %d lookups answered, %d + %d failed; peak %d database connections",
		st.smOK.Load(), st.frontOK.Load(), st.smFailed.Load(), st.frontFailed.Load(), peak)
	assert.Zero(t, st.smFailed.Load()+st.frontFailed.Load())
	assert.Positive(t, st.smOK.Load())
	assert.Positive(t, st.frontOK.Load())
	assert.LessOrEqual(t, peak, int64(3+discoveryConns), "one pool (pool_size 3, and its discovery connections) for the map's host, whatever the fronts")

	m := scrape(t, maddr)
	assert.Equal(t, 1, countSeries(m, "mapgate_host_breaker_state"), "one breaker per host")
	assert.Equal(t, 1, countSeries(m, "mapgate_db_pool_max_connections"), "one pool per map and host")
	assert.GreaterOrEqual(t, m["mapgate_mysql_connections_accepted_total"], 8.0)
	assert.Equal(t, 8.0, m["mapgate_mysql_connections"])
	assert.Positive(t, m[`mapgate_lookups_total{front="mysql",map="virtual_alias",result="ok"}`])
}

// TestServeFrontSeesSocketmapBreaker (defect 3): of two hosts, one is
// frozen (SIGSTOP); socketmap's traffic opens its breaker; the front's first
// lookups then go straight to the other host. Before, the front had a
// breaker of its own and its first lookups on the frozen host each waited
// query_timeout.
func TestServeFrontSeesSocketmapBreaker(t *testing.T) {
	f := newFixture(t)
	db2 := testdb.Start(t)
	db2.MustExec(t, testdb.Schema("postfix", "latin1", "latin1_general_ci"))
	// Hosts are asked in the order written (mapgate's order within a
	// group, where Postfix's is random): the frozen one first.
	f.slowCF(t, "inet:"+db2.Addr()+" inet:"+f.db.Addr())
	maddr := freeAddr(t)
	sock := filepath.Join(f.dir, "front.sock")
	p := mgproc.Start(t, f.bin, "serve", "--map", "virtual_alias="+f.cf, "--metrics-listen", maddr,
		"--set", "mysql_listen=unix:"+sock, "--set", "mysql_password=pw", "--set", "socket_group=0",
		"--set", "query_timeout=1s", "--set", "breaker_trip=1", "--set", "breaker_timeout=60s")
	require.NoError(t, db2.Pause())
	defer db2.Resume()
	frozen := fmt.Sprintf(`mapgate_host_breaker_state{host="tcp:%s"}`, db2.Addr())
	c := dial(t, p.Addr)
	for i := 0; scrape(t, maddr)[frozen] == 0; i++ { // open, or half-open after probe_interval
		require.Less(t, i, 50, "socketmap's lookups never opened the frozen host's breaker")
		r, err := c.Lookup("virtual_alias", "bob@example.jp")
		require.NoError(t, err)
		require.Equal(t, socketmap.OK("bob@example.jp"), r)
	}
	db := frontDB(t, sock, "pw")
	var worst time.Duration
	for range 20 {
		start := time.Now()
		v, err := frontAsk(db, "bob@example.jp")
		d := time.Since(start)
		require.NoError(t, err)
		require.Equal(t, []string{"bob@example.jp"}, v)
		worst = max(worst, d)
	}
	t.Logf("frozen host's breaker opened by socketmap: the front's first 20 lookups took at most %v", worst.Round(time.Microsecond))
	assert.Less(t, worst, 500*time.Millisecond, "the front waited on a host socketmap already found dead")
}

// TestServeFrontStaleAndReadyz (defects 3 and 4): with only front
// traffic, during an outage the front serves rows cached before it (stale,
// as socketmap does) instead of error packets, and once every host's
// breaker is open /readyz says 503.
func TestServeFrontStaleAndReadyz(t *testing.T) {
	f := newFixture(t)
	maddr := freeAddr(t)
	sock := filepath.Join(f.dir, "front.sock")
	mgproc.Start(t, f.bin, "serve", "--map", "virtual_alias="+f.cf, "--metrics-listen", maddr,
		"--set", "mysql_listen=unix:"+sock, "--set", "mysql_password=pw", "--set", "socket_group=0",
		"--set", "cache_ttl=1s", "--set", "cache_stale_max=1h", "--set", "query_timeout=1s")
	db := frontDB(t, sock, "pw")
	v, err := frontAsk(db, "bob@example.jp")
	require.NoError(t, err)
	require.Equal(t, []string{"bob@example.jp"}, v)
	assert.Equal(t, 200, httpStatus(t, "http://"+maddr+"/readyz"))
	require.NoError(t, f.db.Stop())
	time.Sleep(1100 * time.Millisecond) // past cache_ttl
	v, err = frontAsk(db, "bob@example.jp")
	require.NoError(t, err, "the front answers from the cache during an outage")
	assert.Equal(t, []string{"bob@example.jp"}, v)
	m := scrape(t, maddr)
	assert.Positive(t, m[`mapgate_cache_total{event="stale",map="virtual_alias"}`])

	// Front traffic alone opens the (shared) breaker: /readyz follows.
	var errPackets int
	for i := 0; i < 20 && httpStatus(t, "http://"+maddr+"/readyz") != 503; i++ {
		if _, err := frontAsk(db, fmt.Sprintf("u%d@example.jp", i)); err != nil {
			errPackets++
		}
	}
	assert.Equal(t, 503, httpStatus(t, "http://"+maddr+"/readyz"), "every host down: not ready")
	t.Logf("/readyz 503 after %d front error packets", errPackets)
}

// TestServeReloadAppliesSettings (defect 5): a SIGHUP applies a new
// mysql_password (the old one is refused at once, the new one accepted), a
// new admin_socket, pool_size and log_level, and names each parameter that
// needs a restart in the log (daemon.NeedsRestart), keeping its running
// value.
func TestServeReloadAppliesSettings(t *testing.T) {
	f := newFixture(t)
	maddr := freeAddr(t)
	sock := filepath.Join(f.dir, "front.sock")
	adminA, adminB := filepath.Join(f.dir, "a.sock"), filepath.Join(f.dir, "b.sock")
	cfgPath := filepath.Join(f.dir, "mapgate.cf")
	write := func(password, admin, extra string) {
		text := fmt.Sprintf("maps = virtual_alias=%s\nmysql_listen = unix:%s\nmysql_password = %s\nsocket_group = 0\nadmin_socket = %s\nmetrics_listen = %s\n%s",
			f.cf, sock, password, admin, maddr, extra)
		require.NoError(t, os.WriteFile(cfgPath, []byte(text), 0o600))
	}
	write("old", adminA, "pool_size = 2\n")
	p := mgproc.Start(t, f.bin, "serve", "--config", cfgPath)
	v, err := frontAsk(frontDB(t, sock, "old"), "bob@example.jp")
	require.NoError(t, err)
	require.Equal(t, []string{"bob@example.jp"}, v)
	kept := frontDB(t, sock, "old") // logged in before the reload
	_, err = frontAsk(kept, "bob@example.jp")
	require.NoError(t, err)

	write("new", adminB, "pool_size = 5\nlog_level = debug\nmax_connections = 7\nlookup_timeout = 4s\nlog_format = json\nsocket_mode = 0600\n")
	require.NoError(t, p.Signal(syscall.SIGHUP))
	waitLog(t, p, "msg=reloaded", 1)
	log := p.Log()
	for _, param := range []string{"max_connections", "lookup_timeout", "log_format", "socket_mode"} {
		assert.Contains(t, log, `needs a restart; the running value is kept" param=`+param)
	}
	for _, param := range []string{"pool_size", "mysql_password", "admin_socket", "log_level"} {
		assert.NotContains(t, log, `needs a restart; the running value is kept" param=`+param)
	}

	_, err = frontAsk(frontDB(t, sock, "old"), "bob@example.jp")
	var me *mysql.MySQLError
	require.True(t, errors.As(err, &me), "the old password after the reload: %v, want 1045", err)
	assert.Equal(t, uint16(1045), me.Number)
	v, err = frontAsk(frontDB(t, sock, "new"), "bob@example.jp")
	require.NoError(t, err, "the new password")
	assert.Equal(t, []string{"bob@example.jp"}, v)
	v, err = frontAsk(kept, "bob@example.jp")
	require.NoError(t, err, "a connection logged in before the reload keeps serving")
	assert.Equal(t, []string{"bob@example.jp"}, v)

	out, err := exec.Command(f.bin, "purge", "--config", cfgPath).CombinedOutput()
	require.NoError(t, err, "purge over the new admin_socket: %s", out)
	_, err = os.Stat(adminA)
	assert.ErrorIs(t, err, os.ErrNotExist, "the old admin socket is gone")

	c := dial(t, p.Addr)
	_, err = c.Lookup("virtual_alias", "bob@example.jp")
	require.NoError(t, err)
	m := scrape(t, maddr)
	for k, v := range m {
		if strings.HasPrefix(k, "mapgate_db_pool_max_connections{") {
			assert.Equal(t, float64(5+discoveryConns), v, "pool_size applied: %s", k)
		}
	}
	assert.Eventually(t, func() bool { return strings.Contains(p.Log(), "level=DEBUG") }, 10*time.Second, 50*time.Millisecond, "log_level applied")
	assert.NotContains(t, p.Log(), `"level":`, "log_format needs a restart")
}

// TestServeReloadStorm (defect 6): 100 SIGHUPs in one second while both
// fronts are under load on three maps. Reloads coalesce, and the
// connections the database sees stay within one extra pool set (2 × 3
// pools of pool_size and their discovery connections): no reload refused,
// no lookup failed. Before, each reload
// kept its old pools open for lookup_timeout + 2 s: 10 SIGHUPs took a host
// to 141 connections, 100 to MariaDB's max_connections.
func TestServeReloadStorm(t *testing.T) {
	f := newFixture(t)
	f.slowCF(t, "inet:"+f.db.Addr())
	maddr := freeAddr(t)
	sock := filepath.Join(f.dir, "front.sock")
	const poolSize = 4
	maps := []string{"virtual_alias", "alias2", "alias3"}
	p := mgproc.Start(t, f.bin, "serve", "--map", "virtual_alias="+f.cf, "--map", "alias2="+f.cf, "--map", "alias3="+f.cf,
		"--metrics-listen", maddr,
		"--set", "mysql_listen=unix:"+sock, "--set", "mysql_password=pw", "--set", "socket_group=0",
		"--set", fmt.Sprintf("pool_size=%d", poolSize))
	poolSet := int64(len(maps) * (poolSize + discoveryConns))
	sampler := sampleConns(t, f.db)
	st, stop := runLoad(t, p.Addr, sock, "pw", 6, maps...)
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	for i := range 100 {
		require.NoError(t, p.Signal(syscall.SIGHUP))
		time.Sleep(time.Until(start.Add(time.Duration(i+1) * 10 * time.Millisecond)))
	}
	sent := time.Since(start)
	// Let the last reload finish under load: no new one for 3 s.
	var m map[string]float64
	for last, quiet := -1.0, 0; quiet < 6 && time.Since(start) < time.Minute; {
		time.Sleep(500 * time.Millisecond)
		n := scrape(t, maddr)[`mapgate_reloads_total{result="ok"}`]
		if n == last {
			quiet++
		} else {
			last, quiet = n, 0
		}
	}
	stop()
	peak := sampler.finish()
	m = scrape(t, maddr)
	t.Logf("100 SIGHUPs in %v under load: %v reloads done (ok), %v refused, %v errors; lookups %d + %d answered, %d + %d failed (socketmap + front); peak %d database connections (one pool set: %d)",
		sent.Round(time.Millisecond), m[`mapgate_reloads_total{result="ok"}`], m[`mapgate_reloads_total{result="refused"}`], m[`mapgate_reloads_total{result="error"}`],
		st.smOK.Load(), st.frontOK.Load(), st.smFailed.Load(), st.frontFailed.Load(), peak, poolSet)
	assert.Zero(t, st.smFailed.Load(), "socketmap lookups failed")
	assert.Zero(t, st.frontFailed.Load(), "front lookups failed")
	assert.Zero(t, m[`mapgate_reloads_total{result="refused"}`])
	assert.Zero(t, m[`mapgate_reloads_total{result="error"}`])
	assert.Positive(t, m[`mapgate_reloads_total{result="ok"}`])
	assert.Less(t, m[`mapgate_reloads_total{result="ok"}`], 100.0, "reloads coalesce")
	assert.LessOrEqual(t, peak, 2*poolSet, "at most one extra pool set")
	assert.NotContains(t, p.Log(), "1040")
}

// TestServeAdminSocketBehindIdleConnections (issue 21): three connections
// that send nothing do not keep mapgate purge out.
func TestServeAdminSocketBehindIdleConnections(t *testing.T) {
	f := newFixture(t)
	admin := filepath.Join(f.dir, "admin.sock")
	mgproc.Start(t, f.bin, "serve", "--map", "virtual_alias="+f.cf, "--set", "admin_socket="+admin, "--set", "cache_ttl=1m")
	for range 3 {
		c, err := net.Dial("unix", admin)
		require.NoError(t, err)
		defer c.Close()
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, f.bin, "purge", "--socket", admin).CombinedOutput()
	took := time.Since(start)
	t.Logf("purge behind 3 idle admin connections: %v, %q", took.Round(time.Millisecond), out)
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "entries purged")
	assert.Less(t, took, 2*time.Second)
}

// TestServeListenFDsHuge (issue 21): LISTEN_FDS naming more descriptors than
// were passed is a clean refusal, not go-systemd's out-of-memory crash.
func TestServeListenFDsHuge(t *testing.T) {
	bin := mgproc.Build(t)
	for _, n := range []string{"99999999999", "2147483647", "5"} {
		cmd := exec.Command("/bin/sh", "-c", `LISTEN_PID=$$; export LISTEN_PID; exec "$0" "$@"`, bin,
			"serve", "--listen", "inet:127.0.0.1:0", "--map", "m=/nonexistent.cf")
		cmd.Env = append(os.Environ(), "LISTEN_FDS="+n)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		require.True(t, errors.As(err, &ee), "LISTEN_FDS=%s: %v\n%s", n, err, out)
		assert.Equal(t, exitFailure, ee.ExitCode(), "LISTEN_FDS=%s: %s", n, out)
		assert.Contains(t, string(out), "LISTEN_FDS", n)
		assert.NotContains(t, string(out), "fatal error", n)
		assert.NotContains(t, string(out), "goroutine", n)
		t.Logf("LISTEN_FDS=%s: %s", n, strings.TrimSpace(string(out)))
	}
}

// TestServeFrontCountsRefusals (defect 4): the front's refusals are in
// /metrics: a connection over max_connections (error 1040) and a failed
// login (error 1045).
func TestServeFrontCountsRefusals(t *testing.T) {
	f := newFixture(t)
	maddr := freeAddr(t)
	sock := filepath.Join(f.dir, "front.sock")
	mgproc.Start(t, f.bin, "serve", "--map", "virtual_alias="+f.cf, "--metrics-listen", maddr,
		"--set", "mysql_listen=unix:"+sock, "--set", "mysql_password=pw", "--set", "socket_group=0",
		"--set", "max_connections=1")
	_, err := frontAsk(frontDB(t, sock, "wrong"), "bob@example.jp")
	var me *mysql.MySQLError
	require.True(t, errors.As(err, &me), "%v", err)
	assert.Equal(t, uint16(1045), me.Number)
	held := frontDB(t, sock, "pw")
	_, err = frontAsk(held, "bob@example.jp")
	require.NoError(t, err)
	_, err = frontAsk(frontDB(t, sock, "pw"), "bob@example.jp")
	require.True(t, errors.As(err, &me), "over max_connections: %v", err)
	assert.Equal(t, uint16(1040), me.Number)
	m := scrape(t, maddr)
	assert.Equal(t, 1.0, m["mapgate_mysql_logins_failed_total"])
	assert.Equal(t, 1.0, m["mapgate_mysql_connections_rejected_total"])
	assert.Equal(t, 1.0, m["mapgate_mysql_connections"])
	assert.Equal(t, 2.0, m["mapgate_mysql_connections_accepted_total"])
}
