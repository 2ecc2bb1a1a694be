package pgsqlcf

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestParseQuery covers PostgreSQL's lexing: which '%' become parameters,
// what each binds for a key, and what is refused.
func TestParseQuery(t *testing.T) {
	key := "bob@mail.example.jp"
	for _, tc := range []struct {
		q, sql string
		quotes []Quote
		args   []any
	}{
		{"SELECT goto FROM alias WHERE address = '%s' AND active", "SELECT goto FROM alias WHERE address = $1 AND active", []Quote{Standard}, []any{key}},
		{"SELECT maildir FROM mailbox WHERE local_part = '%u' AND domain = '%d'", "SELECT maildir FROM mailbox WHERE local_part = $1 AND domain = $2", []Quote{Standard, Standard}, []any{"bob", "mail.example.jp"}},
		{"SELECT 1 FROM t WHERE a = '%u@%d' OR b = '@%d'", "SELECT 1 FROM t WHERE a = $1 OR b = $2", nil, []any{key, "@mail.example.jp"}},
		{"SELECT 1 FROM t WHERE a LIKE '%%%s' AND b = '50%%'", "SELECT 1 FROM t WHERE a LIKE $1 AND b = '50%'", nil, []any{"%" + key}},
		{"SELECT 1 FROM t WHERE a = 'it''s %u'", "SELECT 1 FROM t WHERE a = $1", nil, []any{"it's bob"}},
		{"SELECT 1 FROM t WHERE a = E'\\t%s\\x41\\u00e9\\''", "SELECT 1 FROM t WHERE a = $1", []Quote{Escape}, []any{"\t" + key + "Aé'"}},
		{"SELECT 1 FROM t WHERE a = $$%s$$ AND b = $x$'%d'$x$", "SELECT 1 FROM t WHERE a = $1 AND b = $2", []Quote{Dollar, Dollar}, []any{key, "'mail.example.jp'"}},
		{"SELECT 1 FROM t WHERE id = %s", "SELECT 1 FROM t WHERE id = $1", []Quote{Bare}, []any{key}},
		{"SELECT 1 FROM t WHERE \"a%%b\" = '%3' -- %u\n AND x /* %d /* nested '%s' */ */ = 1", "SELECT 1 FROM t WHERE \"a%b\" = $1 -- \n AND x /*  /* nested '' */ */ = 1", nil, []any{"mail"}},
		{"SELECT 1 FROM t WHERE a = '%u'\n  '@%d'", "SELECT 1 FROM t WHERE a = $1", nil, []any{key}},
		{"SELECT 1 FROM t WHERE a = '%u' '@x'", "SELECT 1 FROM t WHERE a = $1 '@x'", nil, []any{"bob"}}, // no newline: two strings (the server's syntax error)
		{"SELECT a$b, E'\\\\', U&'d\\0061t', 'x\\y' FROM t WHERE c = '%s';", "SELECT a$b, E'\\\\', U&'d\\0061t', 'x\\y' FROM t WHERE c = $1;", nil, []any{key}},
		{"SELECT fn('%s')", "SELECT fn($1)", nil, []any{key}},
		{"SELECT '%1'0, foo'%2'", "SELECT $1 0, foo $2", nil, []any{"jp", "example"}}, // $n never runs into the text around it (was "$10", "foo$2")
	} {
		tpl, err := ParseQuery(tc.q)
		if tc.sql == "" {
			require.Error(t, err, tc.q)
			continue
		}
		require.NoError(t, err, tc.q)
		require.Equal(t, tc.sql, tpl.SQL, tc.q)
		if tc.quotes != nil {
			var got []Quote
			for _, p := range tpl.Params {
				got = append(got, p.Quote)
			}
			require.Equal(t, tc.quotes, got, tc.q)
		}
		args, ok := tpl.Expand(key, nil)
		require.True(t, ok, tc.q)
		require.Equal(t, tc.args, args, tc.q)
		for i, p := range tpl.Params {
			require.Equal(t, "$", tpl.SQL[p.Offset:p.Offset+1], "param %d offset in %q", i, tpl.SQL)
		}
	}
}

// TestParseQueryErrors lists what the parser refuses, each with the reason.
func TestParseQueryErrors(t *testing.T) {
	for _, q := range []string{
		"",
		"SELECT 1 WHERE a = '%x'",
		"SELECT 1 WHERE a = '%s",
		"SELECT 1 WHERE a = \"%s\"",
		"SELECT 1 WHERE a = N'%s'",
		"SELECT 1 WHERE a = X'%s'",
		"SELECT 1 WHERE a = U&'%s'",
		"SELECT 1 WHERE a = '\\%s'",
		"SELECT 1 WHERE a = 'x\\' OR b = '%s'",
		"SELECT 1 WHERE a = E'\\%s'",
		"SELECT 1 WHERE a = E'\\u12'",
		"SELECT 1 WHERE a = x%s",
		"SELECT 1 WHERE a = %sx",
		"SELECT 1 WHERE a = $1",
		"SELECT 1 WHERE a = $$%s",
		"SELECT 1 /* %s",
		"SELECT 1 WHERE a = '%s'; DELETE FROM t",
		"SELECT 1 WHERE a = '%s' %",
	} {
		_, err := ParseQuery(q)
		require.Error(t, err, "%q", q)
		t.Logf("%q: %v", q, err)
	}
}

// TestExpandSuppress: Postfix's suppression rules (db_common.c) hold for
// the PostgreSQL templates too, comments included.
func TestExpandSuppress(t *testing.T) {
	tpl, err := ParseQuery("SELECT 1 FROM t WHERE a = '%s' /* %2 */")
	require.NoError(t, err)
	require.Len(t, tpl.Params, 1)
	_, ok := tpl.Expand("bob@jp", nil)
	require.False(t, ok, "%2 in a comment needs two labels")
	_, ok = tpl.Expand("bob@example.jp", nil)
	require.True(t, ok)
	_, ok = tpl.Expand("", nil)
	require.False(t, ok)
	tpl, err = ParseQuery("SELECT 1 FROM t WHERE a = '%u'")
	require.NoError(t, err)
	_, ok = tpl.Expand("@example.jp", nil)
	require.False(t, ok, "%u and an empty localpart")
}
