package main

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"mapgate/lookup"
	"mapgate/migrate"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite golden files")

// golden compares got with testdata/NAME, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(p, got, 0o644))
	}
	want, err := os.ReadFile(p)
	require.NoError(t, err)
	assert.Equal(t, string(want), string(got))
}

func TestMigratePostfixAdminMainCF(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"migrate", "--main-cf", "testdata/postfixadmin-main.cf"}, &out, &errb)
	require.Equal(t, exitOK, code, errb.String())
	golden(t, "migrate-postfixadmin.golden", out.Bytes())

	// The generated configuration is one mapgate accepts (the .cf files
	// themselves are the admin's and are not read here).
	s := newSettings()
	cfgPath := filepath.Join(t.TempDir(), "mapgate.cf")
	var cfgText bytes.Buffer
	for _, line := range bytes.Split(out.Bytes(), []byte("\n")) {
		if bytes.HasPrefix(line, []byte("postconf")) || bytes.HasPrefix(line, []byte("#")) {
			continue
		}
		cfgText.Write(line)
		cfgText.WriteByte('\n')
	}
	require.NoError(t, os.WriteFile(cfgPath, cfgText.Bytes(), 0o644))
	require.NoError(t, s.loadFile(cfgPath))
	cfg, err := s.build()
	require.NoError(t, err)
	names := []string{}
	for _, m := range cfg.Maps {
		names = append(names, m.Name)
	}
	assert.Equal(t, []string{"relay_domains", "virtual_alias", "virtual_mailbox_domains", "virtual_mailbox"}, names)
	for _, m := range cfg.Maps {
		switch m.Name {
		case "virtual_alias":
			assert.Len(t, m.Paths, 3)
			assert.True(t, m.Opts.AddressSearch)
			assert.True(t, m.Opts.PropagateExtension)
		case "virtual_mailbox":
			assert.Len(t, m.Paths, 2)
			assert.True(t, m.Opts.AddressSearch)
			assert.False(t, m.Opts.PropagateExtension)
		case "relay_domains":
			assert.False(t, m.Opts.AddressSearch)
			assert.Equal(t, lookup.DomainParent, m.Opts.DomainSearch, "relay_domains keeps parent-domain matching")
		default:
			assert.False(t, m.Opts.AddressSearch, m.Name)
		}
	}
}

func TestMigrateNothingToDo(t *testing.T) {
	p := filepath.Join(t.TempDir(), "main.cf")
	require.NoError(t, os.WriteFile(p, []byte("virtual_alias_maps = hash:/etc/postfix/virtual\n"), 0o644))
	var out, errb bytes.Buffer
	require.Equal(t, exitOK, run([]string{"migrate", "--main-cf", p}, &out, &errb))
	assert.Contains(t, out.String(), "no mysql: or proxy:mysql: table to migrate")
}

// migrateDir writes main.cf (and master.cf when not empty) into a
// directory and returns migrate's output for it.
func migrateDir(t *testing.T, mainCF, masterCF string) string {
	t.Helper()
	d := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(d, "main.cf"), []byte(mainCF), 0o644))
	if masterCF != "" {
		require.NoError(t, os.WriteFile(filepath.Join(d, "master.cf"), []byte(masterCF), 0o644))
	}
	var out, errb bytes.Buffer
	require.Equal(t, exitOK, run([]string{"migrate", "--main-cf", filepath.Join(d, "main.cf")}, &out, &errb), errb.String())
	return out.String()
}

// postconfLines returns the commands migrate tells the admin to run.
func postconfLines(out string) []string {
	var cmds []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "postconf ") {
			cmds = append(cmds, l)
		}
	}
	return cmds
}

// TestMigrateNeverPointsDeliveryAgentsAtSocketmap: virtual(8) refuses
// socketmap tables for virtual_mailbox_maps, virtual_uid_maps and
// virtual_gid_maps, local(8) for alias_maps. smtpd's virtual_mailbox_maps
// goes to mapgate; every master.cf service that runs virtual(8) keeps the
// original tables, one delivery per process and one recipient per delivery.
func TestMigrateNeverPointsDeliveryAgentsAtSocketmap(t *testing.T) {
	out := migrateDir(t, `virtual_mailbox_domains = example.jp
virtual_mailbox_maps = proxy:mysql:/etc/postfix/sql/mailbox.cf, hash:/etc/postfix/vmailbox
virtual_uid_maps = mysql:/etc/postfix/sql/uid.cf
virtual_gid_maps = static:5000
alias_maps = mysql:/etc/postfix/sql/aliases.cf
`, `# service type private unpriv chroot wakeup maxproc command + args
smtp      inet  n       -       y       -       -       smtpd
virtual   unix  -       n       n       -       -       virtual
vmail2    unix  -       n       n       -       -
  virtual -o virtual_mailbox_base=/srv/mail2
local     unix  -       n       n       -       -       local
`)
	cmds := postconfLines(out)
	for _, c := range cmds {
		if strings.Contains(c, "socketmap:") {
			for _, p := range []string{"virtual_uid_maps", "virtual_gid_maps", "alias_maps", "/virtual_mailbox_maps="} {
				assert.NotContains(t, c, p, "a delivery agent's map pointed at socketmap")
			}
		}
	}
	assert.Contains(t, cmds, "postconf -e 'virtual_mailbox_maps = socketmap:unix:mapgate/mapgate.sock:virtual_mailbox, hash:/etc/postfix/vmailbox'")
	for _, svc := range []string{"virtual", "vmail2"} {
		assert.Contains(t, cmds, "postconf -P '"+svc+"/unix/virtual_mailbox_maps=proxy:mysql:/etc/postfix/sql/mailbox.cf,hash:/etc/postfix/vmailbox'")
		assert.Contains(t, cmds, "postconf -P '"+svc+"/unix/max_use=1'")
		assert.Contains(t, cmds, "postconf -e '"+svc+"_destination_recipient_limit = 1'")
	}
	// local(8)'s aliases stay on mysql:; its processes make one delivery
	// each (local_destination_recipient_limit is 1 by default).
	assert.Contains(t, cmds, "postconf -P 'local/unix/max_use=1'")
	assert.NotContains(t, out, "local/unix/alias_maps")
	assert.NotContains(t, out, "local_destination_recipient_limit")
	assert.Contains(t, out, "Left as it is: mysql:/etc/postfix/sql/uid.cf in virtual_uid_maps:\n#   only virtual(8) reads it")
	assert.Contains(t, out, "Left as it is: mysql:/etc/postfix/sql/aliases.cf in alias_maps:\n#   local(8) reads it as security-sensitive data")
	assert.Contains(t, out, "What stays unprotected:")
	assert.Contains(t, out, "mail submitted locally (sendmail, pickup)")
	assert.Contains(t, out, "virtual_uid_maps: virtual(8)'s own mysql: client")
	assert.Contains(t, out, "alias_maps: local(8)'s own mysql: client")
}

// TestMigrateDomainListsReferencesAndQueueDirectory: relay_domains keeps
// parent-domain matching (mapgate runs the search, in the style
// parent_domain_matches_subdomains gives it); $name references stay
// references; sender_dependent_relayhost_maps is served with the address
// search; the socket is named relative to a non-default queue_directory.
func TestMigrateDomainListsReferencesAndQueueDirectory(t *testing.T) {
	main := `queue_directory = /srv/postfix-queue
mydestination = $myhostname, localhost
relay_domains = $mydestination, proxy:mysql:/etc/postfix/sql/relay.cf
sender_dependent_relayhost_maps = mysql:/etc/postfix/sql/relayhost.cf
`
	out := migrateDir(t, main, "")
	cmds := postconfLines(out)
	assert.Contains(t, out, "listen = unix:/srv/postfix-queue/mapgate/mapgate.sock\n")
	assert.Contains(t, cmds, "postconf -e 'relay_domains = $mydestination, socketmap:unix:mapgate/mapgate.sock:relay_domains'")
	assert.Contains(t, out, "\nrelay_domains_domain_search = parent\n")
	assert.Contains(t, cmds, "postconf -e 'sender_dependent_relayhost_maps = socketmap:unix:mapgate/mapgate.sock:sender_dependent_relayhost'")
	assert.NotContains(t, out, "sender_dependent_relayhost_address_search = no")

	// A parameter that reaches mysql: only through a reference is not
	// rewritten (the reference stays); the reason is given.
	out = migrateDir(t, main+"my_aliases = proxy:mysql:/etc/postfix/sql/alias.cf\nvirtual_alias_maps = $my_aliases\n", "")
	assert.NotContains(t, out, "'virtual_alias_maps =")
	assert.Contains(t, out, "in virtual_alias_maps:\n#   it reaches this table through a $name reference")

	// Not listed in parent_domain_matches_subdomains: ".parent" keys.
	out = migrateDir(t, main+"parent_domain_matches_subdomains = debug_peer_list\n", "")
	assert.Contains(t, out, "\nrelay_domains_domain_search = dot\n")

	// A socket outside the queue directory is named as it is, with a warning.
	var o, e bytes.Buffer
	d := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(d, "main.cf"), []byte(main), 0o644))
	require.Equal(t, exitOK, run([]string{"migrate", "--main-cf", filepath.Join(d, "main.cf"), "--socket", "unix:/run/mapgate.sock"}, &o, &e))
	assert.Contains(t, o.String(), "socketmap:unix:/run/mapgate.sock:relay_domains")
	assert.Contains(t, o.String(), "outside queue_directory (/srv/postfix-queue)")
}

// TestMigrateNamesPostconfsError: with no main.cf (Postfix installed with
// "No configuration"), migrate passes on postconf's own reason.
func TestMigrateNamesPostconfsError(t *testing.T) {
	if _, err := exec.LookPath(migrate.Program("postconf")); err != nil {
		t.Skip("postconf not installed")
	}
	var out, errb bytes.Buffer
	code := run([]string{"migrate", "--config-dir", t.TempDir()}, &out, &errb)
	assert.Equal(t, exitFailure, code)
	assert.Contains(t, errb.String(), "main.cf: No such file or directory")
	assert.Contains(t, errb.String(), "--main-cf FILE")
}

// TestMigrateViaMySQLGolden pins --via mysql's output (no pgsql: table):
// the front's plan is shared with --via pgsql and --via front, and this
// output stays byte for byte what it was.
func TestMigrateViaMySQLGolden(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"migrate", "--via", "mysql", "--main-cf", "testdata/migratefront/main.cf", "--mysql-password", "pw"}, &out, &errb)
	require.Equal(t, exitOK, code, errb.String())
	golden(t, "migrate-via-mysql.golden", out.Bytes())
}

// TestMigrateViaPgsqlGolden: --via pgsql (refused before: "want socketmap
// or mysql") points every pgsql: table, proxy: kept, at the PostgreSQL
// front through a .cf beside it, master.cf's -o too, and leaves the mysql:
// one, saying so; --via front takes both, each through its own front,
// with one configuration for both listeners. The chrooted smtpd and the
// pgsql: table without proxy: get the warning libpq's absolute socket
// directory needs.
func TestMigrateViaPgsqlGolden(t *testing.T) {
	for _, via := range []string{"pgsql", "front"} {
		var out, errb bytes.Buffer
		code := run([]string{"migrate", "--via", via, "--main-cf", "testdata/migratemixed/main.cf", "--mysql-password", "mypw", "--pgsql-password", "pgpw"}, &out, &errb)
		require.Equal(t, exitOK, code, errb.String())
		golden(t, "migrate-via-"+via+".golden", out.Bytes())
		cmds := postconfLines(out.String())
		assert.Contains(t, cmds, "postconf -e 'virtual_mailbox_maps = proxy:pgsql:/etc/postfix/pgsql/virtual_mailbox_maps.mapgate.cf'", via)
		assert.Contains(t, cmds, "postconf -P 'submission/inet/smtpd_sender_login_maps=proxy:pgsql:/etc/postfix/pgsql/virtual_sender_maps.mapgate.cf'", via)
		assert.Contains(t, out.String(), "\npgsql_listen = unix:/var/spool/postfix/mapgate/pg/.s.PGSQL.5432\n", via)
		assert.Contains(t, out.String(), "virtual_mailbox_maps (virtual(8))", via)
		assert.Contains(t, out.String(), "master.cf runs smtp/inet, submission/inet chrooted", via)
		assert.Contains(t, out.String(), "virtual_mailbox_domains (/etc/postfix/pgsql/virtual_domains_maps.cf)", via)
		assert.NotContains(t, out.String(), "socketmap:", via)

		// The configuration it prints is one mapgate accepts.
		cfg := migrateConfig(t, out.String())
		assert.Equal(t, []string{"unix:/var/spool/postfix/mapgate/pg/.s.PGSQL.5432"}, cfg.PgSQL.Listen)
		assert.Equal(t, "pgpw", cfg.PgSQL.Password)
		if via == "pgsql" {
			assert.Empty(t, cfg.MySQL.Listen)
			assert.Contains(t, out.String(), "# Left as it is: proxy:mysql:/etc/postfix/sql/legacy_alias_maps.cf in virtual_alias_maps:\n#   a mysql: table: --via mysql or --via front")
			assert.Len(t, cfg.Maps, 5)
		} else {
			assert.Equal(t, []string{"unix:/var/spool/postfix/mapgate/mysql.sock"}, cfg.MySQL.Listen)
			assert.Equal(t, "mypw", cfg.MySQL.Password)
			assert.NotContains(t, out.String(), "Left as it is")
			assert.Len(t, cfg.Maps, 6)
		}
	}
}

// migrateConfig loads the mapgate configuration migrate printed (every
// line that is neither a comment nor a command) as mapgate serve would.
func migrateConfig(t *testing.T, out string) *Config {
	t.Helper()
	var text strings.Builder
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "postconf") && !strings.HasPrefix(line, "#") {
			text.WriteString(line + "\n")
		}
	}
	p := filepath.Join(t.TempDir(), "mapgate.cf")
	require.NoError(t, os.WriteFile(p, []byte(text.String()), 0o644))
	s := newSettings()
	require.NoError(t, s.loadFile(p))
	cfg, err := s.build()
	require.NoError(t, err)
	return cfg
}

// TestMigrateViaPgsqlWrite: --write puts the pgsql: front .cf beside the
// admin's, a second run keeps its password, the socket flags name where
// the front listens (loopback TCP, a socket libpq can name), and a socket
// libpq cannot name is refused.
func TestMigrateViaPgsqlWrite(t *testing.T) {
	d := t.TempDir()
	cf := filepath.Join(d, "alias.cf")
	require.NoError(t, os.WriteFile(cf, []byte("hosts = localhost\nquery = SELECT goto FROM alias WHERE address='%s'\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(d, "main.cf"), []byte("mail_version = 3.7.11\nvirtual_alias_maps = proxy:pgsql:"+cf+"\n"), 0o644))
	migrate := func(args ...string) (string, string, int) {
		var out, errb bytes.Buffer
		code := run(append([]string{"migrate", "--main-cf", filepath.Join(d, "main.cf")}, args...), &out, &errb)
		return out.String(), errb.String(), code
	}
	out, errs, code := migrate("--via", "pgsql", "--write")
	require.Equal(t, exitOK, code, errs)
	front := filepath.Join(d, "alias.mapgate.cf")
	b, err := os.ReadFile(front)
	require.NoError(t, err)
	pw := migrateConfig(t, out).PgSQL.Password
	assert.Len(t, pw, 36)
	assert.Contains(t, string(b), "\npassword = "+pw+"\n")
	assert.Contains(t, string(b), "\nhosts = unix:/var/spool/postfix/mapgate/pg unix:/var/spool/postfix/mapgate/pg\n")
	assert.Contains(t, postconfLines(out), "postconf -e 'virtual_alias_maps = proxy:pgsql:"+filepath.Join(d, "alias.mapgate.cf")+"'")

	out, errs, code = migrate("--via", "pgsql", "--write", "--pgsql-socket", "inet:127.0.0.1:5433")
	require.Equal(t, exitOK, code, errs)
	assert.Equal(t, pw, migrateConfig(t, out).PgSQL.Password, "the password of the first run")
	assert.Contains(t, out, "\npgsql_listen = inet:127.0.0.1:5433\n")
	assert.NotContains(t, out, "socket_group")
	b, err = os.ReadFile(front)
	require.NoError(t, err)
	assert.Contains(t, string(b), "\nhosts = inet:127.0.0.1:5433 inet:127.0.0.1:5433\n")

	_, _, code = migrate("--via", "pgsql", "--socket", "unix:/run/mapgate/.s.PGSQL.6000")
	assert.Equal(t, exitOK, code)
	_, errs, code = migrate("--via", "pgsql", "--socket", "unix:/run/mapgate/pgsql.sock")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errs, "libpq connects to DIR/.s.PGSQL.PORT")

	// A file migrate did not write is never overwritten.
	require.NoError(t, os.WriteFile(front, []byte("admin's own\n"), 0o600))
	_, errs, code = migrate("--via", "pgsql", "--write")
	assert.Equal(t, exitFailure, code)
	assert.Contains(t, errs, "not written by mapgate migrate")

	// --via mysql on it: nothing of its type; the pgsql: table is named.
	out, _, code = migrate("--via", "mysql")
	require.Equal(t, exitOK, code)
	assert.Contains(t, out, "# mapgate migrate --via mysql: no mysql: or proxy:mysql: table in ")
	assert.Contains(t, out, "# Left as it is: proxy:pgsql:"+cf+" in virtual_alias_maps:\n#   a pgsql: table: --via pgsql or --via front")
}
