package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"mapgate/audit"
	"mapgate/internal/testdb"
)

// auditShared is one private MariaDB for the audit tests, started by the
// first test that needs it and closed after the last.
var auditShared struct {
	mu    sync.Mutex
	users int
	s     *testdb.Server
}

// The queries of PostfixAdmin's virtual_alias_maps and
// virtual_alias_domain_maps.
const (
	qAlias       = "SELECT goto FROM alias WHERE address='%s' AND active = '1'"
	qAliasDomain = "SELECT goto FROM alias,alias_domain WHERE alias_domain.alias_domain = '%d' and alias.address = CONCAT('%u', '@', alias_domain.target_domain) AND alias.active='1' AND alias_domain.active='1'"
)

// auditServer returns the shared server with the test schemas:
//
//	postfix  PostfixAdmin's tables in latin1/latin1_general_ci
//	pf3      the same in utf8mb3, pf4 in utf8mb4
//	mixed    latin1, alias_domain left in latin1_swedish_ci by an old install
//	legacy   latin1, non-ASCII addresses written as UTF-8 through a latin1 connection
//	nokey    latin1, alias without a primary key (lookups scan the table)
//
// and a user nopriv/nopriv with no privileges at all.
func auditServer(t *testing.T) *testdb.Server {
	t.Helper()
	auditShared.mu.Lock()
	defer auditShared.mu.Unlock()
	if auditShared.s == nil {
		s, err := testdb.New()
		require.NoError(t, err)
		s.MustExec(t, testdb.Schema("postfix", "latin1", "latin1_general_ci"))
		s.MustExec(t, testdb.Schema("pf3", "utf8mb3", "utf8mb3_general_ci"))
		s.MustExec(t, testdb.Schema("pf4", "utf8mb4", "utf8mb4_general_ci"))
		s.MustExec(t, testdb.Schema("mixed", "latin1", "latin1_general_ci")+
			"ALTER TABLE mixed.alias_domain CONVERT TO CHARACTER SET latin1 COLLATE latin1_swedish_ci;\n")
		// josé@example.jp and ほげ@example.jp as UTF-8 bytes in latin1 columns.
		s.MustExec(t, testdb.Schema("legacy", "latin1", "latin1_general_ci")+`
DELETE FROM legacy.alias WHERE address LIKE 'jos%';
INSERT INTO legacy.alias (address, goto, domain) VALUES
 (X'6A6F73C3A9406578616D706C652E6A70', 'jose@example.jp', 'example.jp'),
 (X'E381BBE38192406578616D706C652E6A70', 'hoge@example.jp', 'example.jp');
`)
		s.MustExec(t, testdb.Schema("nokey", "latin1", "latin1_general_ci")+"ALTER TABLE nokey.alias DROP PRIMARY KEY;\n")
		s.MustExec(t, "CREATE USER 'nopriv'@'127.0.0.1' IDENTIFIED BY 'nopriv';")
		auditShared.s = s
	}
	auditShared.users++
	t.Cleanup(func() {
		auditShared.mu.Lock()
		defer auditShared.mu.Unlock()
		if auditShared.users--; auditShared.users == 0 {
			auditShared.s.Close()
			auditShared.s = nil
		}
	})
	return auditShared.s
}

// writeCF writes a .cf file for db and query into dir and returns its path.
func writeCF(t *testing.T, dir, name string, s *testdb.Server, db, query string, extra ...string) string {
	t.Helper()
	text := fmt.Sprintf("hosts = %s\nuser = %s\npassword = %s\ndbname = %s\nquery = %s\n",
		s.Addr(), testdb.User, testdb.Password, db, query)
	for _, e := range extra {
		text += e + "\n"
	}
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(text), 0o600))
	return p
}

// estimates are numbers information_schema and EXPLAIN only estimate.
var estimates = regexp.MustCompile(`about \d+ rows`)

// runAudit runs mapgate audit and returns the exit code, stdout (with row
// estimates replaced) and stderr.
func runAudit(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(append([]string{"audit"}, args...), &out, &errb)
	return code, estimates.ReplaceAllString(out.String(), "about N rows"), errb.String()
}

// flat joins wrapped lines.
func flat(s string) string { return strings.Join(strings.Fields(s), " ") }

func TestAuditLatin1PostfixAdmin(t *testing.T) {
	s := auditServer(t)
	t.Parallel()
	dir := t.TempDir()
	alias := writeCF(t, dir, "mysql_virtual_alias_maps.cf", s, "postfix", qAlias)
	domain := writeCF(t, dir, "mysql_virtual_alias_domain_maps.cf", s, "postfix", qAliasDomain)
	code, out, errs := runAudit(t, "--map", "virtual_alias="+alias, "--map", "virtual_alias="+domain)
	require.Equal(t, exitAuditRisk, code, errs)
	golden(t, "audit-latin1.golden", []byte(out))
	assert.Contains(t, out, "BREAKS (error 1267)")
	assert.Contains(t, out, "ALTER TABLE `postfix`.`alias` CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_uca1400_as_ci;")
	assert.Contains(t, out, "ALTER TABLE `postfix`.`alias_domain` CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_uca1400_as_ci;")
}

func TestAuditUTF8MB3(t *testing.T) {
	s := auditServer(t)
	t.Parallel()
	dir := t.TempDir()
	alias := writeCF(t, dir, "alias.cf", s, "pf3", qAlias)
	code, out, errs := runAudit(t, "--map", "virtual_alias="+alias, "--json")
	require.Equal(t, exitAuditRisk, code, errs)
	var r audit.Report
	require.NoError(t, json.Unmarshal([]byte(out), &r))
	require.Len(t, r.Maps, 1)
	f := r.Maps[0].Files[0]
	breaks := map[string]bool{}
	for _, p := range f.Probes {
		breaks[p.Class] = p.Breaks
		assert.True(t, p.Agrees, "mapgate's pre-check and the server disagree on %s", p.Class)
	}
	assert.Equal(t, map[string]bool{"ascii": false, "latin1": false, "japanese": false, "cyrillic": false,
		"greek": false, "4byte": true, "invalid_utf8": true, "too_long": false}, breaks)
	require.Len(t, r.Fix, 1)
	assert.Equal(t, "alias", r.Fix[0].Table)

	code, text, _ := runAudit(t, "--map", "virtual_alias="+alias)
	require.Equal(t, exitAuditRisk, code)
	golden(t, "audit-utf8mb3.golden", []byte(text))
}

func TestAuditUTF8MB4(t *testing.T) {
	s := auditServer(t)
	t.Parallel()
	dir := t.TempDir()
	alias := writeCF(t, dir, "mysql_virtual_alias_maps.cf", s, "pf4", qAlias)
	domain := writeCF(t, dir, "mysql_virtual_alias_domain_maps.cf", s, "pf4", qAliasDomain)
	// The same maps from a configuration file.
	cfg := filepath.Join(dir, "mapgate.cf")
	require.NoError(t, os.WriteFile(cfg, []byte("maps = virtual_alias="+alias+", virtual_alias_domain="+domain+"\n"), 0o600))
	code, out, errs := runAudit(t, "--config", cfg)
	require.Equal(t, exitAuditSafe, code, errs+out)
	golden(t, "audit-utf8mb4.golden", []byte(out))
	assert.NotContains(t, out, "== Fix")
}

func TestAuditMixedCollations(t *testing.T) {
	s := auditServer(t)
	t.Parallel()
	dir := t.TempDir()
	domain := writeCF(t, dir, "mysql_virtual_alias_domain_maps.cf", s, "mixed", qAliasDomain)
	code, out, errs := runAudit(t, "--map", "virtual_alias_domain="+domain)
	require.Equal(t, exitAuditRisk, code, errs)
	golden(t, "audit-mixed.golden", []byte(out))
	assert.Contains(t, flat(out), "Even plain ASCII keys make the query fail")
}

func TestAuditDoubleEncoded(t *testing.T) {
	s := auditServer(t)
	t.Parallel()
	dir := t.TempDir()
	// What such an install runs: the old libmysql default, latin1.
	alias := writeCF(t, dir, "mysql_virtual_alias_maps.cf", s, "legacy", qAlias, "charset = latin1")
	code, out, errs := runAudit(t, "--map", "virtual_alias="+alias)
	require.Equal(t, exitAuditSafe, code, errs)
	golden(t, "audit-double.golden", []byte(out))
	assert.Contains(t, out, `"jos\xc3\xa9@example.jp" = UTF-8 "jos\u00e9@example.jp"`)
	assert.Contains(t, out, "MODIFY `address` VARBINARY(255) NOT NULL DEFAULT ''")

	// Over utf8mb4 the same data is at risk, and non-ASCII keys never match.
	alias4 := writeCF(t, dir, "utf8mb4.cf", s, "legacy", qAlias)
	code, out, _ = runAudit(t, "--map", "virtual_alias="+alias4)
	require.Equal(t, exitAuditRisk, code)
	assert.Contains(t, flat(out), "Over a utf8mb4 connection no non-ASCII key matches these rows")
	assert.Contains(t, flat(out), "until the conversion, set charset = latin1")
}

func TestAuditFullScan(t *testing.T) {
	s := auditServer(t)
	t.Parallel()
	dir := t.TempDir()
	alias := writeCF(t, dir, "alias.cf", s, "nokey", qAlias, "charset = latin1")
	code, out, errs := runAudit(t, "--map", "virtual_alias="+alias, "--json")
	// No key breaks the map over its latin1 connection, but the fix the
	// audit proposes (to utf8mb4) would change answers: at risk.
	require.Equal(t, exitAuditRisk, code, errs)
	var r audit.Report
	require.NoError(t, json.Unmarshal([]byte(out), &r))
	require.Len(t, r.Groups, 1)
	assert.Equal(t, "review", r.Groups[0].Verdict)
	assert.False(t, r.Maps[0].AtRisk())
	f := r.Maps[0].Files[0]
	require.Len(t, f.Scans, 1)
	assert.Equal(t, "alias", f.Scans[0].Table)
}

func TestAuditSchema(t *testing.T) {
	s := auditServer(t)
	t.Parallel()
	dsn := fmt.Sprintf("%s:%s@tcp(%s)/", testdb.User, testdb.Password, s.Addr())
	code, out, errs := runAudit(t, "--dsn", dsn, "--database", "mixed")
	require.Equal(t, exitAuditRisk, code, errs)
	golden(t, "audit-schema-mixed.golden", []byte(out))
	assert.Contains(t, flat(out), "cannot be compared (error 1267), even for ASCII keys")

	code, _, errs = runAudit(t, "--dsn", dsn, "--database", "pf4")
	assert.Equal(t, exitAuditSafe, code, errs)
}

func TestAuditCannotRun(t *testing.T) {
	s := auditServer(t)
	t.Parallel()
	dir := t.TempDir()
	cases := []struct {
		name string
		args func() []string
		msg  string
	}{
		{"missing cf", func() []string { return []string{"--map", "virtual_alias=testdata/no-such-file.cf"} },
			"testdata/no-such-file.cf: cannot read testdata/no-such-file.cf: file does not exist"},
		{"missing table", func() []string {
			return []string{"--map", "x=" + writeCF(t, dir, "missing.cf", s, "postfix", "SELECT goto FROM no_such_table WHERE address='%s'")}
		}, "a table of the query does not exist"},
		{"no privileges", func() []string {
			p := writeCF(t, dir, "nopriv.cf", s, "postfix", qAlias)
			text, err := os.ReadFile(p)
			require.NoError(t, err)
			text = []byte(strings.NewReplacer("user = postfix", "user = nopriv", "password = postfix", "password = nopriv").Replace(string(text)))
			require.NoError(t, os.WriteFile(p, text, 0o600))
			return []string{"--map", "x=" + p}
		}, "no privileges"},
		{"cannot connect", func() []string {
			port, err := testdb.FreePort()
			require.NoError(t, err)
			p := filepath.Join(dir, "down.cf")
			require.NoError(t, os.WriteFile(p, []byte(fmt.Sprintf("hosts = 127.0.0.1:%d\nuser = u\npassword = p\ndbname = postfix\nquery = %s\n", port, qAlias)), 0o600))
			return []string{"--map", "x=" + p}
		}, "cannot connect"},
		{"schema without privileges", func() []string {
			return []string{"--dsn", fmt.Sprintf("nopriv:nopriv@tcp(%s)/", s.Addr()), "--database", "postfix"}
		}, "no privileges"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, errs := runAudit(t, c.args()...)
			assert.Equal(t, exitAuditFailed, code, out)
			assert.Contains(t, errs, c.msg)
			assert.Contains(t, out, "NOT AUDITED")
		})
	}
}

// TestAuditGoldenMissingCF pins the human output when the file is missing.
func TestAuditGoldenMissingCF(t *testing.T) {
	code, out, _ := runAudit(t, "--map", "virtual_alias=testdata/no-such-file.cf")
	require.Equal(t, exitAuditFailed, code)
	golden(t, "audit-missing-cf.golden", []byte(out))
}
