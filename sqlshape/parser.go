package sqlshape

import (
	"fmt"
	"strings"
)

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
	// opaque, when not "", is a table source not understood (a
	// parenthesised join): any column may be one of its tables'.
	opaque string
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
	params  []*sqlNode      // by placeholder ordinal; nil when skipped
	skipped map[int]string  // why a placeholder was skipped
	sel     *sqlSelect      // the SELECT being parsed
	ctes    map[string]bool // lower-cased names a WITH clause defined
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
	if p.acceptKw("WITH") {
		p.parseWith()
	}
	if !p.isQuery(0) {
		p.fail("not a SELECT statement")
	}
	p.parseQuery(nil, true)
	p.acceptOp(";")
	if p.peek().kind != tkEOF {
		p.fail("unexpected text after the statement")
	}
	return nil
}

// parseWith parses the common table expressions of a WITH clause, up to
// the statement's query. Their bodies are not analysed: the placeholders
// in them leave the check, and only they. Their names become derived
// tables wherever the query names them, so a CTE that shadows a real
// table (WITH alias AS (...)) never lends that table's columns to a
// placeholder.
func (p *sqlParser) parseWith() {
	p.acceptKw("RECURSIVE")
	if p.ctes == nil {
		p.ctes = map[string]bool{}
	}
	for {
		name := p.parseName("a common table expression's name")
		p.ctes[strings.ToLower(name)] = true
		if p.isOp(0, "(") {
			p.skipGroup() // its column names
		}
		p.expectKw("AS")
		if !p.isOp(0, "(") {
			p.fail("expected '(' after AS")
		}
		start := p.i
		p.skipGroup()
		p.skip(start, "query not understood: the body of a WITH clause is not analysed")
		if !p.acceptOp(",") {
			return
		}
	}
}

// parseQuery parses SELECT ... [UNION|EXCEPT|INTERSECT [ALL|DISTINCT] SELECT ...].
// top is false for subqueries and derived tables.
func (p *sqlParser) parseQuery(outer *sqlScope, top bool) {
	items, first := p.parseOperand(outer)
	union := false
	for p.isKw(0, "UNION") || p.isKw(0, "EXCEPT") || p.isKw(0, "INTERSECT") {
		p.next()
		if !p.acceptKw("ALL") {
			p.acceptKw("DISTINCT")
		}
		if !p.isQuery(0) {
			p.fail("expected SELECT after UNION")
		}
		more, _ := p.parseOperand(outer)
		items = append(items, more...)
		union = true
	}
	if first != nil {
		first.alone = top && !union
	}
	// The select list of a subquery or a UNION is compared or merged
	// with more than this query shows.
	if !top || union {
		for _, n := range items {
			n.nested = true
		}
	}
}

// parseOperand parses one operand of a set operation: a SELECT core, or a
// parenthesised query, which is analysed as a nested one (never the
// statement's only SELECT): sel is then nil.
func (p *sqlParser) parseOperand(outer *sqlScope) (items []*sqlNode, sel *sqlSelect) {
	if p.isOp(0, "(") {
		p.next()
		p.parseQuery(outer, false)
		p.expectOp(")")
		return nil, nil
	}
	return p.parseSelect(outer)
}

// isQuery reports whether a query starts at token n: SELECT, after any
// number of opening parentheses.
func (p *sqlParser) isQuery(n int) bool {
	for p.isOp(n, "(") {
		n++
	}
	return p.isKw(n, "SELECT")
}

// opaque makes the tokens from start to the current one a construct the
// analysis does not model: the placeholders among them are left
// unanalysed (Known=false, with why), the others are not affected. It
// returns the node that stands for the construct.
func (p *sqlParser) opaque(start int, what string) *sqlNode {
	p.skip(start, "query not understood: "+what+" not supported")
	return &sqlNode{kind: nOther, op: what}
}

// skip leaves the placeholders among the tokens from start to the current
// one unanalysed, with why.
func (p *sqlParser) skip(start int, why string) {
	for k := start; k < p.i; k++ {
		if t := p.toks[k]; t.kind == tkParam {
			p.params[t.param] = nil
			if p.skipped == nil {
				p.skipped = map[int]string{}
			}
			p.skipped[t.param] = why
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
		if !p.isQuery(1) {
			// A parenthesised join: its tables are not known, so no column
			// a placeholder meets is placed where one of them may hold it.
			start := p.i
			p.skipGroup()
			p.opaque(start, "parenthesised join")
			sc.tables = append(sc.tables, sqlTable{opaque: "a parenthesised join"})
			return
		}
		p.next()
		p.parseQuery(sc.parent, false)
		p.expectOp(")")
		tb.derived = true
	} else {
		tb.name = p.parseName("a table name")
		if p.acceptOp(".") {
			tb.schema, tb.name = tb.name, p.parseName("a table name")
		} else if p.ctes[strings.ToLower(tb.name)] {
			tb.derived = true // a common table expression, not a table
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
