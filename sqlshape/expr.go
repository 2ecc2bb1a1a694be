package sqlshape

import (
	"strings"
)

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
			if p.isQuery(1) {
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
		if (op == "+" || op == "-") && p.isKw(0, "INTERVAL") {
			// date ± INTERVAL expr unit: temporal arithmetic, not
			// modelled; only its own placeholders are left out.
			start := p.i
			p.next()
			p.parseBitOr(sc)
			if t := p.next(); t.kind != tkIdent {
				p.fail("expected an INTERVAL unit")
			}
			l = mk(nOp, op, l, p.opaque(start, "INTERVAL"))
			continue
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
			if p.isQuery(0) {
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
				if p.isOp(1, "(") && p.isQuery(2) {
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
		if p.isOp(0, "->") || p.isOp(0, "->>") {
			// col->'$.path', col->>'$.path': JSON_EXTRACT, not modelled.
			start := p.i
			p.next()
			if t := p.next(); t.kind != tkString && t.kind != tkParam {
				p.fail("expected a JSON path")
			}
			return p.opaque(start, "JSON path operator")
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
		p.skip(start, "query not understood: "+se.msg)
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
