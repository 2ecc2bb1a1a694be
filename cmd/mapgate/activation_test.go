package main

import (
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"mapgate/internal/mgproc"
	"mapgate/socketmap"
)

// restartClient streams lookups of bob over one connection, as a Postfix
// process does. After an I/O error on its connection (the old mapgate
// closed it while draining) it reconnects and asks again once, as Postfix's
// socketmap client does with a connection the server closed. Only a lookup
// that fails on the new connection too counts as failed: Postfix would
// answer it 451.
type restartClient struct {
	spec string
	c    *socketmap.Client

	ok, failed, retried int
	lastOK              time.Time
	maxGap              time.Duration // longest time between two answers
	errs                []string
}

func (rc *restartClient) dial() error {
	c, err := socketmap.Dial(rc.spec)
	if err != nil {
		return err
	}
	c.Timeout = 30 * time.Second
	rc.c = c
	return nil
}

func (rc *restartClient) lookup() {
	try := func() error {
		if rc.c == nil {
			if err := rc.dial(); err != nil {
				return err
			}
		}
		r, err := rc.c.Lookup("virtual_alias", "bob@example.jp")
		if err != nil {
			rc.c.Close()
			rc.c = nil
			return err
		}
		if r != socketmap.OK("bob@example.jp") {
			return &replyError{r}
		}
		return nil
	}
	err := try()
	if err != nil {
		rc.retried++
		err = try()
	}
	if err != nil {
		rc.failed++
		if len(rc.errs) < 5 {
			rc.errs = append(rc.errs, err.Error())
		}
		return
	}
	now := time.Now()
	if !rc.lastOK.IsZero() {
		rc.maxGap = max(rc.maxGap, now.Sub(rc.lastOK))
	}
	rc.lastOK = now
	rc.ok++
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

	const nclients = 6
	var (
		stop  atomic.Bool
		total atomic.Int64
		wg    sync.WaitGroup
	)
	clients := make([]*restartClient, nclients)
	for i := range clients {
		spec := "unix:" + sock
		if i%3 == 2 {
			spec = "inet:" + tl.Addr().String()
		}
		clients[i] = &restartClient{spec: spec}
		wg.Add(1)
		go func(rc *restartClient) {
			defer wg.Done()
			defer func() {
				if rc.c != nil {
					rc.c.Close()
				}
			}()
			for n := 0; n < 1_000_000 && !stop.Load(); n++ {
				rc.lookup()
				total.Add(1)
			}
		}(clients[i])
	}
	defer func() { stop.Store(true); wg.Wait() }()
	waitTotal := func(n int64) {
		t.Helper()
		for i := 0; i < 3000 && total.Load() < n; i++ {
			time.Sleep(10 * time.Millisecond)
		}
		require.GreaterOrEqual(t, total.Load(), n, "clients stalled")
	}

	waitTotal(500)
	// systemctl restart: stop (SIGTERM, drain), then start on the same sockets.
	restartAt := time.Now()
	require.NoError(t, first.Signal(syscall.SIGTERM))
	code, err := first.Wait(30 * time.Second)
	require.NoError(t, err, "first mapgate did not exit")
	assert.Equal(t, 0, code, first.Log())
	stopped := time.Since(restartAt)
	_, err = os.Stat(sock)
	require.NoError(t, err, "the socket file belongs to systemd: mapgate must not remove it")
	served := total.Load()
	second := mgproc.StartActivated(t, f.bin, socks, args...)
	started := time.Since(restartAt)
	waitTotal(served + 500)
	stop.Store(true)
	wg.Wait()

	var ok, failed, retried int
	var gap time.Duration
	for _, rc := range clients {
		ok += rc.ok
		failed += rc.failed
		retried += rc.retried
		gap = max(gap, rc.maxGap)
		for _, e := range rc.errs {
			t.Logf("client %s: %s", rc.spec, e)
		}
	}
	t.Logf("socket-activated restart: %d lookups answered, %d failed, %d retried on a new connection; "+
		"first mapgate stopped %v after SIGTERM, second ready %v after it; longest wait for an answer (gap): %v",
		ok, failed, retried, stopped.Round(time.Millisecond), started.Round(time.Millisecond), gap.Round(time.Millisecond))
	assert.Equal(t, 0, failed, "lookups failed across the restart")
	assert.NotContains(t, second.Log(), "level=ERROR")
}

// dial0 connects to a socketmap spec (unix: or inet:).
func dial0(t *testing.T, spec string) *socketmap.Client {
	t.Helper()
	c, err := socketmap.Dial(spec)
	require.NoError(t, err)
	c.Timeout = 10 * time.Second
	return c
}
