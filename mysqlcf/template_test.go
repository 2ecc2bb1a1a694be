package mysqlcf

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countPlaceholders counts the '?' of sql outside string literals,
// identifiers and comments, as MySQL's parser sees them.
func countPlaceholders(sql string) int {
	n := 0
	for i := 0; i < len(sql); i++ {
		switch c := sql[i]; {
		case c == '\'' || c == '"' || c == '`':
			for i++; i < len(sql); i++ {
				if sql[i] == '\\' && c != '`' {
					i++
				} else if sql[i] == c {
					if i+1 < len(sql) && sql[i+1] == c {
						i++
						continue
					}
					break
				}
			}
		case c == '#' || c == '-' && strings.HasPrefix(sql[i:], "--") && (i+2 == len(sql) || sql[i+2] <= ' '):
			for i < len(sql) && sql[i] != '\n' {
				i++
			}
		case c == '/' && strings.HasPrefix(sql[i:], "/*") && !strings.HasPrefix(sql[i:], "/*!"):
			end := strings.Index(sql[i+2:], "*/")
			if end < 0 {
				return -1
			}
			i += 2 + end + 1
		case c == '?':
			n++
		}
	}
	return n
}

func TestParseQuery(t *testing.T) {
	t.Parallel()
	tests := []struct {
		q, sql string
		exps   []string // Param.Expansion
		key    string
		args   []any
		uses   Uses
	}{
		{"SELECT goto FROM alias WHERE address='%s' AND active = '1'",
			"SELECT goto FROM alias WHERE address=? AND active = '1'",
			[]string{"%s"}, "Bob@Example.JP", []any{"Bob@Example.JP"}, UsesKey},
		{"SELECT 1 FROM t WHERE a = '%u@%d'", "SELECT 1 FROM t WHERE a = ?",
			[]string{"mixed"}, "bob@example.jp", []any{"bob@example.jp"}, UsesUser | UsesDomain},
		{`SELECT 1 FROM t WHERE a = "%U" AND b = "%D" AND c = '%S'`, "SELECT 1 FROM t WHERE a = ? AND b = ? AND c = ?",
			[]string{"%u", "%d", "%s"}, "a@b@c.d", []any{"a@b", "c.d", "a@b@c.d"}, UsesKey | UsesUser | UsesDomain},
		{"SELECT 1 FROM t WHERE u = '%u'", "SELECT 1 FROM t WHERE u = ?",
			[]string{"%u"}, "bob", []any{"bob"}, UsesUser},
		{"SELECT 1 FROM t WHERE tld = '%1' AND sld = '%2' AND x = '%3.%2.%1'", "SELECT 1 FROM t WHERE tld = ? AND sld = ? AND x = ?",
			[]string{"%1", "%2", "mixed"}, "u@mail.example.com", []any{"com", "example", "mail.example.com"}, UsesLabels},
		{"SELECT 1 FROM t WHERE t LIKE 'smtp%%' AND k = '%s'", "SELECT 1 FROM t WHERE t LIKE 'smtp%' AND k = ?",
			[]string{"%s"}, "k", []any{"k"}, UsesKey},
		{"SELECT 1 FROM t WHERE k LIKE '%%%s'", "SELECT 1 FROM t WHERE k LIKE ?",
			[]string{"mixed"}, "k", []any{"%k"}, UsesKey},
		{"SELECT 5 %% 2 FROM t WHERE k = %s", "SELECT 5 % 2 FROM t WHERE k = ?",
			[]string{"%s"}, "k", []any{"k"}, UsesKey},
		{"SELECT 1 FROM t WHERE k = ('%s')", "SELECT 1 FROM t WHERE k = (?)",
			[]string{"%s"}, "k", []any{"k"}, UsesKey},
		// The literal's own escapes are undone in the bound value.
		{`SELECT 1 FROM t WHERE k = 'it''s \'%s\'\n\\' AND l LIKE 'a\%%\_'`, `SELECT 1 FROM t WHERE k = ? AND l LIKE 'a\%\_'`,
			[]string{"mixed"}, "k", []any{"it's 'k'\n\\"}, UsesKey},
		{`SELECT 1 FROM t WHERE k LIKE '\%%%s'`, `SELECT 1 FROM t WHERE k LIKE ?`,
			[]string{"mixed"}, "k", []any{`\%k`}, UsesKey},
		// Adjacent literals are one string in MySQL.
		{"SELECT 1 FROM t WHERE k = '%u' '@' \"%d\"", "SELECT 1 FROM t WHERE k = ?",
			[]string{"mixed"}, "b@x", []any{"b@x"}, UsesUser | UsesDomain},
		{"SELECT 'a' 'b' FROM t WHERE k = '%s'", "SELECT 'a' 'b' FROM t WHERE k = ?",
			[]string{"%s"}, "k", []any{"k"}, UsesKey},
		// Comments: text kept, expansions dropped but still counted.
		{"SELECT 1 /* %d ? '*/ FROM t -- %u\nWHERE k = '%s' # it's %%",
			"SELECT 1 /*  ? '*/ FROM t -- \nWHERE k = ? # it's %",
			[]string{"%s"}, "b@x", []any{"b@x"}, UsesKey | UsesUser | UsesDomain},
		{"SELECT /*!40001 SQL_NO_CACHE */ v FROM t WHERE k = '%s'", "SELECT /*!40001 SQL_NO_CACHE */ v FROM t WHERE k = ?",
			[]string{"%s"}, "k", []any{"k"}, UsesKey},
		{"SELECT `a%%b`, `x``'` FROM t WHERE k = '%s'", "SELECT `a%b`, `x``'` FROM t WHERE k = ?",
			[]string{"%s"}, "k", []any{"k"}, UsesKey},
		{"SELECT 5-- 3 FROM t WHERE k = '%s'", "SELECT 5-- 3 FROM t WHERE k = ''",
			nil, "k", nil, UsesKey},
		{"SELECT 5--3 FROM t WHERE k = '%s'", "SELECT 5--3 FROM t WHERE k = ?",
			[]string{"%s"}, "k", []any{"k"}, UsesKey},
		{"SELECT 1 FROM t WHERE k = %s%u", "SELECT 1 FROM t WHERE k = ?",
			[]string{"mixed"}, "b@x", []any{"b@xb"}, UsesKey | UsesUser},
		{"SELECT 1 FROM t WHERE k LIKE'%s'", "SELECT 1 FROM t WHERE k LIKE?",
			[]string{"%s"}, "k", []any{"k"}, UsesKey},
		{"SELECT '?' FROM t", "SELECT '?' FROM t", nil, "k", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.q, func(t *testing.T) {
			t.Parallel()
			tm, err := ParseQuery(tt.q)
			require.NoError(t, err)
			assert.Equal(t, tt.sql, tm.SQL)
			assert.Equal(t, tt.uses, tm.Uses())
			var exps []string
			for _, p := range tm.Params {
				exps = append(exps, p.Expansion)
				assert.Equal(t, byte('?'), tm.SQL[p.Offset])
			}
			assert.Equal(t, tt.exps, exps)
			assert.Equal(t, len(tm.Params), countPlaceholders(tm.SQL))
			var pu Uses
			for i := range tm.Params {
				pu |= tm.Params[i].Uses()
			}
			assert.Equal(t, pu, tm.Uses()&pu, "parameter uses are a subset")
			args, ok := tm.Expand(tt.key, nil)
			require.True(t, ok)
			assert.Equal(t, tt.args, args)
		})
	}
}

func TestParseQueryErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ q, want string }{
		{"SELECT 1 FROM t WHERE k = '%x'", "unknown expansion %x"},
		{"SELECT 1 FROM t WHERE k = '%s", "unterminated '…' string"},
		{`SELECT 1 FROM t WHERE k = "%s\"`, `unterminated "…" string`},
		{"SELECT 1 FROM t WHERE k = '%s' AND x = %", "'%' at the end"},
		{"SELECT 1 FROM t WHERE k = '%s' /* x", "unterminated comment"},
		{"SELECT `%s` FROM t", "expansion inside a `quoted` identifier"},
		{"SELECT `a FROM t", "unterminated `identifier`"},
		{`SELECT 1 FROM t WHERE k = '\%s'`, "backslash before an expansion"},
		{"SELECT 1 FROM t WHERE k = _latin1'%s'", "prefix or charset introducer"},
		{"SELECT 1 FROM t WHERE k = N'%s'", "prefix or charset introducer"},
		{"SELECT 1 FROM t WHERE k = x'%s'", "prefix or charset introducer"},
		{"SELECT 1 FROM t WHERE k = a%s", "must stand alone"},
		{"SELECT 1 FROM t WHERE k = %s.x", "must stand alone"},
		{"SELECT 1 FROM t WHERE k = ?", "'?' outside quotes"},
		{"SELECT 1 FROM t -- %q", "unknown expansion %q"},
		{"", "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.q, func(t *testing.T) {
			t.Parallel()
			_, err := ParseQuery(tt.q)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "invalid query template")
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestExpandInjection(t *testing.T) {
	t.Parallel()
	tm, err := ParseQuery("SELECT goto FROM alias WHERE address='%s' AND x = '%u' AND y = '@%d' AND z = %s")
	require.NoError(t, err)
	assert.Equal(t, UsesDomain, tm.Params[2].Uses())
	assert.Equal(t, "@%d", tm.Params[2].Literal)
	assert.Equal(t, "mixed", tm.Params[2].Expansion)
	assert.False(t, tm.Params[3].Quoted)
	for _, key := range []string{
		"o'brien@example.jp",
		"' OR '1'='1@x' OR '1'='1",
		`x\' OR 1=1 -- @example.jp`,
		`back\\slash@example.jp`,
		"per%cent%s@example.jp",
		"quest?ion@example.jp",
		"\"dq\"@example.jp",
		"nul\x00@example.jp",
		"*/ DROP TABLE alias; /*@x",
	} {
		t.Run(key, func(t *testing.T) {
			args, ok := tm.Expand(key, nil)
			require.True(t, ok)
			assert.Equal(t, "SELECT goto FROM alias WHERE address=? AND x = ? AND y = ? AND z = ?", tm.SQL)
			require.Len(t, args, 4)
			assert.Equal(t, key, args[0])
			assert.Equal(t, key, args[3])
			k := splitKey(key)
			assert.Equal(t, k.user, args[1])
			assert.Equal(t, "@"+k.domain, args[2])
		})
	}
}

func TestExpandSuppression(t *testing.T) {
	t.Parallel()
	tests := []struct {
		q    string
		key  string
		ok   bool
		args []any
	}{
		{"k='%s'", "", false, nil},
		{"k='%s'", "@", true, []any{"@"}},
		{"k='%s'", "bob", true, []any{"bob"}},
		{"k='%u'", "bob", true, []any{"bob"}},
		{"k='%u'", "@example.jp", false, nil},
		{"k='%u'", "bob@", true, []any{"bob"}},
		{"k='%U'", "@example.jp", false, nil},
		{"k='%d'", "bob", false, nil},
		{"k='%d'", "bob@", false, nil},
		{"k='%d'", "@example.jp", true, []any{"example.jp"}},
		{"k='%D'", "bob", false, nil},
		{"k='%u' AND d='%d'", "@example.jp", false, nil},
		{"k='%s' /* %d */", "bob", false, nil},
		{"k='%2'", "bob@example", false, nil},
		{"k='%2'", "bob@example.jp", true, []any{"example"}},
		{"k='%1'", "bob", false, nil},
		{"k='%1'", "bob@", false, nil},
		// argv_split skips empty labels: "a..b." has two labels.
		{"k='%2.%1'", "x@a..b.", true, []any{"a.b"}},
		{"k='%3'", "x@a..b.", false, nil},
		{"k='%1' AND d='%d'", "x@.", false, nil},
		{"k='%9'", "x@1.2.3.4.5.6.7.8.9", true, []any{"1"}},
	}
	for _, tt := range tests {
		t.Run(tt.q+" "+tt.key, func(t *testing.T) {
			t.Parallel()
			tm, err := ParseQuery("SELECT v FROM t WHERE " + tt.q)
			require.NoError(t, err)
			args, ok := tm.Expand(tt.key, []any{"prior"})
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, append([]any{"prior"}, tt.args...), args)
		})
	}
}

func TestDomainLabel(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		d    string
		n    int
		want string
		ok   bool
	}{
		{"mail.example.com", 1, "com", true},
		{"mail.example.com", 3, "mail", true},
		{"mail.example.com", 4, "", false},
		{".com.", 1, "com", true},
		{"", 1, "", false},
		{"...", 1, "", false},
	} {
		got, ok := domainLabel(tt.d, tt.n)
		assert.Equal(t, tt.ok, ok, tt.d)
		assert.Equal(t, tt.want, got, tt.d)
	}
}

func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{
		"SELECT goto FROM alias WHERE address='%s' AND active = '1'",
		"SELECT goto FROM alias,alias_domain WHERE alias_domain.alias_domain = '%d' and alias.address = CONCAT('%u', '@', alias_domain.target_domain)",
		"SELECT 1 FROM t WHERE k LIKE 'smtp%%' AND x = \"a\\\"%u\" /* %d */ -- %1\n# %S\n",
		"SELECT `a%%` FROM t WHERE k = %s%u AND y = '\\%%%s' 'x' \"y\"",
		"'", "%", "%%", "?", "/*", "`", "'\\", "SELECT /*! '%s' */",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		tm, err := ParseQuery(q)
		if err != nil {
			require.Contains(t, err.Error(), "invalid query template")
			return
		}
		require.Equal(t, len(tm.Params), countPlaceholders(tm.SQL), "SQL %q", tm.SQL)
		for _, p := range tm.Params {
			require.Equal(t, byte('?'), tm.SQL[p.Offset])
		}
	})
}

func FuzzExpand(f *testing.F) {
	f.Add("SELECT goto FROM alias WHERE address='%s' AND active = '1'", "bob@example.jp")
	f.Add("SELECT 1 FROM t WHERE a='%u@%d' AND b = %2 AND c LIKE 'x%%'", "o'brien@mail.example.jp")
	f.Add("SELECT 1 FROM t WHERE a=\"%S\" -- %D\n", "' OR '1'='1")
	f.Add("SELECT 1 FROM t WHERE a='%1.%9'", "@a.b.c.d.e.f.g.h.i")
	f.Add("SELECT 1 FROM t WHERE a='%u'", "\\'?%s@")
	f.Fuzz(func(t *testing.T, q, key string) {
		tm, err := ParseQuery(q)
		if err != nil {
			return
		}
		sql := tm.SQL
		args, ok := tm.Expand(key, nil)
		require.Equal(t, sql, tm.SQL)
		if !ok {
			require.Empty(t, args)
			return
		}
		require.Len(t, args, len(tm.Params))
		require.Equal(t, len(args), countPlaceholders(sql))
		// The key reaches the SQL only through args: the SQL is the
		// same for a key with a marker that cannot be in the template.
		marked := key + "\x00\xff<KEY>"
		if _, ok := tm.Expand(marked, nil); ok {
			require.NotContains(t, tm.SQL, "\x00\xff<KEY>")
		}
	})
}

func BenchmarkExpand(b *testing.B) {
	for _, bm := range []struct{ name, q string }{
		{"simple", "SELECT goto FROM alias WHERE address='%s' AND active = '1'"},
		{"domain", "SELECT goto FROM alias,alias_domain WHERE alias_domain.alias_domain = '%d' and alias.address = CONCAT('%u', '@', alias_domain.target_domain)"},
		{"mixed", "SELECT goto FROM alias WHERE address='@%d'"},
	} {
		b.Run(bm.name, func(b *testing.B) {
			tm, err := ParseQuery(bm.q)
			require.NoError(b, err)
			args := make([]any, 0, 4)
			b.ReportAllocs()
			for b.Loop() {
				var ok bool
				args, ok = tm.Expand("bob@example.jp", args[:0])
				if !ok || len(args) == 0 {
					b.Fatal("suppressed")
				}
			}
		})
	}
}

func TestExpandAllocs(t *testing.T) {
	tm, err := ParseQuery("SELECT goto FROM alias WHERE address='%s' AND active = '1'")
	require.NoError(t, err)
	args := make([]any, 0, 1)
	n := testing.AllocsPerRun(100, func() {
		args, _ = tm.Expand("bob@example.jp", args[:0])
	})
	assert.LessOrEqual(t, n, 1.0)
}
