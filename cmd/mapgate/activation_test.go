package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"mapgate/internal/mgproc"
	"mapgate/socketmap"
)

// restartClient streams lookups of bob over one connection, as a Postfix
// process does, and handles errors as Postfix's socketmap client does
// (src/util/dict_sockmap.c): a connection that cannot be made fails the
// lookup at once (451); a broken connection (EOF, reset: the old mapgate
// closed it while draining) is reconnected and the lookup asked again, once;
// a timeout is not retried.
type restartClient struct {
	spec string
	c    *socketmap.Client

	ok, failed, retried int
	lastOK              time.Time
	maxGap              time.Duration // longest time between two answers
	errs                []string      // the first error
}

func (rc *restartClient) lookup() bool {
	err := rc.ask(true)
	if err == nil {
		now := time.Now()
		if !rc.lastOK.IsZero() {
			rc.maxGap = max(rc.maxGap, now.Sub(rc.lastOK))
		}
		rc.lastOK = now
		rc.ok++
		return true
	}
	rc.failed++
	if len(rc.errs) < 1 {
		rc.errs = append(rc.errs, err.Error())
	}
	return false
}

// ask sends one lookup; retry allows one reconnect after a broken
// connection.
func (rc *restartClient) ask(retry bool) error {
	if rc.c == nil {
		c, err := socketmap.Dial(rc.spec)
		if err != nil {
			return err // Postfix: "lookup error", no retry
		}
		c.Timeout = 30 * time.Second
		rc.c = c
	}
	r, err := rc.c.Lookup("virtual_alias", "bob@example.jp")
	if err != nil {
		rc.c.Close()
		rc.c = nil
		if errors.Is(err, os.ErrDeadlineExceeded) || !retry {
			return err
		}
		rc.retried++
		return rc.ask(false)
	}
	if r != socketmap.OK("bob@example.jp") {
		return &replyError{r}
	}
	return nil
}

type replyError struct{ r socketmap.Reply }

func (e *replyError) Error() string { return "unexpected reply " + e.r.String() }

// TestServeSocketActivatedRestartLosesNothing: the listening sockets belong
// to "systemd" (this test) and are passed to mapgate as systemd passes them.
// While several clients stream lookups, the first mapgate is stopped with
// SIGTERM (it drains) and a second one is started on the same sockets; the
// connections made in between wait in the backlog. Goal: no failed lookup.
// The gap (the longest wait for one answer) is measured and logged, not
// asserted.
func TestServeSocketActivatedRestartLosesNothing(t *testing.T) {
	f := newFixture(t)

	// systemd's side: the sockets, which outlive every mapgate process.
	sock := filepath.Join(f.dir, "mapgate.sock")
	ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	require.NoError(t, err)
	defer ul.Close()
	tl, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	defer tl.Close()
	uf, err := ul.File()
	require.NoError(t, err)
	defer uf.Close()
	tf, err := tl.File()
	require.NoError(t, err)
	defer tf.Close()
	socks := []mgproc.Inherited{{Name: "mapgate.sock", File: uf}, {Name: "mapgate-tcp", File: tf}}
	args := []string{"serve", "--map", "virtual_alias=" + f.cf, "--set", "recipient_delimiter=+",
		// Ignored when socket-activated: the sockets come from systemd.
		"--listen", "unix:" + filepath.Join(f.dir, "unused.sock")}

	first := mgproc.StartActivated(t, f.bin, socks, args...)
	assert.Contains(t, first.Log(), "the listen setting is not used")
	_, err = os.Stat(filepath.Join(f.dir, "unused.sock"))
	assert.ErrorIs(t, err, os.ErrNotExist, "--listen is not used when socket-activated")
	for _, spec := range []string{"unix:" + sock, "inet:" + tl.Addr().String()} {
		c := dial0(t, spec)
		r, err := c.Lookup("virtual_alias", "bob@example.jp")
		require.NoError(t, err, spec)
		assert.Equal(t, socketmap.OK("bob@example.jp"), r, spec)
		c.Close()
	}

	stopped, started, second := time.Duration(0), time.Duration(0), (*mgproc.Proc)(nil)
	st := streamAcrossRestart(t, []string{"unix:" + sock, "inet:" + tl.Addr().String()}, func() {
		// systemctl restart: stop (SIGTERM, drain), then start on the
		// same sockets.
		restartAt := time.Now()
		require.NoError(t, first.Signal(syscall.SIGTERM))
		code, err := first.Wait(30 * time.Second)
		require.NoError(t, err, "first mapgate did not exit")
		assert.Equal(t, 0, code, first.Log())
		stopped = time.Since(restartAt)
		_, err = os.Stat(sock)
		require.NoError(t, err, "the socket file belongs to systemd: mapgate must not remove it")
		second = mgproc.StartActivated(t, f.bin, socks, args...)
		started = time.Since(restartAt)
	})
	t.Logf("socket-activated restart: %s; first mapgate exited %v after SIGTERM, second seen ready %v after it",
		st, stopped.Round(time.Millisecond), started.Round(time.Millisecond))
	assert.Equal(t, 0, st.failed, "lookups failed across the restart")
	assert.NotContains(t, second.Log(), "level=ERROR")
}

// TestServeRestartWithoutSocketActivationFailsLookups is the control: the
// same restart with mapgate binding its own unix socket. Between the old
// process closing it and the new one binding it, Postfix's reconnect finds
// no socket and the lookup fails (451). This is what socket activation
// removes; if it stopped failing, the test above would prove nothing.
func TestServeRestartWithoutSocketActivationFailsLookups(t *testing.T) {
	f := newFixture(t)
	sock := filepath.Join(f.dir, "mapgate.sock")
	args := []string{"serve", "--map", "virtual_alias=" + f.cf, "--set", "recipient_delimiter=+", "--listen", "unix:" + sock}
	first := mgproc.Start(t, f.bin, args...)
	st := streamAcrossRestart(t, []string{"unix:" + sock}, func() {
		require.NoError(t, first.Signal(syscall.SIGTERM))
		_, err := first.Wait(30 * time.Second)
		require.NoError(t, err, "first mapgate did not exit")
		mgproc.Start(t, f.bin, args...)
	})
	t.Logf("restart without socket activation: %s", st)
	assert.Positive(t, st.failed, "a restart of a self-bound socket fails lookups")
}

type restartStats struct {
	ok, failed, retried int
	gap                 time.Duration
}

func (st restartStats) String() string {
	return fmt.Sprintf("%d lookups answered, %d failed, %d retried on a new connection; longest wait for an answer (gap): %v",
		st.ok, st.failed, st.retried, st.gap.Round(time.Millisecond))
}

// streamAcrossRestart runs six clients (over specs in turn) streaming
// lookups; once 500 are answered it calls restart, then lets 500 more be
// answered and stops the clients.
func streamAcrossRestart(t *testing.T, specs []string, restart func()) restartStats {
	t.Helper()
	const nclients = 6
	var (
		stop     atomic.Bool
		answered atomic.Int64
		wg       sync.WaitGroup
	)
	clients := make([]*restartClient, nclients)
	for i := range clients {
		clients[i] = &restartClient{spec: specs[i%len(specs)]}
		wg.Add(1)
		go func(rc *restartClient) {
			defer wg.Done()
			defer func() {
				if rc.c != nil {
					rc.c.Close()
				}
			}()
			for n := 0; n < 1_000_000 && !stop.Load(); n++ {
				if rc.lookup() {
					answered.Add(1)
				}
			}
		}(clients[i])
	}
	stopClients := func() { stop.Store(true); wg.Wait() }
	defer stopClients()
	waitAnswered := func(n int64) {
		t.Helper()
		for i := 0; i < 3000 && answered.Load() < n; i++ {
			time.Sleep(10 * time.Millisecond)
		}
		require.GreaterOrEqual(t, answered.Load(), n, "clients stalled")
	}

	waitAnswered(500)
	restart()
	waitAnswered(answered.Load() + 500)
	stopClients()

	var st restartStats
	for _, rc := range clients {
		st.ok += rc.ok
		st.failed += rc.failed
		st.retried += rc.retried
		st.gap = max(st.gap, rc.maxGap)
		for _, e := range rc.errs {
			t.Logf("client %s: %s", rc.spec, e)
		}
	}
	return st
}

// dial0 connects to a socketmap spec (unix: or inet:).
func dial0(t *testing.T, spec string) *socketmap.Client {
	t.Helper()
	c, err := socketmap.Dial(spec)
	require.NoError(t, err)
	c.Timeout = 10 * time.Second
	return c
}

// TestServeInheritedDatagramSocketRefused: systemd passed something that is
// not a listening stream socket (ListenDatagram= by mistake); mapgate says
// so and exits instead of serving nothing.
func TestServeInheritedDatagramSocketRefused(t *testing.T) {
	bin := mgproc.Build(t)
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	defer pc.Close()
	pf, err := pc.File()
	require.NoError(t, err)
	defer pf.Close()
	cmd := mgproc.ActivatedCommand(bin, []mgproc.Inherited{{Name: "wrong", File: pf}},
		"serve", "--map", "virtual_alias=/nonexistent.cf")
	done := make(chan struct{})
	var out []byte
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatal("mapgate did not exit")
	}
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, "%s", out)
	assert.Equal(t, exitFailure, ee.ExitCode(), "%s", out)
	assert.Contains(t, string(out), "inherited socket wrong")
	assert.Contains(t, string(out), "want a listening stream socket")
}

// TestServeSocketActivatedRestartBothFronts (issue 20, defect 7): systemd
// passes a socketmap socket and a socket named "mysql" (FileDescriptorName=
// mysql, contrib/mapgate-mysql.socket), which the MySQL front serves: a
// MySQL client gets a greeting there (before, it was served as socketmap).
// While clients of both fronts stream lookups, mapgate is restarted on the
// same sockets. Goal: no failed lookup on either front. A front client is
// one connection, reconnected once when the old mapgate closed it, as
// Postfix's mysql: client does since 3.10 with one host (listed twice).
func TestServeSocketActivatedRestartBothFronts(t *testing.T) {
	f := newFixture(t)
	smSock, frontSock := filepath.Join(f.dir, "mapgate.sock"), filepath.Join(f.dir, "mysql.sock")
	var socks []mgproc.Inherited
	for _, s := range []struct{ name, path string }{{"mapgate", smSock}, {"mysql", frontSock}} {
		ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: s.path, Net: "unix"})
		require.NoError(t, err)
		defer ul.Close()
		uf, err := ul.File()
		require.NoError(t, err)
		defer uf.Close()
		socks = append(socks, mgproc.Inherited{Name: s.name, File: uf})
	}
	args := []string{"serve", "--map", "virtual_alias=" + f.cf, "--set", "recipient_delimiter=+",
		"--set", "mysql_password=pw"}
	first := mgproc.StartActivated(t, f.bin, socks, args...)
	v, err := frontAsk(frontDB(t, frontSock, "pw"), "bob@example.jp")
	require.NoError(t, err, "the socket named mysql is the MySQL front")
	require.Equal(t, []string{"bob@example.jp"}, v)

	const nclients = 3
	var (
		stop             atomic.Bool
		answered         atomic.Int64
		frontOK, frontKO atomic.Int64
		wg               sync.WaitGroup
		firstFrontErr    atomic.Value
	)
	sm := make([]*restartClient, nclients)
	for i := range sm {
		sm[i] = &restartClient{spec: "unix:" + smSock}
		wg.Add(2)
		go func(rc *restartClient) {
			defer wg.Done()
			defer func() {
				if rc.c != nil {
					rc.c.Close()
				}
			}()
			for !stop.Load() {
				if rc.lookup() {
					answered.Add(1)
				}
			}
		}(sm[i])
		db := frontDB(t, frontSock, "pw")
		go func() {
			defer wg.Done()
			for !stop.Load() {
				v, err := frontAsk(db, "bob@example.jp")
				var me *mysql.MySQLError
				if err != nil && !errors.As(err, &me) {
					// The connection broke (the old mapgate closed it
					// while idle, as the query went out): Postfix's
					// client reconnects and asks again, once.
					v, err = frontAsk(db, "bob@example.jp")
				}
				if err == nil && len(v) == 1 && v[0] == "bob@example.jp" {
					frontOK.Add(1)
					answered.Add(1)
					continue
				}
				frontKO.Add(1)
				firstFrontErr.CompareAndSwap(nil, fmt.Sprintf("%v %v", v, err))
			}
		}()
	}
	waitAnswered := func(n int64) {
		t.Helper()
		for i := 0; i < 3000 && answered.Load() < n; i++ {
			time.Sleep(10 * time.Millisecond)
		}
		require.GreaterOrEqual(t, answered.Load(), n, "clients stalled")
	}
	waitAnswered(500)
	require.NoError(t, first.Signal(syscall.SIGTERM))
	code, err := first.Wait(30 * time.Second)
	require.NoError(t, err, "first mapgate did not exit")
	assert.Equal(t, 0, code, first.Log())
	second := mgproc.StartActivated(t, f.bin, socks, args...)
	waitAnswered(answered.Load() + 500)
	stop.Store(true)
	wg.Wait()

	var st restartStats
	for _, rc := range sm {
		st.ok += rc.ok
		st.failed += rc.failed
		st.retried += rc.retried
		st.gap = max(st.gap, rc.maxGap)
	}
	t.Logf("socket-activated restart with both fronts: socketmap %s; MySQL front %d answered, %d failed",
		st, frontOK.Load(), frontKO.Load())
	if e := firstFrontErr.Load(); e != nil {
		t.Logf("first failed front lookup: %v", e)
	}
	assert.Zero(t, st.failed, "socketmap lookups failed across the restart")
	assert.Zero(t, frontKO.Load(), "front lookups failed across the restart")
	assert.Positive(t, frontOK.Load())
	assert.NotContains(t, second.Log(), "level=ERROR")
}
