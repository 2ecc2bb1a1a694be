// Package testpg starts private, throwaway PostgreSQL servers for mapgate's
// tests, as internal/testdb does for MariaDB.
//
// Each server gets its own directory under the system temp directory, holding
// the cluster (data/), the unix socket directory and the server log, and its
// own TCP port on 127.0.0.1. The system instance is never touched. The cluster
// is made once per process with initdb and copied for every further server.
//
// PostgreSQL refuses to run as root. When the tests run as root, initdb and
// postgres run as the unprivileged user RunAs (the system's "nobody"), and the
// server's directory is made theirs.
//
// Authentication, on the private cluster only: the superuser "postgres" is
// trusted over the unix socket; over TCP every role needs its password
// (scram-sha-256). The read-only role User/Password is what an admin's
// pgsql_table(5) files use.
//
// The servers are real postgres processes: tests kill them (SIGKILL to the
// postmaster and its backends), stall them (SIGSTOP) and restart them on the
// same port.
package testpg

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// User and Password of the read-only role every server has.
const (
	User      = "postfix"
	Password  = "postfix"
	Superuser = "postgres"
)

// RunAs is the account initdb and postgres run as when the process is root.
const RunAs = "nobody"

// Server is one private PostgreSQL server.
type Server struct {
	Dir       string // temp directory holding data/, the socket and log
	SocketDir string // unix socket directory (libpq's host=/dir)
	Port      int    // TCP port on 127.0.0.1; also names the socket file

	socketOnly bool

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when the current process has been reaped
}

var (
	templateOnce sync.Once
	templateDir  string
	templateErr  error
)

// BinDir finds the directory of PostgreSQL's server programs: the newest
// /usr/lib/postgresql/VERSION/bin (Debian, Ubuntu), else the directory of
// initdb in PATH.
func BinDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	var ok []string
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "postgres")) {
			ok = append(ok, d)
		}
	}
	if len(ok) > 0 {
		ver := func(d string) int { n, _ := strconv.Atoi(filepath.Base(filepath.Dir(d))); return n }
		sort.Slice(ok, func(i, j int) bool { return ver(ok[i]) > ver(ok[j]) })
		return ok[0], nil
	}
	if p, err := exec.LookPath("initdb"); err == nil && isExec(filepath.Join(filepath.Dir(p), "postgres")) {
		return filepath.Dir(p), nil
	}
	return "", errors.New("testpg: PostgreSQL server programs (initdb, postgres) not found (run 'make deps' to install postgresql)")
}

func isExec(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// account is the uid and gid the server runs as; nil when not root.
type account struct{ uid, gid uint32 }

func runAs() (*account, error) {
	if os.Getuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup(RunAs)
	if err != nil {
		return nil, fmt.Errorf("testpg: running as root and no user %q to run postgres as: %v", RunAs, err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return &account{uint32(uid), uint32(gid)}, nil
}

// command builds a PostgreSQL program's command line, run as the account.
func command(acct *account, bin string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LANG=C", "LC_ALL=C", "TZ=UTC"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if acct != nil {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: acct.uid, Gid: acct.gid, Groups: []uint32{}}
	}
	return cmd
}

// chown makes dir and everything in it the account's.
func chown(acct *account, dir string) error {
	if acct == nil {
		return nil
	}
	return filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, int(acct.uid), int(acct.gid))
	})
}

// initTemplate runs initdb once per process.
func initTemplate() (string, error) {
	templateOnce.Do(func() {
		templateDir, templateErr = makeTemplate()
	})
	return templateDir, templateErr
}

func makeTemplate() (string, error) {
	bin, err := BinDir()
	if err != nil {
		return "", err
	}
	acct, err := runAs()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "mgpgtpl")
	if err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return "", err
	}
	if err := chown(acct, dir); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	// The cluster's default encoding and locale: UTF8 and C. Databases of
	// other encodings are made from template0 (CreateDB).
	cmd := command(acct, filepath.Join(bin, "initdb"), "-D", filepath.Join(dir, "data"),
		"-U", Superuser, "-E", "UTF8", "--locale=C", "--auth-local=trust",
		"--auth-host=scram-sha-256", "--no-sync", "--no-instructions")
	if out, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("testpg: initdb: %v\n%s", err, out)
	}
	return dir, nil
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

// New starts a private server with the read-only role User. Call Close when
// done.
func New() (*Server, error) { return newServer(false) }

// NewSocketOnly starts a private server that listens on its unix socket
// only, on port 5432: the socket is SocketDir/.s.PGSQL.5432, which is where
// libpq looks when given a socket directory and no port, as Postfix's
// "hosts = unix:/dir" does. No TCP port is opened (Port is 5432 for the
// socket's name only), so the system instance on 5432 is not disturbed.
func NewSocketOnly() (*Server, error) { return newServer(true) }

func newServer(socketOnly bool) (*Server, error) {
	tpl, err := initTemplate()
	if err != nil {
		return nil, err
	}
	acct, err := runAs()
	if err != nil {
		return nil, err
	}
	// Short path: unix socket paths are limited to 107 bytes.
	dir, err := os.MkdirTemp("", "mgpg")
	if err != nil {
		return nil, err
	}
	s := &Server{Dir: dir, SocketDir: dir}
	// Others (Postfix's unprivileged daemons) may reach the socket; the
	// cluster itself (data/) stays 0700.
	if err := os.Chmod(dir, 0o755); err != nil {
		s.Close()
		return nil, err
	}
	if out, err := exec.Command("cp", "-a", filepath.Join(tpl, "data"), filepath.Join(dir, "data")).CombinedOutput(); err != nil {
		s.Close()
		return nil, fmt.Errorf("testpg: copy cluster: %v: %s", err, out)
	}
	if err := chown(acct, dir); err != nil {
		s.Close()
		return nil, err
	}
	s.socketOnly = socketOnly
	if socketOnly {
		s.Port = 5432
	} else if s.Port, err = FreePort(); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.Start(); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.Exec("postgres", fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'", User, Password)); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Start is the tests' helper: New, with Close registered as a cleanup, so
// the server goes also when the test fails.
func Start(tb testing.TB) *Server {
	tb.Helper()
	s, err := New()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	return s
}

// StartSocketOnly is NewSocketOnly for tests, as Start is for New.
func StartSocketOnly(tb testing.TB) *Server {
	tb.Helper()
	s, err := NewSocketOnly()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	return s
}

// LogPath is the server's log file.
func (s *Server) LogPath() string { return filepath.Join(s.Dir, "server.log") }

// Start (re)starts postgres on the server's cluster, socket directory and
// port, and waits until it accepts connections (at most 30 s).
func (s *Server) Start() error {
	bin, err := BinDir()
	if err != nil {
		return err
	}
	acct, err := runAs()
	if err != nil {
		return err
	}
	s.mu.Lock()
	if s.cmd != nil {
		s.mu.Unlock()
		return errors.New("testpg: already running")
	}
	listen := "127.0.0.1"
	if s.socketOnly {
		listen = ""
	}
	cmd := command(acct, filepath.Join(bin, "postgres"), "-D", filepath.Join(s.Dir, "data"),
		"-p", strconv.Itoa(s.Port),
		"-c", "listen_addresses="+listen,
		"-c", "unix_socket_directories="+s.SocketDir,
		// fsync=off survives a killed server (the kernel has the writes), not a
		// crashed machine; synchronous_commit stays on so a kill loses no commit.
		"-c", "fsync=off", "-c", "full_page_writes=off",
		"-c", "shared_buffers=16MB", "-c", "max_connections=200",
		"-c", "logging_collector=off", "-c", "log_min_messages=warning",
		"-c", "timezone=UTC")
	logf, err := os.OpenFile(s.LogPath(), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	err = cmd.Start()
	logf.Close()
	if err != nil {
		s.mu.Unlock()
		return fmt.Errorf("testpg: start postgres: %w", err)
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
			s.cmd, s.exited = nil, nil
			s.mu.Unlock()
			return fmt.Errorf("testpg: postgres exited during start-up:\n%s", s.logTail())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		c, err := pgx.Connect(ctx, s.SuperConnString("postgres"))
		if err == nil {
			err = c.Ping(ctx)
			c.Close(ctx)
		}
		cancel()
		if err == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("testpg: postgres not ready after 30s; see %s", s.LogPath())
}

// logTail is the end of the server log, for errors.
func (s *Server) logTail() string {
	b, _ := os.ReadFile(s.LogPath())
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// PID is the postmaster's process id, 0 when it is not running.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// procStat reads pid's state and parent from /proc/PID/stat.
func procStat(pid int) (state string, ppid int, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", 0, false
	}
	// pid (comm) state ppid ...: the fields after the last ')'.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return "", 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return "", 0, false
	}
	ppid, _ = strconv.Atoi(f[1])
	return f[0], ppid, true
}

// procs is the postmaster and its children (backends, background workers).
// The children run in sessions of their own (PostgreSQL's
// InitPostmasterChild calls setsid), so a process group does not hold them.
func procs(postmaster int) []int {
	out := []int{postmaster}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == postmaster {
			continue
		}
		if _, ppid, ok := procStat(pid); ok && ppid == postmaster {
			out = append(out, pid)
		}
	}
	return out
}

// signal sends sig to the postmaster, or with all to its children too.
func (s *Server) signal(sig syscall.Signal, all bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return errors.New("testpg: not running")
	}
	pid := s.cmd.Process.Pid
	if !all {
		return syscall.Kill(pid, sig)
	}
	// Stop the postmaster first, so that it forks no child we miss.
	_ = syscall.Kill(pid, syscall.SIGSTOP)
	for _, p := range procs(pid)[1:] {
		_ = syscall.Kill(p, sig)
	}
	if sig != syscall.SIGSTOP {
		_ = syscall.Kill(pid, syscall.SIGCONT)
	}
	return syscall.Kill(pid, sig)
}

// wait waits for the postmaster to exit and forgets it.
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
		return errors.New("testpg: postgres did not exit")
	}
	s.mu.Lock()
	s.cmd, s.exited = nil, nil
	s.mu.Unlock()
	return nil
}

// gone reports whether none of pids runs any more (a zombie has let go of
// its shared memory).
func gone(pids []int) bool {
	for _, p := range pids {
		if state, _, ok := procStat(p); ok && state != "Z" && state != "X" {
			return false
		}
	}
	return true
}

// Kill ends the server and its backends with SIGKILL (a crash) and waits
// until they are gone. A later Start recovers the cluster.
func (s *Server) Kill() error {
	pid := s.PID()
	if pid == 0 {
		return errors.New("testpg: not running")
	}
	all := procs(pid)
	if err := s.signal(syscall.SIGKILL, true); err != nil {
		return err
	}
	if err := s.wait(10 * time.Second); err != nil {
		return err
	}
	// The backends hold the shared memory until they are gone; a restart
	// before that fails ("pre-existing shared memory block is still in use").
	deadline := time.Now().Add(10 * time.Second)
	for !gone(all) {
		if time.Now().After(deadline) {
			return fmt.Errorf("testpg: backends of %d still there after SIGKILL", pid)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

// Stop shuts the server down with PostgreSQL's fast shutdown (SIGINT:
// sessions are ended), falling back to Kill.
func (s *Server) Stop() error {
	_ = s.signal(syscall.SIGCONT, true)
	if err := s.signal(syscall.SIGINT, false); err != nil {
		return err
	}
	if err := s.wait(20 * time.Second); err != nil {
		return s.Kill()
	}
	return nil
}

// Pause stalls the server and every backend with SIGSTOP: connections stay
// open, nothing answers. Returns once they are all stopped (at most 5 s).
func (s *Server) Pause() error {
	if err := s.signal(syscall.SIGSTOP, true); err != nil {
		return err
	}
	pid := s.PID()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if allStopped(procs(pid)) {
			return nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	return fmt.Errorf("testpg: postgres %d did not stop", pid)
}

// allStopped reports whether every one of pids is stopped (state T), or
// gone: a backend that ended just before is a zombie the stopped
// postmaster cannot reap.
func allStopped(pids []int) bool {
	for _, p := range pids {
		if state, _, ok := procStat(p); ok && strings.IndexAny(state, "TtZX") < 0 {
			return false
		}
	}
	return true
}

// Resume undoes Pause.
func (s *Server) Resume() error { return s.signal(syscall.SIGCONT, true) }

// Close kills the server and removes its directory.
func (s *Server) Close() {
	_ = s.Kill()
	if s.Dir != "" {
		os.RemoveAll(s.Dir)
	}
}

// Addr is the server's TCP address ("" for a socket-only server).
func (s *Server) Addr() string {
	if s.socketOnly {
		return ""
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port))
}

// SocketPath is the unix socket file (in SocketDir, named after the port).
func (s *Server) SocketPath() string {
	return filepath.Join(s.SocketDir, ".s.PGSQL."+strconv.Itoa(s.Port))
}

// SuperConnString is a libpq/pgx connection string for the superuser over
// the unix socket (trusted) to database db. Like every connection string
// here it sets client_encoding UTF8: without it the server's default is
// the database's encoding, and Go's UTF-8 strings would be stored in a
// LATIN1 database as two Latin-1 characters each.
func (s *Server) SuperConnString(db string) string {
	return fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=disable connect_timeout=2 client_encoding=UTF8", s.SocketDir, s.Port, Superuser, db)
}

// UserConnString is a connection string for the read-only role over TCP,
// with its password (scram-sha-256).
func (s *Server) UserConnString(db string) string {
	return fmt.Sprintf("host=127.0.0.1 port=%d user=%s password=%s dbname=%s sslmode=disable connect_timeout=2 client_encoding=UTF8", s.Port, User, Password, db)
}

// Exec runs SQL (several statements allowed: the simple query protocol) as
// the superuser in database db.
func (s *Server) Exec(db, sqlText string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, s.SuperConnString(db))
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	_, err = c.Exec(ctx, sqlText)
	return err
}

// MustExec is Exec for tests.
func (s *Server) MustExec(tb testing.TB, db, sqlText string) {
	tb.Helper()
	if err := s.Exec(db, sqlText); err != nil {
		tb.Fatalf("testpg: %v\nSQL: %s", err, firstLine(sqlText))
	}
}

// CreateDB creates database name with the given server encoding (for
// example "LATIN1", "UTF8", "SQL_ASCII") and the C locale, from template0,
// as `createdb -E ENC --locale=C -T template0` does, and lets the read-only
// role connect to it.
func (s *Server) CreateDB(name, encoding string) error {
	q := fmt.Sprintf("CREATE DATABASE %s ENCODING '%s' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0",
		pgx.Identifier{name}.Sanitize(), strings.ReplaceAll(encoding, "'", ""))
	if err := s.Exec("postgres", q); err != nil {
		return fmt.Errorf("testpg: create database %s (%s): %w", name, encoding, err)
	}
	return nil
}

// GrantRead gives the read-only role SELECT on every table, and EXECUTE on
// every function, of database db's public schema as it is now.
func (s *Server) GrantRead(db string) error {
	return s.Exec(db, fmt.Sprintf("GRANT USAGE ON SCHEMA public TO %[1]s; GRANT SELECT ON ALL TABLES IN SCHEMA public TO %[1]s; GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO %[1]s", User))
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " ..."
	}
	return s
}

// RemoveTemplate removes the cluster that initdb made for this process, if
// any. Servers already started keep their own copies.
func RemoveTemplate() {
	if templateDir != "" {
		os.RemoveAll(templateDir)
	}
}

// Main is for a test package's TestMain: it runs the tests and removes the
// template cluster afterwards, whatever their outcome.
func Main(m *testing.M) {
	code := m.Run()
	RemoveTemplate()
	os.Exit(code)
}
