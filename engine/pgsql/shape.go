package pgsql

import (
	"fmt"
	"strings"

	"mapgate/sqlshape"
)

// The query's shape. What a parameter that no stored value can equal
// proves about the statement (its sqlshape.Role: a miss, a NULL in its
// place, or nothing) depends on the statement's structure alone: = and IN
// joined to WHERE or ON through AND and OR, the statement's only SELECT,
// aggregates. sqlshape reads that structure for MySQL's syntax; the
// statements of pgsql_table(5) files are mostly the same SQL. roles hands
// sqlshape the statement in MySQL's spelling where the two read it alike,
// and gives up (every parameter opaque) on anything they read differently:
//
//   - '…' strings (the same when they hold no backslash: refused
//     anywhere in the statement), "identifiers" (MySQL's `…`), $n (?);
//   - a || b, PostgreSQL's concatenation (MySQL's OR), as CONCAT(a, b),
//     where its operands are plain (a column, a string, a parameter, a
//     parenthesised or function expression) and no arithmetic operator
//     binds to them (PostgreSQL's || binds looser than + and tighter
//     than =);
//   - comments dropped.
//
// Refused: casts (::), dollar quoting, prefixed strings (E'…', U&'…'),
// backslashes, the operators MySQL reads otherwise (# ~ ! ^ @ &&), and
// PostgreSQL's own predicates (ILIKE, SIMILAR TO, IS DISTINCT FROM, ANY,
// ALL, ARRAY, ISNULL, NOTNULL, LATERAL, FILTER, OVER).
//
// A parameter's role counts only where sqlshape understood it and no
// function or collation stands between it and its comparison
// (ParamUse.Converted): lower() of a character the database lacks may be
// one it has.

// refusedWords are PostgreSQL words MySQL's grammar reads otherwise.
var refusedWords = map[string]bool{
	"ILIKE": true, "SIMILAR": true, "ISNULL": true, "NOTNULL": true,
	"ANY": true, "SOME": true, "ARRAY": true, "LATERAL": true,
	"FILTER": true, "OVER": true, "RETURNING": true, "WINDOW": true,
}

// roles returns each parameter's role, or why the shape was not read.
func roles(stmt string, n int) ([]sqlshape.Role, string) {
	out := make([]sqlshape.Role, n)
	my, why := mysqlSpelling(stmt)
	if why != "" {
		return out, why
	}
	uses := sqlshape.ParamUses(my)
	if len(uses) != n {
		return out, fmt.Sprintf("%d parameters read, %d expected", len(uses), n)
	}
	for i, u := range uses {
		if (u.Known || u.NeedsDB) && !u.Converted {
			out[i] = u.Role
		}
	}
	return out, ""
}

type stok struct {
	kind byte // 'w' word, 's' string, 'p' parameter, 'i' identifier, 'o' other
	text string
}

// mysqlSpelling rewrites a statement as explained above, or says why not.
func mysqlSpelling(q string) (string, string) {
	var toks []stok
	for i := 0; i < len(q); {
		c := q[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '\\':
			return "", "a backslash"
		case c == '\'':
			j := i + 1
			for {
				k := strings.IndexByte(q[j:], '\'')
				if k < 0 {
					return "", "an unterminated string"
				}
				j += k + 1
				if j < len(q) && q[j] == '\'' {
					j++
					continue
				}
				break
			}
			if strings.IndexByte(q[i:j], '\\') >= 0 {
				return "", "a backslash"
			}
			if i > 0 && isWordByte(q[i-1]) {
				return "", "a prefixed string (E'…', B'…', U&'…')"
			}
			toks = append(toks, stok{'s', q[i:j]})
			i = j
		case c == '"':
			k := strings.IndexByte(q[i+1:], '"')
			if k < 0 {
				return "", "an unterminated identifier"
			}
			id := q[i+1 : i+1+k]
			if strings.ContainsAny(id, "`\"") || i+2+k < len(q) && q[i+2+k] == '"' {
				return "", "a quoted identifier with quotes"
			}
			toks = append(toks, stok{'i', "`" + id + "`"})
			i += k + 2
		case c == '$':
			j := i + 1
			for j < len(q) && q[j] >= '0' && q[j] <= '9' {
				j++
			}
			if j == i+1 {
				return "", "dollar quoting"
			}
			toks = append(toks, stok{'p', "?"})
			i = j
		case c == '-' && strings.HasPrefix(q[i:], "--"):
			k := strings.IndexAny(q[i:], "\r\n")
			if k < 0 {
				k = len(q) - i
			}
			i += k
		case c == '/' && strings.HasPrefix(q[i:], "/*"):
			depth, j := 0, i
			for j+1 < len(q) {
				if q[j] == '/' && q[j+1] == '*' {
					depth++
					j += 2
				} else if q[j] == '*' && q[j+1] == '/' {
					depth--
					j += 2
					if depth == 0 {
						break
					}
				} else {
					j++
				}
			}
			if depth != 0 {
				return "", "an unterminated comment"
			}
			i = j
		case isWordByte(c):
			j := i
			for j < len(q) && isWordByte(q[j]) {
				j++
			}
			w := q[i:j]
			if refusedWords[strings.ToUpper(w)] {
				return "", "PostgreSQL's " + strings.ToUpper(w)
			}
			toks = append(toks, stok{'w', w})
			i = j
		default:
			if strings.IndexByte("#~!^@`?", c) >= 0 || strings.HasPrefix(q[i:], "&&") || strings.HasPrefix(q[i:], "::") {
				return "", fmt.Sprintf("the operator %q", c)
			}
			if op := q[i:min(i+2, len(q))]; op == "||" || op == "<>" || op == "<=" || op == ">=" {
				toks = append(toks, stok{'o', op})
				i += 2
				continue
			}
			toks = append(toks, stok{'o', q[i : i+1]})
			i++
		}
	}
	for i, t := range toks {
		// ALL and DISTINCT as both read them (UNION ALL, SELECT DISTINCT),
		// not = ALL (…) or IS DISTINCT FROM.
		up := strings.ToUpper(t.text)
		prev, next := "", ""
		if i > 0 {
			prev = strings.ToUpper(toks[i-1].text)
		}
		if i+1 < len(toks) {
			next = strings.ToUpper(toks[i+1].text)
		}
		if t.kind == 'w' && (up == "ALL" && prev != "UNION" && prev != "INTERSECT" && prev != "EXCEPT" && prev != "SELECT" ||
			up == "DISTINCT" && (next == "FROM" || prev == "IS" || prev == "NOT")) {
			return "", "PostgreSQL's " + up
		}
	}
	toks, why := concats(toks)
	if why != "" {
		return "", why
	}
	var b strings.Builder
	for i, t := range toks {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(t.text)
	}
	return b.String(), ""
}

func isWordByte(c byte) bool {
	return c == '_' || c >= 0x80 || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// arith are the operators that bind tighter than || in PostgreSQL.
func arith(t stok) bool { return t.kind == 'o' && strings.Contains("+-*/%.", t.text) }

// operand returns the end (exclusive) of the plain operand starting at
// toks[i], or -1.
func operand(toks []stok, i int) int {
	if i >= len(toks) {
		return -1
	}
	switch t := toks[i]; {
	case t.kind == 's' || t.kind == 'p':
		return i + 1
	case t.kind == 'o' && t.text == "(":
		return closing(toks, i)
	case t.kind == 'w' || t.kind == 'i':
		j := i + 1
		for j+1 < len(toks) && toks[j].text == "." && (toks[j+1].kind == 'w' || toks[j+1].kind == 'i') {
			j += 2
		}
		if j < len(toks) && toks[j].text == "(" && t.kind == 'w' {
			return closing(toks, j)
		}
		return j
	}
	return -1
}

// closing returns the index after the ) that closes toks[i] == "(", or -1.
func closing(toks []stok, i int) int {
	depth := 0
	for j := i; j < len(toks); j++ {
		switch toks[j].text {
		case "(":
			depth++
		case ")":
			depth--
			if depth == 0 {
				return j + 1
			}
		}
	}
	return -1
}

// start returns the start of the plain operand that ends just before
// toks[end], or -1.
func start(toks []stok, end int) int {
	i := end - 1
	if i < 0 {
		return -1
	}
	switch t := toks[i]; {
	case t.kind == 's' || t.kind == 'p':
		return i
	case t.kind == 'o' && t.text == ")":
		depth := 0
		for j := i; j >= 0; j-- {
			switch toks[j].text {
			case ")":
				depth++
			case "(":
				depth--
				if depth == 0 {
					if j > 0 && toks[j-1].kind == 'w' {
						return j - 1 // a function call
					}
					return j
				}
			}
		}
		return -1
	case t.kind == 'w' || t.kind == 'i':
		for i >= 2 && toks[i-1].text == "." && (toks[i-2].kind == 'w' || toks[i-2].kind == 'i') {
			i -= 2
		}
		return i
	}
	return -1
}

// concats rewrites each chain a || b || … as CONCAT(a, b, …).
func concats(toks []stok) ([]stok, string) {
	for {
		k := -1
		for i, t := range toks {
			if t.kind == 'o' && t.text == "||" {
				k = i
				break
			}
		}
		if k < 0 {
			return toks, ""
		}
		l := start(toks, k)
		if l < 0 || l > 0 && arith(toks[l-1]) {
			return nil, "|| with an operand not understood"
		}
		ops := [][]stok{toks[l:k]}
		r := k
		for r < len(toks) && toks[r].text == "||" {
			e := operand(toks, r+1)
			if e < 0 {
				return nil, "|| with an operand not understood"
			}
			ops = append(ops, toks[r+1:e])
			r = e
		}
		if r < len(toks) && arith(toks[r]) {
			return nil, "|| next to arithmetic"
		}
		repl := []stok{{'w', "CONCAT"}, {'o', "("}}
		for i, op := range ops {
			if i > 0 {
				repl = append(repl, stok{'o', ","})
			}
			repl = append(repl, op...)
		}
		repl = append(repl, stok{'o', ")"})
		toks = append(append(append([]stok{}, toks[:l]...), repl...), toks[r:]...)
	}
}
