package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	mganswer "mapgate/answer"
	"mapgate/internal/pfinst"
)

// failOneMaps are two admin tables whose answer for some keys is a failure
// of that key alone (socketmap's TEMP): a CASE over a latin1 column, which
// ほげ@example.jp makes fail where nothing proves the key cannot match,
// and a LIKE map with expansion_limit = 1, which %@example.jp overruns.
// The LIKE map comes first, so that every recipient asks it: after an
// error reply Postfix's client skips that table's host.
var failOneMaps = [][2]string{
	{"fo_like", "query = SELECT goto FROM alias WHERE address LIKE '%s'\nexpansion_limit = 1"},
	{"fo_case", `query = SELECT goto FROM alias WHERE CASE WHEN '%s' = address THEN 1 ELSE 0 END = 1`},
}

// writeSQLFrontCF writes a front .cf for Postfix's TYPE: client (mysql or
// pgsql) at mapgate's front on addr (a socket path, or a socket directory
// for pgsql). limited: the query ends with mganswer.LimitedQuerySuffix and
// the file sets expansion_limit = 1, as migrate writes it; else the form
// of older front .cf files.
func writeSQLFrontCF(t *testing.T, dir, typ, name, addr string, limited bool) string {
	t.Helper()
	query, extra, suffix := "'%s'", "", ".older"
	if limited {
		query, extra, suffix = "'%s'"+mganswer.LimitedQuerySuffix, "expansion_limit = 1\n", ".limited"
	}
	p := filepath.Join(dir, name+"."+typ+suffix+".cf")
	text := fmt.Sprintf("hosts = unix:%s\nuser = %s\npassword = %s\ndbname = %s\nquery = %s\n%s",
		addr, frontUser, frontPassword, name, query, extra)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestE2EFrontFailsOneKey: a key whose lookup fails for that key alone
// (socketmap's TEMP) through a SQL front. Postfix's mysql: and pgsql:
// clients skip the table's host for 60 s after an error reply, for every
// key; an empty result would bounce a recipient whose row may exist. With
// the front .cf migrate writes (the query's suffix and expansion_limit =
// 1) the front answers two rows, and Postfix's own client, in one
// proxymap process serving one smtpd session after another, fails that RCPT alone
// with 451 and answers the next good recipient with 250. The older front
// .cf form is run too, to show what the suffix changes: there ほげ@ is
// bounced (550) and %@ (an error reply) blacks the table out.
func TestE2EFrontFailsOneKey(t *testing.T) {
	requireTools(t)
	db := startDB(t, "")
	dir := cfDir(t)
	maps := map[string]string{}
	for _, m := range failOneMaps {
		maps[m[0]] = writeCF(t, dir, m[0], db, m[1])
	}
	mysqlSock := filepath.Join(dir, "mysql.sock")
	pgDir := filepath.Join(dir, "pg")
	if err := os.Mkdir(pgDir, 0o755); err != nil {
		t.Fatal(err)
	}
	args := append(frontArgs(mysqlSock), "--set", "pgsql_listen=unix:"+filepath.Join(pgDir, ".s.PGSQL.5432"),
		"--set", "pgsql_user="+frontUser, "--set", "pgsql_password="+frontPassword)
	startMapgate(t, maps, args...)

	type step struct {
		rcpt           string
		limited, older int // the RCPT reply code with each front .cf form
	}
	steps := []step{
		{"bob@example.jp", 250, 250},
		{"ほげ@example.jp", 451, 550}, // older: the empty result, a bounce where a row may exist
		{"bob@example.jp", 250, 250},
		{"%@example.jp", 451, 451}, // older: an error reply, and the host is down for 60 s
		{"bob@example.jp", 250, 451},
		{"alice@example.jp", 250, 451},
		{"nobody@example.jp", 550, 451},
	}
	for _, typ := range []string{"mysql", "pgsql"} {
		if typ == "pgsql" {
			if err := pfinst.HasMapType("pgsql"); err != nil {
				t.Logf("pgsql: %v", err)
				continue
			}
		}
		addr := mysqlSock
		if typ == "pgsql" {
			addr = pgDir
		}
		for _, limited := range []bool{true, false} {
			form := "older front .cf"
			if limited {
				form = "front .cf with the suffix"
			}
			t.Run(typ+" "+form, func(t *testing.T) {
				var tables []string
				for _, m := range failOneMaps {
					tables = append(tables, "proxy:"+typ+":"+writeSQLFrontCF(t, dir, typ, m[0], addr, limited))
				}
				// One process of each daemon: every smtpd asks the same
				// proxymap, whose table state (a host marked down) is
				// what the older form shows.
				extra := map[string]string{"default_process_limit": "1"}
				for k, v := range smtpdMainCF {
					extra[k] = v
				}
				in := pfinst.New(t, pfinst.Options{VirtualAliasMaps: strings.Join(tables, ", "), Extra: extra})
				logOnFailure(t, typ+" front instance", in)
				var b strings.Builder
				for _, s := range steps {
					want := s.older
					if limited {
						want = s.limited
					}
					code, line := in.RCPT(s.rcpt)
					fmt.Fprintf(&b, "%-20s %s\n", s.rcpt, short(line, 90))
					if code != want {
						t.Errorf("RCPT TO:<%s>: %q, want %d", s.rcpt, line, want)
					}
				}
				t.Logf("%s, %s, one smtpd session after another (one proxymap):\n%s", typ, form, b.String())
				log := in.Log()
				queryErrors := countLines(log, "warning:", "query failed") + countLines(log, "warning:", "cannot connect")
				if limited && queryErrors != 0 {
					t.Errorf("Postfix logged %d query or connection errors (a host marked down):\n%s", queryErrors, grepLines(log, "warning:"))
				}
				if limited && countLines(log, "Expansion limit exceeded") < 2 {
					t.Errorf("Postfix did not log the per-key failures as expansion limit overruns:\n%s", grepLines(log, "warning:"))
				}
			})
		}
	}
}
