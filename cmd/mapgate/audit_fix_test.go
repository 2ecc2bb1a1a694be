package main

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"mapgate/audit"
	"mapgate/internal/testdb"
)

// runClientAs runs a script through the mariadb client as user (no
// password) over the server's socket.
func runClientAs(t *testing.T, s *testdb.Server, user, db, script string) (string, error) {
	t.Helper()
	client, err := exec.LookPath("mariadb")
	require.NoError(t, err, "the mariadb client is needed (run make deps)")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, client, "--no-defaults", "--socket="+s.Socket, "--user="+user, "--default-character-set=utf8mb4", db)
	cmd.Stdin = strings.NewReader(script)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// tableCollation reads a table's collation as root.
func tableCollation(t *testing.T, s *testdb.Server, db, table string) string {
	t.Helper()
	out, err := runClientAs(t, s, "root", db, "SELECT TABLE_COLLATION FROM information_schema.TABLES WHERE TABLE_SCHEMA = '"+db+"' AND TABLE_NAME = '"+table+"';")
	require.NoError(t, err, out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return lines[len(lines)-1]
}

// TestAuditPreflightStops: rows a unique key keeps apart now but not under
// the new collation (latin1_general_ci leaves the cp1252 letters Š and š
// apart, utf8mb4_uca1400_as_ci folds them), and an account without the
// privileges: the printed statements stop at the preflight with a message
// and change nothing.
func TestAuditPreflightStops(t *testing.T) {
	s := testdb.Start(t)
	s.MustExec(t, `CREATE DATABASE twins; CREATE DATABASE plain;
CREATE TABLE twins.alias (address varchar(255) NOT NULL PRIMARY KEY, goto text NOT NULL) DEFAULT CHARSET=latin1 COLLATE=latin1_general_ci;
INSERT INTO twins.alias VALUES ('šimon@example.org', 'simon1@example.org'), ('Šimon@example.org', 'simon2@example.org'), ('jose@example.org', 'j1'), ('josé@example.org', 'j2');
CREATE TABLE plain.alias (address varchar(255) NOT NULL PRIMARY KEY, goto text NOT NULL) DEFAULT CHARSET=latin1 COLLATE=latin1_general_ci;
INSERT INTO plain.alias VALUES ('jose@example.org', 'j1'), ('josé@example.org', 'j2');
CREATE USER 'halfadmin'@'localhost';
GRANT SELECT, ALTER ON plain.* TO 'halfadmin'@'localhost';
`+testdb.Grant("twins")+testdb.Grant("plain"))
	dir := t.TempDir()
	const q = "SELECT goto FROM alias WHERE address='%s'"

	twins := writeCF(t, dir, "twins.cf", s, "twins", q)
	code, out, errs := runAudit(t, "--map", "alias="+twins)
	require.Equal(t, exitAuditRisk, code, errs)
	text := flat(out)
	assert.Contains(t, text, "NOT READY")
	assert.Contains(t, text, "FAIL duplicate_keys twins.alias: 1 set of rows of unique key PRIMARY become equal under utf8mb4_uca1400_as_ci")
	assert.Contains(t, text, `"\u0160imon@example.org | \u0161imon@example.org"`)
	res, err := runClientAs(t, s, "root", "twins", fixSQL(out))
	require.Error(t, err, res)
	assert.Contains(t, res, "mapgate preflight: the audit's preflight failed (duplicate_keys")
	assert.Equal(t, "latin1_general_ci", tableCollation(t, s, "twins", "alias"))

	plain := writeCF(t, dir, "plain.cf", s, "plain", q)
	code, out, errs = runAudit(t, "--map", "alias="+plain)
	require.Equal(t, exitAuditRisk, code, errs)
	assert.NotContains(t, out, "NOT READY")
	// Ignorable characters reach jose@ and josé@ under any UCA collation:
	// the verdict is review, and the statements run only when accepted.
	assert.Contains(t, out, "(review: answers change")
	res, err = runClientAs(t, s, "halfadmin", "plain", reviewAccept+fixSQL(out))
	require.Error(t, err, res)
	assert.Contains(t, res, "mapgate preflight: plain.alias: needs ALTER, CREATE, INSERT")
	assert.Equal(t, "latin1_general_ci", tableCollation(t, s, "plain", "alias"))

	res, err = runClientAs(t, s, "root", "plain", fixSQL(out))
	require.Error(t, err, res)
	assert.Contains(t, res, "mapgate preflight: answers change under utf8mb4_uca1400_as_ci")

	// As root, accepted, the same statements run, and jose@ and josé@ stay apart.
	res, err = runClientAs(t, s, "root", "plain", reviewAccept+fixSQL(out))
	require.NoError(t, err, res)
	assert.Equal(t, "utf8mb4_uca1400_as_ci", tableCollation(t, s, "plain", "alias"))
	code, out, errs = runAudit(t, "--map", "alias="+plain)
	assert.Equal(t, exitAuditSafe, code, errs+out)
}

// TestAuditJoinMixedCollations: a join between columns of two collations
// fails for every key; both columns are named, both tables converted to
// one collation, and the audit is clean afterwards.
func TestAuditJoinMixedCollations(t *testing.T) {
	s := testdb.Start(t)
	s.MustExec(t, `CREATE DATABASE joined;
CREATE TABLE joined.alias (address varchar(255) NOT NULL PRIMARY KEY, active tinyint NOT NULL DEFAULT 1) DEFAULT CHARSET=latin1 COLLATE=latin1_swedish_ci;
CREATE TABLE joined.fwd (address varchar(255) NOT NULL PRIMARY KEY, target text NOT NULL) DEFAULT CHARSET=latin1 COLLATE=latin1_general_ci;
INSERT INTO joined.alias (address) VALUES ('bob@example.org');
INSERT INTO joined.fwd VALUES ('bob@example.org', 'robert@example.net');
`+testdb.Grant("joined"))
	dir := t.TempDir()
	cf := writeCF(t, dir, "join.cf", s, "joined", "SELECT fwd.target FROM alias JOIN fwd ON alias.address = fwd.address WHERE alias.address = '%s'")
	code, out, errs := runAudit(t, "--map", "fwd="+cf)
	require.Equal(t, exitAuditRisk, code, errs)
	text := flat(out)
	assert.Contains(t, text, "Even plain ASCII keys make the query fail (error 1267): it compares columns of different collations: alias.address (latin1_swedish_ci) and fwd.address (latin1_general_ci).")
	assert.Contains(t, text, "fix: convert joined.alias, joined.fwd")
	assert.Contains(t, out, "ALTER TABLE `joined`.`alias` CONVERT TO CHARACTER SET utf8mb4 COLLATE ")
	assert.Contains(t, out, "ALTER TABLE `joined`.`fwd` CONVERT TO CHARACTER SET utf8mb4 COLLATE ")

	res, err := runClientAs(t, s, "root", "joined", reviewAccept+fixSQL(out))
	require.NoError(t, err, res)
	assert.Equal(t, tableCollation(t, s, "joined", "alias"), tableCollation(t, s, "joined", "fwd"))
	code, out, errs = runAudit(t, "--map", "fwd="+cf)
	assert.Equal(t, exitAuditSafe, code, errs+out)
}

// auditJSON runs the audit with --json and decodes the report.
func auditJSON(t *testing.T, args ...string) (int, *audit.Report) {
	t.Helper()
	code, out, errs := runAudit(t, append(args, "--json")...)
	require.NotEqual(t, exitAuditFailed, code, errs+out)
	var r audit.Report
	require.NoError(t, json.Unmarshal([]byte(out), &r))
	return code, &r
}

// TestAuditProbeRowsMapgateRejects: mailcow's sender ACL matches every
// sender through its send_as = '*' row. mapgate answers NOTFOUND for
// invalid UTF-8 and over-long keys without a query, but the server returns
// that row for them: the audit says so.
func TestAuditProbeRowsMapgateRejects(t *testing.T) {
	s := testdb.Start(t)
	s.MustExec(t, `CREATE DATABASE acl;
CREATE TABLE acl.sender_acl (id int NOT NULL AUTO_INCREMENT PRIMARY KEY, logged_in_as varchar(255) NOT NULL, send_as varchar(255) NOT NULL) DEFAULT CHARSET=utf8mb4;
INSERT INTO acl.sender_acl (logged_in_as, send_as) VALUES ('alice@example.org', 'info@example.org'), ('admin@example.org', '*');
`+testdb.Grant("acl"))
	cf := writeCF(t, t.TempDir(), "acl.cf", s, "acl", "SELECT logged_in_as FROM sender_acl WHERE send_as='@%d' OR send_as='%s' OR send_as='*'")
	code, r := auditJSON(t, "--map", "acl="+cf)
	assert.Equal(t, exitAuditSafe, code)
	f := r.Maps[0].Files[0]
	wrong := map[string]int{}
	for _, p := range f.Probes {
		assert.Equal(t, 1, p.Rows, p.Class) // the '*' row, whatever the key
		if p.WrongNotFound {
			wrong[p.Class] = p.Rows
			assert.False(t, p.Agrees, p.Class)
		}
	}
	// The send_as='*' branch: a key the column cannot hold makes only its
	// own comparisons false (bound as NULL), so mapgate asks the server
	// too and agrees with it for every probe. Before that fix the audit
	// reported invalid_utf8 and too_long as wrong NOTFOUNDs here.
	assert.Empty(t, wrong)
	var kinds []string
	for _, fd := range f.Findings {
		kinds = append(kinds, fd.Kind)
	}
	assert.NotContains(t, kinds, "wrong_notfound")
}

// TestAuditParamReasons: a parameter in the select list and parameters in
// a UNION of parenthesised SELECTs are reported as what they are.
func TestAuditParamReasons(t *testing.T) {
	s := testdb.Start(t)
	s.MustExec(t, `CREATE DATABASE shapes;
CREATE TABLE shapes.mailbox (username varchar(255) NOT NULL PRIMARY KEY, attributes JSON, mailbox_path_prefix varchar(150) DEFAULT '/var/vmail/', active tinyint NOT NULL DEFAULT 1) DEFAULT CHARSET=utf8mb4;
CREATE TABLE shapes.domain (domain varchar(255) NOT NULL PRIMARY KEY, backupmx tinyint NOT NULL DEFAULT 0, active tinyint NOT NULL DEFAULT 1) DEFAULT CHARSET=latin1;
CREATE TABLE shapes.alias_domain (alias_domain varchar(255) NOT NULL PRIMARY KEY, target_domain varchar(255) NOT NULL, active tinyint NOT NULL DEFAULT 1) DEFAULT CHARSET=latin1;
`+testdb.Grant("shapes"))
	dir := t.TempDir()
	// mailcow's virtual_mailbox_maps and iRedMail's virtual_mailbox_domains.
	mb := writeCF(t, dir, "mb.cf", s, "shapes", "SELECT CONCAT(JSON_UNQUOTE(JSON_VALUE(attributes, '$.mailbox_format')), mailbox_path_prefix, '%d/%u/') FROM mailbox WHERE username='%s' AND (active = '1' OR active = '2')")
	dom := writeCF(t, dir, "dom.cf", s, "shapes", "(SELECT domain FROM domain WHERE domain='%s' AND backupmx=0 AND active=1 LIMIT 1) UNION (SELECT alias_domain.alias_domain FROM alias_domain,domain WHERE alias_domain.alias_domain='%s' AND alias_domain.active=1 AND alias_domain.target_domain=domain.domain AND domain.active=1 AND domain.backupmx=0 LIMIT 1)")
	_, r := auditJSON(t, "--map", "mb="+mb, "--map", "dom="+dom)

	// (Should mapgate's own analysis learn these shapes, the report takes
	// its answer: a known parameter, no note.)
	p := r.Maps[0].Files[0].Params
	require.Len(t, p, 2)
	if !p[0].Known {
		assert.Equal(t, "parameter in the select list: part of the result, not compared with a column", p[0].Why)
	}
	assert.Equal(t, []string{"mailbox.username"}, p[1].Columns)

	// mapgate's own analysis reads the parenthesised UNION.
	p = r.Maps[1].Files[0].Params
	require.Len(t, p, 2)
	for i, want := range []string{"domain.domain", "alias_domain.alias_domain"} {
		assert.True(t, p[i].Known, p[i].Why)
		assert.Equal(t, []string{want}, p[i].Columns)
	}
	// The latin1 columns the UNION compares are found, so the fix converts them.
	assert.Contains(t, r.Maps[1].Files[0].FixTables, "shapes.domain")
	assert.Contains(t, r.Maps[1].Files[0].FixTables, "shapes.alias_domain")
}

// TestAuditNoEquivalentCollation: converting to a collation that does not
// keep the columns' comparisons (here forced with --collation, as on a
// server without an accent-sensitive utf8mb4 collation) prints what
// changes, and the preflight lists the rows that would collide or start
// to match each other's keys, before any SQL.
func TestAuditNoEquivalentCollation(t *testing.T) {
	s := testdb.Start(t)
	s.MustExec(t, `CREATE DATABASE acc;
CREATE TABLE acc.alias (address varchar(255) NOT NULL PRIMARY KEY, goto text NOT NULL) DEFAULT CHARSET=latin1 COLLATE=latin1_general_ci;
INSERT INTO acc.alias VALUES ('jose@example.org', 'j1'), ('josé@example.org', 'j2');
CREATE TABLE acc.fwd (id int NOT NULL AUTO_INCREMENT PRIMARY KEY, address varchar(255) NOT NULL, target varchar(255) NOT NULL, KEY (address)) DEFAULT CHARSET=latin1 COLLATE=latin1_general_ci;
INSERT INTO acc.fwd (address, target) VALUES ('munchen@example.org', 'a'), ('münchen@example.org', 'b');
`+testdb.Grant("acc"))
	dir := t.TempDir()
	alias := writeCF(t, dir, "alias.cf", s, "acc", "SELECT goto FROM alias WHERE address='%s'")
	fwd := writeCF(t, dir, "fwd.cf", s, "acc", "SELECT target FROM fwd WHERE address='%s'")
	code, out, errs := runAudit(t, "--map", "alias="+alias, "--map", "fwd="+fwd, "--collation", "utf8mb4_general_ci")
	require.Equal(t, exitAuditRisk, code, errs)
	text := flat(out)
	assert.Contains(t, text, "utf8mb4_general_ci compares 300 Latin-1 test pairs differently from latin1_general_ci")
	assert.Contains(t, text, `FAIL duplicate_keys acc.alias: 1 set of rows of unique key PRIMARY become equal under utf8mb4_general_ci, so the conversion would fail with a duplicate key: "jose@example.org | jos\u00e9@example.org"`)
	assert.Contains(t, text, `FAIL key_values acc.fwd.address: 1 set of values that differ now become equal under utf8mb4_general_ci, so a key that finds one row finds the other too (a change in who gets mail): "munchen@example.org | m\u00fcnchen@example.org"`)
	assert.Less(t, strings.Index(out, "FAIL key_values"), strings.Index(out, "-- group 1, preflight"))
	res, err := runClientAs(t, s, "root", "acc", fixSQL(out))
	require.Error(t, err, res)
	assert.Contains(t, res, "mapgate preflight: the audit's preflight failed")

	// Without --collation the server's accent-sensitive collation keeps
	// them apart (ignorable characters still make the verdict review).
	code, out, errs = runAudit(t, "--map", "alias="+alias, "--map", "fwd="+fwd)
	require.Equal(t, exitAuditRisk, code, errs)
	assert.NotContains(t, out, "FAIL duplicate_keys")
	assert.NotContains(t, out, "FAIL key_values")
	assert.Contains(t, out, "FAIL answers")
	res, err = runClientAs(t, s, "root", "acc", reviewAccept+fixSQL(out))
	require.NoError(t, err, res)
}
