package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mapgate/internal/mgproc"
	"mapgate/internal/pfinst"
	"mapgate/internal/testpg"
)

// pgMigrateSeed is the data of the PostgreSQL setups below, in PostfixAdmin's
// own pgsql tables (testdata/corpus/postfixadmin-pgsql/schema.sql): the
// mailboxes deliverTwentyGood sends to, example.net an alias domain of
// example.jp, and a Latin-1 address.
const pgMigrateSeed = `INSERT INTO domain (domain) VALUES ('example.jp'), ('example.net');
INSERT INTO alias_domain (alias_domain, target_domain) VALUES ('example.net', 'example.jp');
INSERT INTO mailbox (username, maildir, domain, local_part) VALUES
 ('bob@example.jp', 'example.jp/bob/', 'example.jp', 'bob'),
 ('catchall@example.jp', 'example.jp/catchall/', 'example.jp', 'catchall'),
 ('josé@example.jp', 'example.jp/jose/', 'example.jp', 'josé');
INSERT INTO alias (address, goto, domain) VALUES
 ('bob@example.jp', 'bob@example.jp', 'example.jp'),
 ('catchall@example.jp', 'catchall@example.jp', 'example.jp'),
 ('josé@example.jp', 'josé@example.jp', 'example.jp'),
 ('o''brien@example.jp', 'bob@example.jp', 'example.jp');
`

// pgMigrateKeys are asked of every table with postmap -q before and after
// migrating: found and not found, Latin-1, and two keys the LATIN1 database
// cannot hold (the last two).
var pgMigrateKeys = []string{
	"bob@example.jp", "bob@example.net", "catchall@example.jp", "josé@example.jp", "o'brien@example.jp",
	"nobody@example.jp", "nobody@example.net", "example.jp", "example.net", "example.com",
	"ほげ@example.jp", "😀@example.net",
}

// pgCorpusTables writes PostfixAdmin's published pgsql_table(5) files
// (testdata/corpus/postfixadmin-pgsql) for a private PostgreSQL with a
// LATIN1 database holding pgMigrateSeed, and returns each as
// "proxy:pgsql:PATH" by its file name without .cf.
func pgCorpusTables(t *testing.T, dir string, names ...string) map[string]string {
	t.Helper()
	pg := testpg.Start(t)
	if err := pg.CreateDB("postfix", "LATIN1"); err != nil {
		t.Fatal(err)
	}
	corpus := filepath.Join("..", "testdata", "corpus", "postfixadmin-pgsql")
	schema, err := os.ReadFile(filepath.Join(corpus, "schema.sql"))
	if err != nil {
		t.Fatal(err)
	}
	pg.MustExec(t, "postfix", string(schema))
	pg.MustExec(t, "postfix", pgMigrateSeed)
	if err := pg.GrantRead("postfix"); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, n := range names {
		text, err := os.ReadFile(filepath.Join(corpus, n+".cf"))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, n+".cf")
		if err := os.WriteFile(p, []byte(testpg.Instantiate(string(text), pg, "postfix")), 0o644); err != nil {
			t.Fatal(err)
		}
		out[n] = "proxy:pgsql:" + p
	}
	return out
}

// postmapAll asks each table every key with the instance's postmap -q
// (proxy: tables through its proxymap) and returns "table key" → the
// answer ("= VALUE" or "not found") and stderr, which holds any warning
// Postfix's client logs.
func postmapAll(t *testing.T, in *pfinst.Instance, tables map[string]string, keys []string) (answers, stderr map[string]string) {
	t.Helper()
	answers, stderr = map[string]string{}, map[string]string{}
	for name, table := range tables {
		for _, k := range keys {
			out, errOut, err := in.Postmap("", "-q", k, table)
			a := "= " + strings.TrimSpace(out)
			if err != nil {
				a = "not found"
			}
			answers[name+" "+k], stderr[name+" "+k] = a, strings.TrimSpace(errOut)
		}
	}
	return answers, stderr
}

// front names a table as migrate --write rewrites it: X.cf → X.mapgate.cf.
func front(table string) string { return strings.TrimSuffix(table, ".cf") + ".mapgate.cf" }

// pgFixed are the answers the database holds for keys that Postfix 3.7's
// own pgsql: client never finds: it declares LATIN1 whatever it sends, so
// the server reads a UTF-8 é as two Latin-1 characters (POSTFIX-FACTS
// 1.9). Through the front they are found; before, either answer is taken.
var pgFixed = map[string]string{
	"virtual_alias_maps josé@example.jp":   "= josé@example.jp",
	"virtual_mailbox_maps josé@example.jp": "= example.jp/jose/",
}

// comparePostmap checks that every table answers every key after
// migrating as it did before (or, for the keys of fixed, what the database
// holds), and that no lookup after it made Postfix's client warn (a query
// error, a failed connection).
func comparePostmap(t *testing.T, what string, before, after, beforeErr, afterErr, fixed map[string]string) {
	t.Helper()
	var b strings.Builder
	same, found := 0, 0
	for k, a := range before {
		switch want, ok := fixed[k]; {
		case after[k] == a:
			same++
		case ok && after[k] == want:
			found++
			fmt.Fprintf(&b, "  %s: %q before, %q after (Postfix's own client misread the key)\n", k, a, after[k])
		default:
			t.Errorf("%s: postmap -q %s: %q before, %q after", what, k, a, after[k])
		}
		if afterErr[k] != "" {
			t.Errorf("%s: postmap -q %s after migrating: %s", what, k, afterErr[k])
		}
		if beforeErr[k] != "" {
			fmt.Fprintf(&b, "  before, %s: %s\n", k, beforeErr[k])
		}
	}
	t.Logf("%s: of %d postmap -q answers, %d the same before and after migrating, %d found only through the front; %d warnings after\n%s",
		what, len(before), same, found, countNonEmpty(afterErr), b.String())
}

func countNonEmpty(m map[string]string) int {
	n := 0
	for _, v := range m {
		if v != "" {
			n++
		}
	}
	return n
}

// noClientWarnings fails when the maillog, from byte from on (after
// migrating), holds a warning of Postfix's pgsql: or mysql: client (a
// query error downs the table for 60 s).
func noClientWarnings(t *testing.T, in *pfinst.Instance, from int) {
	t.Helper()
	log := in.Log()[from:]
	for _, sub := range []string{"pgsql", "mysql"} {
		if n := countLines(log, "warning:", sub); n > 0 {
			t.Errorf("the maillog has %d %s warnings:\n%s", n, sub, grepLines(log, "warning:"))
		}
	}
}

// TestE2EMigrateViaPgsql applies `mapgate migrate --via pgsql --write`'s
// printed output, every postconf -e and postconf -P line of it, to a
// private Postfix whose PostfixAdmin maps are proxy:pgsql: tables (the
// published .cf files, a LATIN1 database), virtual(8) delivering into
// maildirs with a master.cf override of its own mailbox tables, and starts
// mapgate with the printed configuration. Then:
//   - Postfix's postmap -q gives every table's answer as before, for every
//     key, with no warning from its pgsql: client, now talking to the front;
//   - 20 good mails through smtpd land in the maildirs, none deferred
//     (virtual(8) asks the front through the rewritten override);
//   - ほげ@example.jp, which the LATIN1 database cannot hold, is refused at
//     RCPT and, submitted with sendmail, bounced as unknown by virtual(8),
//     with no pgsql: warning in the maillog; good mail after it is delivered.
func TestE2EMigrateViaPgsql(t *testing.T) {
	requireTools(t)
	if err := pfinst.HasMapType("pgsql"); err != nil {
		t.Skip(err)
	}
	dir := cfDir(t)
	tb := pgCorpusTables(t, dir, "virtual_domains_maps", "virtual_alias_maps", "virtual_alias_domain_maps",
		"virtual_alias_domain_catchall_maps", "virtual_mailbox_maps", "virtual_alias_domain_mailbox_maps", "relay_domains")
	mailbox := tb["virtual_mailbox_maps"] + "," + tb["virtual_alias_domain_mailbox_maps"]
	in := pfinst.New(t, pfinst.Options{VirtualMailboxes: true, Extra: map[string]string{
		"recipient_delimiter":     "+",
		"virtual_mailbox_domains": tb["virtual_domains_maps"],
		"virtual_alias_maps":      tb["virtual_alias_maps"] + ", " + tb["virtual_alias_domain_maps"] + ", " + tb["virtual_alias_domain_catchall_maps"],
		"virtual_mailbox_maps":    tb["virtual_mailbox_maps"] + ", " + tb["virtual_alias_domain_mailbox_maps"],
		"relay_domains":           "$mydestination, " + tb["relay_domains"],
	}})
	logOnFailure(t, "pgsql: instance", in)
	s := &migrateSetup{in: in, bin: mgproc.Build(t)}
	// virtual(8)'s own override of its mailbox tables, as an admin may
	// have it: migrate must rewrite it too.
	s.postconf(t, "postconf -P 'virtual/unix/virtual_mailbox_maps="+mailbox+"'")
	if err := in.Restart(); err != nil {
		t.Fatal(err)
	}
	before, beforeErr := postmapAll(t, in, tb, pgMigrateKeys)

	s.migrateWith(t, "--via", "pgsql", "--write")
	logFrom := len(in.Log())
	for _, want := range []string{
		"\npgsql_listen = unix:" + filepath.Join(in.QueueDir, "mapgate", "pg", ".s.PGSQL.5432") + "\n",
		"\npostconf -P 'virtual/unix/virtual_mailbox_maps=" + front(tb["virtual_mailbox_maps"]) + "," + front(tb["virtual_alias_domain_mailbox_maps"]) + "'\n",
		"\npostconf -e 'virtual_mailbox_maps = " + front(tb["virtual_mailbox_maps"]) + ", " + front(tb["virtual_alias_domain_mailbox_maps"]) + "'\n",
	} {
		if !strings.Contains(s.output, want) {
			t.Errorf("migrate's output lacks %q", strings.TrimSpace(want))
		}
	}
	if strings.Contains(s.output, "socketmap:") || strings.Contains(s.output, "Warning") {
		t.Errorf("migrate --via pgsql pointed a parameter at socketmap or warned")
	}
	fronts := map[string]string{}
	for n, table := range tb {
		fronts[n] = front(table)
	}
	after, afterErr := postmapAll(t, in, fronts, pgMigrateKeys)
	t.Run("postmap before and after", func(t *testing.T) {
		comparePostmap(t, "proxy:pgsql: tables", before, after, beforeErr, afterErr, pgFixed)
		for k, want := range map[string]string{"virtual_alias_domain_maps bob@example.net": "= bob@example.jp",
			"virtual_mailbox_maps bob@example.jp": "= example.jp/bob/", "virtual_alias_maps ほげ@example.jp": "not found"} {
			if after[k] != want {
				t.Errorf("postmap -q %s through the front: %q, want %q", k, after[k], want)
			}
		}
	})
	t.Run("delivery into maildirs", func(t *testing.T) {
		deliverTwentyGood(t, s, "after migrate --via pgsql")
	})
	t.Run("a key the database cannot hold", func(t *testing.T) {
		if code, line := in.RCPT("ほげ@example.jp"); code != 550 {
			t.Errorf("RCPT TO:<ほげ@example.jp>: %q, want 550", line)
		}
		start := s.maildirCount("bob")
		if err := in.Sendmail("ほげ@example.jp", "bad"); err != nil {
			t.Fatal(err)
		}
		if err := in.Sendmail("bob@example.jp", "good"); err != nil {
			t.Fatal(err)
		}
		got := s.waitMaildirs(map[string]int{"bob": start + 1}, 30*time.Second)["bob"]
		deadline := time.Now().Add(30 * time.Second)
		for bounced(in.Log(), "ほげ@example.jp") < 1 && time.Now().Before(deadline) {
			time.Sleep(200 * time.Millisecond)
		}
		log := in.Log()
		t.Logf("sendmail to ほげ@example.jp, then to bob: bob got %d of 1; the bad mail:\n%s", got-start, grepLines(log, "to=<ほげ@example.jp>"))
		if got != start+1 {
			t.Errorf("good mail after the bad one not delivered")
		}
		if n := countLines(log, "to=<ほげ@example.jp>", "status=bounced", "unknown user"); n != 1 {
			t.Errorf("bad mail bounced as unknown %d times, want 1", n)
		}
		noClientWarnings(t, in, logFrom)
	})
}

// TestE2EMigrateViaFront: a Postfix with both table types, mysql: on a
// latin1 MariaDB (virtual_mailbox_maps, which virtual(8) reads) and pgsql:
// on a LATIN1 PostgreSQL (the domains and aliases), migrated with
// `mapgate migrate --via front --write`: one mapgate with both fronts,
// each table through the front of its type. postmap -q on each table type
// answers as before with no client warning, 20 good mails are delivered,
// and ほげ@example.jp is bounced as unknown without a client warning.
func TestE2EMigrateViaFront(t *testing.T) {
	requireTools(t)
	if err := pfinst.HasMapType("pgsql"); err != nil {
		t.Skip(err)
	}
	dir := cfDir(t)
	pgt := pgCorpusTables(t, dir, "virtual_domains_maps", "virtual_alias_maps", "virtual_alias_domain_maps")
	db := startDB(t, migrateSQL)
	myt := map[string]string{
		"mailbox":        "proxy:mysql:" + writeCF(t, dir, "mailbox", db, qMailboxDir),
		"domain_mailbox": "proxy:mysql:" + writeCF(t, dir, "domain_mailbox", db, qDomainMailbox),
	}
	in := pfinst.New(t, pfinst.Options{VirtualMailboxes: true, Extra: map[string]string{
		"recipient_delimiter":     "+",
		"virtual_mailbox_domains": pgt["virtual_domains_maps"],
		"virtual_alias_maps":      pgt["virtual_alias_maps"] + ", " + pgt["virtual_alias_domain_maps"],
		"virtual_mailbox_maps":    myt["mailbox"] + ", " + myt["domain_mailbox"],
	}})
	logOnFailure(t, "mysql: and pgsql: instance", in)
	s := &migrateSetup{in: in, bin: mgproc.Build(t)}
	keys := append(append([]string(nil), pgMigrateKeys[:len(pgMigrateKeys)-2]...), "alice@example.jp")
	beforePg, beforePgErr := postmapAll(t, in, pgt, keys)
	beforeMy, beforeMyErr := postmapAll(t, in, myt, keys)

	s.migrateWith(t, "--via", "front", "--write")
	logFrom := len(in.Log())
	for _, want := range []string{"\nmysql_listen = unix:", "\npgsql_listen = unix:",
		"postconf -e 'virtual_mailbox_maps = " + front(myt["mailbox"]) + ", " + front(myt["domain_mailbox"]) + "'"} {
		if !strings.Contains(s.output, want) {
			t.Errorf("migrate's output lacks %q", strings.TrimSpace(want))
		}
	}
	if strings.Contains(s.output, "Left as it is") || strings.Contains(s.output, "socketmap:") {
		t.Errorf("migrate --via front left a table or pointed one at socketmap")
	}
	frontsOf := func(m map[string]string) map[string]string {
		out := map[string]string{}
		for n, table := range m {
			out[n] = front(table)
		}
		return out
	}
	t.Run("postmap before and after", func(t *testing.T) {
		afterPg, afterPgErr := postmapAll(t, in, frontsOf(pgt), keys)
		afterMy, afterMyErr := postmapAll(t, in, frontsOf(myt), keys)
		comparePostmap(t, "proxy:pgsql: tables", beforePg, afterPg, beforePgErr, afterPgErr, pgFixed)
		comparePostmap(t, "proxy:mysql: tables", beforeMy, afterMy, beforeMyErr, afterMyErr, nil)
		// The attack key, asked last: straight mysql: it fails the query
		// (and blacks the table out); through the front it is not found.
		for _, k := range []string{"ほげ@example.jp", "😀@example.net"} {
			for n, table := range frontsOf(myt) {
				out, errOut, err := in.Postmap("", "-q", k, table)
				if err == nil || strings.TrimSpace(errOut) != "" {
					t.Errorf("postmap -q %s %s: %q, %v, %s; want not found, no warning", k, n, out, err, errOut)
				}
			}
		}
	})
	t.Run("delivery into maildirs", func(t *testing.T) {
		deliverTwentyGood(t, s, "after migrate --via front")
	})
	t.Run("a key the databases cannot hold", func(t *testing.T) {
		if err := in.Sendmail("ほげ@example.jp", "bad"); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for bounced(in.Log(), "ほげ@example.jp") < 1 && time.Now().Before(deadline) {
			time.Sleep(200 * time.Millisecond)
		}
		if n := countLines(in.Log(), "to=<ほげ@example.jp>", "status=bounced", "unknown user"); n != 1 {
			t.Errorf("bad mail bounced as unknown %d times, want 1:\n%s", n, grepLines(in.Log(), "to=<ほげ@example.jp>"))
		}
		noClientWarnings(t, in, logFrom)
	})
}
