package pgfront_test

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestPsql: psql, a libpq client other than Postfix's, is answered for a
// quoted key and refused cleanly (an ERROR, the connection intact, never
// a crash or a dropped connection) for every other statement; none
// reaches the resolver.
func TestPsql(t *testing.T) {
	if testing.Short() {
		t.Skip("runs psql; skipped with -short")
	}
	psql, err := exec.LookPath("psql")
	if err != nil {
		t.Skip("psql not installed (Debian's postgresql-client)")
	}
	tb := &table{}
	addr, s := start(t, tb, nil)
	host, port, _ := net.SplitHostPort(addr)
	run := func(sslmode string, args ...string) (string, string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, psql, append([]string{"-X", "-At", "-v", "ON_ERROR_STOP=1",
			"host=" + host + " port=" + port + " user=postfix dbname=m sslmode=" + sslmode}, args...)...)
		cmd.Env = append(os.Environ(), "PGPASSWORD=secret", "PGCONNECT_TIMEOUT=5")
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		return out.String(), errOut.String(), err
	}
	out, errOut, err := run("prefer", "-c", "'bob@example.jp'")
	if err != nil || out != "got:bob@example.jp\n" {
		t.Fatalf("psql -c key: %q, %q, %v", out, errOut, err)
	}
	statements := []string{
		"SELECT 1", "SELECT version()", "'a' OR '1'='1'", "'a'; DROP TABLE x", "DROP TABLE x", `E'a\\'`,
		"SET standard_conforming_strings = off", "SET client_encoding TO 'SJIS'", "BEGIN", "COPY x FROM STDIN",
		"\\d", "\\l", "\\dt", "\\conninfo", "SELECT pg_sleep(10)", "LISTEN x", "PREPARE p AS SELECT 1",
		"'unterminated", "'" + strings.Repeat("a", 70000) + "'",
	}
	clean := 0
	for _, st := range statements {
		out, errOut, err := run("prefer", "-c", st)
		switch {
		case st == "\\conninfo":
			if err != nil {
				t.Errorf("psql %q: %v: %s", st, err, errOut)
			} else {
				clean++
			}
		case strings.HasPrefix(st, "'"+strings.Repeat("a", 10)):
			// Over DefaultMaxMessage: discarded, answered as not found.
			if err != nil || out != "" {
				t.Errorf("psql over-long key: %q, %q, %v", out, errOut, err)
			} else {
				clean++
			}
		case err == nil || !strings.Contains(errOut, "ERROR:") || strings.Contains(errOut, "closed the connection"):
			t.Errorf("psql -c %.40q: err %v, stdout %q, stderr %q; want a clean ERROR", st, err, out, errOut)
		default:
			clean++
		}
	}
	// TLS required: refused before any password is sent.
	if _, errOut, err := run("require", "-c", "'bob@example.jp'"); err == nil || !strings.Contains(errOut, "SSL") {
		t.Errorf("sslmode=require: %v, %q; want a refusal", err, errOut)
	} else {
		clean++
	}
	// A session of several statements in one psql: the refusals leave it usable.
	out, errOut, err = run("prefer", "-v", "ON_ERROR_STOP=0", "-c", "SELECT 1", "-c", "'ほげ@example.jp'", "-c", "DROP TABLE x", "-c", "'x'")
	if out != "got:ほげ@example.jp\ngot:x\n" {
		t.Errorf("mixed session: %q, %q, %v", out, errOut, err)
	}
	if k := tb.asked(); len(k) != 3 {
		t.Errorf("resolver asked %q; want only the 3 quoted keys", k)
	}
	t.Logf("psql: %d of %d statements that are not keys answered or refused cleanly; stats %+v", clean, len(statements)+1, s.Stats())
}
