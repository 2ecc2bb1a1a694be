package pgsqlcf

import (
	"strconv"
	"strings"
	"testing"
)

// FuzzParseQuery: ParseQuery never panics; an accepted template has its
// parameters at their offsets in order ($1, $2, …), Expand gives one value
// per parameter, and a query without '%' is left exactly as it is. Where
// every parameter is a plain '…' string on one line without comments, the
// SQL with each $n written back as a '…' string of its value is exactly the
// text Postfix would send (postfixExpand): the lexer found every string,
// and every expansion in it, where PostgreSQL and Postfix do.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{
		"SELECT goto FROM alias WHERE address = '%s' AND active = '1'",
		"SELECT maildir FROM mailbox WHERE local_part = '%u' AND domain = '%d'",
		"SELECT 1 FROM t WHERE a = E'\\t%s\\x41\\u00e9\\'' AND b = $x$%d$x$",
		"SELECT 1 FROM t WHERE \"a%%b\" = '%3' -- %u\n AND x /* %d /* n '%s' */ */ = 1",
		"SELECT 1 FROM t WHERE a = '%u'\n  '@%d' AND id = %s;",
		"SELECT a$b, U&'d\\0061t', B'01', X'ff', N'x' FROM t WHERE c LIKE '%%%s'",
	} {
		f.Add(s, "bob@mail.example.jp")
	}
	f.Fuzz(func(t *testing.T, q, key string) {
		tpl, err := ParseQuery(q)
		if err != nil {
			return
		}
		for i, p := range tpl.Params {
			want := "$" + strconv.Itoa(i+1)
			if !strings.HasPrefix(tpl.SQL[p.Offset:], want) {
				t.Fatalf("param %d not at offset %d of %q", i+1, p.Offset, tpl.SQL)
			}
			if next := p.Offset + len(want); next < len(tpl.SQL) && tpl.SQL[next] >= '0' && tpl.SQL[next] <= '9' {
				t.Fatalf("param %d glued to a digit in %q", i+1, tpl.SQL)
			}
		}
		if args, ok := tpl.Expand(key, nil); ok && len(args) != len(tpl.Params) {
			t.Fatalf("%d values for %d params", len(args), len(tpl.Params))
		}
		if !strings.Contains(q, "%") && tpl.SQL != q {
			t.Fatalf("query without %% changed: %q -> %q", q, tpl.SQL)
		}
		const fixed = "bob@mail.example.jp"
		if strings.ContainsAny(q, "\n\r") || strings.Contains(q, "--") || strings.Contains(q, "/*") {
			return
		}
		for _, p := range tpl.Params {
			if p.Quote != Standard {
				return
			}
		}
		args, ok := tpl.Expand(fixed, nil)
		if !ok {
			return
		}
		var b strings.Builder
		last := 0
		for i, p := range tpl.Params {
			b.WriteString(tpl.SQL[last:p.Offset])
			b.WriteString("'" + strings.ReplaceAll(args[i].(string), "'", "''") + "'")
			last = p.Offset + len("$"+strconv.Itoa(i+1))
		}
		b.WriteString(tpl.SQL[last:])
		// ParseQuery may add a space to keep $n apart from the text around it.
		nospace := func(s string) string { return strings.ReplaceAll(s, " ", "") }
		if want := postfixExpand(q, fixed); nospace(b.String()) != nospace(want) {
			t.Fatalf("%q: bound SQL reads %q, Postfix sends %q", q, b.String(), want)
		}
	})
}
