package sqlshape

import "strings"

// What mapgate audit reads of a query besides its parameters' uses, on
// the same tokens as the analysis (a string, a quoted identifier or a
// comment is never taken for a name or a placeholder).

// Tables lists the tables a query names after FROM (and its commas) and
// JOIN, as written ("table" or "schema.table"), lower case, each once. A
// derived table's own FROM is read too. Nil when the query cannot be
// tokenized.
func Tables(sqlText string) []string {
	toks, _, err := sqlTokenize(sqlText)
	if err != nil {
		return nil
	}
	var out []string
	add := func(name string) {
		for _, n := range out {
			if n == name {
				return
			}
		}
		out = append(out, name)
	}
	name := func(t sqlTok) bool {
		return t.kind == tkQIdent || t.kind == tkIdent && !sqlReserved[t.upper]
	}
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if t.kind != tkIdent || (t.upper != "FROM" && t.upper != "JOIN") {
			continue
		}
		list := t.upper == "FROM"
		for j := i + 1; j < len(toks); {
			if !name(toks[j]) {
				break
			}
			n := strings.ToLower(toks[j].text)
			j++
			if j+1 < len(toks) && toks[j].kind == tkOp && toks[j].text == "." && name(toks[j+1]) {
				n += "." + strings.ToLower(toks[j+1].text)
				j += 2
			}
			add(n)
			if j < len(toks) && toks[j].kind == tkIdent && toks[j].upper == "AS" {
				j++
			}
			if j < len(toks) && name(toks[j]) {
				j++ // alias
			}
			if !list || j >= len(toks) || toks[j].kind != tkOp || toks[j].text != "," {
				break
			}
			j++
		}
	}
	return out
}

// ColumnSpan is a place where a query may name a column: a name or
// qualified name (a.b, a.b.c) that is not a function call.
type ColumnSpan struct {
	// Start and End are byte offsets in the query, End exclusive.
	Start, End int
	// Name is the last part, unquoted, lower case.
	Name string
	// Params is how many ? placeholders come before it.
	Params int
}

// ColumnSpans lists the places of a query that may name a column, in
// order (keywords are among them: the caller matches names against real
// columns). Nil when the query cannot be tokenized.
func ColumnSpans(sqlText string) []ColumnSpan {
	toks, _, err := sqlTokenize(sqlText)
	if err != nil {
		return nil
	}
	var out []ColumnSpan
	params := 0
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if t.kind == tkParam {
			params++
			continue
		}
		if t.kind != tkIdent && t.kind != tkQIdent {
			continue
		}
		start, last := t.pos, i
		for last+2 < len(toks) && toks[last+1].kind == tkOp && toks[last+1].text == "." &&
			(toks[last+2].kind == tkIdent || toks[last+2].kind == tkQIdent) {
			last += 2
		}
		end := tokEnd(sqlText, toks, last)
		i = last
		if n := toks[last+1]; n.kind == tkOp && n.text == "(" {
			continue // a function
		}
		out = append(out, ColumnSpan{Start: start, End: end, Name: strings.ToLower(toks[last].text), Params: params})
	}
	return out
}

// tokEnd is the byte offset just past token i.
func tokEnd(q string, toks []sqlTok, i int) int {
	t := toks[i]
	if t.kind == tkQIdent {
		end, _, err := sqlSkipQuotedIdent(q, t.pos)
		if err == nil {
			return end
		}
	}
	return t.pos + len(t.text)
}

// SelectPlace is where a placeholder stands with respect to the select
// list of the statement itself (not of a subquery).
type SelectPlace uint8

const (
	// NotInSelectList: in a WHERE, ON, subquery or elsewhere.
	NotInSelectList SelectPlace = iota
	// SelectListCompared: in the select list, but an operand of a
	// comparison there (CASE WHEN ? IN (...)).
	SelectListCompared
	// SelectListResult: in the select list, only part of the result
	// (CONCAT(..., ?)).
	SelectListResult
)

// SelectPlaces tells, per ? placeholder, whether it stands in the select
// list of the statement itself: the innermost SELECT around it, one block
// of the statement and not a subquery, has not reached its FROM yet. Nil
// when the query cannot be tokenized.
func SelectPlaces(sqlText string) []SelectPlace {
	toks, n, err := sqlTokenize(sqlText)
	if err != nil {
		return nil
	}
	out := make([]SelectPlace, n)
	depth := 0
	inList := map[int]bool{} // depth → a SELECT at this depth is before its FROM
	opened := map[int]bool{} // depth → a SELECT started at this depth
	for i, t := range toks {
		switch {
		case isOpTok(t, "("):
			depth++
		case isOpTok(t, ")"):
			delete(inList, depth)
			delete(opened, depth)
			depth--
		case t.kind == tkIdent && t.upper == "SELECT":
			opened[depth], inList[depth] = true, true
		case t.kind == tkIdent && t.upper == "FROM":
			inList[depth] = false
		case t.kind == tkParam:
			for d := depth; d >= 0; d-- {
				if !opened[d] {
					continue
				}
				nested := false
				for e := d - 1; e >= 0; e-- {
					nested = nested || opened[e]
				}
				if inList[d] && !nested {
					out[t.param] = SelectListResult
					if comparedAt(toks, i) {
						out[t.param] = SelectListCompared
					}
				}
				break
			}
		}
	}
	return out
}

func isOpTok(t sqlTok, op string) bool { return t.kind == tkOp && t.text == op }

// cmpOps are the operators and keywords that make the expression next to
// them an operand of a comparison; before only, after also IS, NOT, WHEN.
var cmpOps = map[string]bool{"=": true, "<": true, ">": true, "<=": true, ">=": true, "<>": true, "!=": true, "<=>": true,
	"IN": true, "LIKE": true, "REGEXP": true, "RLIKE": true, "BETWEEN": true}

func cmpTok(t sqlTok, after bool) bool {
	switch t.kind {
	case tkOp:
		return cmpOps[t.text] || after && t.text == "!"
	case tkIdent:
		return cmpOps[t.upper] || after && (t.upper == "IS" || t.upper == "NOT" || t.upper == "WHEN")
	}
	return false
}

// comparedAt reports whether the expression at toks[i], or a function call
// or parenthesis around it (up to the select-list item), is an operand of
// a comparison.
func comparedAt(toks []sqlTok, i int) bool {
	start, end := i, i
	for n := 0; n < len(toks); n++ { // bounded: each step widens the span
		if start > 0 && cmpTok(toks[start-1], false) || end+1 < len(toks) && cmpTok(toks[end+1], true) {
			return true
		}
		open := -1
		for j, d := start-1, 0; j >= 0; j-- {
			if isOpTok(toks[j], ")") {
				d++
			} else if isOpTok(toks[j], "(") {
				if d == 0 {
					open = j
					break
				}
				d--
			}
		}
		if open < 0 || toks[open+1].kind == tkIdent && toks[open+1].upper == "SELECT" {
			return false
		}
		end = len(toks) - 1
		for j, d := open, 0; j < len(toks); j++ {
			if isOpTok(toks[j], "(") {
				d++
			} else if isOpTok(toks[j], ")") {
				if d--; d == 0 {
					end = j
					break
				}
			}
		}
		start = open
		if p := toks[max(open-1, 0)]; open > 0 && (p.kind == tkQIdent || p.kind == tkIdent && !sqlReserved[p.upper] && !cmpOps[p.upper]) {
			start = open - 1 // the function's name
		}
	}
	return false
}
