package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"mapgate/internal/mgproc"
	"mapgate/internal/testdb"
	"mapgate/socketmap"
)

// cfWith is the fixture's .cf file with one setting replaced.
func (f *fixture) cfWith(hosts, password, query string) string {
	return fmt.Sprintf("hosts = %s\nuser = %s\npassword = %s\ndbname = postfix\nquery = %s\n",
		hosts, testdb.User, password, query)
}

const goodQuery = "SELECT goto FROM alias WHERE address='%s' AND active = '1'"

// TestServeReloadKeepsWorkingSet: a SIGHUP with a .cf file that cannot
// reach its database (unreachable host, wrong password, unknown column, a
// COLLATE the bound key cannot take) is
// refused, logged and counted; the running maps answer every lookup
// across it. A good one is taken.
func TestServeReloadKeepsWorkingSet(t *testing.T) {
	f := newFixture(t)
	cfgPath := filepath.Join(f.dir, "mapgate.cf")
	require.NoError(t, os.WriteFile(cfgPath, []byte("maps = virtual_alias="+f.cf+"\n"), 0o644))
	maddr := freeAddr(t)
	p := mgproc.Start(t, f.bin, "serve", "--config", cfgPath, "--metrics-listen", maddr)

	var ok, failed atomic.Int64
	var firstBad atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		c := dial(t, p.Addr)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1_000_000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				r, err := c.Lookup("virtual_alias", "bob@example.jp")
				if err == nil && r.Status == socketmap.StatusOK {
					ok.Add(1)
					continue
				}
				failed.Add(1)
				firstBad.CompareAndSwap(nil, fmt.Sprintf("%v %v", r, err))
			}
		}()
	}
	good := f.cfWith("inet:"+f.db.Addr(), testdb.Password, goodQuery)
	cases := []struct{ name, cf string }{
		{"unreachable host", f.cfWith("inet:"+freeAddr(t), testdb.Password, goodQuery)},
		{"wrong password", f.cfWith("inet:"+f.db.Addr(), "wrong", goodQuery)},
		{"unknown column", f.cfWith("inet:"+f.db.Addr(), testdb.Password, "SELECT goto FROM alias WHERE no_such_column='%s'")},
		// Prepares, and fails for every key when it runs (error 1253).
		{"collation the key cannot take", f.cfWith("inet:"+f.db.Addr(), testdb.Password, "SELECT goto FROM alias WHERE address = '%s' COLLATE latin1_general_ci")},
	}
	for i, c := range cases {
		require.NoError(t, os.WriteFile(f.cf, []byte(c.cf), 0o600))
		require.NoError(t, p.Signal(syscall.SIGHUP))
		waitLog(t, p, "reload refused: the new maps cannot reach their databases", i+1)
		t.Logf("%s: refused", c.name)
	}
	require.NoError(t, os.WriteFile(f.cf, []byte(good+"result_format = relay:[%d]\n"), 0o600))
	require.NoError(t, p.Signal(syscall.SIGHUP))
	waitLog(t, p, "msg=reloaded", 1)
	close(stop)
	wg.Wait()

	t.Logf("lookups across the reloads: %d ok, %d failed", ok.Load(), failed.Load())
	assert.Zero(t, failed.Load(), "failed lookups across the reloads: %v", firstBad.Load())
	assert.Positive(t, ok.Load())
	log := p.Log()
	assert.Contains(t, log, "connection refused")
	assert.Contains(t, log, "Access denied")
	assert.Contains(t, log, "no_such_column")
	assert.Contains(t, log, "1253")
	m := scrape(t, maddr)
	assert.Equal(t, 4.0, m[`mapgate_reloads_total{result="refused"}`])
	assert.Equal(t, 1.0, m[`mapgate_reloads_total{result="ok"}`])
	c := dial(t, p.Addr)
	r, err := c.Lookup("virtual_alias", "bob@example.jp")
	require.NoError(t, err)
	assert.Equal(t, socketmap.OK("relay:[example.jp]"), r)
}

// TestCheckCommand: mapgate check (serve --check) validates a
// configuration against the live databases without serving.
func TestCheckCommand(t *testing.T) {
	f := newFixture(t)
	run := func(args ...string) (string, int) {
		if args[0] != "serve" {
			args = append([]string{"check"}, args...)
		}
		out, err := exec.Command(f.bin, args...).CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else {
			require.NoError(t, err)
		}
		return string(out), code
	}
	out, code := run("--map", "virtual_alias="+f.cf)
	assert.Equal(t, exitOK, code, out)
	assert.Contains(t, out, "1 maps ok")

	bad := filepath.Join(f.dir, "bad.cf")
	require.NoError(t, os.WriteFile(bad, []byte(f.cfWith("inet:"+f.db.Addr(), testdb.Password, "SELECT goto FROM alias WHERE no_such_column='%s'")), 0o600))
	out, code = run("--map", "virtual_alias="+f.cf, "--map", "broken="+bad)
	assert.Equal(t, exitFailure, code, out)
	assert.Contains(t, out, "no_such_column")
	assert.Contains(t, out, "broken: no host can answer")
	assert.True(t, strings.Contains(out, "virtual_alias\t"+f.cf), out)

	// serve --check is the same command.
	out, code = run("serve", "--check", "--map", "broken="+bad)
	assert.Equal(t, exitFailure, code, out)

	// A statement that prepares but fails when it runs, for every key: the
	// bound key is utf8mb4 (the connection's), which latin1_general_ci does
	// not apply to (error 1253). check runs the query with a probe key.
	collate := filepath.Join(f.dir, "collate.cf")
	require.NoError(t, os.WriteFile(collate, []byte(f.cfWith("inet:"+f.db.Addr(), testdb.Password, "SELECT goto FROM alias WHERE address = '%s' COLLATE latin1_general_ci")), 0o600))
	out, code = run("--map", "collate="+collate)
	assert.Equal(t, exitFailure, code, out)
	assert.Contains(t, out, "1253")
	assert.Contains(t, out, "collate: no host can answer")

	// check says which of the settings a configuration sets a reload
	// applies, and which take a restart.
	cfg := filepath.Join(f.dir, "mapgate.cf")
	require.NoError(t, os.WriteFile(cfg, []byte("maps = virtual_alias="+f.cf+"\nlisten = unix:/nonexistent/x.sock\npool_size = 4\nvirtual_alias_fold_case = yes\nlog_format = json\n"), 0o644))
	out, code = run("--config", cfg)
	assert.Equal(t, exitOK, code, out)
	assert.Contains(t, out, "a reload (SIGHUP) applies a change of: maps, pool_size, virtual_alias_fold_case\n")
	assert.Contains(t, out, "a change of these takes a restart: listen, log_format\n")
}
