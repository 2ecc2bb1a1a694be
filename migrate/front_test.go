package migrate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRetryIntervalRead(t *testing.T) {
	for v, want := range map[string][2]bool{
		"3.7.11": {false, true}, "3.8.6": {false, true}, "3.9.0": {true, true}, "3.10-20250207": {true, true},
		"4.0": {true, true}, "": {false, false}, "x": {false, false},
	} {
		read, known := RetryIntervalRead(v)
		if read != want[0] || known != want[1] {
			t.Errorf("%q: read %v known %v, want %v", v, read, known, want)
		}
	}
}

// TestPlanFront: every mysql: table, delivery agents' too, gets a front
// .cf; types and prefixes stay; $references stay; proxy_read_maps follows.
func TestPlanFront(t *testing.T) {
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n+".cf") }
	vals := map[string]string{
		"virtual_alias_maps":   "proxy:mysql:" + p("alias") + ", hash:/etc/postfix/virtual",
		"virtual_mailbox_maps": "proxy:mysql:" + p("mailbox"),
		"alias_maps":           "mysql:" + p("alias"),
		"proxy_read_maps":      "$virtual_alias_maps proxy:mysql:" + p("mailbox"),
		"relay_domains":        "$mydestination",
	}
	f := NewFrontPlan(&Postfix{Values: vals, Version: "3.9.1"}, MySQLFront)
	got := map[string]string{}
	for _, pp := range f.Params {
		got[pp.Name] = pp.New
	}
	want := map[string]string{
		"virtual_alias_maps":   "proxy:mysql:" + filepath.Join(dir, "alias.mapgate.cf") + ", hash:/etc/postfix/virtual",
		"virtual_mailbox_maps": "proxy:mysql:" + filepath.Join(dir, "mailbox.mapgate.cf"),
		"alias_maps":           "mysql:" + filepath.Join(dir, "alias.mapgate.cf"),
		"proxy_read_maps":      "$virtual_alias_maps, proxy:mysql:" + filepath.Join(dir, "mailbox.mapgate.cf"),
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if _, ok := got["relay_domains"]; ok || len(got) != len(want) {
		t.Errorf("rewrote %v", got)
	}
	if len(f.Tables) != 2 {
		t.Fatalf("%d tables, want 2 (alias used twice)", len(f.Tables))
	}
	if err := f.WriteFiles(map[*Front]FrontAccess{MySQLFront: {"unix:mapgate/mysql.sock", "postfix", "pw"}}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "alias.mapgate.cf"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"hosts = unix:mapgate/mysql.sock unix:mapgate/mysql.sock", "dbname = alias", "query = '%s' /* expansion_limit = 1 */\nexpansion_limit = 1", "retry_interval = 1", "password = pw"} {
		if !strings.Contains(string(b), l+"\n") {
			t.Errorf("front .cf lacks %q:\n%s", l, b)
		}
	}
	if f.ReadPassword(MySQLFront) != "pw" {
		t.Errorf("password of the earlier run not reused")
	}
	// A file migrate did not write is never overwritten.
	if err := os.WriteFile(filepath.Join(dir, "mailbox.mapgate.cf"), []byte("admin's own\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := f.WriteFiles(map[*Front]FrontAccess{MySQLFront: {"unix:x", "postfix", "pw"}}); err == nil {
		t.Errorf("overwrote a file migrate did not write")
	}
}

// TestPlanFrontByType: one mechanism for both fronts. A config with
// mysql: and pgsql: tables: each front's plan takes its own type and
// leaves the other's (saying which --via serves it); both fronts together
// take every table, with map names unique across them; proxy: stays;
// delivery agents' and unproxied uses are named; master.cf -o overrides
// that name a table are rewritten too.
func TestPlanFrontByType(t *testing.T) {
	vals := map[string]string{
		"virtual_alias_maps":      "proxy:pgsql:/etc/postfix/pgsql/alias.cf, proxy:mysql:/etc/postfix/sql/alias.cf",
		"virtual_mailbox_maps":    "proxy:pgsql:/etc/postfix/pgsql/mailbox.cf",
		"virtual_mailbox_domains": "pgsql:$config_directory/pgsql/domains.cf",
		"relay_domains":           "mysql:/etc/postfix/sql/relay.cf",
		"proxy_read_maps":         "$virtual_alias_maps proxy:pgsql:/etc/postfix/pgsql/mailbox.cf",
	}
	services := []Service{
		{Name: "smtp", Type: "inet", Command: "smtpd", Chroot: true},
		{Name: "submission", Type: "inet", Command: "smtpd", Opts: []Opt{{"smtpd_sender_login_maps", "pgsql:/etc/postfix/pgsql/login.cf"}, {"syslog_name", "postfix/submission"}}},
		{Name: "virtual", Type: "unix", Command: "virtual"},
	}
	pf := &Postfix{Values: vals, Services: services, MasterKnown: true, Version: "3.7.11"}

	pg := NewFrontPlan(pf, PgSQLFront)
	got := map[string]string{}
	for _, p := range pg.Params {
		got[p.Name] = p.New
	}
	want := map[string]string{
		"virtual_alias_maps":      "proxy:pgsql:/etc/postfix/pgsql/alias.mapgate.cf, proxy:mysql:/etc/postfix/sql/alias.cf",
		"virtual_mailbox_maps":    "proxy:pgsql:/etc/postfix/pgsql/mailbox.mapgate.cf",
		"virtual_mailbox_domains": "pgsql:$config_directory/pgsql/domains.mapgate.cf",
		"proxy_read_maps":         "$virtual_alias_maps, proxy:pgsql:/etc/postfix/pgsql/mailbox.mapgate.cf",
	}
	assertParams(t, got, want)
	var maps []string
	for _, tb := range pg.Tables {
		maps = append(maps, tb.Name+"="+tb.MapPath())
	}
	// In the order of the parameters (proxy_read_maps first), then master.cf's.
	wantMaps := []string{"mailbox=pgsql:/etc/postfix/pgsql/mailbox.cf", "alias=pgsql:/etc/postfix/pgsql/alias.cf",
		"domains=pgsql:/etc/postfix/pgsql/domains.cf", "login=pgsql:/etc/postfix/pgsql/login.cf"}
	if strings.Join(maps, " ") != strings.Join(wantMaps, " ") {
		t.Errorf("maps %v, want %v", maps, wantMaps)
	}
	if len(pg.Overrides) != 1 || pg.Overrides[0] != (FrontOverride{Service: "submission/inet", Param: "smtpd_sender_login_maps",
		Old: "pgsql:/etc/postfix/pgsql/login.cf", New: "pgsql:/etc/postfix/pgsql/login.mapgate.cf"}) {
		t.Errorf("overrides %+v", pg.Overrides)
	}
	var left []string
	for _, l := range pg.Left {
		left = append(left, l.Param+" "+l.Table)
	}
	if strings.Join(left, "; ") != "relay_domains mysql:/etc/postfix/sql/relay.cf; virtual_alias_maps proxy:mysql:/etc/postfix/sql/alias.cf" {
		t.Errorf("left %v", left)
	}
	if !strings.Contains(pg.Left[0].Why, "--via mysql or --via front") {
		t.Errorf("left without the --via that serves it: %q", pg.Left[0].Why)
	}
	mailbox := pg.byPath["pgsql:/etc/postfix/pgsql/mailbox.cf"]
	if strings.Join(mailbox.Delivery, ",") != "virtual_mailbox_maps" || len(mailbox.Direct) != 0 {
		t.Errorf("mailbox: delivery %v, direct %v", mailbox.Delivery, mailbox.Direct)
	}
	if d := pg.byPath["pgsql:/etc/postfix/pgsql/domains.cf"].Direct; strings.Join(d, ",") != "virtual_mailbox_domains" {
		t.Errorf("domains: direct %v", d)
	}
	if strings.Join(pg.Chrooted, ",") != "smtp/inet" {
		t.Errorf("chrooted %v", pg.Chrooted)
	}
	if fr := pg.Fronts(); len(fr) != 1 || fr[0] != PgSQLFront {
		t.Errorf("fronts %v", fr)
	}

	both := NewFrontPlan(pf, Fronts...)
	if len(both.Left) != 0 || len(both.Tables) != 6 || len(both.Fronts()) != 2 {
		t.Fatalf("both fronts: %d left, %d tables, %d fronts", len(both.Left), len(both.Tables), len(both.Fronts()))
	}
	names := map[string]bool{}
	for _, tb := range both.Tables {
		if names[tb.Name] {
			t.Errorf("map name %s twice", tb.Name)
		}
		names[tb.Name] = true
	}
	if !names["alias_2"] || both.byPath["mysql:/etc/postfix/sql/alias.cf"].MapPath() != "/etc/postfix/sql/alias.cf" {
		t.Errorf("the mysql: alias.cf is not its own map: %v", names)
	}
}

func assertParams(t *testing.T, got, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("rewrote %v, want %v", got, want)
	}
}

// TestClientHost: libpq takes an absolute socket directory (a relative
// one is a host name to it: "could not translate host name", measured with
// postmap) and the port from .s.PGSQL.PORT; the MySQL client a path
// relative to the queue directory.
func TestClientHost(t *testing.T) {
	f := &FrontPlan{QueueDir: "/var/spool/postfix"}
	for _, c := range []struct {
		fr            *Front
		listen, host  string
		inQueue, fail bool
	}{
		{PgSQLFront, "unix:/var/spool/postfix/mapgate/pg/.s.PGSQL.5432", "unix:/var/spool/postfix/mapgate/pg", true, false},
		{PgSQLFront, "unix:/run/mapgate/.s.PGSQL.5433", "unix:/run/mapgate:5433", true, false},
		{PgSQLFront, "inet:127.0.0.1:5433", "inet:127.0.0.1:5433", true, false},
		{PgSQLFront, "[::1]:5433", "inet:::1:5433", true, false},
		{PgSQLFront, "unix:/var/spool/postfix/mapgate/pgsql.sock", "", false, true},
		{PgSQLFront, "unix:mapgate/pg/.s.PGSQL.5432", "", false, true},
		{PgSQLFront, "inet:127.0.0.1", "", false, true},
		{MySQLFront, "unix:/var/spool/postfix/mapgate/mysql.sock", "unix:mapgate/mysql.sock", true, false},
		{MySQLFront, "unix:/run/mysql.sock", "unix:/run/mysql.sock", false, false},
	} {
		host, inQueue, err := f.ClientHost(c.fr, c.listen)
		if (err != nil) != c.fail || host != c.host || inQueue != c.inQueue {
			t.Errorf("%s %s: %q %v %v, want %q %v fail=%v", c.fr.Type, c.listen, host, inQueue, err, c.host, c.inQueue, c.fail)
		}
	}
}

// TestWriteFilesPgsql: a pgsql: front .cf (hosts twice, SQL_ASCII, the
// key as the statement) beside a mysql: one; each front's password is
// read back from its own files only; either marker lets migrate rewrite.
func TestWriteFilesPgsql(t *testing.T) {
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n+".cf") }
	f := NewFrontPlan(&Postfix{Values: map[string]string{
		"virtual_alias_maps": "proxy:pgsql:" + p("pgalias") + ", proxy:mysql:" + p("myalias"),
	}, Version: "3.9.1"}, Fronts...)
	access := map[*Front]FrontAccess{
		PgSQLFront: {"unix:/var/spool/postfix/mapgate/pg", "postfix", "pgpw"},
		MySQLFront: {"unix:mapgate/mysql.sock", "postfix", "mypw"},
	}
	if err := f.WriteFiles(access); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "pgalias.mapgate.cf"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), "# Generated by 'mapgate migrate --via pgsql' from "+p("pgalias")+".\n") {
		t.Errorf("marker:\n%s", b)
	}
	for _, l := range []string{"hosts = unix:/var/spool/postfix/mapgate/pg unix:/var/spool/postfix/mapgate/pg", "dbname = pgalias",
		"encoding = SQL_ASCII", "query = '%s' /* expansion_limit = 1 */\nexpansion_limit = 1", "retry_interval = 1", "password = pgpw", "user = postfix"} {
		if !strings.Contains(string(b), "\n"+l+"\n") {
			t.Errorf("pgsql front .cf lacks %q:\n%s", l, b)
		}
	}
	if f.ReadPassword(PgSQLFront) != "pgpw" || f.ReadPassword(MySQLFront) != "mypw" {
		t.Errorf("passwords read back: %q %q", f.ReadPassword(PgSQLFront), f.ReadPassword(MySQLFront))
	}
	if err := f.WriteFiles(access); err != nil {
		t.Errorf("a second run: %v", err)
	}
	delete(access, MySQLFront)
	if err := f.WriteFiles(access); err == nil {
		t.Errorf("wrote a front .cf without its front's access")
	}
}

// TestParseMasterCFOpts: the chroot column and -o overrides, both forms.
func TestParseMasterCFOpts(t *testing.T) {
	s := parseMasterCF(`smtp      inet  n       -       y       -       -       smtpd
submission inet n       -       -       -       -       smtpd
  -o syslog_name=postfix/submission
  -o { smtpd_sender_login_maps = proxy:pgsql:/etc/postfix/a.cf, pgsql:/etc/postfix/b.cf }
  -o{x=y}
`)
	if len(s) != 2 || !s[0].Chroot || s[1].Chroot {
		t.Fatalf("services %+v", s)
	}
	want := []Opt{{"syslog_name", "postfix/submission"}, {"smtpd_sender_login_maps", "proxy:pgsql:/etc/postfix/a.cf, pgsql:/etc/postfix/b.cf"}}
	if len(s[1].Opts) != len(want) || s[1].Opts[0] != want[0] || s[1].Opts[1] != want[1] {
		t.Errorf("opts %+v, want %+v", s[1].Opts, want)
	}
}
