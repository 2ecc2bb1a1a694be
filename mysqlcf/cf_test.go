package mysqlcf

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseCFPostfixAdmin(t *testing.T) {
	t.Parallel()
	localhost := []Host{{Network: "unix", Addr: DefaultUnixSocket, Spec: "localhost"}}
	tests := []struct {
		file   string
		sql    string
		params []string // Expansion of each parameter
		lits   []string // Literal of each parameter
		uses   Uses
	}{
		{"mysql_virtual_alias_maps.cf",
			"SELECT goto FROM alias WHERE address=? AND active = '1'",
			[]string{"%s"}, []string{"%s"}, UsesKey},
		{"mysql_virtual_alias_domain_maps.cf",
			"SELECT goto FROM alias,alias_domain WHERE alias_domain.alias_domain = ? and alias.address = CONCAT(?, '@', alias_domain.target_domain) AND alias.active='1' AND alias_domain.active='1'",
			[]string{"%d", "%u"}, []string{"%d", "%u"}, UsesDomain | UsesUser},
		{"mysql_virtual_alias_domain_catchall_maps.cf",
			"SELECT goto FROM alias,alias_domain WHERE alias_domain.alias_domain = ? and alias.address = CONCAT('@', alias_domain.target_domain) AND alias.active='1' AND alias_domain.active='1'",
			[]string{"%d"}, []string{"%d"}, UsesDomain},
		{"mysql_virtual_alias_catchall_maps.cf",
			"SELECT goto FROM alias WHERE address=? AND active = '1'",
			[]string{"mixed"}, []string{"@%d"}, UsesDomain},
		{"mysql_virtual_domains_maps.cf",
			"SELECT domain FROM domain WHERE domain=? AND active = '1'",
			[]string{"%s"}, []string{"%s"}, UsesKey},
		{"mysql_virtual_mailbox_maps.cf",
			"SELECT CONCAT(domain,'/',maildir) FROM mailbox WHERE username=? AND active = '1'",
			[]string{"%s"}, []string{"%s"}, UsesKey},
		{"mysql_virtual_alias_domain_mailbox_maps.cf",
			"SELECT maildir FROM mailbox,alias_domain WHERE alias_domain.alias_domain = ? and mailbox.username = CONCAT(?, '@', alias_domain.target_domain) AND mailbox.active='1' AND alias_domain.active='1'",
			[]string{"%d", "%u"}, []string{"%d", "%u"}, UsesDomain | UsesUser},
		{"mysql_relay_domains.cf",
			"SELECT domain FROM domain WHERE domain=? AND active = '1' AND (transport LIKE 'smtp%' OR transport LIKE 'relay%')",
			[]string{"%s"}, []string{"%s"}, UsesKey},
		{"mysql_transport_maps.cf",
			"SELECT REPLACE(transport, 'virtual', ':') AS transport FROM domain WHERE domain=? AND active = '1'",
			[]string{"%s"}, []string{"%s"}, UsesKey},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			cf, err := Parse(filepath.Join("testdata", "postfixadmin", tt.file))
			require.NoError(t, err)
			assert.Equal(t, localhost, cf.Hosts)
			assert.Equal(t, "postfix", cf.User)
			assert.Equal(t, "password", cf.Password)
			assert.Equal(t, "postfix", cf.DBName)
			assert.Equal(t, "utf8mb4", cf.Charset)
			assert.Equal(t, "client", cf.OptionGroup)
			assert.Equal(t, 60*time.Second, cf.IdleInterval)
			assert.Equal(t, 60*time.Second, cf.RetryInterval)
			assert.True(t, cf.RequireResultSet)
			assert.Zero(t, cf.ExpansionLimit)
			assert.Empty(t, cf.Unknown)
			assert.Empty(t, cf.Warnings)
			assert.Equal(t, "%s", cf.ResultFormat.String())
			assert.Equal(t, tt.sql, cf.Query.SQL)
			assert.Equal(t, tt.uses, cf.Query.Uses())
			var exps, lits []string
			for _, p := range cf.Query.Params {
				exps = append(exps, p.Expansion)
				lits = append(lits, p.Literal)
				assert.True(t, p.Quoted)
				assert.Equal(t, byte('?'), cf.Query.SQL[p.Offset])
			}
			assert.Equal(t, tt.params, exps)
			assert.Equal(t, tt.lits, lits)
		})
	}
}

func TestParseCFFiles(t *testing.T) {
	t.Parallel()

	t.Run("legacy", func(t *testing.T) {
		cf, err := Parse("testdata/cf/legacy.cf")
		require.NoError(t, err)
		assert.Equal(t, "SELECT goto FROM alias WHERE address='%s' and active = '1'", cf.QueryText)
		assert.Equal(t, "SELECT goto FROM alias WHERE address=? and active = '1'", cf.Query.SQL)
		assert.Equal(t, []Host{{"tcp", "127.0.0.1:3306", "127.0.0.1"}}, cf.Hosts)
	})

	t.Run("continuation", func(t *testing.T) {
		cf, err := Parse("testdata/cf/continuation.cf")
		require.NoError(t, err)
		assert.Equal(t, []Host{
			{"unix", "/var/run/mysqld/mysqld.sock", "unix:/var/run/mysqld/mysqld.sock"},
			{"tcp", "db1.example.com:3307", "db1.example.com:3307"},
			{"tcp", "db2.example.com:3306", "db2.example.com"},
		}, cf.Hosts)
		// Leading white space of continuation lines is kept; comment and
		// blank lines in between are dropped.
		assert.Equal(t, "SELECT goto   FROM alias   WHERE address = '%s'", cf.QueryText)
		assert.Equal(t, map[string]int{"user": 1, "dbname": 2, "hosts": 3, "query": 8}, cf.Line)
	})

	t.Run("duplicates and unknown", func(t *testing.T) {
		cf, err := Parse("testdata/cf/duplicates.cf")
		require.NoError(t, err)
		assert.Equal(t, "second", cf.DBName)
		assert.Equal(t, 3, cf.Line["dbname"])
		assert.Equal(t, []string{"bogus_parameter", "tls_cafile"}, cf.Unknown)
		assert.Equal(t, []string{"testdata/cf/duplicates.cf:3: overriding earlier entry: dbname=first"}, cf.Warnings)
		assert.Empty(t, cf.TLS.CAFile, "parameter names are case-sensitive")
	})

	t.Run("every parameter", func(t *testing.T) {
		cf, err := Parse("testdata/cf/all.cf")
		require.NoError(t, err)
		assert.Equal(t, []Host{
			{"unix", "/tmp/mysql.sock", "unix:/tmp/mysql.sock"},
			{"unix", DefaultUnixSocket, "LOCALHOST"},
			{"tcp", "db1.example.com:3307", "inet:db1.example.com:3307"},
			{"tcp", "[::1]:3308", "[::1]:3308"},
			{"tcp", "192.0.2.1:3306", "192.0.2.1"},
		}, cf.Hosts)
		assert.Equal(t, "p w", cf.Password)
		assert.Equal(t, "latin1", cf.Charset)
		assert.Equal(t, 5*time.Second, cf.IdleInterval)
		assert.Equal(t, time.Second, cf.RetryInterval)
		assert.Equal(t, []string{"example.com", "!sub.example.com", "hash:/etc/postfix/d", "/etc/postfix/domains"}, cf.Domain)
		assert.Equal(t, 1, cf.ExpansionLimit)
		assert.True(t, cf.ExpansionLimitExceeded(2))
		assert.False(t, cf.ExpansionLimitExceeded(1))
		assert.Equal(t, "/etc/my.cnf", cf.OptionFile)
		assert.Equal(t, "", cf.OptionGroup)
		assert.Equal(t, TLSSettings{CertFile: "/c.pem", KeyFile: "/k.pem", CAFile: "/ca.pem", CAPath: "/ca", Ciphers: "HIGH", VerifyCert: true}, cf.TLS)
		assert.False(t, cf.RequireResultSet)
		assert.Equal(t, "smtp:[%s]", cf.ResultFormat.String())
	})
}

func TestParseCFErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file, want string
	}{
		{"missing_dbname.cf", "testdata/cf/missing_dbname.cf: dbname: parameter is required"},
		{"bad_integer.cf", `testdata/cf/bad_integer.cf:4: retry_interval: bad numerical configuration: "10s"`},
		{"bad_expansion.cf", `testdata/cf/bad_expansion.cf:3: query: invalid query template: unknown expansion %x (at byte 39 of "SELECT goto FROM alias  WHERE address='%x'")`},
		{"unterminated.cf", `testdata/cf/unterminated.cf:3: query: invalid query template: unterminated '…' string (at byte 37 of "SELECT goto FROM alias WHERE address='%s")`},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			_, err := Parse(filepath.Join("testdata", "cf", tt.file))
			require.Error(t, err)
			assert.Equal(t, tt.want, err.Error())
			var ce *Error
			assert.ErrorAs(t, err, &ce)
		})
	}
	_, err := Parse("testdata/cf/no-such-file.cf")
	assert.Error(t, err)
}

func TestParseCFBytes(t *testing.T) {
	t.Parallel()
	const q = "dbname = d\nquery = SELECT v FROM t WHERE k='%s'\n"
	tests := []struct {
		name, data string
		want       string // error; "" for success
		check      func(t *testing.T, cf *File)
	}{
		{name: "minimal", data: q, check: func(t *testing.T, cf *File) {
			assert.Equal(t, []Host{{"unix", DefaultUnixSocket, "localhost"}}, cf.Hosts)
			assert.Nil(t, cf.Domain)
		}},
		{name: "crlf", data: "dbname = d\r\nquery = SELECT v FROM t WHERE k='%s'\r\n", check: func(t *testing.T, cf *File) {
			assert.Equal(t, "d", cf.DBName)
			assert.Equal(t, "SELECT v FROM t WHERE k=?", cf.Query.SQL)
		}},
		{name: "no trailing comment", data: q + "user = bob # not a comment\n", check: func(t *testing.T, cf *File) {
			assert.Equal(t, "bob # not a comment", cf.User)
		}},
		{name: "no $ expansion", data: q + "password = $secret\n", check: func(t *testing.T, cf *File) {
			assert.Equal(t, "$secret", cf.Password)
		}},
		{name: "name=value without spaces", data: "dbname=d\nquery=SELECT 1 FROM t WHERE k=%s\n", check: func(t *testing.T, cf *File) {
			assert.Equal(t, "SELECT 1 FROM t WHERE k=?", cf.Query.SQL)
			assert.False(t, cf.Query.Params[0].Quoted)
		}},
		{name: "leading white space line is ignored", data: "  user = x\n" + q, check: func(t *testing.T, cf *File) {
			assert.Equal(t, "", cf.User)
			require.Len(t, cf.Warnings, 1)
			assert.Contains(t, cf.Warnings[0], "x:1: logical line must not start with whitespace")
		}},
		{name: "same value twice: no warning", data: q + "dbname = d\n", check: func(t *testing.T, cf *File) {
			assert.Empty(t, cf.Warnings)
		}},
		{name: "empty query means the legacy form", data: "dbname = d\nquery =\ntable = t\nselect_field = v\nwhere_field = k\n", check: func(t *testing.T, cf *File) {
			assert.Equal(t, "SELECT v FROM t WHERE k='%s' ", cf.QueryText)
		}},
		{name: "legacy ignored with query", data: q + "table = t\n", check: func(t *testing.T, cf *File) {
			assert.Equal(t, []string{"x:3: table is ignored because query is set"}, cf.Warnings)
		}},
		{name: "negative expansion_limit is no limit", data: q + "expansion_limit = -3\n", check: func(t *testing.T, cf *File) {
			assert.False(t, cf.ExpansionLimitExceeded(100))
		}},
		{name: "domain list stops at #", data: q + "domain = a.example {b c} # d.example\n", check: func(t *testing.T, cf *File) {
			assert.Equal(t, []string{"a.example", "{b c}"}, cf.Domain)
			assert.Len(t, cf.Warnings, 1)
		}},
		{name: "result_format requirements suppress the query", data: q + "result_format = %s@%D\n", check: func(t *testing.T, cf *File) {
			_, ok := cf.Query.Expand("bob", nil)
			assert.False(t, ok)
			_, ok = cf.Query.Expand("bob@example.jp", nil)
			assert.True(t, ok)
		}},
		{name: "query requirements skip results", data: "dbname = d\nquery = SELECT v FROM t WHERE k='%u'\nresult_format = %S\n", check: func(t *testing.T, cf *File) {
			_, skipped := cf.ResultFormat.Append(nil, "@example.jp", "v")
			assert.True(t, skipped)
		}},
		{name: "hosts service name", data: q + "hosts = [2001:db8::1] inet:db:mysql\n", check: func(t *testing.T, cf *File) {
			assert.Equal(t, "[2001:db8::1]:3306", cf.Hosts[0].Addr)
			assert.Equal(t, "db:3306", cf.Hosts[1].Addr)
		}},
		{name: "inet:localhost is the socket", data: q + "hosts = inet:localhost:3307\n", check: func(t *testing.T, cf *File) {
			assert.Equal(t, []Host{{"unix", DefaultUnixSocket, "inet:localhost:3307"}}, cf.Hosts)
		}},

		{name: "missing =", data: q + "user postfix\n", want: "x:3: user: missing '=' after attribute name"},
		{name: "missing name", data: q + "= postfix\n", want: "x:3: missing attribute name"},
		{name: "empty dbname", data: "dbname =\nquery = SELECT 1\n", want: "x:1: dbname: bad string length 0 < 1"},
		{name: "no query", data: "dbname = d\n", want: "x: query: parameter is required (or the legacy table, select_field and where_field)"},
		{name: "legacy incomplete", data: "dbname = d\ntable = t\nwhere_field = k\n", want: "x: select_field: parameter not defined (query is not set)"},
		{name: "interval minimum", data: q + "idle_interval = 0\n", want: "x:3: idle_interval: invalid value 0 < 1"},
		{name: "integer overflow", data: q + "expansion_limit = 99999999999\n", want: `x:3: expansion_limit: bad numerical configuration: "99999999999"`},
		{name: "bad bool", data: q + "require_result_set = true\n", want: `x:3: require_result_set: bad boolean configuration: "true" (want yes or no)`},
		{name: "empty result_format", data: q + "result_format =\n", want: "x:3: result_format: bad string length 0 < 1"},
		{name: "bad result_format", data: q + "result_format = %x\n", want: `x:3: result_format: invalid result template: unknown expansion %x in "%x"`},
		{name: "bad port", data: q + "hosts = db:99999\n", want: `x:3: hosts: "db:99999": bad port "99999"`},
		{name: "bare ipv6", data: q + "hosts = ::1\n", want: `x:3: hosts: "::1": write an IPv6 address in brackets, [addr]:port`},
		{name: "empty unix", data: q + "hosts = unix:\n", want: `x:3: hosts: "unix:": empty socket path`},
		{name: "legacy bad additional_conditions", data: "dbname = d\ntable = t\nselect_field = v\nwhere_field = k\nadditional_conditions = AND x = '%z'\n",
			want: `x:5: additional_conditions: invalid query template: unknown expansion %z (at byte 38 of "SELECT v FROM t WHERE k='%s' AND x = '%z'")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cf, err := ParseBytes("x", []byte(tt.data))
			if tt.want != "" {
				require.Error(t, err)
				assert.Equal(t, tt.want, err.Error())
				return
			}
			require.NoError(t, err)
			tt.check(t, cf)
		})
	}
}

func FuzzParseCF(f *testing.F) {
	for _, s := range []string{
		"dbname = d\nquery = SELECT v FROM t WHERE k='%s'\n",
		"dbname=d\ntable=t\nselect_field=v\nwhere_field=k\nadditional_conditions = and a='%%'\n",
		"hosts = unix:/s inet:h:1 [::1]:2 localhost\n  ,h2\ndbname = d\nquery = x='%u@%d'\n",
		"  \n#c\n x = y\n=\nq\n",
		"dbname = d\nquery = SELECT 1\nretry_interval = -1\n",
		"domain = {a b} #c\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cf, err := ParseBytes("f.cf", data)
		if err != nil {
			var ce *Error
			if !assert.ErrorAs(t, err, &ce) {
				return
			}
			assert.Equal(t, "f.cf", ce.File)
			return
		}
		require.NotEmpty(t, cf.Hosts)
		require.NotEmpty(t, cf.DBName)
		require.NotNil(t, cf.Query)
		require.GreaterOrEqual(t, cf.RetryInterval, time.Second)
		require.GreaterOrEqual(t, cf.IdleInterval, time.Second)
		for i, h := range cf.Hosts {
			if i > 0 && h.Network == "unix" {
				require.Equal(t, "unix", cf.Hosts[i-1].Network, "unix sockets first")
			}
		}
	})
}
