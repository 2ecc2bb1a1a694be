package audit

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"mapgate/schema"
)

// MixedPair is two columns a query names that the server cannot compare
// with each other (error 1267): a join between them fails for every key.
type MixedPair struct {
	A      Column `json:"a"`
	B      Column `json:"b"`
	Server string `json:"server"`
}

// String is "alias.address (latin1_swedish_ci) and fwd.address (latin1_general_ci)".
func (m MixedPair) String() string {
	return fmt.Sprintf("%s (%s) and %s (%s)", m.A.Name(), m.A.Collation, m.B.Name(), m.B.Collation)
}

// skipLiteral returns the index just past the string literal that starts
// at q[i] (a backslash escapes the next byte).
func skipLiteral(q string, i int) int {
	c := q[i]
	j := i + 1
	for j < len(q) && q[j] != c {
		if q[j] == '\\' {
			j++
		}
		j++
	}
	return j + 1
}

// isCommentStart reports whether a comment ("-- ", "#" or "/*") starts at
// q[i].
func isCommentStart(q string, i int) bool {
	return strings.HasPrefix(q[i:], "-- ") || q[i] == '#' || strings.HasPrefix(q[i:], "/*")
}

// skipComment returns the index just past the comment that starts at q[i]
// (a line comment ends before its newline), or -1 when it is not closed.
func skipComment(q string, i int) int {
	if strings.HasPrefix(q[i:], "/*") {
		j := strings.Index(q[i:], "*/")
		if j < 0 {
			return -1
		}
		return i + j + 2
	}
	j := strings.IndexByte(q[i:], '\n')
	if j < 0 {
		return -1
	}
	return i + j
}

// sqlWords splits a query into lower-case words and single punctuation
// characters, leaving out string literals and comments. Backquoted
// identifiers lose their quotes.
func sqlWords(q string) []string {
	var out []string
	for i := 0; i < len(q); {
		c := q[i]
		switch {
		case c == '\'' || c == '"':
			i = skipLiteral(q, i)
		case c == '`':
			j := strings.IndexByte(q[i+1:], '`')
			if j < 0 {
				return out
			}
			out = append(out, strings.ToLower(q[i+1:i+1+j]))
			i += j + 2
		case isCommentStart(q, i):
			if i = skipComment(q, i); i < 0 {
				return out
			}
		case isWordByte(c):
			j := i
			for j < len(q) && isWordByte(q[j]) {
				j++
			}
			out = append(out, strings.ToLower(q[i:j]))
			i = j
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		default:
			out = append(out, string(c))
			i++
		}
	}
	return out
}

func isWordByte(c byte) bool {
	return c == '_' || c == '$' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c >= 0x80
}

// queryTables lists the tables a query reads ([schema.]table as written,
// lower case): the names after FROM (and its commas) and JOIN.
func queryTables(q string) []string {
	w := sqlWords(q)
	var out []string
	add := func(name string) {
		if !contains(out, name) {
			out = append(out, name)
		}
	}
	for i := 0; i < len(w); i++ {
		if w[i] != "from" && w[i] != "join" {
			continue
		}
		list := w[i] == "from"
		for j := i + 1; j < len(w); {
			if w[j] == "(" || !isName(w[j]) {
				break
			}
			name := w[j]
			j++
			if j+1 < len(w) && w[j] == "." && isName(w[j+1]) {
				name += "." + w[j+1]
				j += 2
			}
			add(name)
			if j < len(w) && w[j] == "as" {
				j++
			}
			if j < len(w) && isName(w[j]) && !sqlKeywords[w[j]] {
				j++ // alias
			}
			if !list || j >= len(w) || w[j] != "," {
				break
			}
			j++
		}
	}
	return out
}

func isName(w string) bool { return w != "" && isWordByte(w[0]) && !sqlKeywords[w] }

// sqlKeywords are the words that can follow a table reference.
var sqlKeywords = map[string]bool{
	"where": true, "join": true, "inner": true, "left": true, "right": true, "cross": true, "natural": true,
	"straight_join": true, "on": true, "using": true, "group": true, "order": true, "limit": true, "having": true,
	"union": true, "select": true, "outer": true, "as": true, "force": true, "use": true, "ignore": true,
	"window": true, "for": true, "lock": true, "into": true, "procedure": true, "except": true, "intersect": true,
}

// colRef is where a query names a column: [qualifier.]name, as a byte
// span.
type colRef struct {
	start, end int
	name       string // lower case, unquoted
	params     int    // ? placeholders before it
}

// columnRefs lists the spans of the query that may name a column: a word,
// or word.word, outside strings and comments, not followed by "(".
func columnRefs(q string) []colRef {
	var out []colRef
	params := 0
	lastEnd := -1 // end of the previous word, when it ended with a "."
	for i := 0; i < len(q); {
		c := q[i]
		switch {
		case c == '\'' || c == '"':
			i = skipLiteral(q, i)
			lastEnd = -1
		case isCommentStart(q, i):
			if i = skipComment(q, i); i < 0 {
				return out
			}
		case c == '?':
			params++
			i++
			lastEnd = -1
		case c == '`' || isWordByte(c):
			start := i
			var name string
			if c == '`' {
				j := strings.IndexByte(q[i+1:], '`')
				if j < 0 {
					return out
				}
				name, i = q[i+1:i+1+j], i+j+2
			} else {
				j := i
				for j < len(q) && isWordByte(q[j]) {
					j++
				}
				name, i = q[i:j], j
			}
			if lastEnd >= 0 && len(out) > 0 && out[len(out)-1].end == lastEnd {
				start = out[len(out)-1].start // qualified: replace the whole name
				out = out[:len(out)-1]
			}
			lastEnd = -1
			if i < len(q) && q[i] == '.' {
				out = append(out, colRef{start: start, end: i, name: strings.ToLower(name), params: params})
				lastEnd = i
				i++
				continue
			}
			k := i
			for k < len(q) && (q[k] == ' ' || q[k] == '\t' || q[k] == '\n') {
				k++
			}
			if k < len(q) && q[k] == '(' {
				continue // a function
			}
			out = append(out, colRef{start: start, end: i, name: strings.ToLower(name), params: params})
		default:
			i++
			lastEnd = -1
		}
	}
	return out
}

// comparedColumns finds, for each place the query names a column of one
// of its tables, the columns it is compared with: the place is wrapped as
// CONCAT(?, place) and mapgate's own column discovery says which columns
// that new parameter meets (the column itself, and those of the same
// comparison or string expression).
func (a *auditor) comparedColumns(ctx context.Context, db *sql.DB, host, database, query string) ([][]schema.ColumnInfo, error) {
	names := map[string]bool{}
	for _, name := range queryTables(query) {
		schema, table := database, name
		if i := strings.IndexByte(name, '.'); i >= 0 {
			schema, table = name[:i], name[i+1:]
		}
		t, err := a.table(ctx, db, host, schema, table)
		if err != nil {
			return nil, err
		}
		if t == nil {
			continue
		}
		for _, c := range t.cols {
			if c.textual() {
				names[strings.ToLower(c.name)] = true
			}
		}
	}
	var sets [][]schema.ColumnInfo
	for _, r := range columnRefs(query) {
		if !names[r.name] {
			continue
		}
		probe := query[:r.start] + "CONCAT(?, " + query[r.start:r.end] + ")" + query[r.end:]
		pcs, err := schema.DiscoverColumns(ctx, db, database, probe)
		if err != nil {
			return nil, err
		}
		if r.params < len(pcs) && pcs[r.params].Known && len(pcs[r.params].Infos) > 1 {
			sets = append(sets, pcs[r.params].Infos)
		}
	}
	return sets, nil
}

// mixedPairs finds the columns the query compares with each other that the
// server cannot compare: every pair of text columns of different
// collations met in one comparison is tried with EXPLAIN (the server
// refuses such a comparison while preparing it).
func (a *auditor) mixedPairs(ctx context.Context, db *sql.DB, host, database, query string) ([]MixedPair, error) {
	sets, err := a.comparedColumns(ctx, db, host, database, query)
	if err != nil {
		return nil, err
	}
	var out []MixedPair
	tried := map[string]bool{}
	for _, set := range sets {
		for i, x := range set {
			for _, y := range set[i+1:] {
				if x.Collation == "" || y.Collation == "" || strings.EqualFold(x.Collation, y.Collation) {
					continue
				}
				key := x.ColumnRef.String() + "|" + y.ColumnRef.String()
				if y.ColumnRef.String() < x.ColumnRef.String() {
					key = y.ColumnRef.String() + "|" + x.ColumnRef.String()
				}
				if tried[key] {
					continue
				}
				tried[key] = true
				q := fmt.Sprintf("EXPLAIN SELECT 1 FROM %s.%s AS a, %s.%s AS b WHERE a.%s = b.%s",
					quoteIdent(x.Schema), quoteIdent(x.Table), quoteIdent(y.Schema), quoteIdent(y.Table), quoteIdent(x.Column), quoteIdent(y.Column))
				p := &Probe{}
				if err := p.verdict(runRows(ctx, db, q, func(*sql.Rows) error { return nil }), false); err != nil {
					return nil, err
				}
				if p.Breaks {
					a, b := infoColumn(x), infoColumn(y)
					if b.Name() < a.Name() {
						a, b = b, a
					}
					out = append(out, MixedPair{A: a, B: b, Server: p.Server})
				}
			}
		}
	}
	return out, nil
}

func infoColumn(ci schema.ColumnInfo) Column {
	return Column{Schema: ci.Schema, Table: ci.Table, Column: ci.Column, Type: ci.DataType, Charset: ci.Charset,
		Collation: ci.Collation, MaxChars: ci.MaxChars, Indexed: ci.Indexed}
}
