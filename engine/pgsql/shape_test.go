package pgsql

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"mapgate/pgsqlcf"
	"mapgate/sqlshape"
)

const (
	req = sqlshape.RoleRequired
	fil = sqlshape.RoleFilter
	opq = sqlshape.RoleOpaque
)

// TestRoles: what each parameter's impossible value proves, for the
// shapes PostgreSQL and MySQL read alike, and nothing (opaque, with a
// reason) for those they read otherwise.
func TestRoles(t *testing.T) {
	for _, tc := range []struct {
		query string
		want  []sqlshape.Role
		why   bool // the shape is refused
	}{
		{"SELECT goto FROM alias WHERE address='%s' AND active", []sqlshape.Role{req}, false},
		{"SELECT goto FROM alias WHERE address='%s' OR address='@%d'", []sqlshape.Role{fil, fil}, false},
		{"SELECT goto FROM alias WHERE NOT (address <> '%s')", []sqlshape.Role{opq}, false},
		{"SELECT goto FROM alias WHERE lower(address) = lower('%s')", []sqlshape.Role{opq}, false},
		// || is concatenation, not OR: the parameter stays required.
		{"SELECT goto FROM alias,alias_domain WHERE alias_domain.alias_domain = '%d' and alias.address = '%u' || '@' || alias_domain.target_domain AND alias.active='t'", []sqlshape.Role{req, req}, false},
		{"SELECT service || ':' || next_hop FROM transport_transport WHERE pattern='%s'", []sqlshape.Role{req}, false},
		{`SELECT "goto" FROM "alias" WHERE "address" = '%s'`, []sqlshape.Role{req}, false},
		{"SELECT goto FROM alias WHERE address = '%s' -- comment\nAND active", []sqlshape.Role{req}, false},
		{"(SELECT domain FROM domain WHERE domain='%s') UNION (SELECT alias_domain FROM alias_domain WHERE alias_domain='%s')", []sqlshape.Role{fil, fil}, false},
		{"SELECT transport FROM mailbox WHERE username='%s' AND transport<>'' AND quota >= 0", []sqlshape.Role{req}, false},
		{"SELECT DISTINCT goto FROM alias WHERE address='%s' UNION ALL SELECT goto FROM alias WHERE address='@%d'", []sqlshape.Role{fil, fil}, false},
		{"SELECT goto FROM alias WHERE address = ALL (SELECT '%s')", []sqlshape.Role{opq}, true},
		{"SELECT count(*) FROM alias WHERE address='%s'", []sqlshape.Role{fil}, false},
		// Read otherwise by MySQL: refused.
		{"SELECT goto FROM alias WHERE address ILIKE '%s'", []sqlshape.Role{opq}, true},
		{"SELECT goto FROM alias WHERE address = '%s'::text", []sqlshape.Role{opq}, true},
		{"SELECT goto FROM alias WHERE address ~ '%s'", []sqlshape.Role{opq}, true},
		{"SELECT goto FROM alias WHERE address = E'%s'", []sqlshape.Role{req}, false}, // the parameter is the whole string
		{"SELECT goto FROM alias WHERE x = E'a' AND address = '%s'", []sqlshape.Role{opq}, true},
		{"SELECT goto FROM alias WHERE address = '%s' || 1 + 2", []sqlshape.Role{opq}, true},
		{"SELECT goto FROM alias WHERE address IS NOT DISTINCT FROM '%s'", []sqlshape.Role{opq}, true},
		{"SELECT goto FROM alias WHERE address = ANY(ARRAY['%s'])", []sqlshape.Role{opq}, true},
		{"SELECT goto FROM alias WHERE address = '%s' AND x = 'a\\b'", []sqlshape.Role{opq}, true},
	} {
		tpl, err := pgsqlcf.ParseQuery(tc.query)
		require.NoError(t, err, tc.query)
		got, why := roles(tpl.SQL, len(tpl.Params))
		assert.Equal(t, tc.want, got, "%s (%s)", tc.query, why)
		assert.Equal(t, tc.why, why != "", "%s: %q", tc.query, why)
	}
}

// TestCorpusRoles prints the role of every parameter of the published
// pgsql_table(5) files, and checks none is refused for a reason other
// than those listed.
func TestCorpusRoles(t *testing.T) {
	files, _ := filepath.Glob("../../testdata/corpus/*-pgsql/*.cf")
	require.NotEmpty(t, files)
	read := 0
	for _, f := range files {
		text, err := os.ReadFile(f)
		require.NoError(t, err)
		p := filepath.Join(t.TempDir(), filepath.Base(f))
		require.NoError(t, os.WriteFile(p, []byte(hostsLine.ReplaceAllString(string(text), "hosts = localhost")), 0o600))
		cf, err := pgsqlcf.Parse(p)
		require.NoError(t, err, f)
		rs, why := roles(cf.Query.SQL, len(cf.Query.Params))
		t.Logf("%s: %v %s", f[len("../../testdata/corpus/"):], rs, why)
		if why == "" {
			read++
		}
	}
	t.Logf("%d of %d corpus queries read", read, len(files))
}

var hostsLine = regexp.MustCompile(`(?m)^hosts\s*=.*$`)
