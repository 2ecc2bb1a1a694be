package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"mapgate/audit"
	"mapgate/internal/testdb"
)

// corpusCF is the path of one of a project's .cf files written by
// corpusCFs.
func corpusCF(t *testing.T, cfs []string, name string) string {
	t.Helper()
	for _, p := range cfs {
		if filepath.Base(p) == name {
			return p
		}
	}
	t.Fatalf("no %s among %v", name, cfs)
	return ""
}

// probesByClass indexes a file's probes.
func probesByClass(f *audit.FileReport) map[string]*audit.Probe {
	out := map[string]*audit.Probe{}
	for _, p := range f.Probes {
		out[p.Class] = p
	}
	return out
}

// TestAuditAnonaddyProcedure: anonaddy's CALL check_access('%s') fails for
// the audit's 4-byte probe (1366: the procedure's parameter is utf8mb3)
// and for the over-long one (1406: VARCHAR(254)). Both are findings (AT
// RISK, exit 1) and every probe runs. Before, the first error stopped the
// audit of the file: "NOT AUDITED: the query failed", exit 2, and the
// over-long probe never ran.
func TestAuditAnonaddyProcedure(t *testing.T) {
	s := testdb.Start(t)
	corpusDB(t, s, "anonaddy", "anonaddy")
	s.MustExec(t, fmt.Sprintf("GRANT EXECUTE ON anonaddy.* TO '%[1]s'@'127.0.0.1'; GRANT EXECUTE ON anonaddy.* TO '%[1]s'@'localhost';", testdb.User))
	cf := corpusCF(t, corpusCFs(t, s, "anonaddy", "anonaddy"), "mysql-recipient-access.cf")

	code, out, errs := runAudit(t, "--map", "access="+cf)
	require.Equal(t, exitAuditRisk, code, errs+out)
	assert.Contains(t, out, "== map access: AT RISK")
	assert.NotContains(t, out, "NOT AUDITED")

	code, r := auditJSON(t, "--map", "access="+cf)
	require.Equal(t, exitAuditRisk, code)
	f := r.Maps[0].Files[0]
	require.Nil(t, f.Failure)
	p := probesByClass(f)
	require.Len(t, f.Probes, 8, "every probe runs")
	assert.Equal(t, "ok", p["ascii"].Server)
	for class, server := range map[string]string{"4byte": "error 1366", "too_long": "error 1406"} {
		assert.True(t, p[class].Breaks, class)
		assert.Equal(t, server, p[class].Server, class)
	}
	assert.True(t, f.AtRisk)
	for _, pr := range f.Probes {
		t.Logf("%-12s server %-12s breaks %-5v mapgate %s", pr.Class, pr.Server, pr.Breaks, pr.Mapgate)
	}
}

// TestAuditFroxlorSenderPermissions: Froxlor's sender_permissions query
// compares %s with utf8mb3 columns inside IN (SELECT ... UNION SELECT
// ...). The server refuses 4-byte keys (1267); mapgate binds NULL for both
// parameters and answers NOTFOUND, and answers invalid UTF-8 NOTFOUND
// before any query. The audit says what mapgate's own lookup path does.
// Before, its own prediction said "mapgate's pre-check lets 4-byte and
// invalid UTF-8 keys through: only the schema fix protects this map".
func TestAuditFroxlorSenderPermissions(t *testing.T) {
	s := testdb.Start(t)
	corpusDB(t, s, "froxlor", "froxlor")
	cf := corpusCF(t, corpusCFs(t, s, "froxlor", "froxlor"), "mysql-virtual_sender_permissions.cf")

	code, r := auditJSON(t, "--map", "sender="+cf)
	require.Equal(t, exitAuditRisk, code)
	f := r.Maps[0].Files[0]
	require.Nil(t, f.Failure)
	for _, fd := range f.Findings {
		assert.NotContains(t, []string{"prediction_mismatch", "mapgate_temp_breaking"}, fd.Kind, fd.Text)
		assert.NotContains(t, fd.Text, "only the schema fix protects")
	}
	p := probesByClass(f)
	assert.True(t, p["4byte"].Breaks)
	assert.Equal(t, "notfound", p["4byte"].MapgateAnswer)
	assert.Contains(t, p["4byte"].Mapgate, "?1 ?2 bound as NULL")
	assert.True(t, p["4byte"].Agrees)
	assert.Equal(t, "notfound, no query: invalid_utf8", p["invalid_utf8"].Mapgate)
	assert.True(t, p["invalid_utf8"].Agrees)
	for _, pr := range f.Probes {
		t.Logf("%-12s server %-12s breaks %-5v mapgate %s", pr.Class, pr.Server, pr.Breaks, pr.Mapgate)
		assert.True(t, pr.Agrees, pr.Class)
	}
	_, out, _ := runAudit(t, "--map", "sender="+cf)
	assert.NotContains(t, strings.ToLower(flat(out)), "only the schema fix")
}
