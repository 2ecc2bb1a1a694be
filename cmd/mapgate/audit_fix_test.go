package main

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
	assert.Contains(t, res, "mapgate preflight: the audit's preflight failed (duplicate_keys)")
	assert.Equal(t, "latin1_general_ci", tableCollation(t, s, "twins", "alias"))

	plain := writeCF(t, dir, "plain.cf", s, "plain", q)
	code, out, errs = runAudit(t, "--map", "alias="+plain)
	require.Equal(t, exitAuditRisk, code, errs)
	assert.NotContains(t, out, "NOT READY")
	res, err = runClientAs(t, s, "halfadmin", "plain", fixSQL(out))
	require.Error(t, err, res)
	assert.Contains(t, res, "mapgate preflight: plain.alias: needs ALTER, CREATE, INSERT")
	assert.Equal(t, "latin1_general_ci", tableCollation(t, s, "plain", "alias"))

	// As root the same statements run, and jose@ and josé@ stay apart.
	res, err = runClientAs(t, s, "root", "plain", fixSQL(out))
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

	res, err := runClientAs(t, s, "root", "joined", fixSQL(out))
	require.NoError(t, err, res)
	assert.Equal(t, tableCollation(t, s, "joined", "alias"), tableCollation(t, s, "joined", "fwd"))
	code, out, errs = runAudit(t, "--map", "fwd="+cf)
	assert.Equal(t, exitAuditSafe, code, errs+out)
}
