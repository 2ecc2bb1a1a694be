package lookup

// Column discovery, part 1: which columns is each ? placeholder of a query
// compared with? A small tokenizer and a shallow expression parser over the
// SQL that ParseQuery produces (MySQL/MariaDB syntax, default sql_mode).
//
// The parser models MySQL's collation aggregation (MySQL manual, "Collation
// Coercibility in Expressions"): a parameter is a coercible string; every
// comparison (=, IN, LIKE, BETWEEN, ...) and every string function that
// keeps its arguments' character set (CONCAT, LOWER, ...) aggregates the
// collations of its string operands. A column met in such an aggregation
// converts the parameter to the column's charset, which fails with error
// 1267, 1270 or 1271 when the key holds characters that charset lacks. Those
// columns are the ParamUse.Columns. Anything else is Known=false: a shape
// the parser does not understand must never yield a wrong column, since a
// wrong column could make mapgate reject a key that would have matched.

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// ColumnRef names a column a parameter is compared with. Table is the real
// table name (aliases resolved). Schema "" means the connection's database.
type ColumnRef struct {
	Schema, Table, Column string
}

// String renders the reference as schema.table.column, leaving out an empty
// schema or table.
func (c ColumnRef) String() string {
	var parts []string
	for _, s := range []string{c.Schema, c.Table, c.Column} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, ".")
}

// ParamUse describes how one ? placeholder is used in a query.
type ParamUse struct {
	// Index is the placeholder's 1-based position in the query.
	Index int
	// Columns are the columns whose character set the parameter is
	// converted to: every column in the same comparison or string
	// expression (`address = ?` → alias.address; `address = CONCAT(?, '@',
	// alias_domain.target_domain)` → alias.address and
	// alias_domain.target_domain; `x IN (?, ...)`; `col LIKE ?`). Empty when
	// no column constrains the parameter, e.g. in a binary comparison
	// (`BINARY col = ?`, Op "BINARY") or when it is compared with literals
	// only. A column met under a binary conversion is left out: bytes are
	// compared and no collation error can occur.
	//
	// When ParamUses cannot tell which table an unqualified column of a
	// join belongs to, the column is listed with Table "" and Known is false;
	// DiscoverColumns resolves it.
	Columns []ColumnRef
	// Direct is true when the parameter alone is compared with exactly one
	// bare column by =, <=> or IN, so a value longer than the column cannot
	// match (length checks apply). False for CONCAT parts, LIKE, functions
	// and COLLATE on either side.
	Direct bool
	// Op is the innermost operation applied to the parameter: the
	// comparison ("=", "<=>", "<>", "!=", "<", "<=", ">", ">=", "IN",
	// "NOT IN", "LIKE", "NOT LIKE", "REGEXP", "NOT REGEXP", "BETWEEN",
	// "NOT BETWEEN", "SOUNDS LIKE") when the parameter is a bare operand,
	// else the function or operator wrapping it ("CONCAT", "LOWER",
	// "COLLATE", "CONVERT", ...). "BINARY" when the parameter ends up in a
	// binary comparison; "SELECT" for a bare parameter in the select list.
	Op string
	// Converted is true when a COLLATE or CONVERT(... USING cs) stands
	// between the parameter and a column, on either side: the comparison
	// then happens in another character set or collation, where a character
	// outside the column's own repertoire may compare equal to one inside
	// it (utf8mb4_general_ci: 'ā' = 'a'). The column's repertoire proves
	// nothing then, and no key is rejected on it. The same holds when a
	// function that can drop or change characters (SUBSTRING_INDEX, LEFT,
	// REPLACE, LOWER, ...) stands between the parameter and its comparison.
	Converted bool
	// Transforms are the functions the parameter goes through on its way
	// to the comparison that mapgate computes itself (innermost first):
	// the check applies to their result.
	Transforms []Transform
	// Role says what a comparison of this parameter that no stored value
	// can satisfy (a key the column cannot hold, or longer than it) proves
	// about the whole statement. It is worked out from the query alone.
	Role Role
	// Known is false when the shape was not understood: the caller logs Why
	// and relies on error classification alone for this parameter.
	Known bool
	// Why says, when Known is false, why (a short reason for the log).
	Why string

	// pending holds, for a column of Columns whose table is not known yet
	// (an unqualified column in a query over several tables), the tables
	// it may belong to, innermost scope first.
	pending []pendingColumn
	// needsDB: Known is false only because of pending columns.
	needsDB bool
}

// Role is what a parameter's comparison, known to be false for every row,
// proves about the statement.
type Role uint8

const (
	// RoleOpaque: nothing. The comparison is negated, in a CASE, an IF(),
	// the select list, a non-equality comparison or a shape not understood:
	// the statement is sent as it is, and a charset error it causes is
	// TEMP, never NOTFOUND.
	RoleOpaque Role = iota
	// RoleFilter: the comparison only filters rows in (=, IN or LIKE, joined
	// to its WHERE, ON or HAVING clause through AND and OR alone, at any
	// depth of subqueries), and the parameter reaches it through functions
	// that return NULL for a NULL argument. Bound as NULL it filters exactly
	// like a false comparison (three-valued logic under AND and OR), so the
	// other branches of the statement are still asked.
	RoleFilter
	// RoleRequired: every row the statement returns needs the comparison
	// true (=, <=>, a one-element IN or LIKE, joined to the WHERE clause,
	// the ON of an inner join or HAVING through AND alone, in the
	// statement's only SELECT, which does not aggregate without GROUP BY).
	// A false comparison means no row: the search step is a miss, answered
	// without a query.
	RoleRequired
)

func (r Role) String() string {
	switch r {
	case RoleRequired:
		return "required"
	case RoleFilter:
		return "filter"
	default:
		return "opaque"
	}
}

// pendingColumn is an unqualified column DiscoverColumns must place.
type pendingColumn struct {
	index  int           // into ParamUse.Columns
	levels [][]ColumnRef // candidate tables per scope, innermost first
}

// ParamUses returns one ParamUse per ? placeholder of sqlText, in order. A
// ? inside a string literal, a quoted identifier or a comment is not a
// placeholder; one inside an executable comment (/*! ... */) is, but the
// whole query is then Known=false. If sqlText cannot be tokenized (an
// unterminated literal or comment), the placeholders before the fault are
// returned, all Known=false.
func ParamUses(sqlText string) []ParamUse {
	toks, nparam, err := sqlTokenize(sqlText)
	uses := make([]ParamUse, nparam)
	for i := range uses {
		uses[i] = ParamUse{Index: i + 1, Why: "query shape not understood"}
	}
	if err != nil {
		for i := range uses {
			uses[i].Why = err.Error()
		}
		return uses
	}
	for _, t := range toks {
		if t.exec {
			for i := range uses {
				uses[i].Why = "executable comment (/*! ... */) in the query"
			}
			return uses
		}
	}
	p := &sqlParser{toks: toks, params: make([]*sqlNode, nparam)}
	if err := p.parseStatement(); err != nil {
		for i := range uses {
			uses[i].Why = err.Error()
		}
		return uses
	}
	for i, n := range p.params {
		if n == nil {
			if why, ok := p.skipped[i]; ok {
				uses[i].Why = why
			}
			continue
		}
		u := analyseParam(n)
		u.Index = i + 1
		uses[i] = u
	}
	return uses
}

// ---------------------------------------------------------------------------
// Tokenizer

type sqlTokKind uint8

const (
	tkEOF    sqlTokKind = iota
	tkIdent             // a bare word: keyword or identifier
	tkQIdent            // a `quoted` identifier (text unquoted)
	tkString            // a string literal, also N'', X'', B'' and _charset''
	tkNumber            // a numeric literal
	tkParam             // ?
	tkVar               // @var, @@var
	tkOp                // punctuation and operators
)

type sqlTok struct {
	kind  sqlTokKind
	text  string // identifier text, operator, or the raw literal
	upper string // upper-cased text of a tkIdent
	pos   int    // byte offset in the query
	param int    // placeholder ordinal of a tkParam
	exec  bool   // inside an executable comment
}

// sqlCharsets are the character set names that may introduce a literal
// (_latin1'...').
var sqlCharsets = map[string]bool{
	"armscii8": true, "ascii": true, "big5": true, "binary": true, "cp1250": true,
	"cp1251": true, "cp1256": true, "cp1257": true, "cp850": true, "cp852": true,
	"cp866": true, "cp932": true, "dec8": true, "eucjpms": true, "euckr": true,
	"gb2312": true, "gbk": true, "geostd8": true, "greek": true, "hebrew": true,
	"hp8": true, "keybcs2": true, "koi8r": true, "koi8u": true, "latin1": true,
	"latin2": true, "latin5": true, "latin7": true, "macce": true, "macroman": true,
	"sjis": true, "swe7": true, "tis620": true, "ucs2": true, "ujis": true,
	"utf16": true, "utf16le": true, "utf32": true, "utf8": true, "utf8mb3": true,
	"utf8mb4": true, "filename": true,
}

func isIdentByte(c byte) bool {
	return c == '_' || c == '$' || c >= 0x80 || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// sqlTokenize splits q into tokens. It returns the number of placeholders
// seen (up to an error, if any).
func sqlTokenize(q string) ([]sqlTok, int, error) {
	var toks []sqlTok
	nparam := 0
	exec := false
	i := 0
	errAt := func(pos int, msg string) error {
		return fmt.Errorf("%s at offset %d", msg, pos)
	}
	add := func(t sqlTok) {
		t.exec = exec
		toks = append(toks, t)
	}
	for i < len(q) {
		c := q[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '#' || c == '-' && strings.HasPrefix(q[i:], "--") && (i+2 == len(q) || q[i+2] <= ' '):
			if nl := strings.IndexByte(q[i:], '\n'); nl >= 0 {
				i += nl + 1
			} else {
				i = len(q)
			}
		case c == '/' && strings.HasPrefix(q[i:], "/*"):
			if strings.HasPrefix(q[i:], "/*!") || strings.HasPrefix(q[i:], "/*M!") {
				if exec {
					return toks, nparam, errAt(i, "nested executable comment")
				}
				exec = true
				i += strings.IndexByte(q[i:], '!') + 1
				for i < len(q) && isDigit(q[i]) {
					i++
				}
				continue
			}
			end := strings.Index(q[i+2:], "*/")
			if end < 0 {
				return toks, nparam, errAt(i, "unterminated comment")
			}
			i += 2 + end + 2
		case c == '*' && exec && strings.HasPrefix(q[i:], "*/"):
			exec = false
			i += 2
		case c == '\'' || c == '"':
			end, err := sqlSkipString(q, i)
			if err != nil {
				return toks, nparam, err
			}
			add(sqlTok{kind: tkString, text: q[i:end], pos: i})
			i = end
		case c == '`':
			end, text, err := sqlSkipQuotedIdent(q, i)
			if err != nil {
				return toks, nparam, err
			}
			add(sqlTok{kind: tkQIdent, text: text, pos: i})
			i = end
		case c == '?':
			add(sqlTok{kind: tkParam, text: "?", pos: i, param: nparam})
			nparam++
			i++
		case c == '@':
			j := i + 1
			if j < len(q) && q[j] == '@' {
				j++
			}
			if j < len(q) && (q[j] == '\'' || q[j] == '"') {
				end, err := sqlSkipString(q, j)
				if err != nil {
					return toks, nparam, err
				}
				j = end
			} else if j < len(q) && q[j] == '`' {
				end, _, err := sqlSkipQuotedIdent(q, j)
				if err != nil {
					return toks, nparam, err
				}
				j = end
			} else {
				for j < len(q) && (isIdentByte(q[j]) || q[j] == '.') {
					j++
				}
			}
			add(sqlTok{kind: tkVar, text: q[i:j], pos: i})
			i = j
		case isDigit(c) || c == '.' && i+1 < len(q) && isDigit(q[i+1]) && !sqlAfterName(toks):
			j := i
			for j < len(q) && isDigit(q[j]) {
				j++
			}
			word := false
			if j < len(q) && q[j] == '.' {
				j++
				for j < len(q) && isDigit(q[j]) {
					j++
				}
			} else if j < len(q) && isIdentByte(q[j]) && !(q[j] == 'e' || q[j] == 'E') {
				word = true // 0x1f, 0b01, or an identifier such as 1abc
			}
			if !word && j < len(q) && (q[j] == 'e' || q[j] == 'E') {
				k := j + 1
				if k < len(q) && (q[k] == '+' || q[k] == '-') {
					k++
				}
				if k < len(q) && isDigit(q[k]) {
					for k < len(q) && isDigit(q[k]) {
						k++
					}
					j = k
				} else {
					word = true
				}
			}
			if word {
				for j < len(q) && isIdentByte(q[j]) {
					j++
				}
			}
			add(sqlTok{kind: tkNumber, text: q[i:j], pos: i})
			i = j
		case isIdentByte(c):
			j := i
			for j < len(q) && isIdentByte(q[j]) {
				j++
			}
			word := q[i:j]
			up := strings.ToUpper(word)
			// N'..', X'..', B'..' and _charset '..' are literals.
			if j < len(q) && q[j] == '\'' && (up == "N" || up == "X" || up == "B") {
				end, err := sqlSkipString(q, j)
				if err != nil {
					return toks, nparam, err
				}
				add(sqlTok{kind: tkString, text: q[i:end], pos: i})
				i = end
				continue
			}
			if word[0] == '_' && sqlCharsets[strings.ToLower(word[1:])] {
				k := j
				for k < len(q) && (q[k] == ' ' || q[k] == '\t' || q[k] == '\n' || q[k] == '\r') {
					k++
				}
				if k < len(q) && (q[k] == '\'' || q[k] == '"') {
					end, err := sqlSkipString(q, k)
					if err != nil {
						return toks, nparam, err
					}
					add(sqlTok{kind: tkString, text: q[i:end], pos: i})
					i = end
					continue
				}
			}
			add(sqlTok{kind: tkIdent, text: word, upper: up, pos: i})
			i = j
		default:
			op := string(c)
			for _, m := range []string{"<=>", "->>", "<=", ">=", "<>", "!=", "<<", ">>", "||", "&&", ":=", "->"} {
				if strings.HasPrefix(q[i:], m) {
					op = m
					break
				}
			}
			add(sqlTok{kind: tkOp, text: op, pos: i})
			i += len(op)
		}
	}
	if exec {
		return toks, nparam, errAt(len(q), "unterminated executable comment")
	}
	toks = append(toks, sqlTok{kind: tkEOF, pos: len(q)})
	return toks, nparam, nil
}

// sqlAfterName reports whether the last token is a name, after which '.'
// is a qualifier dot and not the start of a number (t.5 is not t .5).
func sqlAfterName(toks []sqlTok) bool {
	if len(toks) == 0 {
		return false
	}
	k := toks[len(toks)-1].kind
	return k == tkIdent || k == tkQIdent
}

// sqlSkipString returns the offset after the string literal starting at
// q[i] (a ' or "), honouring backslash escapes and doubled quotes.
func sqlSkipString(q string, i int) (int, error) {
	quote := q[i]
	j := i + 1
	for j < len(q) {
		switch q[j] {
		case '\\':
			j += 2
			continue
		case quote:
			if j+1 < len(q) && q[j+1] == quote {
				j += 2
				continue
			}
			return j + 1, nil
		}
		j++
	}
	return 0, fmt.Errorf("unterminated string literal at offset %d", i)
}

// sqlSkipQuotedIdent returns the offset after the `identifier` starting at
// q[i], and its unquoted text.
func sqlSkipQuotedIdent(q string, i int) (int, string, error) {
	var b strings.Builder
	j := i + 1
	for j < len(q) {
		if q[j] == '`' {
			if j+1 < len(q) && q[j+1] == '`' {
				b.WriteByte('`')
				j += 2
				continue
			}
			return j + 1, b.String(), nil
		}
		b.WriteByte(q[j])
		j++
	}
	return 0, "", fmt.Errorf("unterminated quoted identifier at offset %d", i)
}

// ---------------------------------------------------------------------------
// Parser

type sqlNodeKind uint8

const (
	nParam    sqlNodeKind = iota
	nColumn               // parts: [schema.]table.]column
	nLiteral              // string, number, NULL, TRUE, FALSE
	nFunc                 // op: upper-case function name; text: CAST type or CONVERT charset
	nOp                   // op: operator (comparisons, AND, +, BINARY, COLLATE, ...)
	nSubquery             // (SELECT ...), EXISTS (SELECT ...)
	nRow                  // (a, b)
	nOther                // variables, CASE, *, opaque function calls
)

type sqlNode struct {
	kind   sqlNodeKind
	op     string
	text   string
	args   []*sqlNode
	parent *sqlNode
	parts  []string   // nColumn
	scope  *sqlScope  // nColumn: where the column was written
	ctx    string     // root nodes: the clause ("select", "where", "on", ...)
	nested bool       // select-list root of a subquery or a UNION
	sel    *sqlSelect // root nodes: the SELECT the clause belongs to
	outer  bool       // an ON root: the condition of an outer join
}

// sqlSelect is what the analysis needs to know of one SELECT core.
type sqlSelect struct {
	// alone: the statement's only SELECT (not a subquery, a derived table
	// or a branch of a UNION).
	alone bool
	// grouped: it has a GROUP BY.
	grouped bool
	// aggregates: its select list may aggregate (COUNT, or a call the
	// parser does not know); without GROUP BY it then returns one row even
	// when its WHERE matches none.
	aggregates bool
}

// sqlTable is one table of a FROM clause.
type sqlTable struct {
	schema, name, alias string
	derived             bool // (SELECT ...) AS alias
}

// sqlScope is the FROM clause of one SELECT; parent is the enclosing query
// (for subqueries).
type sqlScope struct {
	tables []sqlTable
	parent *sqlScope
}

type sqlParser struct {
	toks    []sqlTok
	i       int
	params  []*sqlNode     // by placeholder ordinal; nil when skipped
	skipped map[int]string // why a placeholder was skipped
	sel     *sqlSelect     // the SELECT being parsed
}

// sqlSyntaxError is raised (as a panic) by the parser and recovered in
// parseStatement or around a parenthesised group.
type sqlSyntaxError struct{ msg string }

func (p *sqlParser) fail(format string, args ...any) {
	t := p.peek()
	where := fmt.Sprintf(" at offset %d", t.pos)
	panic(sqlSyntaxError{fmt.Sprintf(format, args...) + where})
}

func (p *sqlParser) peek() sqlTok { return p.toks[p.i] }
func (p *sqlParser) peekN(n int) sqlTok {
	if p.i+n < len(p.toks) {
		return p.toks[p.i+n]
	}
	return p.toks[len(p.toks)-1]
}
func (p *sqlParser) next() sqlTok {
	t := p.toks[p.i]
	if t.kind != tkEOF {
		p.i++
	}
	return t
}

// isKw reports whether the token at offset n is the bare keyword kw.
func (p *sqlParser) isKw(n int, kw string) bool {
	t := p.peekN(n)
	return t.kind == tkIdent && t.upper == kw
}

func (p *sqlParser) acceptKw(kw string) bool {
	if p.isKw(0, kw) {
		p.i++
		return true
	}
	return false
}

func (p *sqlParser) expectKw(kw string) {
	if !p.acceptKw(kw) {
		p.fail("expected %s", kw)
	}
}

func (p *sqlParser) isOp(n int, op string) bool {
	t := p.peekN(n)
	return t.kind == tkOp && t.text == op
}

func (p *sqlParser) acceptOp(op string) bool {
	if p.isOp(0, op) {
		p.i++
		return true
	}
	return false
}

func (p *sqlParser) expectOp(op string) {
	if !p.acceptOp(op) {
		p.fail("expected %q", op)
	}
}

// sqlReserved are words that cannot be a table alias or a column name
// without quoting (the subset the parser needs to recognise).
var sqlReserved = map[string]bool{
	"SELECT": true, "FROM": true, "WHERE": true, "GROUP": true, "BY": true, "HAVING": true,
	"ORDER": true, "LIMIT": true, "JOIN": true, "INNER": true, "LEFT": true, "RIGHT": true,
	"OUTER": true, "CROSS": true, "NATURAL": true, "STRAIGHT_JOIN": true, "FULL": true,
	"ON": true, "USING": true, "UNION": true, "EXCEPT": true, "INTERSECT": true, "ALL": true,
	"DISTINCT": true, "FOR": true, "LOCK": true, "INTO": true, "WINDOW": true, "USE": true,
	"FORCE": true, "IGNORE": true, "PARTITION": true, "AND": true, "OR": true, "NOT": true,
	"XOR": true, "IS": true, "IN": true, "LIKE": true, "BETWEEN": true, "REGEXP": true,
	"RLIKE": true, "AS": true, "CASE": true, "WHEN": true, "THEN": true, "ELSE": true,
	"END": true, "NULL": true, "TRUE": true, "FALSE": true, "EXISTS": true, "COLLATE": true,
	"BINARY": true, "DIV": true, "MOD": true, "INTERVAL": true, "SOUNDS": true, "ESCAPE": true,
	"ASC": true, "DESC": true, "WITH": true, "OFFSET": true, "RETURNING": true, "SET": true,
	"VALUES": true, "ANY": true, "SOME": true, "LATERAL": true,
}

// parseStatement parses a whole statement: SELECT ... [UNION SELECT ...] [;]
func (p *sqlParser) parseStatement() (err error) {
	defer func() {
		if r := recover(); r != nil {
			se, ok := r.(sqlSyntaxError)
			if !ok {
				panic(r)
			}
			err = fmt.Errorf("query not understood: %s", se.msg)
		}
	}()
	if !p.isKw(0, "SELECT") {
		p.fail("not a SELECT statement")
	}
	p.parseQuery(nil, true)
	p.acceptOp(";")
	if p.peek().kind != tkEOF {
		p.fail("unexpected text after the statement")
	}
	return nil
}

// parseQuery parses SELECT ... [UNION|EXCEPT|INTERSECT [ALL|DISTINCT] SELECT ...].
// top is false for subqueries and derived tables.
func (p *sqlParser) parseQuery(outer *sqlScope, top bool) {
	items, first := p.parseSelect(outer)
	union := false
	for p.isKw(0, "UNION") || p.isKw(0, "EXCEPT") || p.isKw(0, "INTERSECT") {
		p.next()
		if !p.acceptKw("ALL") {
			p.acceptKw("DISTINCT")
		}
		if !p.isKw(0, "SELECT") {
			p.fail("expected SELECT after UNION")
		}
		more, _ := p.parseSelect(outer)
		items = append(items, more...)
		union = true
	}
	first.alone = top && !union
	// The select list of a subquery or a UNION is compared or merged
	// with more than this query shows.
	if !top || union {
		for _, n := range items {
			n.nested = true
		}
	}
}

func (p *sqlParser) root(n *sqlNode, ctx string) { n.ctx, n.sel = ctx, p.sel }

// parseSelect parses one SELECT core with its own scope. It returns the
// expressions of the select list, and what the analysis needs to know of
// it.
func (p *sqlParser) parseSelect(outer *sqlScope) (items []*sqlNode, sel *sqlSelect) {
	p.expectKw("SELECT")
	sc := &sqlScope{parent: outer}
	sel = &sqlSelect{}
	saved := p.sel
	p.sel = sel
	defer func() { p.sel = saved }()
	for {
		t := p.peek()
		if t.kind != tkIdent {
			break
		}
		switch t.upper {
		case "ALL", "DISTINCT", "DISTINCTROW", "HIGH_PRIORITY", "STRAIGHT_JOIN",
			"SQL_SMALL_RESULT", "SQL_BIG_RESULT", "SQL_BUFFER_RESULT", "SQL_CACHE",
			"SQL_NO_CACHE", "SQL_CALC_FOUND_ROWS":
			p.next()
			continue
		}
		break
	}
	for {
		if p.acceptOp("*") {
			// SELECT *
		} else {
			n := p.parseExpr(sc)
			p.root(n, "select")
			items = append(items, n)
			if p.acceptKw("AS") {
				if t := p.next(); t.kind != tkIdent && t.kind != tkQIdent && t.kind != tkString {
					p.fail("expected an alias")
				}
			} else if t := p.peek(); t.kind == tkQIdent || t.kind == tkString || t.kind == tkIdent && !sqlReserved[t.upper] {
				p.next()
			}
		}
		if !p.acceptOp(",") {
			break
		}
	}
	if p.acceptKw("FROM") {
		p.parseFrom(sc)
	}
	if p.acceptKw("WHERE") {
		p.root(p.parseExpr(sc), "where")
	}
	for _, n := range items {
		if mayAggregate(n) {
			sel.aggregates = true
		}
	}
	if p.isKw(0, "GROUP") && p.isKw(1, "BY") {
		p.i += 2
		sel.grouped = true
		p.parseExprList(sc, "GROUP BY")
		if p.isKw(0, "WITH") && p.isKw(1, "ROLLUP") {
			p.i += 2
		}
	}
	if p.acceptKw("HAVING") {
		p.root(p.parseExpr(sc), "HAVING")
	}
	if p.isKw(0, "ORDER") && p.isKw(1, "BY") {
		p.i += 2
		p.parseExprList(sc, "ORDER BY")
	}
	if p.acceptKw("LIMIT") {
		p.root(p.parseExpr(sc), "LIMIT")
		if p.acceptOp(",") || p.acceptKw("OFFSET") {
			p.root(p.parseExpr(sc), "LIMIT")
		}
	}
	switch {
	case p.isKw(0, "FOR") && p.isKw(1, "UPDATE"):
		p.i += 2
	case p.isKw(0, "LOCK") && p.isKw(1, "IN"):
		p.i += 2
		p.expectKw("SHARE")
		p.expectKw("MODE")
	}
	return items, sel
}

// sqlAggregates are the aggregate functions that return a value (not NULL)
// over no rows, or may.
var sqlAggregates = map[string]bool{
	"COUNT": true, "SUM": true, "MIN": true, "MAX": true, "AVG": true, "GROUP_CONCAT": true,
	"JSON_ARRAYAGG": true, "JSON_OBJECTAGG": true, "BIT_AND": true, "BIT_OR": true, "BIT_XOR": true,
	"STD": true, "STDDEV": true, "STDDEV_POP": true, "STDDEV_SAMP": true, "VARIANCE": true,
	"VAR_POP": true, "VAR_SAMP": true,
}

// mayAggregate reports whether expression n may hold an aggregate call: a
// known aggregate, or any node the parser kept opaque.
func mayAggregate(n *sqlNode) bool {
	if n.kind == nOther || n.kind == nFunc && sqlAggregates[n.op] {
		return true
	}
	for _, a := range n.args {
		if mayAggregate(a) {
			return true
		}
	}
	return false
}

// parseExprList parses expr [ASC|DESC] {, expr [ASC|DESC]}.
func (p *sqlParser) parseExprList(sc *sqlScope, ctx string) {
	for {
		p.root(p.parseExpr(sc), ctx)
		if !p.acceptKw("ASC") {
			p.acceptKw("DESC")
		}
		if !p.acceptOp(",") {
			return
		}
	}
}

// parseFrom parses the table references of a FROM clause into sc.
func (p *sqlParser) parseFrom(sc *sqlScope) {
	p.parseTableRef(sc)
	for {
		if p.acceptOp(",") {
			p.parseTableRef(sc)
			continue
		}
		start := p.i
		p.acceptKw("NATURAL")
		outer := false
		switch {
		case p.acceptKw("INNER"), p.acceptKw("CROSS"):
		case p.acceptKw("LEFT"), p.acceptKw("RIGHT"), p.acceptKw("FULL"):
			p.acceptKw("OUTER")
			outer = true
		}
		if !p.acceptKw("JOIN") && !p.acceptKw("STRAIGHT_JOIN") {
			if p.i != start {
				p.fail("expected JOIN")
			}
			return
		}
		p.parseTableRef(sc)
		if p.acceptKw("ON") {
			on := p.parseExpr(sc)
			p.root(on, "ON")
			on.outer = outer
		} else if p.acceptKw("USING") {
			p.expectOp("(")
			for {
				if t := p.next(); t.kind != tkIdent && t.kind != tkQIdent {
					p.fail("expected a column name in USING")
				}
				if !p.acceptOp(",") {
					break
				}
			}
			p.expectOp(")")
		}
	}
}

// parseName accepts an identifier (bare, not reserved, or quoted).
func (p *sqlParser) parseName(what string) string {
	t := p.peek()
	if t.kind == tkQIdent && t.text != "" || t.kind == tkIdent && !sqlReserved[t.upper] {
		p.next()
		return t.text
	}
	p.fail("expected %s", what)
	return ""
}

func (p *sqlParser) parseTableRef(sc *sqlScope) {
	var tb sqlTable
	if p.isOp(0, "(") {
		if !p.isKw(1, "SELECT") {
			p.fail("parenthesised join not supported")
		}
		p.next()
		p.parseQuery(sc.parent, false)
		p.expectOp(")")
		tb.derived = true
	} else {
		tb.name = p.parseName("a table name")
		if p.acceptOp(".") {
			tb.schema, tb.name = tb.name, p.parseName("a table name")
		}
		if p.isKw(0, "PARTITION") && p.isOp(1, "(") {
			p.i++
			p.skipGroup()
		}
	}
	if p.acceptKw("AS") {
		tb.alias = p.parseName("an alias")
	} else if t := p.peek(); t.kind == tkQIdent || t.kind == tkIdent && !sqlReserved[t.upper] {
		tb.alias = p.parseName("an alias")
	}
	if tb.derived && tb.alias == "" {
		p.fail("derived table without an alias")
	}
	dual := !tb.derived && tb.schema == "" && tb.alias == "" && strings.EqualFold(tb.name, "DUAL")
	// Index hints: USE|FORCE|IGNORE INDEX|KEY [FOR ...] (...)
	for p.isKw(0, "USE") || p.isKw(0, "FORCE") || p.isKw(0, "IGNORE") {
		p.next()
		if !p.acceptKw("INDEX") {
			p.expectKw("KEY")
		}
		if p.acceptKw("FOR") {
			switch {
			case p.acceptKw("JOIN"):
			case p.acceptKw("ORDER"), p.acceptKw("GROUP"):
				p.expectKw("BY")
			default:
				p.fail("bad index hint")
			}
		}
		if !p.isOp(0, "(") {
			p.fail("expected '(' in index hint")
		}
		p.skipGroup()
		if p.isOp(0, ",") && (p.isKw(1, "USE") || p.isKw(1, "FORCE") || p.isKw(1, "IGNORE")) {
			p.next()
		}
	}
	if !dual {
		sc.tables = append(sc.tables, tb)
	}
}

// skipGroup skips a balanced (...) group starting at the current '('.
func (p *sqlParser) skipGroup() {
	depth := 0
	for {
		t := p.next()
		switch {
		case t.kind == tkEOF:
			p.fail("unbalanced parentheses")
		case t.kind == tkOp && t.text == "(":
			depth++
		case t.kind == tkOp && t.text == ")":
			depth--
			if depth == 0 {
				return
			}
		}
	}
}

// mk builds a node and links its children to it.
func mk(kind sqlNodeKind, op string, args ...*sqlNode) *sqlNode {
	n := &sqlNode{kind: kind, op: op, args: args}
	for _, a := range args {
		a.parent = n
	}
	return n
}

func (p *sqlParser) parseExpr(sc *sqlScope) *sqlNode { return p.parseOr(sc) }

func (p *sqlParser) parseOr(sc *sqlScope) *sqlNode {
	l := p.parseXor(sc)
	if p.isOp(0, "||") {
		p.fail("|| is OR or CONCAT depending on sql_mode")
	}
	for p.acceptKw("OR") {
		l = mk(nOp, "OR", l, p.parseXor(sc))
		if p.isOp(0, "||") {
			p.fail("|| is OR or CONCAT depending on sql_mode")
		}
	}
	return l
}

func (p *sqlParser) parseXor(sc *sqlScope) *sqlNode {
	l := p.parseAnd(sc)
	for p.acceptKw("XOR") {
		l = mk(nOp, "XOR", l, p.parseAnd(sc))
	}
	return l
}

func (p *sqlParser) parseAnd(sc *sqlScope) *sqlNode {
	l := p.parseNot(sc)
	for p.acceptKw("AND") || p.acceptOp("&&") {
		l = mk(nOp, "AND", l, p.parseNot(sc))
	}
	return l
}

func (p *sqlParser) parseNot(sc *sqlScope) *sqlNode {
	if p.acceptKw("NOT") {
		return mk(nOp, "NOT", p.parseNot(sc))
	}
	return p.parsePredicate(sc)
}

var sqlCompareOps = map[string]bool{"=": true, "<=>": true, "<>": true, "!=": true, "<": true, "<=": true, ">": true, ">=": true}

func (p *sqlParser) parsePredicate(sc *sqlScope) *sqlNode {
	l := p.parseBitOr(sc)
	for {
		t := p.peek()
		if t.kind == tkOp && sqlCompareOps[t.text] {
			p.next()
			if (p.isKw(0, "ANY") || p.isKw(0, "SOME") || p.isKw(0, "ALL")) && p.isOp(1, "(") {
				p.next()
				l = mk(nOp, t.text, l, p.parsePrimary(sc))
				continue
			}
			l = mk(nOp, t.text, l, p.parseBitOr(sc))
			continue
		}
		if p.acceptKw("IS") {
			p.acceptKw("NOT")
			if !p.acceptKw("NULL") && !p.acceptKw("TRUE") && !p.acceptKw("FALSE") && !p.acceptKw("UNKNOWN") {
				p.fail("expected NULL, TRUE, FALSE or UNKNOWN after IS")
			}
			l = mk(nOp, "IS", l)
			continue
		}
		not := ""
		if p.isKw(0, "NOT") && (p.isKw(1, "LIKE") || p.isKw(1, "IN") || p.isKw(1, "BETWEEN") || p.isKw(1, "REGEXP") || p.isKw(1, "RLIKE")) {
			p.next()
			not = "NOT "
		}
		switch {
		case p.acceptKw("LIKE"):
			n := mk(nOp, not+"LIKE", l, p.parseBitOr(sc))
			if p.acceptKw("ESCAPE") {
				e := p.parseBitOr(sc)
				e.parent = n
				n.text = "ESCAPE"
				n.args = append(n.args, e)
			}
			l = n
		case p.acceptKw("REGEXP"), p.acceptKw("RLIKE"):
			l = mk(nOp, not+"REGEXP", l, p.parseBitOr(sc))
		case p.acceptKw("IN"):
			if !p.isOp(0, "(") {
				p.fail("expected '(' after IN")
			}
			if p.isKw(1, "SELECT") {
				l = mk(nOp, not+"IN", l, p.parsePrimary(sc))
				continue
			}
			p.next()
			args := []*sqlNode{l}
			for {
				args = append(args, p.parseExpr(sc))
				if !p.acceptOp(",") {
					break
				}
			}
			p.expectOp(")")
			l = mk(nOp, not+"IN", args...)
		case p.acceptKw("BETWEEN"):
			a := p.parseBitOr(sc)
			p.expectKw("AND")
			b := p.parseBitOr(sc)
			l = mk(nOp, not+"BETWEEN", l, a, b)
		case p.isKw(0, "SOUNDS") && p.isKw(1, "LIKE"):
			p.i += 2
			l = mk(nOp, "SOUNDS LIKE", l, p.parseBitOr(sc))
		default:
			if not != "" {
				p.fail("unexpected NOT")
			}
			return l
		}
	}
}

// binary operator levels above comparison, lowest first.
var sqlBinLevels = [][]string{
	{"|"}, {"&"}, {"<<", ">>"}, {"+", "-"}, {"*", "/", "%", "DIV", "MOD"}, {"^"},
}

func (p *sqlParser) parseBitOr(sc *sqlScope) *sqlNode { return p.parseBinLevel(sc, 0) }

func (p *sqlParser) parseBinLevel(sc *sqlScope, level int) *sqlNode {
	if level == len(sqlBinLevels) {
		return p.parseUnary(sc)
	}
	l := p.parseBinLevel(sc, level+1)
	for {
		t := p.peek()
		op := ""
		for _, o := range sqlBinLevels[level] {
			if t.kind == tkOp && t.text == o || t.kind == tkIdent && t.upper == o {
				op = o
			}
		}
		if op == "" {
			return l
		}
		p.next()
		if op == "+" || op == "-" {
			if p.isKw(0, "INTERVAL") {
				p.fail("INTERVAL not supported")
			}
		}
		l = mk(nOp, op, l, p.parseBinLevel(sc, level+1))
	}
}

func (p *sqlParser) parseUnary(sc *sqlScope) *sqlNode {
	t := p.peek()
	var n *sqlNode
	switch {
	case t.kind == tkOp && (t.text == "-" || t.text == "+" || t.text == "~"):
		p.next()
		n = p.parseUnary(sc)
		if n.kind == nLiteral && t.text != "~" { // -1 is a number
			n = &sqlNode{kind: nLiteral, text: t.text + n.text}
		} else {
			n = mk(nOp, "unary "+t.text, n)
		}
	case t.kind == tkOp && t.text == "!":
		p.next()
		n = mk(nOp, "NOT", p.parseUnary(sc))
	case p.isKw(0, "BINARY"):
		p.next()
		n = mk(nOp, "BINARY", p.parseUnary(sc))
	default:
		n = p.parsePrimary(sc)
	}
	for p.acceptKw("COLLATE") {
		t := p.next()
		if t.kind != tkIdent && t.kind != tkQIdent && t.kind != tkString {
			p.fail("expected a collation name")
		}
		n = mk(nOp, "COLLATE", n)
		n.text = t.text
	}
	return n
}

// sqlNiladic are functions callable without parentheses.
var sqlNiladic = map[string]bool{
	"CURRENT_DATE": true, "CURRENT_TIME": true, "CURRENT_TIMESTAMP": true, "CURRENT_USER": true,
	"LOCALTIME": true, "LOCALTIMESTAMP": true, "UTC_DATE": true, "UTC_TIME": true, "UTC_TIMESTAMP": true,
	"CURRENT_ROLE": true, "SYSDATE": true,
}

func (p *sqlParser) parsePrimary(sc *sqlScope) *sqlNode {
	t := p.peek()
	switch t.kind {
	case tkParam:
		p.next()
		n := &sqlNode{kind: nParam}
		p.params[t.param] = n
		return n
	case tkString:
		p.next()
		for p.peek().kind == tkString { // 'a' 'b' is one literal
			p.next()
		}
		return &sqlNode{kind: nLiteral, text: t.text}
	case tkNumber:
		p.next()
		return &sqlNode{kind: nLiteral, text: t.text}
	case tkVar:
		p.next()
		return &sqlNode{kind: nOther, op: "variable " + t.text}
	case tkOp:
		if t.text != "(" {
			break
		}
		return p.guarded("(...)", func() *sqlNode {
			p.next()
			if p.isKw(0, "SELECT") {
				p.parseQuery(sc, false)
				p.expectOp(")")
				return &sqlNode{kind: nSubquery, op: "subquery"}
			}
			e := p.parseExpr(sc)
			if p.acceptOp(",") {
				args := []*sqlNode{e}
				for {
					args = append(args, p.parseExpr(sc))
					if !p.acceptOp(",") {
						break
					}
				}
				p.expectOp(")")
				return mk(nRow, "row", args...)
			}
			p.expectOp(")")
			return e
		})
	case tkQIdent, tkIdent:
		if t.kind == tkIdent {
			switch t.upper {
			case "NULL", "TRUE", "FALSE":
				p.next()
				return &sqlNode{kind: nLiteral, text: t.upper}
			case "EXISTS":
				if p.isOp(1, "(") && p.isKw(2, "SELECT") {
					p.next()
					return mk(nOp, "EXISTS", p.parsePrimary(sc))
				}
			case "CASE":
				return p.parseCase(sc)
			}
			if p.isOp(1, "(") {
				return p.parseCall(sc)
			}
			if sqlNiladic[t.upper] {
				p.next()
				return &sqlNode{kind: nFunc, op: t.upper}
			}
			if sqlReserved[t.upper] {
				p.fail("unexpected %s", t.upper)
			}
		}
		if t.text == "" {
			p.fail("empty identifier")
		}
		p.next()
		parts := []string{t.text}
		for p.isOp(0, ".") {
			p.next()
			if p.acceptOp("*") {
				return &sqlNode{kind: nOther, op: "*"}
			}
			n := p.next()
			if n.kind != tkIdent && n.kind != tkQIdent || n.text == "" {
				p.fail("expected a name after '.'")
			}
			parts = append(parts, n.text)
		}
		if len(parts) > 3 {
			p.fail("name with %d parts", len(parts))
		}
		return &sqlNode{kind: nColumn, parts: parts, scope: sc}
	}
	p.fail("unexpected %q", t.text)
	return nil
}

// guarded runs parse on a parenthesised group starting at the current
// '('. If the group does not parse, it is skipped whole and becomes an
// opaque node; its placeholders are left unanalysed with a reason.
func (p *sqlParser) guarded(what string, parse func() *sqlNode) (n *sqlNode) {
	start := p.i
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		se, ok := r.(sqlSyntaxError)
		if !ok {
			panic(r)
		}
		p.i = start
		if !p.isOp(0, "(") { // a call: skip the name
			p.next()
		}
		p.skipGroup()
		for k := start; k < p.i; k++ {
			if t := p.toks[k]; t.kind == tkParam {
				p.params[t.param] = nil
				if p.skipped == nil {
					p.skipped = map[int]string{}
				}
				p.skipped[t.param] = "query not understood: " + se.msg
			}
		}
		n = &sqlNode{kind: nOther, op: what + " (syntax not understood)"}
	}()
	return parse()
}

func (p *sqlParser) parseCase(sc *sqlScope) *sqlNode {
	p.expectKw("CASE")
	var args []*sqlNode
	if !p.isKw(0, "WHEN") {
		args = append(args, p.parseExpr(sc))
	}
	for p.acceptKw("WHEN") {
		args = append(args, p.parseExpr(sc))
		p.expectKw("THEN")
		args = append(args, p.parseExpr(sc))
	}
	if p.acceptKw("ELSE") {
		args = append(args, p.parseExpr(sc))
	}
	p.expectKw("END")
	return mk(nOther, "CASE", args...)
}

// parseCall parses name(args). CAST and CONVERT have their own syntax;
// other special syntaxes (TRIM(LEADING ...), COUNT(DISTINCT ...)) fall
// back to an opaque node through guarded.
func (p *sqlParser) parseCall(sc *sqlScope) *sqlNode {
	name := p.peek().upper
	return p.guarded(name+"(...)", func() *sqlNode {
		p.next()
		p.expectOp("(")
		switch name {
		case "CAST":
			e := p.parseExpr(sc)
			p.expectKw("AS")
			n := mk(nFunc, name, e)
			n.text = p.typeText()
			return n
		case "CONVERT":
			e := p.parseExpr(sc)
			n := mk(nFunc, name, e)
			if p.acceptKw("USING") {
				t := p.next()
				if t.kind != tkIdent && t.kind != tkQIdent && t.kind != tkString {
					p.fail("expected a character set")
				}
				n.text = "USING " + strings.ToUpper(t.text)
				p.expectOp(")")
				return n
			}
			p.expectOp(",")
			n.text = p.typeText()
			return n
		}
		var args []*sqlNode
		if !p.acceptOp(")") {
			for {
				args = append(args, p.parseExpr(sc))
				if !p.acceptOp(",") {
					break
				}
			}
			p.expectOp(")")
		}
		return mk(nFunc, name, args...)
	})
}

// typeText reads a type name up to the call's closing parenthesis and
// consumes it.
func (p *sqlParser) typeText() string {
	var words []string
	depth := 0
	for {
		t := p.next()
		switch {
		case t.kind == tkEOF:
			p.fail("unterminated type")
		case t.kind == tkOp && t.text == "(":
			depth++
		case t.kind == tkOp && t.text == ")":
			if depth == 0 {
				return strings.Join(words, " ")
			}
			depth--
		case t.kind == tkParam:
			p.fail("placeholder in a type")
		}
		if t.upper != "" {
			words = append(words, t.upper)
		} else {
			words = append(words, t.text)
		}
	}
}

// ---------------------------------------------------------------------------
// Analysis

// sqlStringArgs tells, for each function that keeps the character set of
// its string arguments (result collation aggregated from them), whether
// argument i of n is one of those string arguments.
var sqlStringArgs = map[string]func(i, n int) bool{
	"CONCAT":          func(int, int) bool { return true },
	"CONCAT_WS":       func(int, int) bool { return true },
	"COALESCE":        func(int, int) bool { return true },
	"IFNULL":          func(int, int) bool { return true },
	"LOWER":           func(i, n int) bool { return n == 1 },
	"LCASE":           func(i, n int) bool { return n == 1 },
	"UPPER":           func(i, n int) bool { return n == 1 },
	"UCASE":           func(i, n int) bool { return n == 1 },
	"TRIM":            func(i, n int) bool { return n == 1 },
	"LTRIM":           func(i, n int) bool { return n == 1 },
	"RTRIM":           func(i, n int) bool { return n == 1 },
	"REVERSE":         func(i, n int) bool { return n == 1 },
	"LEFT":            func(i, n int) bool { return i == 0 && n == 2 },
	"RIGHT":           func(i, n int) bool { return i == 0 && n == 2 },
	"SUBSTRING":       func(i, n int) bool { return i == 0 && n <= 3 },
	"SUBSTR":          func(i, n int) bool { return i == 0 && n <= 3 },
	"MID":             func(i, n int) bool { return i == 0 && n <= 3 },
	"SUBSTRING_INDEX": func(i, n int) bool { return i < 2 && n == 3 },
	"REPLACE":         func(i, n int) bool { return n == 3 },
	"LPAD":            func(i, n int) bool { return i != 1 && n == 3 },
	"RPAD":            func(i, n int) bool { return i != 1 && n == 3 },
}

// sqlArity is the number of arguments each function of sqlStringArgs must
// have for its string-argument rule to hold (0: any number ≥ 1).
var sqlArity = map[string][2]int{
	"LOWER": {1, 1}, "LCASE": {1, 1}, "UPPER": {1, 1}, "UCASE": {1, 1}, "TRIM": {1, 1},
	"LTRIM": {1, 1}, "RTRIM": {1, 1}, "REVERSE": {1, 1}, "LEFT": {2, 2}, "RIGHT": {2, 2},
	"SUBSTRING": {2, 3}, "SUBSTR": {2, 3}, "MID": {3, 3}, "SUBSTRING_INDEX": {3, 3},
	"REPLACE": {3, 3}, "LPAD": {3, 3}, "RPAD": {3, 3}, "CONCAT": {1, 1 << 30},
	"CONCAT_WS": {2, 1 << 30}, "COALESCE": {1, 1 << 30}, "IFNULL": {2, 2},
}

// stringFunc reports whether n is a call of a charset-keeping function with
// a valid number of arguments, and whether argument i is a string argument.
func stringFunc(n *sqlNode) (func(i int) bool, bool) {
	if n.kind != nFunc {
		return nil, false
	}
	f, ok := sqlStringArgs[n.op]
	ar := sqlArity[n.op]
	if !ok || len(n.args) < ar[0] || len(n.args) > ar[1] {
		return nil, false
	}
	return func(i int) bool { return f(i, len(n.args)) }, true
}

// isComparison reports whether n aggregates the collations of its operands
// as a predicate; it returns the operands that take part.
func isComparison(n *sqlNode) ([]*sqlNode, bool) {
	if n.kind != nOp {
		return nil, false
	}
	switch strings.TrimPrefix(n.op, "NOT ") {
	case "=", "<=>", "<>", "!=", "<", "<=", ">", ">=", "IN", "BETWEEN", "REGEXP", "SOUNDS LIKE":
		return n.args, true
	case "LIKE":
		if n.text == "ESCAPE" {
			return n.args[:2], true
		}
		return n.args, true
	}
	return nil, false
}

// isBinaryConv reports whether n turns its argument into a binary string.
func isBinaryConv(n *sqlNode) bool {
	switch {
	case n.kind == nOp && n.op == "BINARY":
		return true
	case n.kind == nFunc && n.op == "CAST":
		return strings.HasPrefix(n.text, "BINARY")
	case n.kind == nFunc && n.op == "CONVERT":
		return n.text == "USING BINARY" || strings.HasPrefix(n.text, "BINARY")
	}
	return false
}

// isCharsetConv reports whether n is CONVERT(x USING cs) with a text
// charset: the result has cs and the coercibility of a column.
func isCharsetConv(n *sqlNode) bool {
	return n.kind == nFunc && n.op == "CONVERT" && strings.HasPrefix(n.text, "USING ") && n.text != "USING BINARY"
}

func describe(n *sqlNode) string {
	switch n.kind {
	case nFunc:
		return n.op + "()"
	case nSubquery:
		return "a subquery"
	case nRow:
		return "a row constructor"
	case nColumn:
		return "column " + strings.Join(n.parts, ".")
	}
	return n.op
}

// collector gathers the columns a parameter is aggregated with.
type collector struct {
	u      ParamUse
	failed bool
	binary bool // a binary operand: no charset applies from here up
	depth  int  // levels walked up from the parameter
	// nullStop: the parameter reaches its comparison through a function
	// that does not return NULL for a NULL argument (COALESCE, IFNULL,
	// CONCAT_WS).
	nullStop bool
	// wrapped: a function other than a Transform stands between the
	// parameter and the current level (a Transform above it would see
	// more than the parameter).
	wrapped bool
	cols    []foundColumn
}

// foundColumn is a column met at some level above the parameter.
type foundColumn struct {
	ref    ColumnRef
	levels [][]ColumnRef
	depth  int
}

func (c *collector) unknown(format string, args ...any) {
	if !c.failed {
		c.failed = true
		c.u.Known = false
		c.u.needsDB = false
		c.u.Why = fmt.Sprintf(format, args...)
	}
}

// hasBinary reports whether operand o evaluates to a binary string.
func hasBinary(o *sqlNode) bool {
	for {
		switch {
		case isBinaryConv(o):
			return true
		case o.kind == nOp && o.op == "COLLATE":
			o = o.args[0]
			continue
		}
		if f, ok := stringFunc(o); ok {
			for i, a := range o.args {
				if f(i) && hasBinary(a) {
					return true
				}
			}
		}
		return false
	}
}

// operand adds the columns of operand o (a sibling of the parameter's
// path) to the use.
func (c *collector) operand(o *sqlNode) {
	switch {
	case o.kind == nParam || o.kind == nLiteral:
	case o.kind == nColumn:
		c.column(o)
	case o.kind == nOp && o.op == "COLLATE", isCharsetConv(o):
		c.u.Converted = true
		c.operand(o.args[0])
	default:
		f, ok := stringFunc(o)
		if !ok {
			c.unknown("compared with %s", describe(o))
			return
		}
		for i, a := range o.args {
			if f(i) {
				c.operand(a)
			} else if a.kind != nParam && a.kind != nLiteral {
				c.unknown("%s of %s", describe(a), describe(o))
			}
		}
	}
}

// column resolves a column reference and adds it.
func (c *collector) column(n *sqlNode) {
	ref, levels, why := resolveColumn(n)
	if why != "" {
		c.unknown("%s", why)
		return
	}
	c.cols = append(c.cols, foundColumn{ref: ref, levels: levels, depth: c.depth})
	if levels != nil && !c.failed {
		c.u.Known = false
		c.u.needsDB = true
		c.u.Why = fmt.Sprintf("unqualified column %s in a query over several tables (resolved from information_schema)", ref.Column)
	}
}

// analyseParam works out the use of one placeholder node.
func analyseParam(param *sqlNode) ParamUse {
	c := &collector{u: ParamUse{Known: true}}
	cur := param
	wrap := ""
	for {
		par := cur.parent
		if par == nil {
			// A root without a comparison on the way.
			switch {
			case cur.ctx == "select" && cur.nested:
				c.unknown("parameter in the select list of a subquery or UNION")
			case cur.ctx == "select" && cur == param:
				c.u.Op = "SELECT"
				return c.result()
			case cur.ctx == "select":
				c.u.Op = wrap
				if c.binary {
					c.u.Op = "BINARY"
				}
				return c.result()
			case cur.ctx == "where" || cur.ctx == "ON":
				c.unknown("parameter is not compared with anything")
			default:
				c.unknown("parameter in %s", cur.ctx)
			}
			return c.result()
		}
		if ops, ok := isComparison(par); ok {
			c.comparison(par, ops, cur, param, wrap)
			return c.result()
		}
		switch f, ok := stringFunc(par); {
		case ok:
			if sqlNullStops[par.op] {
				c.nullStop = true
			}
			if tr, ok := substringIndex(par, argIndex(par, cur)); ok && !c.wrapped {
				// Computed by mapgate: the check sees what reaches
				// the comparison.
				c.u.Transforms = append(c.u.Transforms, tr)
			} else if c.wrapped = true; ok || sqlLossy[par.op] {
				// The key's characters may not all reach the
				// comparison, or may reach it changed: no check on the
				// column's repertoire proves anything.
				c.u.Converted = true
			}
			i := argIndex(par, cur)
			if !f(i) {
				c.unknown("parameter is a non-string argument of %s", describe(par))
				return c.result()
			}
			if !c.binary {
				for j, a := range par.args {
					if j == i {
						continue
					}
					if f(j) && hasBinary(a) {
						c.binary = true
						break
					}
				}
			}
			if !c.binary {
				for j, a := range par.args {
					if j == i {
						continue
					}
					if f(j) {
						c.operand(a)
					} else if a.kind != nParam && a.kind != nLiteral {
						c.unknown("%s of %s", describe(a), describe(par))
					}
				}
			}
		case isBinaryConv(par):
			c.binary = true
		case par.kind == nOp && par.op == "COLLATE", isCharsetConv(par):
			c.u.Converted = true
		case par.kind == nOp && (par.op == "AND" || par.op == "OR" || par.op == "XOR" || par.op == "NOT"):
			c.unknown("parameter is used as a condition, not compared with a column")
			return c.result()
		default:
			c.unknown("parameter inside %s", describe(par))
			return c.result()
		}
		if wrap == "" {
			wrap = par.op
		}
		cur = par
		c.depth++
	}
}

func argIndex(par, child *sqlNode) int {
	for i, a := range par.args {
		if a == child {
			return i
		}
	}
	return -1
}

// comparison finishes a use at the comparison cmp; cur is the operand
// holding the parameter.
func (c *collector) comparison(cmp *sqlNode, ops []*sqlNode, cur, param *sqlNode, wrap string) {
	// Which clause is the comparison in?
	root := cmp
	for root.parent != nil {
		root = root.parent
	}
	switch root.ctx {
	case "select", "where", "ON":
	default:
		c.unknown("parameter in %s", root.ctx)
		return
	}
	if argIndex(cmp, cur) >= len(ops) {
		c.unknown("parameter in the ESCAPE clause of LIKE")
		return
	}
	if !c.binary {
		for _, o := range ops {
			if o != cur && hasBinary(o) {
				c.binary = true
				break
			}
		}
	}
	bare := 0 // bare column operands
	if !c.binary {
		for _, o := range ops {
			if o == cur {
				continue
			}
			if o.kind == nColumn {
				bare++
			}
			if o.kind == nSubquery {
				c.unknown("compared with a subquery")
				return
			}
			c.operand(o)
		}
	}
	switch {
	case c.binary:
		c.u.Op = "BINARY"
	case wrap != "":
		c.u.Op = wrap
	default:
		c.u.Op = cmp.op
	}
	switch cmp.op {
	case "=", "<=>", "IN":
		c.u.Direct = cur == param && !c.binary && bare == 1 && len(c.cols) == 1
	}
	c.u.Role = filterRole(cmp, cur, c.nullStop)
}

// Transform is SUBSTRING_INDEX(value, Delim, Count) with literal
// arguments, the one character-dropping function published .cf files put
// around a key ('%u' before its '+', the domain after '@').
type Transform struct {
	Delim string
	Count int
}

// Apply computes the function as MySQL does for a one-character
// delimiter: the part before the Count-th delimiter from the left (Count >
// 0) or after the -Count-th from the right (Count < 0); the whole value when
// it has fewer; "" for Count 0.
func (t Transform) Apply(v string) string {
	switch {
	case t.Count == 0:
		return ""
	case t.Count > 0:
		i := -1
		for n := 0; n < t.Count; n++ {
			j := strings.Index(v[i+1:], t.Delim)
			if j < 0 {
				return v
			}
			i += 1 + j
		}
		return v[:i]
	default:
		i := len(v)
		for n := 0; n < -t.Count; n++ {
			j := strings.LastIndex(v[:i], t.Delim)
			if j < 0 {
				return v
			}
			i = j
		}
		return v[i+len(t.Delim):]
	}
}

// substringIndex recognises SUBSTRING_INDEX(param-side, 'c', n) with a
// one-character (ASCII) delimiter and an integer count, the parameter's
// side being argument arg.
func substringIndex(n *sqlNode, arg int) (Transform, bool) {
	if n.op != "SUBSTRING_INDEX" || arg != 0 || len(n.args) != 3 {
		return Transform{}, false
	}
	d, c := n.args[1], n.args[2]
	if d.kind != nLiteral || c.kind != nLiteral {
		return Transform{}, false
	}
	lit := d.text
	if len(lit) != 3 || lit[0] != '\'' || lit[2] != '\'' || lit[1] == '\'' || lit[1] == '\\' || lit[1] >= 0x80 {
		return Transform{}, false
	}
	count, err := strconv.Atoi(c.text)
	if err != nil {
		return Transform{}, false
	}
	return Transform{Delim: lit[1:2], Count: count}, true
}

// sqlLossy are the charset-keeping functions whose result can lose
// characters of a string argument (SUBSTRING_INDEX('ほげ@d', '@', -1) is
// 'd'), or map them to others (LOWER('\u212a') is 'k', which latin1 holds).
var sqlLossy = map[string]bool{
	"LEFT": true, "RIGHT": true, "SUBSTRING": true, "SUBSTR": true, "MID": true,
	"SUBSTRING_INDEX": true, "REPLACE": true, "LPAD": true, "RPAD": true,
	"LOWER": true, "LCASE": true, "UPPER": true, "UCASE": true,
}

// sqlNullStops are the charset-keeping functions that can return a value
// for a NULL argument.
var sqlNullStops = map[string]bool{"COALESCE": true, "IFNULL": true, "CONCAT_WS": true}

// filterRole works out what comparison cmp, false for every row, proves
// about the statement (see Role); cur is the operand holding the parameter.
func filterRole(cmp, cur *sqlNode, nullStop bool) Role {
	switch cmp.op {
	case "=", "<=>", "IN", "LIKE":
	default:
		// <>, <, BETWEEN, REGEXP, NOT ...: a key no column can hold can
		// still compare true.
		return RoleOpaque
	}
	// Every row needs the comparison true, unless it is one of several
	// alternatives: an element of a longer IN list, or under an OR.
	alone := cmp.op != "IN" || len(cmp.args) == 2 || cur == cmp.args[0]
	n := cmp
	for n.parent != nil {
		switch p := n.parent; {
		case p.kind == nOp && p.op == "AND":
		case p.kind == nOp && p.op == "OR":
			alone = false
		default:
			return RoleOpaque // NOT, XOR, CASE, IF(), IS NULL, a comparison of truth values ...
		}
		n = n.parent
	}
	switch n.ctx {
	case "where", "HAVING":
	case "ON":
		if n.outer {
			alone = false // the outer table's rows stay
		}
	default:
		return RoleOpaque // the select list, ORDER BY, ...
	}
	if alone && n.sel != nil && n.sel.alone && (n.sel.grouped || !n.sel.aggregates) {
		return RoleRequired
	}
	if cmp.op == "<=>" || nullStop {
		return RoleOpaque // NULL <=> NULL is true; COALESCE(NULL, x) is x
	}
	return RoleFilter
}

// result lists the columns outermost first: the column the parameter is
// finally compared with before those it is concatenated with.
func (c *collector) result() ParamUse {
	u := c.u
	sort.SliceStable(c.cols, func(i, j int) bool { return c.cols[i].depth > c.cols[j].depth })
	for _, f := range c.cols {
		if f.levels != nil {
			u.pending = append(u.pending, pendingColumn{index: len(u.Columns), levels: f.levels})
		}
		u.Columns = append(u.Columns, f.ref)
	}
	if !u.Known && !u.needsDB {
		u.Direct = false
	}
	return u
}

// resolveColumn finds the table of a column reference. It returns the
// reference, or candidate tables per scope when the table cannot be told
// without the database, or a reason when it cannot be resolved at all.
func resolveColumn(n *sqlNode) (ColumnRef, [][]ColumnRef, string) {
	name := strings.Join(n.parts, ".")
	switch len(n.parts) {
	case 3:
		schema, table, col := n.parts[0], n.parts[1], n.parts[2]
		for sc := n.scope; sc != nil; sc = sc.parent {
			for _, t := range sc.tables {
				if t.alias == "" && !t.derived && t.name == table && (t.schema == schema || t.schema == "") {
					return ColumnRef{Schema: schema, Table: table, Column: col}, nil, ""
				}
			}
		}
		return ColumnRef{}, nil, fmt.Sprintf("column %s: table %s.%s is not in the FROM clause", name, schema, table)
	case 2:
		q, col := n.parts[0], n.parts[1]
		for sc := n.scope; sc != nil; sc = sc.parent {
			var found []sqlTable
			for _, fold := range []bool{false, true} {
				for _, t := range sc.tables {
					label := t.alias
					if label == "" {
						label = t.name
					}
					if label == q || fold && strings.EqualFold(label, q) {
						found = append(found, t)
					}
				}
				if len(found) > 0 {
					break
				}
			}
			switch {
			case len(found) > 1:
				return ColumnRef{}, nil, fmt.Sprintf("column %s: %s names several tables", name, q)
			case len(found) == 1 && found[0].derived:
				return ColumnRef{}, nil, fmt.Sprintf("column %s belongs to a derived table", name)
			case len(found) == 1:
				return ColumnRef{Schema: found[0].schema, Table: found[0].name, Column: col}, nil, ""
			}
		}
		return ColumnRef{}, nil, fmt.Sprintf("column %s: no table %s in the FROM clause", name, q)
	case 1:
		col := n.parts[0]
		var levels [][]ColumnRef
		total := 0
		for sc := n.scope; sc != nil; sc = sc.parent {
			var lv []ColumnRef
			for _, t := range sc.tables {
				if t.derived {
					return ColumnRef{}, nil, fmt.Sprintf("unqualified column %s in a query with a derived table", col)
				}
				lv = append(lv, ColumnRef{Schema: t.schema, Table: t.name, Column: col})
			}
			if len(lv) > 0 {
				levels = append(levels, lv)
				total += len(lv)
			}
		}
		switch total {
		case 0:
			return ColumnRef{}, nil, fmt.Sprintf("column %s: the query has no table", col)
		case 1:
			return levels[0][0], nil, ""
		}
		return ColumnRef{Column: col}, levels, ""
	}
	return ColumnRef{}, nil, "bad column reference " + name
}
