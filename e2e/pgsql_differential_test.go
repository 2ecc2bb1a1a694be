package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
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
// of the corpus (testdata/corpus/*-pgsql) and the ISP of numbered accounts
// (a bigint column, pgfront_virtual_test.go), each in a LATIN1 and a UTF8
// database. ASCII keys, which Postfix 3.7 sends faithfully (its client
// encoding is LATIN1), must get identical answers through postmap on both
// sides, or not found where pgsql: fails on the key. Every other key must
// get what the database answers a UTF-8 client (Postfix 3.8 and later):
// its rows, or, where the database cannot take the key at all, the answer
// of the statement with that value NULL (not found, or the other branches'
// rows), or TEMP where the query's shape proves nothing. It logs the
// counts, and how often Postfix 3.7's pgsql: differs from the UTF-8 answer.
//
// Then through mapgate's PostgreSQL front (the same mapgate): for every
// table, `postmap -q - pgsql:front.cf` (the .cf Postfix would use) against
// pgsql:original.cf, every key. Each key is identical; or found only by
// the front (Postfix 3.7 sends a non-ASCII key's UTF-8 bytes as Latin-1
// characters, which no stored address has; the front finds the row the
// database holds for the key); or not found where the original fails on
// the key; or, explained, an empty result where the database cannot take
// the key and the query proves nothing. postmap must log no failed lookup
// (no host marked down). The counts per corpus and database are asserted.
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
		name, project, enc, path, front string
		cf                              *pgsqlcf.File
		conn                            *pgconn.PgConn
	}
	sockDir := filepath.Join(dir, "pg")
	if err := os.Mkdir(sockDir, 0o755); err != nil {
		t.Fatal(err)
	}
	// The corpus, and the ISP of numbered accounts (pgfront_virtual_test.go),
	// whose bigint column makes pgsql: fail on most keys.
	type project struct {
		name, schema string
		seed         func(utf8 bool) string
		cfs          [][2]string // file name, text with the connection lines to fill in
	}
	var projects []project
	for _, d := range dirs {
		name := strings.TrimSuffix(filepath.Base(d), "-pgsql")
		schema, err := os.ReadFile(filepath.Join(d, "schema.sql"))
		if err != nil {
			t.Fatal(err)
		}
		p := project{name: name, schema: string(schema), seed: func(utf8 bool) string { return testpg.CorpusSeed(name, utf8) }}
		files, _ := filepath.Glob(filepath.Join(d, "*.cf"))
		sort.Strings(files)
		for _, f := range files {
			text, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			p.cfs = append(p.cfs, [2]string{filepath.Base(f), string(text)})
		}
		projects = append(projects, p)
	}
	isp := project{name: "isp", schema: ispSchema, seed: func(bool) string { return "" }}
	for _, m := range ispMaps {
		if m[0] != "forward" { // the same shape as account (bigint = '%u')
			isp.cfs = append(isp.cfs, [2]string{m[0] + ".cf", ispCF(m[1])})
		}
	}
	projects = append(projects, isp)

	var tables []table
	maps := map[string]string{}
	var extra []string
	for _, pr := range projects {
		project := pr.name
		for _, enc := range []string{"LATIN1", "UTF8"} {
			db := strings.ToLower(project + "_" + enc)
			if err := s.CreateDB(db, enc); err != nil {
				t.Fatal(err)
			}
			s.MustExec(t, db, pr.schema)
			if seed := pr.seed(enc == "UTF8"); seed != "" {
				s.MustExec(t, db, seed)
			}
			if err := s.GrantRead(db); err != nil {
				t.Fatal(err)
			}
			c, err := pgconn.Connect(ctx, s.UserConnString(db))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close(context.Background())
			for _, f := range pr.cfs {
				name := db + "_" + strings.NewReplacer(".cf", "", "-", "_").Replace(f[0])
				inst := filepath.Join(dir, name+".cf")
				if err := os.WriteFile(inst, []byte(testpg.Instantiate(f[1], s, db)), 0o600); err != nil {
					t.Fatal(err)
				}
				cf, err := pgsqlcf.Parse(inst)
				if err != nil {
					t.Fatal(err)
				}
				tables = append(tables, table{name, project, enc, inst, writeSQLFrontCF(t, dir, "pgsql", name, sockDir, true), cf, c})
				maps[name] = "pgsql:" + inst
				extra = append(extra, "--set", name+"_address_search=no")
			}
		}
	}
	mg := startMapgate(t, maps, append(extra, pgFrontArgs(sockDir)...)...)
	sm, err := socketmap.Dial("inet:" + mg.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer sm.Close()
	sm.Timeout = 10 * time.Second

	seen := map[string]bool{}
	var ascii, other []string
	for _, k := range append(append(append([]string{}, testpg.CorpusASCIIKeys...), testpg.CorpusOtherKeys...), append(diffKeys(), ispKeys...)...) {
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

	// The keys postmap sends (it drops those that are not UTF-8 itself,
	// smtputf8_enable = yes): the ASCII ones, then the others.
	sendable := append([]string{}, ascii...)
	for _, k := range other {
		if utf8.ValidString(k) {
			sendable = append(sendable, k)
		}
	}
	type counts struct {
		files, asciiSame, asciiFailedMiss, asciiAll, otherSame, otherAll, unsendable, temp, found, pf37Wrong int
		// Through the front (postmap pgsql:front.cf against pgsql:original.cf).
		frontKeys, frontSame, frontOnly, frontFailedMiss, frontDeferred, frontOther int
		frontOnlyKeys                                                               map[string]bool
	}
	per := map[string]*counts{}
	for _, tb := range tables {
		c := per[tb.project+" "+tb.enc]
		if c == nil {
			c = &counts{}
			per[tb.project+" "+tb.enc] = c
		}
		c.files++
		// Through the front (below), in the meantime.
		type frontResult struct {
			ans    []answer
			failed []string
		}
		frontRes := make(chan frontResult, 1)
		go func() {
			ans, failed := pgsqlAnswers(t, conf, "pgsql:"+tb.front, sendable)
			frontRes <- frontResult{ans, failed}
		}()
		// ASCII: postmap pgsql: against postmap socketmap:, which must
		// answer not found where pgsql: fails on the key (a bigint column).
		// One stream of every key for Postfix 3.7's pgsql: (LATIN1 client
		// encoding), split below.
		pfAns, pfFailed := pgsqlAnswers(t, conf, "pgsql:"+tb.path, append(append([]string{}, ascii...), other...))
		want, asciiFailed := pfAns[:len(ascii)], pfFailed[:len(ascii)]
		pfAns, pfFailed = pfAns[len(ascii):], pfFailed[len(ascii):]
		mine := postmapStream(t, conf, "socketmap:inet:"+mg.Addr+":"+tb.name, ascii)
		if mine.fatal() || lookupWarning(mine.stderr) != "" {
			t.Fatalf("%s: postmap socketmap: lookup error:\n%s", tb.name, mine.stderr)
		}
		got, _ := matchStream(ascii, mine.lines)
		for i, k := range ascii {
			c.asciiAll++
			switch {
			case asciiFailed[i] != "" && !got[i].found:
				c.asciiFailedMiss++
			case asciiFailed[i] != "":
				t.Errorf("%s %q: pgsql: fails (%s), mapgate found %s", tb.name, k, tail(asciiFailed[i], 1), got[i].value)
			case want[i] == got[i]:
				c.asciiSame++
			default:
				t.Errorf("%s %q: pgsql: %s, mapgate: %s", tb.name, k, want[i], got[i])
			}
		}
		// The others: mapgate over socketmap against a UTF-8 client.
		// The front's answer to each key of sendable is compared with the
		// original's (origAns, origFailed); holds is what the database
		// answers a UTF-8 client for the key (the rows it holds), where it
		// can take the key.
		origAns := append([]answer{}, want...)
		origFailed := append([]string{}, asciiFailed...)
		holds := make([]*pgAnswer, len(ascii))
		unprovable := make([]bool, len(ascii))
		for i, k := range other {
			key := charset.PostfixFold(k, true) // what postmap sends
			if !utf8.ValidString(k) {
				continue // postmap drops such keys itself (smtputf8_enable = yes)
			}
			c.otherAll++
			direct := pgBound(ctx, tb.conn, tb.cf, key, nil)
			origAns, origFailed = append(origAns, pfAns[i]), append(origFailed, pfFailed[i])
			unprovable = append(unprovable, false)
			if holds = append(holds, nil); direct.state == "" {
				holds[len(holds)-1] = &direct
			}
			expect := direct
			if direct.state != "" {
				c.unsendable++
				expect = pgBound(ctx, tb.conn, tb.cf, key, cannotHold(tb.enc))
				if expect.state == "22P02" || expect.state == "22003" {
					// A value the parameter's type cannot take (the ISP's
					// bigint; its maps have one parameter): no row matches.
					expect = pgBound(ctx, tb.conn, tb.cf, key, func(string) bool { return true })
				}
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
				unprovable[len(unprovable)-1] = true
			default:
				t.Errorf("%s %q: the database answers a UTF-8 client %+v (direct %+v), mapgate %v %q", tb.name, key, expect, direct, rep.Status, rep.Text)
			}
			if direct.state == "" && pfFailed[i] == "" && (pfAns[i].found != (direct.value != "") || pfAns[i].found && pfAns[i].value != direct.value) {
				c.pf37Wrong++
			}
		}
		// Through the front: the front .cf migrate writes (its query's
		// suffix and expansion_limit = 1), one postmap process for every
		// key, or each key alone when a lookup failed. The only failure
		// the front may cause is of one key ("Expansion limit exceeded":
		// Postfix defers it); never a failed query, which marks the host
		// down.
		fr := <-frontRes
		front := fr.ans
		for i, k := range sendable {
			c.frontKeys++
			o, f := origAns[i], front[i]
			if fr.failed[i] != "" && !strings.Contains(fr.failed[i], "Expansion limit exceeded") {
				c.frontOther++
				t.Errorf("%s %q: postmap pgsql:front.cf: the lookup failed, not as a failure of this key alone:\n%s", tb.name, k, fr.failed[i])
				continue
			}
			switch {
			case fr.failed[i] != "" && unprovable[i]:
				// The database cannot take the key from a UTF-8 client (a
				// LATIN1 database, a character beyond Latin-1) and the
				// query's shape proves nothing (iRedMail's catch-all:
				// '%u' NOT LIKE '%%+%%'): TEMP over socketmap, and on the
				// front a failure of this key alone, which Postfix defers.
				// Postfix 3.7 sends the UTF-8 bytes as Latin-1 characters,
				// which the expression takes, and gets the domain's
				// catch-all.
				c.frontDeferred++
			case fr.failed[i] != "":
				c.frontOther++
				t.Errorf("%s %q: the front failed this key alone, where the database can take it (original %s)", tb.name, k, o)
			case origFailed[i] != "" && !f.found:
				c.frontFailedMiss++
			case origFailed[i] != "":
				c.frontOther++
				t.Errorf("%s %q: pgsql:original.cf fails on the key (%s), the front found %q; want not found", tb.name, k, tail(origFailed[i], 1), f.value)
			case f == o:
				c.frontSame++
			case !o.found && f.found && holds[i] != nil && holds[i].value == f.value:
				// Postfix 3.7's LATIN1 client sends the key's UTF-8 bytes
				// as Latin-1 characters, which no stored address has; the
				// front hands the key on as UTF-8 and finds the row the
				// database holds for it.
				c.frontOnly++
				if c.frontOnlyKeys == nil {
					c.frontOnlyKeys = map[string]bool{}
				}
				c.frontOnlyKeys[fmt.Sprintf("%+q", k)] = true
			default:
				c.frontOther++
				t.Errorf("%s %q: pgsql:original.cf %s, pgsql:front.cf %s (the database holds %+v)", tb.name, k, o, f, holds[i])
			}
		}
	}
	// Through the front, per corpus and database: identical to the
	// original, found only by the front, not found where the original
	// fails, deferred alone where the shape proves nothing, other.
	wantFront := map[string][5]int{
		"iredmail LATIN1": {2154, 5, 0, 17, 0}, "iredmail UTF8": {2165, 11, 0, 0, 0},
		"isp LATIN1": {146, 0, 126, 0, 0}, "isp UTF8": {146, 0, 126, 0, 0},
		"modoboa LATIN1": {1222, 2, 0, 0, 0}, "modoboa UTF8": {1219, 5, 0, 0, 0},
		"postfixadmin LATIN1": {1220, 4, 0, 0, 0}, "postfixadmin UTF8": {1214, 10, 0, 0, 0},
	}
	var names []string
	for n := range per {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		c := per[n]
		t.Logf("%-22s %2d files: ASCII identical to postmap pgsql: %d of %d (and not found where pgsql: fails: %d); other keys as a UTF-8 client %d of %d (%d found; %d the database cannot take, of which %d TEMP where the shape proves nothing); Postfix 3.7's pgsql: differs from the UTF-8 answer for %d",
			n, c.files, c.asciiSame, c.asciiAll, c.asciiFailedMiss, c.otherSame, c.otherAll, c.found, c.unsendable, c.temp, c.pf37Wrong)
		t.Logf("%-22s through the front, %d keys: identical to pgsql:original.cf %d, found only by the front %d, not found where the original fails %d, deferred alone (a key the database cannot take where the query proves nothing) %d, other %d",
			n, c.frontKeys, c.frontSame, c.frontOnly, c.frontFailedMiss, c.frontDeferred, c.frontOther)
		var only []string
		for k := range c.frontOnlyKeys {
			only = append(only, k)
		}
		sort.Strings(only)
		if len(only) > 0 {
			t.Logf("%-22s found only by the front (the database holds them; Postfix 3.7 sends them as Latin-1): %s", n, strings.Join(only, " "))
		}
		got := [5]int{c.frontSame, c.frontOnly, c.frontFailedMiss, c.frontDeferred, c.frontOther}
		if w := wantFront[n]; got != w || c.frontKeys != w[0]+w[1]+w[2]+w[3]+w[4] {
			t.Errorf("%s through the front: identical, found only by the front, not found where the original fails, deferred alone, other = %v of %d keys; want %v", n, got, c.frontKeys, w)
		}
	}
}

// pgsqlAnswers asks Postfix's pgsql: client (table) for keys in one
// postmap -q - stream. postmap stops at the first lookup that fails
// (dict_pgsql has marked the host down) and loses what it had buffered,
// so if the stream fails each key is asked alone. It returns every key's
// answer and, for the keys whose lookup failed, postmap's warning.
func pgsqlAnswers(t *testing.T, conf, table string, keys []string) ([]answer, []string) {
	t.Helper()
	failed := make([]string, len(keys))
	if res := postmapStream(t, conf, table, keys); !res.fatal() {
		ans, _ := matchStream(keys, res.lines)
		return ans, failed
	}
	m, errKeys := postmapEach(conf, table, keys)
	ans := make([]answer, len(keys))
	for i, k := range keys {
		if ans[i] = m[k]; !strings.Contains(errKeys[k], "empty query string") {
			failed[i] = errKeys[k] // postmap warns about the empty key without asking
		}
	}
	return ans, failed
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
