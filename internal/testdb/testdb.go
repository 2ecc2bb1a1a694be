// Package testdb starts private, throwaway MariaDB servers for mapgate's tests,
// demo and benchmarks.
//
// Each server gets its own data directory under the system temp directory, its
// own unix socket and its own TCP port on 127.0.0.1. A system instance is never
// touched. The data directory is initialised once per process with
// mariadb-install-db and copied for every further server, so a new server is
// ready in well under a second.
//
// The servers are real mariadbd processes: tests kill them (SIGKILL), stall them
// (SIGSTOP) and restart them on the same port to exercise mapgate's failover.
package testdb

import (
	"bytes"
	"context"
	"database/sql"
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

	"github.com/go-sql-driver/mysql"
)

// Server is one private mariadbd.
type Server struct {
	Dir    string // temp directory holding data/, sock, err.log
	Socket string // unix socket path
	Port   int    // TCP port on 127.0.0.1
	// Args are extra mariadbd options (for example --ssl-cert=...), used
	// by Start; set them with NewArgs.
	Args []string

	mu  sync.Mutex
	cmd *exec.Cmd
	// exited is closed when the current process has been reaped.
	exited chan struct{}
}

var (
	templateOnce sync.Once
	templateDir  string
	templateErr  error
)

// binary finds a MariaDB program in PATH or the Debian locations.
func binary(names ...string) (string, error) {
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
		for _, d := range []string{"/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"} {
			p := filepath.Join(d, n)
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("testdb: none of %v found (run 'make deps' to install mariadb-server)", names)
}

// initTemplate runs mariadb-install-db once per process.
func initTemplate() (string, error) {
	templateOnce.Do(func() {
		install, err := binary("mariadb-install-db", "mysql_install_db")
		if err != nil {
			templateErr = err
			return
		}
		dir, err := os.MkdirTemp("", "mgtpl")
		if err != nil {
			templateErr = err
			return
		}
		// A private tmpdir, as for the servers (see Start).
		cmd := exec.Command(install, "--no-defaults", "--user="+currentUser(), "--datadir="+filepath.Join(dir, "data"),
			"--auth-root-authentication-method=normal", "--skip-test-db", "--tmpdir="+dir)
		out, err := cmd.CombinedOutput()
		if err != nil {
			templateErr = fmt.Errorf("testdb: mariadb-install-db: %v\n%s", err, out)
			return
		}
		templateDir = dir
	})
	return templateDir, templateErr
}

func currentUser() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	if os.Getuid() == 0 {
		return "root"
	}
	return strconv.Itoa(os.Getuid())
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// New starts a private server. Call Close when done.
func New() (*Server, error) { return NewArgs() }

// NewArgs starts a private server with extra mariadbd options.
func NewArgs(args ...string) (*Server, error) {
	tpl, err := initTemplate()
	if err != nil {
		return nil, err
	}
	// Short path: unix socket paths are limited to 107 bytes.
	dir, err := os.MkdirTemp("", "mgdb")
	if err != nil {
		return nil, err
	}
	if out, err := exec.Command("cp", "-a", filepath.Join(tpl, "data"), filepath.Join(dir, "data")).CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("testdb: copy datadir: %v: %s", err, out)
	}
	port, err := FreePort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s := &Server{Dir: dir, Socket: filepath.Join(dir, "sock"), Port: port, Args: args}
	if err := s.Start(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Start tests helper: New, with Close registered as a cleanup.
func Start(tb testing.TB) *Server {
	tb.Helper()
	s, err := New()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	return s
}

// Start (re)starts mariadbd on the server's data directory, socket and port,
// and waits until it accepts connections (at most 30 s).
func (s *Server) Start() error {
	bin, err := binary("mariadbd", "mysqld")
	if err != nil {
		return err
	}
	s.mu.Lock()
	if s.cmd != nil {
		s.mu.Unlock()
		return errors.New("testdb: already running")
	}
	cmd := exec.Command(bin, "--no-defaults", "--user="+currentUser(),
		"--datadir="+filepath.Join(s.Dir, "data"), "--socket="+s.Socket,
		"--port="+strconv.Itoa(s.Port), "--bind-address=127.0.0.1",
		"--pid-file="+filepath.Join(s.Dir, "pid"), "--log-error="+filepath.Join(s.Dir, "err.log"),
		"--tmpdir="+s.Dir, // private: nothing else cleaning the system temp directory can take its temporary tables
		"--skip-log-bin", "--skip-name-resolve", "--innodb-buffer-pool-size=64M",
		"--innodb-log-file-size=16M", "--max-connections=500",
		"--character-set-server=latin1", "--collation-server=latin1_swedish_ci")
	cmd.Args = append(cmd.Args, s.Args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		s.mu.Unlock()
		return fmt.Errorf("testdb: start mariadbd: %w", err)
	}
	s.cmd = cmd
	exited := make(chan struct{})
	s.exited = exited
	s.mu.Unlock()
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()

	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			s.mu.Lock()
			s.cmd = nil
			s.mu.Unlock()
			return fmt.Errorf("testdb: mariadbd exited during start-up; see %s", filepath.Join(s.Dir, "err.log"))
		default:
		}
		db, err := sql.Open("mysql", s.RootDSN(""))
		if err == nil {
			err = db.Ping()
			db.Close()
			if err == nil {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("testdb: mariadbd not ready after 30s; see %s", filepath.Join(s.Dir, "err.log"))
}

// PID is the running server's process id, 0 when it is not running.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

func (s *Server) signal(sig syscall.Signal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return errors.New("testdb: not running")
	}
	return s.cmd.Process.Signal(sig)
}

// wait waits for the current process to exit and forgets it.
func (s *Server) wait(limit time.Duration) error {
	s.mu.Lock()
	exited := s.exited
	s.mu.Unlock()
	if exited == nil {
		return nil
	}
	select {
	case <-exited:
	case <-time.After(limit):
		return errors.New("testdb: mariadbd did not exit")
	}
	s.mu.Lock()
	s.cmd, s.exited = nil, nil
	s.mu.Unlock()
	return nil
}

// Kill ends the server with SIGKILL (a crash) and waits for it to go.
func (s *Server) Kill() error {
	_ = s.signal(syscall.SIGCONT)
	if err := s.signal(syscall.SIGKILL); err != nil {
		return err
	}
	return s.wait(10 * time.Second)
}

// Stop shuts the server down cleanly (SIGTERM), falling back to SIGKILL.
func (s *Server) Stop() error {
	_ = s.signal(syscall.SIGCONT)
	if err := s.signal(syscall.SIGTERM); err != nil {
		return err
	}
	if err := s.wait(20 * time.Second); err != nil {
		return s.Kill()
	}
	return nil
}

// Pause stalls the server with SIGSTOP: connections stay open, nothing
// answers. Signal delivery is asynchronous; Pause returns once the kernel
// reports every thread of the process stopped (at most 5 s).
func (s *Server) Pause() error {
	if err := s.signal(syscall.SIGSTOP); err != nil {
		return err
	}
	pid := s.PID()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if allStopped(pid) {
			return nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	return fmt.Errorf("testdb: mariadbd %d did not stop", pid)
}

// allStopped reports whether every thread of pid is in state T (stopped).
func allStopped(pid int) bool {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil || len(tasks) == 0 {
		return false
	}
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, t.Name()))
		if err != nil {
			return false
		}
		// The state follows the command name in parentheses.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 || i+2 >= len(b) || (b[i+2] != 'T' && b[i+2] != 't') {
			return false
		}
	}
	return true
}

// Resume undoes Pause.
func (s *Server) Resume() error { return s.signal(syscall.SIGCONT) }

// Close kills the server and removes its directory.
func (s *Server) Close() {
	_ = s.Kill()
	if s.Dir != "" {
		os.RemoveAll(s.Dir)
	}
}

// RootDSN is a go-sql-driver DSN for root over the unix socket.
func (s *Server) RootDSN(db string) string {
	c := mysql.NewConfig()
	c.User = "root"
	c.Net = "unix"
	c.Addr = s.Socket
	c.DBName = db
	c.MultiStatements = true
	c.Timeout = 2 * time.Second
	return c.FormatDSN()
}

// Addr is the server's TCP address.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)) }

// Exec runs SQL (several statements allowed) as root over the unix socket.
func (s *Server) Exec(sqlText string) error {
	db, err := sql.Open("mysql", s.RootDSN("")+"&charset=utf8mb4")
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	_, err = db.ExecContext(ctx, sqlText)
	return err
}

// MustExec is Exec for tests.
func (s *Server) MustExec(tb testing.TB, sqlText string) {
	tb.Helper()
	if err := s.Exec(sqlText); err != nil {
		tb.Fatalf("testdb: %v\nSQL: %s", err, firstLine(sqlText))
	}
}

// GlobalStatus reads one counter of SHOW GLOBAL STATUS (for example
// "Com_select" or "Com_stmt_execute").
func (s *Server) GlobalStatus(name string) (int64, error) {
	db, err := sql.Open("mysql", s.RootDSN(""))
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var n string
	var v int64
	// SHOW takes no placeholders; name is a test's constant.
	err = db.QueryRow("SHOW GLOBAL STATUS LIKE '"+strings.ReplaceAll(name, "'", "")+"'").Scan(&n, &v)
	return v, err
}

func firstLine(s string) string {
	if i := bytes.IndexByte([]byte(s), '\n'); i >= 0 {
		return s[:i] + " ..."
	}
	return s
}
