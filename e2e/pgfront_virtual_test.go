package e2e

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"mapgate/internal/pfinst"
	"mapgate/internal/testpg"
)

// pgFrontArgs are the mapgate arguments that open the PostgreSQL front in
// sockDir (libpq's sockDir/.s.PGSQL.5432).
func pgFrontArgs(sockDir string) []string {
	return []string{"--set", "pgsql_listen=unix:" + filepath.Join(sockDir, ".s.PGSQL.5432"), "--set", "pgsql_user=" + frontUser,
		"--set", "pgsql_password=" + frontPassword, "--set", "socket_mode=0666"}
}

// The ISP whose mailboxes are numbered customer accounts (12345@example.jp),
// the account number a bigint column that its maps compare %u to:
// virtual_alias_maps (nicknames, text, to accounts; then each account's
// forwarding) and virtual_mailbox_maps. Postfix's pgsql: interpolates the
// key: for a local part that is not a number (ほげ, postmaster) PostgreSQL
// refuses the statement (22P02, 22003 for one too large), and dict_pgsql
// marks the host down for 60 s in that process (cleanup, virtual(8)).
const ispSchema = `CREATE TABLE account (id bigint PRIMARY KEY, maildir text NOT NULL, active boolean NOT NULL DEFAULT true);
CREATE TABLE nickname (address text PRIMARY KEY, account bigint NOT NULL REFERENCES account (id));
CREATE TABLE forward (account bigint NOT NULL REFERENCES account (id), destination text NOT NULL);
INSERT INTO account (id, maildir) VALUES (12345, 'example.jp/12345/'), (12346, 'example.jp/12346/');
INSERT INTO account (id, maildir, active) VALUES (12347, 'example.jp/12347/', false);
INSERT INTO nickname VALUES ('taro@example.jp', 12345);
INSERT INTO forward VALUES (12346, 'hanako@elsewhere.example');
`

// ispMaps are the ISP's maps, name → query; ispKeys the keys that reach
// them beyond the differential's own.
var (
	ispMaps = [][2]string{
		{"nickname", "query = SELECT account || '@example.jp' FROM nickname WHERE address = '%s'"},
		{"forward", "query = SELECT destination FROM forward WHERE account = '%u'"},
		{"account", "query = SELECT maildir FROM account WHERE id = '%u' AND active"},
	}
	ispKeys = []string{"12345@example.jp", "012345@example.jp", "12346@example.jp", "12347@example.jp", "taro@example.jp", "99999999999999999999@example.jp", "nan@example.jp", "postmaster@example.jp"}
)

// ispCF is the pgsql_table(5) text of an ISP map with query body, its
// connection lines to be filled in (testpg.Instantiate).
func ispCF(body string) string {
	return "hosts = -\nuser = -\npassword = -\ndbname = -\n" + body + "\n"
}

// TestE2EPgFrontVirtualDelivery: private Postfix instances whose virtual(8)
// delivers into maildirs with every table pgsql: (virtual(8) takes pgsql:
// tables; it refuses socketmap: ones).
//   - PostfixAdmin, through the front, its maps behind it on a latin1
//     MariaDB (the front does not care which engine answers): 20 good mails
//     through smtpd are delivered; in the seed's sendmail -t loop every good
//     mail is delivered without a deferral and every bad one
//     (ほげ@example.jp, which the column cannot hold) bounced as unknown.
//   - The ISP of numbered accounts on PostgreSQL (ispSchema): the front
//     answers a non-numeric local part not found, where pgsql: fails on it;
//     the same loop (ほげ@example.jp, then 12345@example.jp) through the
//     front delivers every good mail and bounces every bad one, and straight
//     on pgsql: it defers good mail (the bad key's 22P02 marks the host down
//     for 60 s in cleanup, whose virtual_alias_maps refuses every mail
//     then, as in the seed): the test asserts that too, so that it keeps
//     proving the problem the front solves.
func TestE2EPgFrontVirtualDelivery(t *testing.T) {
	requireTools(t)
	if err := pfinst.HasMapType("pgsql"); err != nil {
		t.Skip(err)
	}
	rounds := int(*frontLoop / time.Second)
	t.Run("postfixadmin on mariadb", func(t *testing.T) {
		t.Parallel()
		db := startDB(t, migrateSQL)
		dir := cfDir(t)
		sockDir := filepath.Join(dir, "pg")
		if err := os.Mkdir(sockDir, 0o755); err != nil {
			t.Fatal(err)
		}
		orig := map[string]string{}
		for _, m := range frontVirtualMaps {
			orig[m[0]] = writeCF(t, dir, m[0], db, m[1])
		}
		startMapgate(t, orig, pgFrontArgs(sockDir)...)
		fronts := map[string]string{}
		for _, m := range frontVirtualMaps {
			fronts[m[0]] = "pgsql:" + writeSQLFrontCF(t, dir, "pgsql", m[0], sockDir, true)
		}
		in := pfinst.New(t, pfinst.Options{VirtualMailboxes: true, Extra: virtualParams(func(n string) string { return fronts[n] })})
		logOnFailure(t, "pgsql front instance", in)
		s := &migrateSetup{in: in}
		deliverTwentyGood(t, s, "through the PostgreSQL front")
		sendmailTLoop(t, s, "through the PostgreSQL front", "ほげ@example.jp", "bob@example.jp", "bob", rounds).wantClean(t)
	})
	t.Run("isp on postgresql", func(t *testing.T) {
		t.Parallel()
		pg := testpg.Start(t)
		if err := pg.CreateDB("isp", "UTF8"); err != nil {
			t.Fatal(err)
		}
		pg.MustExec(t, "isp", ispSchema)
		if err := pg.GrantRead("isp"); err != nil {
			t.Fatal(err)
		}
		dir := cfDir(t)
		sockDir := filepath.Join(dir, "pg")
		if err := os.Mkdir(sockDir, 0o755); err != nil {
			t.Fatal(err)
		}
		orig, fronts, maps := map[string]string{}, map[string]string{}, map[string]string{}
		for _, m := range ispMaps {
			orig[m[0]] = filepath.Join(dir, m[0]+".cf")
			if err := os.WriteFile(orig[m[0]], []byte(testpg.Instantiate(ispCF(m[1]), pg, "isp")), 0o644); err != nil {
				t.Fatal(err)
			}
			fronts[m[0]] = writeSQLFrontCF(t, dir, "pgsql", m[0], sockDir, true)
			maps[m[0]] = "pgsql:" + orig[m[0]]
		}
		startMapgate(t, maps, pgFrontArgs(sockDir)...)
		params := func(table func(string) string) map[string]string {
			return map[string]string{"virtual_mailbox_domains": "example.jp",
				"virtual_alias_maps": table("nickname") + ", " + table("forward"), "virtual_mailbox_maps": table("account")}
		}
		// First the key: pgsql: fails on it, the front answers not found.
		conf := confDir(t, "smtputf8_enable = yes")
		for _, k := range []string{"ほげ@example.jp", "postmaster@example.jp", "99999999999999999999@example.jp"} {
			if _, reason := postmapKey(conf, "pgsql:"+orig["account"], k); reason == "" {
				t.Errorf("postmap -q %q pgsql:account.cf did not fail: the test no longer reproduces the problem", k)
			}
			if a, reason := postmapKey(conf, "pgsql:"+fronts["account"], k); a.found || reason != "" {
				t.Errorf("postmap -q %q pgsql:front.cf: %v %q; want not found, no error", k, a, reason)
			}
		}
		if a, reason := postmapKey(conf, "pgsql:"+fronts["account"], "12345@example.jp"); a.value != "example.jp/12345/" || reason != "" {
			t.Errorf("postmap -q 12345@example.jp pgsql:front.cf: %v %q", a, reason)
		}
		run := func(t *testing.T, what string, table func(string) string) loopCounts {
			return virtualLoop(t, what, params(table), "12345@example.jp", "12345", rounds)
		}
		t.Run("front", func(t *testing.T) {
			t.Parallel()
			r := run(t, "ISP through the PostgreSQL front", func(n string) string { return "pgsql:" + fronts[n] })
			r.wantClean(t)
			if n := countLines(r.s.in.Log(), "warning:", "pgsql"); n > 0 {
				t.Errorf("%d pgsql: warnings through the front:\n%s", n, grepLines(r.s.in.Log(), "pgsql"))
			}
		})
		t.Run("straight pgsql", func(t *testing.T) {
			t.Parallel()
			r := run(t, "ISP straight on pgsql:", func(n string) string { return "pgsql:" + orig[n] })
			t.Logf("straight on pgsql: %s", tail(grepLines(r.s.in.Log(), "warning:"), 3))
			if r.goodDeferred == 0 {
				t.Errorf("straight on pgsql: no good mail deferred (%d/%d delivered): the test no longer reproduces the problem", r.delivered, r.rounds)
			}
		})
	})
}
