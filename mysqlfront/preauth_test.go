package mysqlfront_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mapgate/internal/conncore"
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

	"mapgate/internal/pfinst"
	"mapgate/mysqlfront"
)

// postmapFront makes a Postfix config directory and a mysql_table(5) file
// pointing Postfix's own mysql: client at the front on addr (TCP), and
// returns a function that runs `postmap -q key mysql:front.cf` and reports
// its output and, on failure, why.
func postmapFront(t *testing.T, addr string) func(key string) (string, error) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs Postfix's postmap; skipped with -short")
	}
	if err := pfinst.Installed(); err != nil {
		t.Fatal(err)
	}
	if err := pfinst.HasMapType("mysql"); err != nil {
		t.Fatal(err)
	}
	postmap, err := exec.LookPath("postmap")
	if err != nil {
		postmap = "/usr/sbin/postmap"
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.cf"), []byte("compatibility_level = 3.6\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(addr)
	cf := filepath.Join(dir, "front.cf")
	text := fmt.Sprintf("hosts = inet:%s:%s\nuser = postfix\npassword = secret\ndbname = m\nquery = '%%s'\n", host, port)
	if err := os.WriteFile(cf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return func(key string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, postmap, "-c", dir, "-q", key, "mysql:"+cf)
		cmd.Env = append(os.Environ(), "MAIL_CONFIG="+dir)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Run(); err != nil {
			return out.String(), fmt.Errorf("%v: %s", err, strings.TrimSpace(errOut.String()))
		}
		return out.String(), nil
	}
}

// TestServerPreAuthCannotStarvePostfix: a local client that opens
// connections and never logs in, refilling each one the server closes,
// must not keep Postfix's real mysql: client (postmap -q, a new connection
// per run, over TCP) from being answered. It holds more connections than
// both the connection cap and the unauthenticated budget, so that every
// one it opens closes another.
func TestServerPreAuthCannotStarvePostfix(t *testing.T) {
	tb := &table{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &mysqlfront.Server{Resolver: tb, User: "postfix", Password: "secret", Limits: conncore.Limits{MaxConns: 16}}
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	lookup := postmapFront(t, l.Addr().String())

	held := conncore.SQLFrontLimits.MaxUnauthenticated + 64
	ctx, stop := context.WithCancel(context.Background())
	var dials atomic.Int64
	done := make(chan struct{})
	go func() { holdUnauthenticated(ctx, l.Addr().String(), held, &dials); close(done) }()
	defer func() { stop(); <-done }()
	// Until the attacker holds its connections.
	deadline := time.Now().Add(10 * time.Second)
	for s.Stats().Unauthenticated < int64(conncore.SQLFrontLimits.MaxUnauthenticated) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}

	const asked = 20
	answered := 0
	start := time.Now()
	for i := range asked {
		out, err := lookup("bob@example.jp")
		if err == nil && out == "got:bob@example.jp\n" {
			answered++
			continue
		}
		t.Errorf("postmap -q #%d: %q, %v", i, out, err)
	}
	el := time.Since(start)
	st := s.Stats()
	t.Logf("postmap -q through the TCP front: %d of %d answered in %v while a client held %d unauthenticated connections "+
		"and refilled them (%d connects, %.0f/s); stats %+v", answered, asked, el.Round(time.Millisecond), held,
		dials.Load(), float64(dials.Load())/el.Seconds(), st)
	if st.Evicted == 0 {
		t.Errorf("no unauthenticated connection was closed to make room: the test did not fill the budget")
	}
}

// holdUnauthenticated keeps n connections to addr open without ever
// answering the greeting, and opens a new one as soon as one is closed,
// until ctx ends. dials counts the connections opened.
func holdUnauthenticated(ctx context.Context, addr string, n int, dials *atomic.Int64) {
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for ctx.Err() == nil {
				nc, err := net.Dial("tcp", addr)
				if err != nil {
					time.Sleep(time.Millisecond)
					continue
				}
				dials.Add(1)
				stopped := context.AfterFunc(ctx, func() { nc.Close() })
				_, _ = io.Copy(io.Discard, nc)
				stopped()
				nc.Close()
			}
		})
	}
	wg.Wait()
}

// attackEnv makes the test binary a flooding client (holdUnauthenticated)
// instead of running tests: "ADDR N".
const attackEnv = "MAPGATE_TEST_HOLD_UNAUTHENTICATED"

func TestMain(m *testing.M) {
	if v := os.Getenv(attackEnv); v != "" {
		var addr string
		var n int
		if _, err := fmt.Sscan(v, &addr, &n); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		var dials atomic.Int64
		holdUnauthenticated(context.Background(), addr, n, &dials) // until killed
		return
	}
	os.Exit(m.Run())
}

// TestServerPreAuthPeerFairness: a flooding client running as another
// user (nobody) closes only its own connections when the unauthenticated
// budget is full, however small: Postfix's lookups (as root) all answer.
func TestServerPreAuthPeerFairness(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("runs the flooding client as nobody: needs root")
	}
	tb := &table{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	const budget = 8
	s := &mysqlfront.Server{Resolver: tb, User: "postfix", Password: "secret", Limits: conncore.Limits{MaxConns: 16, MaxUnauthenticated: budget}}
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	lookup := postmapFront(t, l.Addr().String())

	// The test binary, where nobody may run it.
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} { // t.TempDir's two levels
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "attacker")
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	attacker := exec.Command(bin)
	attacker.Env = append(os.Environ(), fmt.Sprintf("%s=%s %d", attackEnv, l.Addr(), budget+64))
	attacker.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	var attackErr bytes.Buffer
	attacker.Stderr = &attackErr
	if err := attacker.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { attacker.Process.Kill(); attacker.Wait() })
	for deadline := time.Now().Add(10 * time.Second); s.Stats().Evicted < 1000; {
		if time.Now().After(deadline) {
			t.Fatalf("the flooding client did not fill the budget: %+v; %s", s.Stats(), attackErr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}

	const asked = 20
	answered := 0
	start := time.Now()
	ev0 := s.Stats().Evicted
	for i := range asked {
		out, err := lookup("bob@example.jp")
		if err == nil && out == "got:bob@example.jp\n" {
			answered++
			continue
		}
		t.Errorf("postmap -q #%d: %q, %v", i, out, err)
	}
	el := time.Since(start)
	st := s.Stats()
	t.Logf("postmap -q (root) through the TCP front: %d of %d answered in %v while a client running as nobody held %d "+
		"connections against an unauthenticated budget of %d (%d closed to make room, %.0f/s); stats %+v",
		answered, asked, el.Round(time.Millisecond), budget+64, budget, st.Evicted-ev0, float64(st.Evicted-ev0)/el.Seconds(), st)
}
