package pgsqlcf

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"mapgate/internal/testpg"
)

func TestMain(m *testing.M) { testpg.Main(m) }

// postfixExpand is what Postfix sends: db_common_expand over the whole
// query text, each expansion escaped by PQescapeStringConn (with
// standard_conforming_strings on: quotes doubled).
func postfixExpand(q, key string) string {
	at := strings.LastIndexByte(key, '@')
	user, domain := key, ""
	if at >= 0 {
		user, domain = key[:at], key[at+1:]
	}
	labels := strings.Split(domain, ".")
	esc := func(s string) string { return strings.ReplaceAll(s, "'", "''") }
	var b strings.Builder
	for i := 0; i < len(q); i++ {
		if q[i] != '%' {
			b.WriteByte(q[i])
			continue
		}
		i++
		switch c := q[i]; c {
		case '%':
			b.WriteByte('%')
		case 's', 'S':
			b.WriteString(esc(key))
		case 'u', 'U':
			b.WriteString(esc(user))
		case 'd', 'D':
			b.WriteString(esc(domain))
		default:
			b.WriteString(esc(labels[len(labels)-int(c-'0')]))
		}
	}
	return b.String()
}

// TestTemplateAgainstServer is the lexer's differential test against a real
// PostgreSQL: for each query, Postfix's text (the key spliced in, escaped)
// run with the simple protocol, and mapgate's SQL run with the expansions
// bound ($n), give the same rows; and the server counts as many parameters
// as ParseQuery made. The two known differences are asserted too: inside
// $$…$$ Postfix's escaping doubles a key's quote, and inside E'…' the
// server reads a key's backslash as an escape; binding changes neither.
func TestTemplateAgainstServer(t *testing.T) {
	s := testpg.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := pgconn.Connect(ctx, s.SuperConnString("postgres"))
	require.NoError(t, err)
	defer conn.Close(context.Background())

	rows := func(rr *pgconn.ResultReader) [][]string {
		var out [][]string
		for rr.NextRow() {
			var r []string
			for _, v := range rr.Values() {
				r = append(r, string(v))
			}
			out = append(out, r)
		}
		_, err := rr.Close()
		require.NoError(t, err)
		return out
	}
	simple := func(sql string) [][]string {
		res, err := conn.Exec(ctx, sql).ReadAll()
		require.NoError(t, err, sql)
		var out [][]string
		for _, r := range res {
			require.NoError(t, r.Err, sql)
			for _, row := range r.Rows {
				var o []string
				for _, v := range row {
					o = append(o, string(v))
				}
				out = append(out, o)
			}
		}
		return out
	}

	keys := []string{"bob@mail.example.jp", "o'brien@mail.example.jp", "ユーザー@mail.example.net", "a\\b@x.y.z"}
	queries := []string{
		"SELECT '%s', '%u', '%d', '%1', '%2', '%3', '%S%%'",
		"SELECT 'x' || '%u'\n  '@%d' || E'\\t%s\\x41\\u00e9\\'' || E'\\\\'",
		"SELECT $$%s$$, $t$'%d'$t$, $$plain$$",
		"SELECT \"a%%b\" FROM (SELECT '%s' AS \"a%%b\") x -- %u",
		"SELECT length('%s') /* '%u' /* nested */ */, 'a%%b', '50%%' LIKE '50%%%%', U&'d\\0061t', B'101'::text, X'1F'::text, 'x\\y'",
		"SELECT '%s' = ANY (ARRAY['%u@%d', 'x']), '%u' || '@' || '%d' = '%s';",
		"SELECT v FROM (VALUES ('%s'), ('%u')) t(v) WHERE v LIKE '%%@%%' ORDER BY 1",
	}
	for _, q := range queries {
		tpl, err := ParseQuery(q)
		require.NoError(t, err, q)
		sd, err := conn.Prepare(ctx, "", tpl.SQL, nil)
		require.NoError(t, err, tpl.SQL)
		require.Len(t, sd.ParamOIDs, len(tpl.Params), "the server's parameter count for %q", tpl.SQL)
		for _, key := range keys {
			args, ok := tpl.Expand(key, nil)
			require.True(t, ok)
			params := make([][]byte, len(args))
			for i, a := range args {
				params[i] = []byte(a.(string))
			}
			got := rows(conn.ExecParams(ctx, tpl.SQL, params, nil, nil, nil))
			want := simple(postfixExpand(q, key))
			mangled := false
			for _, p := range tpl.Params {
				mangled = mangled || p.Quote == Dollar && strings.Contains(key, "'") ||
					p.Quote == Escape && strings.Contains(key, "\\")
			}
			if mangled {
				require.NotEqual(t, want, got, "Postfix's text changes the key here: %q %q", q, key)
				continue
			}
			require.Equal(t, want, got, "query %q key %q", q, key)
		}
	}

	// A bare expansion: Postfix splices the key in as SQL; for a number
	// the server reads the same value either way.
	tpl, err := ParseQuery("SELECT %s + 1")
	require.NoError(t, err)
	got := rows(conn.ExecParams(ctx, tpl.SQL, [][]byte{[]byte("41")}, nil, nil, nil))
	require.Equal(t, simple(postfixExpand("SELECT %s + 1", "41")), got)
	require.Equal(t, [][]string{{"42"}}, got)
}
