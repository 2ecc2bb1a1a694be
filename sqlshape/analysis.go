package sqlshape

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

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
		c.u.NeedsDB = false
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
		c.u.NeedsDB = true
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
			u.Pending = append(u.Pending, PendingColumn{Index: len(u.Columns), Levels: f.levels})
		}
		u.Columns = append(u.Columns, f.ref)
	}
	if !u.Known && !u.NeedsDB {
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
				if t.alias == "" && !t.derived && t.opaque == "" && t.name == table && (t.schema == schema || t.schema == "") {
					return ColumnRef{Schema: schema, Table: table, Column: col}, nil, ""
				}
			}
			if why := opaqueSource(sc); why != "" {
				return ColumnRef{}, nil, fmt.Sprintf("column %s may belong to %s", name, why)
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
					if t.opaque == "" && (label == q || fold && strings.EqualFold(label, q)) {
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
			if why := opaqueSource(sc); why != "" {
				return ColumnRef{}, nil, fmt.Sprintf("column %s may belong to %s", name, why)
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
				if t.opaque != "" {
					return ColumnRef{}, nil, fmt.Sprintf("unqualified column %s in a query with %s", col, t.opaque)
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

// opaqueSource returns the first table source of sc not understood, or "".
func opaqueSource(sc *sqlScope) string {
	for _, t := range sc.tables {
		if t.opaque != "" {
			return t.opaque
		}
	}
	return ""
}
