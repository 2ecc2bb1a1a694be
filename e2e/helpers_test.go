// Package e2e runs mapgate end to end: the built binary, a private MariaDB
// with a latin1 PostfixAdmin-style schema, Postfix's own postmap and a private
// Postfix smtpd as the clients, all on loopback. Every test starts what it
// needs and stops it by PID in its cleanups.
//
// The tests need root, MariaDB and Postfix with postfix-mysql; they fail (not
// skip) when those are missing, with "run make deps". They skip with -short.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"mapgate/internal/mgproc"
	"mapgate/internal/pfinst"
	"mapgate/internal/testdb"
	"mapgate/internal/testpg"
)

func TestMain(m *testing.M) {
	code := m.Run()
	mgproc.RemoveBuild()
	testpg.RemoveTemplate()
	os.Exit(code)
}

// requireTools skips with -short and fails when Postfix is missing.
func requireTools(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end: starts MariaDB, mapgate and Postfix; skipped with -short")
	}
	if err := pfinst.Installed(); err != nil {
		t.Fatalf("e2e: %v", err)
	}
	if os.Geteuid() != 0 {
		t.Fatal("e2e: needs root to run a private Postfix instance (CI runs as root)")
	}
	// postfix-mysql provides the mysql: map type.
	if err := pfinst.HasMapType("mysql"); err != nil {
		t.Fatalf("e2e: %v", err)
	}
}

func postfixBin(name string) string {
	for _, d := range []string{"/usr/sbin", "/usr/local/sbin"} {
		if p := filepath.Join(d, name); fileExists(p) {
			return p
		}
	}
	return name
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// startDB starts a private MariaDB with testdb's latin1 schema in database
// "postfix", plus extra SQL (may be empty).
func startDB(t *testing.T, extra string) *testdb.Server {
	t.Helper()
	db := testdb.Start(t)
	db.MustExec(t, testdb.Schema("postfix", "latin1", "latin1_general_ci"))
	if extra != "" {
		db.MustExec(t, "USE postfix;\n"+extra)
	}
	return db
}

// cfDir makes a directory for .cf files that Postfix's unprivileged
// proxymap (user postfix) can read: under /var/tmp, mode 0755, removed at the
// end of the test. Directories left by a test process that was killed (a go
// test timeout skips cleanups) are removed.
func cfDir(t *testing.T) string {
	t.Helper()
	old, _ := filepath.Glob("/var/tmp/mgcf-*")
	for _, d := range old {
		b, err := os.ReadFile(filepath.Join(d, "owner"))
		if err != nil {
			continue
		}
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && syscall.Kill(pid, 0) == syscall.ESRCH {
			os.RemoveAll(d)
		}
	}
	d, err := os.MkdirTemp("/var/tmp", "mgcf-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	if err := os.Chmod(d, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d, "owner"), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return d
}

// writeCF writes a mysql_table(5) file for db's read-only user: the
// connection lines, then body (query, result_format, domain...).
func writeCF(t *testing.T, dir, name string, db *testdb.Server, body string) string {
	t.Helper()
	p := filepath.Join(dir, name+".cf")
	text := fmt.Sprintf("# %s (written by mapgate's e2e tests)\nuser = %s\npassword = %s\nhosts = %s\ndbname = postfix\n%s\n",
		name, testdb.User, testdb.Password, db.Addr(), strings.TrimSpace(body))
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// The PostfixAdmin queries (DOCUMENTS/POSTFIX_CONF.txt), as an admin has them.
const (
	qAlias          = `query = SELECT goto FROM alias WHERE address='%s' AND active = '1'`
	qAliasDomain    = `query = SELECT goto FROM alias,alias_domain WHERE alias_domain.alias_domain = '%d' and alias.address = CONCAT('%u', '@', alias_domain.target_domain) AND alias.active='1' AND alias_domain.active='1'`
	qCatchall       = `query = SELECT goto FROM alias WHERE address='@%d' AND active = '1'`
	qDomainCatchall = `query = SELECT goto FROM alias,alias_domain WHERE alias_domain.alias_domain = '%d' and alias.address = CONCAT('@', alias_domain.target_domain) AND alias.active='1' AND alias_domain.active='1'`
	qMailbox        = `query = SELECT CONCAT(domain,'/',maildir) FROM mailbox WHERE username='%s' AND active = '1'`
	qDomainMailbox  = `query = SELECT maildir FROM mailbox,alias_domain WHERE alias_domain.alias_domain = '%d' and mailbox.username = CONCAT('%u', '@', alias_domain.target_domain) AND mailbox.active='1' AND alias_domain.active='1'`
	qDomains        = `query = SELECT domain FROM domain WHERE domain='%s' AND active = '1'`
)

// confDir makes a minimal Postfix config directory for postmap -c (no
// running instance needed), with the given main.cf lines.
func confDir(t *testing.T, lines ...string) string {
	t.Helper()
	d := t.TempDir()
	text := "compatibility_level = 3.6\n" + strings.Join(lines, "\n") + "\n"
	if err := os.WriteFile(filepath.Join(d, "main.cf"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return d
}

// streamResult is what one `postmap -q -` run said.
type streamResult struct {
	lines  []string // stdout lines, "key<TAB>value"
	stderr string
	err    error // non-nil when postmap exited non-zero
}

// fatal reports whether postmap stopped on a lookup error (as opposed to
// exit 1 for "nothing found").
func (r streamResult) fatal() bool { return strings.Contains(r.stderr, "fatal:") }

// postmapStream runs `postmap -c conf -q - table` with keys on stdin, one a
// line. A timeout or a failure to run postmap shows as a fatal result. Safe
// to call from any goroutine.
func postmapStream(t *testing.T, conf, table string, keys []string) streamResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, postfixBin("postmap"), "-c", conf, "-q", "-", table)
	cmd.Env = append(os.Environ(), "MAIL_CONFIG="+conf)
	cmd.WaitDelay = 5 * time.Second
	var in bytes.Buffer
	for _, k := range keys {
		in.WriteString(k)
		in.WriteByte('\n')
	}
	cmd.Stdin = &in
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	start := time.Now()
	err := cmd.Run()
	if os.Getenv("E2E_DEBUG") != "" {
		t.Logf("postmap -q - %s: %d keys, %v, err %v, stderr %q", table, len(keys), time.Since(start), err, tail(e.String(), 3))
	}
	var lines []string
	sc := bufio.NewScanner(&o)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		e.WriteString("\ne2e: fatal: postmap timed out")
	case err != nil && !errors.As(err, &ee):
		fmt.Fprintf(&e, "\ne2e: fatal: %v", err)
	}
	return streamResult{lines: lines, stderr: e.String(), err: err}
}

// answer is one key's answer from postmap.
type answer struct {
	found bool
	value string
}

// matchStream walks keys and postmap's output in order: each key produced
// either one line "key<TAB>value" or nothing. It returns the answers of the
// keys up to the first one that cannot be accounted for, and how many keys
// that is.
func matchStream(keys []string, lines []string) ([]answer, int) {
	var out []answer
	j := 0
	for _, k := range keys {
		if j < len(lines) && strings.HasPrefix(lines[j], k+"\t") {
			out = append(out, answer{true, lines[j][len(k)+1:]})
			j++
			continue
		}
		out = append(out, answer{})
	}
	return out, len(out)
}

// counters reads MariaDB's Com_select (every SELECT, prepared or not) and
// Com_stmt_execute (prepared statement executions; a prepared SELECT counts
// in both), with a text-protocol query so that reading them adds to
// neither.
func counters(t *testing.T, db *testdb.Server) (selects, executes int64) {
	t.Helper()
	h, err := sql.Open("mysql", db.RootDSN(""))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	rows, err := h.Query("SHOW GLOBAL STATUS WHERE Variable_name IN ('Com_stmt_execute', 'Com_select')")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var v int64
		if err := rows.Scan(&name, &v); err != nil {
			t.Fatal(err)
		}
		switch strings.ToLower(name) {
		case "com_select":
			selects = v
		case "com_stmt_execute":
			executes = v
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return selects, executes
}

// startMapgate runs the built binary with maps (name → .cf path) and extra
// arguments, on a free loopback port.
func startMapgate(t *testing.T, maps map[string]string, extra ...string) *mgproc.Proc {
	t.Helper()
	bin := mgproc.Build(t)
	args := []string{"serve"}
	for name, p := range maps {
		args = append(args, "--map", name+"="+p)
	}
	args = append(args, extra...)
	p := mgproc.Start(t, bin, args...)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("mapgate log:\n%s", tail(p.Log(), 60))
		}
	})
	return p
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// postmapKey runs `postmap -c conf -q key table` for one key. reason is set
// when the lookup failed (postmap's warning or fatal line). postmap sleeps a
// second after a fatal error before it exits; it is killed as soon as it
// has said so.
func postmapKey(conf, table, key string) (a answer, reason string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, postfixBin("postmap"), "-c", conf, "-q", key, table)
	cmd.Env = append(os.Environ(), "MAIL_CONFIG="+conf)
	cmd.WaitDelay = 5 * time.Second
	var o bytes.Buffer
	cmd.Stdout = &o
	errPipe, err := cmd.StderrPipe()
	if err != nil {
		return answer{}, err.Error()
	}
	if err := cmd.Start(); err != nil {
		return answer{}, err.Error()
	}
	var warning, fatal string
	sc := bufio.NewScanner(errPipe)
	for sc.Scan() {
		l := sc.Text()
		if i := strings.Index(l, "warning:"); i >= 0 && warning == "" && !strings.Contains(l, "non-UTF-8 key") {
			warning = l[i:]
		}
		if i := strings.Index(l, "fatal:"); i >= 0 {
			fatal = l[i:]
			_ = cmd.Process.Kill()
			break
		}
	}
	_, _ = io.Copy(io.Discard, errPipe)
	err = cmd.Wait()
	switch {
	case fatal != "":
		if warning != "" {
			return answer{}, warning
		}
		return answer{}, fatal
	case ctx.Err() != nil:
		return answer{}, "postmap timed out"
	case err == nil:
		return answer{true, strings.TrimSuffix(o.String(), "\n")}, ""
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 1 {
		return answer{}, ""
	}
	return answer{}, err.Error()
}
