package e2e

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"

	"mapgate/charset"
	"mapgate/internal/mgproc"
	"mapgate/internal/testpg"
	"mapgate/pgsqlcf"
	"mapgate/socketmap"
)

// pgAnswer is what a database answers a UTF-8 client for one key: the
// formatted value ("" not found), or the SQLSTATE of its refusal.
type pgAnswer struct{ value, state string }

// pgBound runs cf's query for key as a UTF-8 client that binds every
// expansion ($n, untyped text) would, with the values null[i] replaced by
// NULL, and formats the rows as Postfix does.
func pgBound(ctx context.Context, c *pgconn.PgConn, cf *pgsqlcf.File, key string, null func(string) bool) pgAnswer {
	args, ok := cf.Query.Expand(key, nil)
	if !ok {
		return pgAnswer{}
	}
	params := make([][]byte, len(args))
	for i, a := range args {
		if v := a.(string); null == nil || !null(v) {
			params[i] = []byte(v)
		}
	}
	rr := c.ExecParams(ctx, cf.Query.SQL, params, nil, nil, nil)
	var values []string
	for rr.NextRow() {
		for _, v := range rr.Values() {
			if v != nil {
				values = append(values, string(v))
			}
		}
	}
	if _, err := rr.Close(); err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			return pgAnswer{state: pe.Code}
		}
		return pgAnswer{state: err.Error()}
	}
	var out []byte
	for _, v := range values {
		out, _ = cf.ResultFormat.Append(out, key, v)
	}
	return pgAnswer{value: string(out)}
}

// cannotHold reports whether a database of encoding enc (LATIN1 or UTF8)
// refuses value v from a UTF-8 client.
func cannotHold(enc string) func(string) bool {
	return func(v string) bool {
		if !utf8.ValidString(v) {
			return true
		}
		for _, r := range v {
			if enc == "LATIN1" && r > 0xff {
				return true
			}
		}
		return false
	}
}

// TestE2EPgsqlDifferential: Postfix's own pgsql: client against mapgate
// over socketmap (`mapgate serve --map NAME=pgsql:FILE`, address search
// off: postmap -q sends one key) for every published pgsql_table(5) file
// of the corpus (testdata/corpus/*-pgsql), each in a LATIN1 and a UTF8
// database. ASCII keys, which Postfix 3.7 sends faithfully (its client
// encoding is LATIN1), must get identical answers through postmap on both
// sides. Every other key must get what the database answers a UTF-8 client
// (Postfix 3.8 and later): its rows, or, where the database cannot take
// the key at all, the answer of the statement with that value NULL (not
// found, or the other branches' rows), or TEMP where the query's shape
// proves nothing. It logs the counts, and how often Postfix 3.7's pgsql:
// differs from the UTF-8 answer.
func TestE2EPgsqlDifferential(t *testing.T) {
	requireTools(t)
	if !fileExists(postfixBin("postmap")) {
		t.Skip("postmap not installed")
	}
	dirs, err := filepath.Glob("../testdata/corpus/*-pgsql")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no corpus: %v", err)
	}
	s := testpg.Start(t)
	dir := t.TempDir()
	conf := confDir(t, "smtputf8_enable = yes")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()

	type table struct {
		name, project, enc, path string
		cf                       *pgsqlcf.File
		conn                     *pgconn.PgConn
	}
	var tables []table
	maps := map[string]string{}
	var extra []string
	for _, d := range dirs {
		project := strings.TrimSuffix(filepath.Base(d), "-pgsql")
		schema, err := os.ReadFile(filepath.Join(d, "schema.sql"))
		if err != nil {
			t.Fatal(err)
		}
		cfs, _ := filepath.Glob(filepath.Join(d, "*.cf"))
		sort.Strings(cfs)
		for _, enc := range []string{"LATIN1", "UTF8"} {
			db := strings.ToLower(project + "_" + enc)
			if err := s.CreateDB(db, enc); err != nil {
				t.Fatal(err)
			}
			s.MustExec(t, db, string(schema))
			s.MustExec(t, db, testpg.CorpusSeed(project, enc == "UTF8"))
			if err := s.GrantRead(db); err != nil {
				t.Fatal(err)
			}
			c, err := pgconn.Connect(ctx, s.UserConnString(db))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close(context.Background())
			for _, p := range cfs {
				text, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				name := db + "_" + strings.NewReplacer(".cf", "", "-", "_").Replace(filepath.Base(p))
				inst := filepath.Join(dir, name+".cf")
				if err := os.WriteFile(inst, []byte(testpg.Instantiate(string(text), s, db)), 0o600); err != nil {
					t.Fatal(err)
				}
				cf, err := pgsqlcf.Parse(inst)
				if err != nil {
					t.Fatal(err)
				}
				tables = append(tables, table{name, project, enc, inst, cf, c})
				maps[name] = "pgsql:" + inst
				extra = append(extra, "--set", name+"_address_search=no")
			}
		}
	}
	mg := startMapgate(t, maps, extra...)
	sm, err := socketmap.Dial("inet:" + mg.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer sm.Close()
	sm.Timeout = 10 * time.Second

	seen := map[string]bool{}
	var ascii, other []string
	for _, k := range append(append(append([]string{}, testpg.CorpusASCIIKeys...), testpg.CorpusOtherKeys...), diffKeys()...) {
		if seen[k] || strings.ContainsAny(k, "\n\x00") {
			continue
		}
		seen[k] = true
		if isASCII(k) {
			ascii = append(ascii, k)
		} else {
			other = append(other, k)
		}
	}

	type counts struct{ files, asciiSame, asciiAll, otherSame, otherAll, unsendable, temp, found, pf37Wrong int }
	per := map[string]*counts{}
	for _, tb := range tables {
		c := per[tb.project+" "+tb.enc]
		if c == nil {
			c = &counts{}
			per[tb.project+" "+tb.enc] = c
		}
		c.files++
		// ASCII: postmap pgsql: against postmap socketmap:.
		oracle := postmapStream(t, conf, "pgsql:"+tb.path, ascii)
		if oracle.fatal() {
			t.Fatalf("%s: postmap pgsql: failed on an ASCII key:\n%s", tb.name, oracle.stderr)
		}
		mine := postmapStream(t, conf, "socketmap:inet:"+mg.Addr+":"+tb.name, ascii)
		if mine.fatal() || lookupWarning(mine.stderr) != "" {
			t.Fatalf("%s: postmap socketmap: lookup error:\n%s", tb.name, mine.stderr)
		}
		want, _ := matchStream(ascii, oracle.lines)
		got, _ := matchStream(ascii, mine.lines)
		for i, k := range ascii {
			c.asciiAll++
			if want[i] == got[i] {
				c.asciiSame++
			} else {
				t.Errorf("%s %q: pgsql: %s, mapgate: %s", tb.name, k, want[i], got[i])
			}
		}
		// The others: mapgate over socketmap against a UTF-8 client.
		pf := postmapStream(t, conf, "pgsql:"+tb.path, other) // Postfix 3.7: LATIN1 client encoding
		pfAns, _ := matchStream(other, pf.lines)
		for i, k := range other {
			key := charset.PostfixFold(k, true) // what postmap sends
			if !utf8.ValidString(k) {
				continue // postmap drops such keys itself (smtputf8_enable = yes)
			}
			c.otherAll++
			direct := pgBound(ctx, tb.conn, tb.cf, key, nil)
			expect := direct
			if direct.state != "" {
				c.unsendable++
				expect = pgBound(ctx, tb.conn, tb.cf, key, cannotHold(tb.enc))
			}
			rep, err := sm.Lookup(tb.name, key)
			if err != nil {
				t.Fatalf("%s %q: socketmap: %v", tb.name, key, err)
			}
			switch {
			case rep.Status == socketmap.StatusOK && expect.state == "" && rep.Text == expect.value,
				rep.Status == socketmap.StatusNotFound && expect.state == "" && expect.value == "":
				c.otherSame++
				if rep.Status == socketmap.StatusOK {
					c.found++
				}
			case rep.Status == socketmap.StatusTemp && direct.state != "":
				c.temp++ // the key cannot be sent, and the shape proves nothing
			default:
				t.Errorf("%s %q: the database answers a UTF-8 client %+v (direct %+v), mapgate %v %q", tb.name, key, expect, direct, rep.Status, rep.Text)
			}
			if direct.state == "" && !pf.fatal() && (pfAns[i].found != (direct.value != "") || pfAns[i].found && pfAns[i].value != direct.value) {
				c.pf37Wrong++
			}
		}
	}
	var names []string
	for n := range per {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		c := per[n]
		t.Logf("%-22s %2d files: ASCII identical to postmap pgsql: %d of %d; other keys as a UTF-8 client %d of %d (%d found; %d the database cannot take, of which %d TEMP where the shape proves nothing); Postfix 3.7's pgsql: differs from the UTF-8 answer for %d",
			n, c.files, c.asciiSame, c.asciiAll, c.otherSame, c.otherAll, c.found, c.unsendable, c.temp, c.pf37Wrong)
	}
}

// mapgateRun runs the built binary and returns its exit status, stdout
// and stderr.
func mapgateRun(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, mgproc.Build(t), args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("mapgate %v: %v", args, err)
	}
	return cmd.ProcessState.ExitCode(), o.String(), e.String()
}

// TestE2EPgsqlQueryCheck: `mapgate query` and `mapgate check` with a
// pgsql: map (and a proxy:pgsql: one), against a LATIN1 database: found
// (exit 0), a key the database cannot hold not found (exit 1), the
// server killed TEMP (exit 3) and check failing (exit 1).
func TestE2EPgsqlQueryCheck(t *testing.T) {
	requireTools(t)
	s := testpg.Start(t)
	if err := s.CreateDB("l1", "LATIN1"); err != nil {
		t.Fatal(err)
	}
	s.MustExec(t, "l1", "CREATE TABLE alias (address text PRIMARY KEY, goto text); INSERT INTO alias VALUES ('bob@example.net', 'bob@dest.example'), ('josé@example.net', 'jose@dest.example')")
	if err := s.GrantRead("l1"); err != nil {
		t.Fatal(err)
	}
	cf := filepath.Join(t.TempDir(), "alias.cf")
	text := testpg.Instantiate("hosts = x\nuser = x\npassword = x\ndbname = x\nquery = SELECT goto FROM alias WHERE address = '%s'\n", s, "l1")
	if err := os.WriteFile(cf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"pgsql:" + cf, "proxy:pgsql:" + cf} {
		for key, want := range map[string]struct {
			code int
			out  string
		}{
			"bob+tag@example.net": {0, "bob@dest.example\n"},
			"josé@example.net":    {0, "jose@dest.example\n"},
			"ほげ@example.net":      {1, ""},
			"nobody@example.net":  {1, ""},
		} {
			code, out, errs := mapgateRun(t, "query", "--map", "alias="+ref, "--recipient-delimiter", "+", "alias", key)
			if code != want.code || out != want.out {
				t.Errorf("mapgate query %s %q: exit %d %q, want %d %q (%s)", ref, key, code, out, want.code, want.out, errs)
			}
		}
		code, out, errs := mapgateRun(t, "check", "--map", "alias="+ref)
		if code != 0 || !strings.Contains(out, "\tok") {
			t.Errorf("mapgate check %s: exit %d\n%s%s", ref, code, out, errs)
		}
	}
	if err := s.Kill(); err != nil {
		t.Fatal(err)
	}
	code, _, errs := mapgateRun(t, "query", "--map", "alias=pgsql:"+cf, "alias", "bob@example.net")
	if code != 3 || !strings.Contains(errs, "TEMP") {
		t.Errorf("mapgate query with the server killed: exit %d %s", code, errs)
	}
	code, out, _ := mapgateRun(t, "check", "--map", "alias=pgsql:"+cf)
	if code != 3 || !strings.Contains(out, "FAILED") {
		t.Errorf("mapgate check with the server killed: exit %d\n%s", code, out)
	}
}
