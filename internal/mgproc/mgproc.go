// Package mgproc builds the mapgate binary once per test process and runs it
// as a subprocess on a free 127.0.0.1 port, or socket-activated on sockets
// the caller owns (StartActivated), for end-to-end tests and the benchmark
// harness.
//
// A started Proc is always stopped by its cleanup (SIGTERM, then SIGKILL after
// a bound), even when the test fails; the binary is built into a temporary
// directory that RemoveBuild deletes (call it from TestMain after m.Run).
package mgproc

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"mapgate/internal/testdb"
)

// Bounds on waiting for the subprocess.
const (
	// ReadyTimeout bounds the wait for "mapgate ready" and an accepting port.
	ReadyTimeout = 30 * time.Second
	// StopTimeout is how long cleanup waits after SIGTERM before SIGKILL.
	StopTimeout = 10 * time.Second
)

// readyMsg is the log line mapgate serve writes once it listens.
const readyMsg = `msg="mapgate ready"`

var (
	buildMu  sync.Mutex
	buildBin string
	buildDir string
	buildErr error
)

// Build returns the path of a mapgate binary. If the environment variable
// MAPGATE_BIN is set, it is used as is. Otherwise `go build ./cmd/mapgate` runs
// once per test process (later calls return the same path, or the same
// error) into a temporary directory removed by RemoveBuild. A build failure
// fails tb.
func Build(tb testing.TB) string {
	tb.Helper()
	bin, err := Binary()
	if err != nil {
		tb.Fatalf("mgproc: %v", err)
	}
	return bin
}

// Binary is Build for programs without a testing.TB.
func Binary() (string, error) {
	buildMu.Lock()
	defer buildMu.Unlock()
	if buildBin != "" || buildErr != nil {
		return buildBin, buildErr
	}
	if p := os.Getenv("MAPGATE_BIN"); p != "" {
		if _, err := os.Stat(p); err != nil {
			buildErr = fmt.Errorf("MAPGATE_BIN: %w", err)
			return "", buildErr
		}
		buildBin = p
		return p, nil
	}
	dir, err := os.MkdirTemp("", "mgbin")
	if err != nil {
		buildErr = err
		return "", err
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		gobin = "/usr/local/go/bin/go"
		if !fileExists(gobin) {
			buildErr = fmt.Errorf("no go command in PATH to build mapgate (or set MAPGATE_BIN)")
			os.RemoveAll(dir)
			return "", buildErr
		}
	}
	out := filepath.Join(dir, "mapgate")
	// The package path resolves from any directory inside the module.
	cmd := exec.Command(gobin, "build", "-o", out, "mapgate/cmd/mapgate")
	if b, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		buildErr = fmt.Errorf("go build mapgate/cmd/mapgate: %v\n%s", err, b)
		return "", buildErr
	}
	buildBin, buildDir = out, dir
	return out, nil
}

// RemoveBuild deletes the directory Build compiled into (nothing when
// MAPGATE_BIN was used or nothing was built). Call it from TestMain after
// m.Run; a later Build builds again.
func RemoveBuild() {
	buildMu.Lock()
	defer buildMu.Unlock()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	buildBin, buildDir, buildErr = "", "", nil
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// Proc is one running mapgate subprocess.
type Proc struct {
	// Addr is the socketmap listener that Start added, "127.0.0.1:PORT".
	Addr string
	// Cmd is the underlying command; do not Wait on it (use Proc.Wait).
	Cmd *exec.Cmd

	log    *syncBuffer
	exited chan struct{} // closed once the process has been reaped
	state  *os.ProcessState
	werr   error
}

// Start runs `bin args... --listen inet:127.0.0.1:PORT` on a free port, and
// waits (at most ReadyTimeout) until mapgate logs that it is ready and the port
// accepts connections. args normally begin with "serve". The process's stderr
// and stdout are kept (Log). A cleanup registered on tb stops the process:
// SIGTERM, then SIGKILL after StopTimeout. Start fails tb when the process
// exits or does not become ready; the log is included in the message.
func Start(tb testing.TB, bin string, args ...string) *Proc {
	tb.Helper()
	p, err := Launch(bin, args...)
	if err != nil {
		tb.Fatalf("mgproc: %v", err)
	}
	tb.Cleanup(p.Stop)
	return p
}

// Launch is Start for programs without a testing.TB (the benchmark
// harness): the caller must call Stop.
func Launch(bin string, args ...string) (*Proc, error) {
	var err error
	// A port that was free a moment ago may be taken by the time mapgate
	// binds it; try a few.
	for attempt := 0; attempt < 3; attempt++ {
		var p *Proc
		if p, err = start(bin, args); err == nil {
			return p, nil
		}
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	return nil, err
}

func start(bin string, args []string) (*Proc, error) {
	port, err := testdb.FreePort()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	full := append(append([]string(nil), args...), "--listen", "inet:"+addr)
	cmd := exec.Command(bin, full...)
	buf := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = buf, buf
	// Never outlive the test process.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	p := &Proc{Addr: addr, Cmd: cmd, log: buf, exited: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		p.state, p.werr = cmd.ProcessState, err
		close(p.exited)
	}()
	deadline := time.Now().Add(ReadyTimeout)
	for {
		select {
		case <-p.exited:
			return nil, fmt.Errorf("mapgate %s exited before it was ready (%v); its log:\n%s",
				strings.Join(full, " "), p.werr, buf.String())
		default:
		}
		if strings.Contains(buf.String(), readyMsg) {
			if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				c.Close()
				return p, nil
			}
		}
		if time.Now().After(deadline) {
			p.Stop()
			return nil, fmt.Errorf("mapgate %s not ready after %v; its log:\n%s",
				strings.Join(full, " "), ReadyTimeout, buf.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Log returns everything the process wrote to stdout and stderr so far.
func (p *Proc) Log() string { return p.log.String() }

// PID is the process id.
func (p *Proc) PID() int { return p.Cmd.Process.Pid }

// Signal sends sig to the process. Signalling an exited process is an error.
func (p *Proc) Signal(sig os.Signal) error {
	select {
	case <-p.exited:
		return os.ErrProcessDone
	default:
	}
	return p.Cmd.Process.Signal(sig)
}

// ErrWaitTimeout is returned by Wait when the process is still running.
var ErrWaitTimeout = errors.New("mgproc: process still running")

// Wait waits at most timeout for the process to exit and returns its exit
// code (-1 when a signal ended it). It returns ErrWaitTimeout if the process is
// still running.
func (p *Proc) Wait(timeout time.Duration) (exitCode int, err error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.exited:
		return p.state.ExitCode(), nil
	case <-t.C:
		return 0, ErrWaitTimeout
	}
}

// Stop ends the process: SIGTERM, then SIGKILL after StopTimeout. It is
// idempotent; Start registers it as a cleanup.
func (p *Proc) Stop() {
	if p.Signal(syscall.SIGTERM) != nil {
		return
	}
	if _, err := p.Wait(StopTimeout); err != nil {
		_ = p.Signal(syscall.SIGKILL)
		_, _ = p.Wait(StopTimeout)
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and many readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Inherited is a listening socket passed to a socket-activated mapgate.
type Inherited struct {
	Name string   // LISTEN_FDNAMES entry (FileDescriptorName= in a .socket unit)
	File *os.File // the listening socket; the caller keeps it open
}

// ActivatedCommand is the command StartActivated runs: `bin args...` with
// socks as fds 3, 4, … and LISTEN_FDS, LISTEN_FDNAMES and (set by an
// exec'ing shell, so that it is the pid mapgate runs as) LISTEN_PID.
func ActivatedCommand(bin string, socks []Inherited, args ...string) *exec.Cmd {
	names := make([]string, len(socks))
	files := make([]*os.File, len(socks))
	for i, s := range socks {
		names[i], files[i] = s.Name, s.File
	}
	sh := append([]string{"-c", `LISTEN_PID=$$; export LISTEN_PID; exec "$0" "$@"`, bin}, args...)
	cmd := exec.Command("/bin/sh", sh...)
	cmd.Env = append(os.Environ(), "LISTEN_FDS="+strconv.Itoa(len(socks)), "LISTEN_FDNAMES="+strings.Join(names, ":"))
	cmd.ExtraFiles = files
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

// activatedMsg is the log line mapgate serve writes per inherited socket.
const activatedMsg = `msg="listening on a socket from systemd"`

// StartActivated runs `bin args...` as systemd runs a socket-activated
// service (sd_listen_fds(3)): the sockets as fds 3, 4, … and LISTEN_FDS,
// LISTEN_FDNAMES and LISTEN_PID set to the process's own pid. LISTEN_PID can
// only be known after the fork, so a shell sets it to its own pid ($$) and
// execs mapgate, which keeps that pid, as systemd does between fork and
// exec. It waits (at most ReadyTimeout) for "mapgate ready" and registers
// Stop as a cleanup. Proc.Addr is empty: the caller owns the sockets.
func StartActivated(tb testing.TB, bin string, socks []Inherited, args ...string) *Proc {
	tb.Helper()
	cmd := ActivatedCommand(bin, socks, args...)
	buf := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = buf, buf
	if err := cmd.Start(); err != nil {
		tb.Fatalf("mgproc: start %s: %v", bin, err)
	}
	p := &Proc{Cmd: cmd, log: buf, exited: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		p.state, p.werr = cmd.ProcessState, err
		close(p.exited)
	}()
	tb.Cleanup(p.Stop)
	deadline := time.Now().Add(ReadyTimeout)
	for {
		select {
		case <-p.exited:
			tb.Fatalf("mgproc: socket-activated mapgate exited before it was ready (%v); its log:\n%s", p.werr, buf.String())
		default:
		}
		if l := buf.String(); strings.Contains(l, readyMsg) {
			if n := strings.Count(l, activatedMsg); n != len(socks) {
				tb.Fatalf("mgproc: mapgate took %d of %d inherited sockets; its log:\n%s", n, len(socks), l)
			}
			return p
		}
		if time.Now().After(deadline) {
			p.Stop()
			tb.Fatalf("mgproc: socket-activated mapgate not ready after %v; its log:\n%s", ReadyTimeout, buf.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
