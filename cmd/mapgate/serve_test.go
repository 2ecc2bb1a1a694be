package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"mapgate/internal/mgproc"
	"mapgate/internal/testdb"
	"mapgate/socketmap"
)

// fixture is a private latin1 database, a .cf file for it, and the binary.
type fixture struct {
	db  *testdb.Server
	cf  string
	dir string
	bin string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	if testing.Short() {
		t.Skip("starts mariadbd and the mapgate binary (not in -short)")
	}
	f := &fixture{db: testdb.Start(t), dir: t.TempDir(), bin: mgproc.Build(t)}
	f.db.MustExec(t, testdb.Schema("postfix", "latin1", "latin1_general_ci"))
	f.cf = filepath.Join(f.dir, "alias.cf")
	f.writeCF(t, "")
	return f
}

func (f *fixture) writeCF(t *testing.T, extra string) {
	t.Helper()
	text := fmt.Sprintf("hosts = inet:%s\nuser = %s\npassword = %s\ndbname = postfix\nquery = SELECT goto FROM alias WHERE address='%%s' AND active = '1'\n%s",
		f.db.Addr(), testdb.User, testdb.Password, extra)
	require.NoError(t, os.WriteFile(f.cf, []byte(text), 0o600))
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

func dial(t *testing.T, addr string) *socketmap.Client {
	t.Helper()
	c, err := socketmap.Dial("inet:" + addr)
	require.NoError(t, err)
	c.Timeout = 10 * time.Second
	t.Cleanup(func() { c.Close() })
	return c
}

// scrape returns the metric samples of /metrics as "name{labels}" → value.
func scrape(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		require.NoError(t, err, line)
		out[line[:i]] = v
	}
	return out
}

func httpStatus(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func TestServeMetricsAfterKnownTraffic(t *testing.T) {
	f := newFixture(t)
	maddr := freeAddr(t)
	p := mgproc.Start(t, f.bin, "serve", "--map", "virtual_alias="+f.cf, "--metrics-listen", maddr, "--set", "recipient_delimiter=+")
	c := dial(t, p.Addr)

	want := map[string]socketmap.Reply{}
	send := func(key string, n int, r socketmap.Reply) {
		for i := 0; i < n; i++ {
			got, err := c.Lookup("virtual_alias", key)
			require.NoError(t, err)
			require.Equal(t, r, got, key)
		}
		want[key] = r
	}
	send("bob@example.jp", 10, socketmap.OK("bob@example.jp"))
	send("nobody@example.jp", 5, socketmap.NotFound())
	send("ほげ@example.jp", 7, socketmap.NotFound())
	send("a\x00b@example.jp", 2, socketmap.NotFound())
	got, err := c.Lookup("no_such_map", "bob@example.jp")
	require.NoError(t, err)
	require.Equal(t, socketmap.StatusPerm, got.Status)

	m := scrape(t, maddr)
	assert.Equal(t, 10.0, m[`mapgate_lookups_total{front="socketmap",map="virtual_alias",result="ok"}`])
	assert.Equal(t, 14.0, m[`mapgate_lookups_total{front="socketmap",map="virtual_alias",result="notfound"}`])
	assert.Equal(t, 7.0, m[`mapgate_keys_rejected_total{map="virtual_alias",reason="unrepresentable"}`])
	assert.Equal(t, 2.0, m[`mapgate_keys_rejected_total{map="virtual_alias",reason="nul"}`])
	assert.Zero(t, m[`mapgate_keys_rejected_total{map="virtual_alias",reason="key_error"}`])
	hostLabel := "tcp:" + f.db.Addr()
	// bob 10, nobody 5 × (full key + @domain), ほげ 7 × @domain; a key with
	// a NUL is never found, not even through the catch-all: no query.
	assert.Equal(t, 10.0+10+7, m[`mapgate_queries_total{class="none",host="`+hostLabel+`",map="virtual_alias"}`])
	assert.Zero(t, m[`mapgate_queries_total{class="key",host="`+hostLabel+`",map="virtual_alias"}`])
	assert.Zero(t, m[`mapgate_host_breaker_state{host="`+hostLabel+`"}`])
	assert.Equal(t, 1.0, m["mapgate_client_connections"])
	assert.Equal(t, 1.0, m[`mapgate_replies_total{status="PERM"}`])
	assert.Equal(t, http.StatusOK, httpStatus(t, "http://"+maddr+"/healthz"))
	assert.Equal(t, http.StatusOK, httpStatus(t, "http://"+maddr+"/readyz"))

	// The database goes away: the breaker opens, /readyz says so.
	require.NoError(t, f.db.Kill())
	for i := 0; i < 5; i++ {
		r, err := c.Lookup("virtual_alias", "bob@example.jp")
		require.NoError(t, err)
		require.Contains(t, []socketmap.Status{socketmap.StatusTemp, socketmap.StatusTimeout}, r.Status)
	}
	m = scrape(t, maddr)
	assert.Equal(t, 2.0, m[`mapgate_host_breaker_state{host="`+hostLabel+`"}`], "breaker open")
	assert.Positive(t, m[`mapgate_queries_total{class="host",host="`+hostLabel+`",map="virtual_alias"}`])
	assert.Equal(t, http.StatusServiceUnavailable, httpStatus(t, "http://"+maddr+"/readyz"))
	// Keys never appear in the metrics.
	resp, err := http.Get("http://" + maddr + "/metrics")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.NotContains(t, string(body), "bob@")
}

func TestServeReloadOnSIGHUP(t *testing.T) {
	f := newFixture(t)
	cfgPath := filepath.Join(f.dir, "mapgate.cf")
	require.NoError(t, os.WriteFile(cfgPath, []byte("maps = virtual_alias="+f.cf+"\n"), 0o644))
	p := mgproc.Start(t, f.bin, "serve", "--config", cfgPath)
	c := dial(t, p.Addr)
	lookup := func(key string) socketmap.Reply {
		r, err := c.Lookup("virtual_alias", key)
		require.NoError(t, err)
		return r
	}
	require.Equal(t, socketmap.OK("bob@example.jp"), lookup("bob@example.jp"))

	// A changed .cf file is picked up.
	f.writeCF(t, "result_format = relay:[%d]\n")
	require.NoError(t, p.Signal(syscall.SIGHUP))
	waitLog(t, p, `msg=reloaded`, 1)
	assert.Equal(t, socketmap.OK("relay:[example.jp]"), lookup("bob@example.jp"))

	// A broken one is refused, and the previous maps keep serving.
	require.NoError(t, os.WriteFile(f.cf, []byte("hosts = 127.0.0.1\nquery = SELECT %x FROM t\n"), 0o600))
	require.NoError(t, p.Signal(syscall.SIGHUP))
	waitLog(t, p, `reload refused`, 1)
	assert.Equal(t, socketmap.OK("relay:[example.jp]"), lookup("bob@example.jp"))
	assert.Contains(t, p.Log(), "alias.cf")

	// A broken mapgate config is refused too.
	require.NoError(t, os.WriteFile(cfgPath, []byte("maps = virtual_alias="+f.cf+"\nno_such_setting = 1\n"), 0o644))
	require.NoError(t, p.Signal(syscall.SIGHUP))
	waitLog(t, p, `reload refused`, 2)
	assert.Equal(t, socketmap.OK("relay:[example.jp]"), lookup("bob@example.jp"))
}

func waitLog(t *testing.T, p *mgproc.Proc, s string, n int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Count(p.Log(), s) >= n {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("log has no %q (x%d):\n%s", s, n, p.Log())
}

// TestServeSIGTERMUnderLoad: lookups in flight finish with right answers,
// the process exits 0, in bounded time.
func TestServeSIGTERMUnderLoad(t *testing.T) {
	f := newFixture(t)
	p := mgproc.Start(t, f.bin, "serve", "--map", "virtual_alias="+f.cf)
	var ok, wrong, cut atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := socketmap.Dial("inet:" + p.Addr)
			if err != nil {
				return
			}
			defer c.Close()
			c.Timeout = 10 * time.Second
			for i := 0; i < 20000; i++ {
				key, want := "bob@example.jp", socketmap.OK("bob@example.jp")
				if i%2 == 1 {
					key, want = "nobody@example.jp", socketmap.NotFound()
				}
				r, err := c.Lookup("virtual_alias", key)
				if err != nil {
					cut.Add(1) // the server closed the connection: Postfix reconnects
					return
				}
				if r != want {
					wrong.Add(1)
				} else {
					ok.Add(1)
				}
			}
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for ok.Load() < 500 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	require.NoError(t, p.Signal(syscall.SIGTERM))
	start := time.Now()
	code, err := p.Wait(30 * time.Second)
	took := time.Since(start)
	require.NoError(t, err)
	wg.Wait()
	assert.Equal(t, 0, code, p.Log())
	assert.Zero(t, wrong.Load())
	t.Logf("SIGTERM under load (4 connections): exit %d after %v; %d right answers, %d wrong, %d connections closed by the server", code, took.Round(time.Millisecond), ok.Load(), wrong.Load(), cut.Load())
}

// TestServeUnixSocketWithPostmap: Postfix's own client over the unix
// socket; a live socket is not stolen; a stale one is replaced.
func TestServeUnixSocketWithPostmap(t *testing.T) {
	f := newFixture(t)
	postmap, err := exec.LookPath("postmap")
	require.NoError(t, err, "postmap not installed: run make deps")
	pfdir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(pfdir, "main.cf"), nil, 0o644))
	sock := filepath.Join(f.dir, "mapgate.sock")
	p := mgproc.Start(t, f.bin, "serve", "--map", "virtual_alias="+f.cf, "--listen", "unix:"+sock, "--set", "socket_mode=0660")
	st, err := os.Stat(sock)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o660), st.Mode().Perm())

	q := func(key string) (string, int) {
		out, err := exec.Command(postmap, "-c", pfdir, "-q", key, "socketmap:unix:"+sock+":virtual_alias").Output()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(out)), code
	}
	out, code := q("bob@example.jp")
	assert.Equal(t, 0, code)
	assert.Equal(t, "bob@example.jp", out)
	_, code = q("ほげ@example.jp")
	assert.Equal(t, 1, code, "not found")

	// A second server must not steal the live socket.
	second := exec.Command(f.bin, "serve", "--map", "virtual_alias="+f.cf, "--listen", "unix:"+sock)
	outb, err := second.CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(outb), "in use")
	out, code = q("bob@example.jp")
	assert.Equal(t, 0, code, "the first server still serves")

	// After a crash the stale socket file is replaced.
	require.NoError(t, p.Signal(syscall.SIGKILL))
	_, _ = p.Wait(10 * time.Second)
	_, err = os.Stat(sock)
	require.NoError(t, err, "a crash leaves the socket file behind")
	mgproc.Start(t, f.bin, "serve", "--map", "virtual_alias="+f.cf, "--listen", "unix:"+sock)
	// Without socket_mode and socket_group: 0660, and the group of
	// Postfix's mail_owner (postfix; postmap installs it) when this process
	// may give it (root here in CI).
	st, err = os.Stat(sock)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o660), st.Mode().Perm(), "default socket mode")
	if pf, err := user.Lookup("postfix"); err == nil && os.Geteuid() == 0 {
		assert.Equal(t, pf.Gid, strconv.Itoa(int(st.Sys().(*syscall.Stat_t).Gid)), "default socket group: postfix's")
	}
	out, code = q("bob@example.jp")
	assert.Equal(t, 0, code)
	assert.Equal(t, "bob@example.jp", out)
}

func TestServeConfigErrorsNameFileAndLine(t *testing.T) {
	bin := mgproc.Build(t)
	dir := t.TempDir()
	cf := filepath.Join(dir, "bad.cf")
	require.NoError(t, os.WriteFile(cf, []byte("hosts = 127.0.0.1\ndbname = postfix\nquery = SELECT goto FROM alias WHERE address='%x'\n"), 0o600))
	out, err := exec.Command(bin, "serve", "--listen", "inet:127.0.0.1:0", "--map", "virtual_alias="+cf).CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(out), cf+":3: query")
	out, err = exec.Command(bin, "serve", "--listen", "inet:127.0.0.1:0", "--map", "virtual_alias="+filepath.Join(dir, "missing.cf")).CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(out), "missing.cf")
}
