package pgsqlcf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func writeCF(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "map.cf")
	require.NoError(t, os.WriteFile(p, []byte(text), 0o600))
	return p
}

// TestParseFile reads every parameter of pgsql_table(5).
func TestParseFile(t *testing.T) {
	cf, err := Parse(writeCF(t, `# a comment
hosts = unix:/run/pg inet:db1:5433, db2 [::1]:6432 postgresql://u:p@h/db?sslmode=disable /tmp
user = postfix
password = secret
dbname = mail
encoding = iso-8859-1
retry_interval = 5
idle_interval = 7
expansion_limit = 2
domain = example.jp, hash:/etc/postfix/d # rest
result_format = smtp:[%s]
query = SELECT transport FROM domain
   WHERE domain = '%d' AND active
colour = blue
`))
	require.NoError(t, err)
	var kinds []HostKind
	var addrs []string
	for _, h := range cf.Hosts {
		kinds = append(kinds, h.Kind)
		addrs = append(addrs, h.Addr())
	}
	require.Equal(t, []HostKind{Unix, Unix, TCP, TCP, TCP, URI}, kinds)
	require.Equal(t, []string{"/run/pg/.s.PGSQL.5432", "/tmp/.s.PGSQL.5432", "db1:5433", "db2:5432", "[::1]:6432", ""}, addrs)
	u, p, d, err := cf.Hosts[5].URIFields()
	require.NoError(t, err)
	require.Equal(t, []string{"u", "p", "db"}, []string{u, p, d})
	require.Equal(t, "postfix", cf.User)
	require.Equal(t, "secret", cf.Password)
	require.Equal(t, "mail", cf.DBName)
	require.Equal(t, "LATIN1", cf.Encoding)
	require.True(t, cf.EncodingSet)
	require.Equal(t, 5*time.Second, cf.RetryInterval)
	require.Equal(t, 7*time.Second, cf.IdleInterval)
	require.Equal(t, 2, cf.ExpansionLimit)
	require.Equal(t, []string{"example.jp", "hash:/etc/postfix/d"}, cf.Domain)
	require.Equal(t, "SELECT transport FROM domain   WHERE domain = $1 AND active", cf.Query.SQL)
	require.Equal(t, []string{"colour"}, cf.Unknown)
	require.Equal(t, 14, cf.Line["colour"])
	requireWarning(t, cf, ":10: ignoring text starting with '#'")
	requireWarning(t, cf, ":6: encoding needs Postfix 3.8")
	requireWarning(t, cf, ":2: postgresql://u:p@h/db?sslmode=disable: a URI host ignores")

	// result_format's key requirements apply to the query (db_common.c).
	_, ok := cf.Query.Expand("bob@example.jp", nil)
	require.True(t, ok)
	_, ok = cf.Query.Expand("bob", nil)
	require.False(t, ok)
	out, skipped := cf.ResultFormat.Append(nil, "bob@example.jp", "relay")
	require.False(t, skipped)
	require.Equal(t, "smtp:[relay]", string(out))
}

func requireWarning(t *testing.T, cf *File, want string) {
	t.Helper()
	for _, w := range cf.Warnings {
		if strings.Contains(w, want) {
			return
		}
	}
	t.Fatalf("no warning %q in %q", want, cf.Warnings)
}

// TestParseDefaults: no hosts means TCP to localhost (libpq, not MySQL's
// socket), UTF8, 60 s intervals; URIs need no dbname.
func TestParseDefaults(t *testing.T) {
	cf, err := Parse(writeCF(t, "dbname = mail\nquery = SELECT 1 WHERE '%s' = 'x'\n"))
	require.NoError(t, err)
	require.Equal(t, []Host{{Kind: TCP, Host: "localhost", Spec: "localhost"}}, cf.Hosts)
	require.Equal(t, "UTF8", cf.Encoding)
	require.False(t, cf.EncodingSet)
	require.Equal(t, 60*time.Second, cf.RetryInterval)

	cf, err = Parse(writeCF(t, "hosts = postgres://db.example/mail\nquery = SELECT 1 WHERE '%s' = 'x'\n"))
	require.NoError(t, err)
	require.Equal(t, URI, cf.Hosts[0].Kind)
	requireWarning(t, cf, "only postgresql://")
}

// TestParseLegacy builds the queries of the obsolete interfaces.
func TestParseLegacy(t *testing.T) {
	cf, err := Parse(writeCF(t, "dbname = d\nselect_function = lookup_alias\ntable = ignored\n"))
	require.NoError(t, err)
	require.Equal(t, "SELECT lookup_alias('%s')", cf.QueryText)
	require.Equal(t, "SELECT lookup_alias($1)", cf.Query.SQL)
	require.NotEmpty(t, cf.Warnings)

	cf, err = Parse(writeCF(t, "dbname = d\ntable = alias\nselect_field = goto\nwhere_field = address\nadditional_conditions = AND active = true\n"))
	require.NoError(t, err)
	require.Equal(t, "SELECT goto FROM alias WHERE address=$1 AND active = true", cf.Query.SQL)
}

// TestParseErrors names the file, line and parameter.
func TestParseErrors(t *testing.T) {
	for text, want := range map[string]string{
		"query = SELECT '%s'\n":                                         "dbname: parameter is required",
		"dbname = d\n":                                                  "query: parameter is required",
		"dbname = d\ntable = t\nselect_field = f\n":                     "where_field: parameter not defined",
		"dbname = d\nquery = SELECT '%x'\n":                             ":2: query: invalid query template: unknown expansion %x",
		"dbname = d\nquery = SELECT '%s'\nresult_format = %q\n":         ":3: result_format: invalid result template",
		"dbname = d\nquery = SELECT '%s'\nencoding = klingon\n":         ":3: encoding: \"klingon\" is not a PostgreSQL encoding",
		"dbname = d\nquery = SELECT '%s'\nhosts = mysql://x\n":          "hosts: \"mysql://x\": libpq knows only",
		"dbname = d\nquery = SELECT '%s'\nhosts = db:x\n":               "bad port",
		"dbname = d\nquery = SELECT '%s'\nhosts = ::1\n":                "IPv6",
		"dbname = d\nquery = SELECT '%s'\nretry_interval = 0\n":         "retry_interval: invalid value 0 < 1",
		"dbname = d\nquery = SELECT '%s'\nhosts = /run/.s.PGSQL.5432\n": "directory",
	} {
		_, err := Parse(writeCF(t, text))
		require.ErrorContains(t, err, want, text)
	}
}

// TestConnString quotes values as libpq's keyword/value syntax wants.
func TestConnString(t *testing.T) {
	cf := &File{User: "post fix", Password: `it's\x`, DBName: "mail"}
	require.Equal(t, `host='/run/pg' user='post fix' password='it\'s\\x' dbname='mail'`, cf.ConnString(Host{Kind: Unix, Host: "/run/pg"}))
	require.Equal(t, `host='db' port='5433' user='post fix' password='it\'s\\x' dbname='mail'`, cf.ConnString(Host{Kind: TCP, Host: "db", Port: "5433"}))
	require.Equal(t, "postgresql://h/x", cf.ConnString(Host{Kind: URI, URI: "postgresql://h/x"}))
}
