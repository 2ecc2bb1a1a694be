package audit

import (
	"context"
	"database/sql"
	"regexp"
	"strings"

	"mapgate/schema"
)

// What the report says about each parameter is mapgate's own analysis
// (schema.DiscoverColumns, which its pre-check uses), corrected where that
// analysis gives up for a reason that is not what the query holds:
//
//   - a parameter in the query's select list (part of the result, not a
//     comparison), reported as compared with whatever it is concatenated
//     with;
//   - a UNION of parenthesised SELECTs, which the analysis cannot read at
//     all ("not a SELECT statement"): the audit reads the blocks without
//     their parentheses and reports the columns they compare, with a note
//     that mapgate's pre-check does not check the parameter.

// selectListWhy is the reason for a parameter in the select list.
const selectListWhy = "parameter in the select list: part of the result, not compared with a column"

// readParams returns the report's view of the parameters; pcs (mapgate's
// analysis) is not changed.
func readParams(ctx context.Context, db *sql.DB, dbname, query string, pcs []schema.ParamColumns) ([]schema.ParamColumns, []string, error) {
	out := append([]schema.ParamColumns(nil), pcs...)
	notes := make([]string, len(out))
	if alt, ok := unparenthesizeUnion(query); ok && unreadable(pcs) {
		apcs, err := schema.DiscoverColumns(ctx, db, dbname, alt)
		if err != nil {
			return nil, nil, err
		}
		if len(apcs) == len(out) {
			for i := range out {
				out[i] = apcs[i]
				notes[i] = "a UNION of parenthesised SELECTs, which mapgate's query analysis does not read: its pre-check lets every key through for this parameter (the columns shown are read from the SELECTs without their parentheses)"
			}
		}
	}
	inSelect := paramsInSelectList(query)
	for i := range out {
		if !out[i].Known && inSelect[i] == selectResult && !strings.Contains(out[i].Why, "select list") {
			out[i].Why = selectListWhy
		}
	}
	return out, notes, nil
}

// unreadable reports whether the analysis gave up on the whole statement.
func unreadable(pcs []schema.ParamColumns) bool {
	for _, pc := range pcs {
		if pc.Known || !strings.Contains(pc.Why, "not a SELECT statement") {
			return false
		}
	}
	return len(pcs) > 0
}

// blockLimitRe is a LIMIT (or ORDER BY ... LIMIT) at the end of a block;
// it changes which rows come back, not which columns are compared.
var blockLimitRe = regexp.MustCompile(`(?is)(\s+ORDER\s+BY\s+[^()]*?)?(\s+LIMIT\s+\d+(\s*,\s*\d+)?)?\s*$`)

// unparenthesizeUnion turns "(SELECT ...) UNION [ALL|DISTINCT] (SELECT
// ...)" into the same SELECTs without parentheses (and without their own
// ORDER BY / LIMIT), for column discovery only.
func unparenthesizeUnion(q string) (string, bool) {
	q = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(q), ";"))
	var parts []string
	for len(q) > 0 {
		if q[0] != '(' {
			return "", false
		}
		end := matchParen(q)
		if end < 0 {
			return "", false
		}
		block := strings.TrimSpace(q[1:end])
		if !strings.HasPrefix(strings.ToUpper(block), "SELECT") {
			return "", false
		}
		parts = append(parts, blockLimitRe.ReplaceAllString(block, ""))
		q = strings.TrimSpace(q[end+1:])
		if q == "" {
			break
		}
		w := strings.Fields(q)
		if !strings.EqualFold(w[0], "UNION") {
			return "", false
		}
		sep := "UNION"
		q = strings.TrimSpace(q[len(w[0]):])
		if len(w) > 1 && (strings.EqualFold(w[1], "ALL") || strings.EqualFold(w[1], "DISTINCT")) {
			sep += " " + strings.ToUpper(w[1])
			q = strings.TrimSpace(q[len(w[1]):])
		}
		parts = append(parts, sep)
	}
	if len(parts) < 3 {
		return "", false
	}
	return strings.Join(parts, " "), true
}

// matchParen returns the index of the parenthesis closing q[0], -1 if none;
// string literals and backquoted names are skipped.
func matchParen(q string) int {
	depth := 0
	for i := 0; i < len(q); i++ {
		switch c := q[i]; c {
		case '\'', '"', '`':
			for i++; i < len(q) && q[i] != c; i++ {
				if q[i] == '\\' && c != '`' {
					i++
				}
			}
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// Where a ? placeholder stands, for paramsInSelectList.
const (
	selectElsewhere = iota // not in the query's own select list
	selectCompared         // in the select list, but an operand of a comparison there
	selectResult           // in the select list, only part of the result
)

// paramsInSelectList tells, per ? placeholder (0-based), whether it stands
// in the select list of the query itself (not of a subquery): the
// innermost SELECT around it has not reached its FROM yet; and if so,
// whether it is compared there (CASE WHEN ? IN (...)) or only part of the
// result (CONCAT(..., ?)).
func paramsInSelectList(q string) map[int]int {
	out := map[int]int{}
	words := sqlWords(q)
	depth := 0
	inList := map[int]bool{} // depth → a SELECT at this depth is before its FROM
	opened := map[int]bool{} // depth → a SELECT started at this depth
	param := 0
	for i, w := range words {
		switch w {
		case "(":
			depth++
		case ")":
			delete(inList, depth)
			delete(opened, depth)
			depth--
		case "select":
			opened[depth], inList[depth] = true, true
		case "from":
			inList[depth] = false
		case "?":
			for d := depth; d >= 0; d-- {
				if opened[d] {
					if inList[d] && !nestedSelect(opened, d) {
						out[param] = selectResult
						if compared(words, i) {
							out[param] = selectCompared
						}
					}
					break
				}
			}
			param++
		}
	}
	return out
}

// Words that make the expression next to them an operand of a comparison.
var (
	cmpBefore = map[string]bool{"=": true, "<": true, ">": true, "in": true, "like": true, "regexp": true, "rlike": true, "between": true}
	cmpAfter  = map[string]bool{"=": true, "<": true, ">": true, "!": true, "in": true, "like": true, "regexp": true, "rlike": true,
		"between": true, "is": true, "not": true, "when": true}
)

// compared reports whether the expression at words[i], or a function call
// or parenthesis around it (up to the select-list item), is an operand of
// a comparison.
func compared(words []string, i int) bool {
	start, end := i, i
	for n := 0; n < len(words); n++ { // bounded: each step widens the span
		if start > 0 && cmpBefore[words[start-1]] || end+1 < len(words) && cmpAfter[words[end+1]] {
			return true
		}
		open := enclosingOpen(words, start)
		if open < 0 || (open+1 < len(words) && words[open+1] == "select") {
			return false
		}
		end = matchingClose(words, open)
		start = open
		if open > 0 && isWordByte(words[open-1][0]) && !sqlKeywords[words[open-1]] && !cmpBefore[words[open-1]] {
			start = open - 1 // the function's name
		}
	}
	return false
}

// enclosingOpen is the index of the "(" around words[i], -1 if none.
func enclosingOpen(words []string, i int) int {
	depth := 0
	for j := i - 1; j >= 0; j-- {
		switch words[j] {
		case ")":
			depth++
		case "(":
			if depth == 0 {
				return j
			}
			depth--
		}
	}
	return -1
}

// matchingClose is the index of the ")" closing words[open].
func matchingClose(words []string, open int) int {
	depth := 0
	for j := open; j < len(words); j++ {
		switch words[j] {
		case "(":
			depth++
		case ")":
			depth--
			if depth == 0 {
				return j
			}
		}
	}
	return len(words) - 1
}

// nestedSelect reports whether the SELECT at depth d is inside another
// one (a subquery), not one block of the statement itself.
func nestedSelect(opened map[int]bool, d int) bool {
	for e := d - 1; e >= 0; e-- {
		if opened[e] {
			return true
		}
	}
	return false
}
