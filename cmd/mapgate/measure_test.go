package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"mapgate/bench"
	"mapgate/internal/mgproc"
	"mapgate/internal/testdb"
)

// These runs measure the goals through the real binary and the
// real protocol. They take long and assert nothing about timing: set
// MAPGATE_MEASURE=1 to run them.
func measuring(t *testing.T) {
	t.Helper()
	if os.Getenv("MAPGATE_MEASURE") == "" {
		t.Skip("measurement: set MAPGATE_MEASURE=1 to run")
	}
}

const measureRows = 10000

// bulkHost starts a private server with the bulk data set.
func bulkHost(t *testing.T) *testdb.Server {
	s := testdb.Start(t)
	s.MustExec(t, testdb.Schema("postfix", "latin1", "latin1_general_ci"))
	s.MustExec(t, testdb.BulkAliases("postfix", measureRows))
	return s
}

func writeFile(t *testing.T, name, text string) string {
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(text), 0o600))
	return p
}

func aliasCF(t *testing.T, hosts, query string) string {
	return writeFile(t, "map.cf", fmt.Sprintf("hosts = %s\nuser = %s\npassword = %s\ndbname = postfix\nquery = %s\n",
		hosts, testdb.User, testdb.Password, query))
}

func runBench(t *testing.T, addr, name string, conns int, d, timeout time.Duration) *bench.Result {
	res, err := bench.Run(context.Background(), bench.Config{
		Target: "inet:" + addr, Map: name, Data: bench.BulkAliases{N: measureRows}, Mix: bench.Mix{Present: 5, Absent: 5},
		Conns: conns, Duration: d, Timeout: timeout, Label: name,
	})
	require.NoError(t, err)
	return res
}

func summary(r *bench.Result) string {
	g := r.Good
	return fmt.Sprintf("%.0f/s ok=%d notfound=%d temp=%d timeout=%d wrong=%d errors=%d p50=%.0fµs p99=%.0fµs max=%.0fµs (load %s → %s)",
		g.Throughput, g.OK, g.NotFound, g.Temp, g.Timeout, g.Wrong, g.Errors, g.Latency.P50, g.Latency.P99, g.Latency.Max,
		r.LoadBefore, r.LoadAfter)
}

// TestMeasureServeStalledHost: two hosts, 64 connections for 30 s, host A
// stalled (SIGSTOP) after 10 s; default settings (query_timeout 2s,
// lookup_timeout 5s).
func TestMeasureServeStalledHost(t *testing.T) {
	measuring(t)
	a, b := bulkHost(t), bulkHost(t)
	cf := aliasCF(t, "inet:"+a.Addr()+" inet:"+b.Addr(), "SELECT goto FROM alias WHERE address='%s' AND active = '1'")
	p := mgproc.Start(t, mgproc.Build(t), "serve", "--map", "virtual_alias="+cf)
	go func() {
		time.Sleep(10 * time.Second)
		if err := a.Pause(); err != nil {
			t.Error(err)
		}
	}()
	defer a.Resume()
	res := runBench(t, p.Addr, "virtual_alias", 64, 30*time.Second, 10*time.Second)
	t.Logf("64 connections, 30 s, host A stalled after 10 s: %s", summary(res))
}

// TestMeasureServeSlowMap: virtual_alias (12 connections) alone, then
// beside a map on the same host whose query sleeps a second (32
// connections).
func TestMeasureServeSlowMap(t *testing.T) {
	measuring(t)
	a := bulkHost(t)
	cf := aliasCF(t, "inet:"+a.Addr(), "SELECT goto FROM alias WHERE address='%s' AND active = '1'")
	slow := aliasCF(t, "inet:"+a.Addr(), "SELECT a.goto FROM alias a JOIN (SELECT SLEEP(1) AS s) z WHERE a.address='%s'")
	p := mgproc.Start(t, mgproc.Build(t), "serve", "--map", "virtual_alias="+cf, "--map", "slow="+slow,
		"--set", "slow_address_search=no")
	runBench(t, p.Addr, "virtual_alias", 12, 2*time.Second, 5*time.Second) // warm up
	alone := runBench(t, p.Addr, "virtual_alias", 12, 10*time.Second, 5*time.Second)
	var wg sync.WaitGroup
	var slowRes *bench.Result
	wg.Add(1)
	go func() {
		defer wg.Done()
		slowRes = runBench(t, p.Addr, "slow", 32, 14*time.Second, 60*time.Second)
	}()
	time.Sleep(2 * time.Second)
	beside := runBench(t, p.Addr, "virtual_alias", 12, 10*time.Second, 5*time.Second)
	wg.Wait()
	t.Logf("virtual_alias alone: %s", summary(alone))
	t.Logf("virtual_alias beside the slow map: %s", summary(beside))
	t.Logf("slow map: %s", summary(slowRes))
	t.Logf("ratio %.2f", beside.Good.Throughput/alone.Good.Throughput)
}
