package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mapgate/internal/pfinst"
)

// writePgFrontCF writes the .cf that points a pgsql: table at mapgate's
// PostgreSQL front on the socket directory dir (libpq connects to
// dir/.s.PGSQL.5432).
func writePgFrontCF(t *testing.T, cfdir, name, sockDir string) string {
	t.Helper()
	p := filepath.Join(cfdir, name+".pgfront.cf")
	text := fmt.Sprintf("# mapgate's PostgreSQL front for map %s\nhosts = unix:%s\nuser = %s\npassword = %s\ndbname = %s\nquery = '%%s'\n",
		name, sockDir, frontUser, frontPassword, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// pgFrontArgs are the mapgate arguments that open the PostgreSQL front in
// sockDir (libpq's sockDir/.s.PGSQL.5432).
func pgFrontArgs(sockDir string) []string {
	return []string{"--set", "pgsql_listen=unix:" + filepath.Join(sockDir, ".s.PGSQL.5432"), "--set", "pgsql_user=" + frontUser,
		"--set", "pgsql_password=" + frontPassword, "--set", "socket_mode=0666"}
}

// The ISP whose mailboxes are numbered customer accounts (12345@example.jp),
// the account number a bigint column that virtual_mailbox_maps compares
// %u to. Postfix's pgsql: interpolates the key: for a local part that is
// not a number (ほげ, postmaster) PostgreSQL refuses the statement (22P02,
// 22003 for one too large), and dict_pgsql marks the host down for 60 s.
// virtual_alias_maps maps nicknames (text) to accounts.
const ispSchema = `CREATE TABLE account (id bigint PRIMARY KEY, maildir text NOT NULL, active boolean NOT NULL DEFAULT true);
CREATE TABLE nickname (address text PRIMARY KEY, account bigint NOT NULL REFERENCES account (id));
INSERT INTO account (id, maildir) VALUES (12345, 'example.jp/12345/'), (12346, 'example.jp/12346/');
INSERT INTO account (id, maildir, active) VALUES (12347, 'example.jp/12347/', false);
INSERT INTO nickname VALUES ('taro@example.jp', 12345);
`

// ispMaps are the ISP's maps, name → query; ispKeys the keys that reach
// them beyond the differential's own.
var (
	ispMaps = [][2]string{
		{"nickname", "query = SELECT account || '@example.jp' FROM nickname WHERE address = '%s'"},
		{"account", "query = SELECT maildir FROM account WHERE id = '%u' AND active"},
	}
	ispKeys = []string{"12345@example.jp", "012345@example.jp", "12347@example.jp", "taro@example.jp", "99999999999999999999@example.jp", "nan@example.jp", "postmaster@example.jp"}
)

// ispCF is the pgsql_table(5) text of an ISP map with query body, its
// connection lines to be filled in (testpg.Instantiate).
func ispCF(body string) string {
	return "hosts = -\nuser = -\npassword = -\ndbname = -\n" + body + "\n"
}

// TestE2EPgFrontVirtualDelivery: a private Postfix whose virtual(8)
// delivers into maildirs with every table pgsql:, pointed at mapgate's
// PostgreSQL front (the PostfixAdmin maps behind it, on a latin1 MariaDB:
// the front does not care which engine answers). virtual(8) accepts the
// pgsql: tables (it refuses socketmap: ones); 20 good mails through smtpd
// are delivered; in the seed's sendmail -t loop every good mail is
// delivered without a deferral and every bad one (ほげ@example.jp, which
// the column cannot hold) bounced as unknown.
func TestE2EPgFrontVirtualDelivery(t *testing.T) {
	requireTools(t)
	if err := pfinst.HasMapType("pgsql"); err != nil {
		t.Skip(err)
	}
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
		fronts[m[0]] = "pgsql:" + writePgFrontCF(t, dir, m[0], sockDir)
	}
	in := pfinst.New(t, pfinst.Options{VirtualMailboxes: true, Extra: virtualParams(func(n string) string { return fronts[n] })})
	logOnFailure(t, "pgsql front instance", in)
	s := &migrateSetup{in: in}

	deliverTwentyGood(t, s, "through the PostgreSQL front")

	rounds := int(*frontLoop / time.Second)
	start := s.maildirCount("bob")
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for i := range rounds {
		if err := in.Sendmail("ほげ@example.jp", fmt.Sprintf("bad %d", i)); err != nil {
			t.Fatal(err)
		}
		if err := in.Sendmail("bob@example.jp", fmt.Sprintf("good %d", i)); err != nil {
			t.Fatal(err)
		}
		<-tick.C
	}
	s.waitMaildirs(map[string]int{"bob": start + rounds}, 15*time.Second)
	log := in.Log()
	good := s.maildirCount("bob") - start
	deferred := countLines(log, "to=<bob@example.jp>", "status=deferred") + strings.Count(log, "message not accepted, try again later")
	bad := bounced(log, "ほげ@example.jp")
	deadline := time.Now().Add(15 * time.Second)
	for bad < rounds && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		bad = bounced(in.Log(), "ほげ@example.jp")
	}
	t.Logf("through the PostgreSQL front, sendmail -t loop of %d rounds: good mail delivered %d/%d, deferred or refused %d times; bad mail bounced %d/%d",
		rounds, good, rounds, deferred, bad, rounds)
	if good != rounds || deferred != 0 {
		t.Errorf("good mail delivered %d/%d, deferred %d times; want all, none", good, rounds, deferred)
	}
	if bad != rounds {
		t.Errorf("bad mail bounced %d/%d times", bad, rounds)
	}
	if n := countLines(in.Log(), "to=<ほげ@example.jp>", "status=bounced", "unknown user"); n != bad {
		t.Errorf("%d of %d bounces say unknown user:\n%s", n, bad, grepLines(in.Log(), "to=<ほげ@example.jp>"))
	}
}
