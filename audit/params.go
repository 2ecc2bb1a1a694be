package audit

import (
	"context"
	"database/sql"
	"regexp"
	"strings"

	"mapgate/lookup"
)

// What the report says about each parameter is mapgate's own analysis
// (lookup.DiscoverColumns, which its pre-check uses), corrected where that
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
func readParams(ctx context.Context, db *sql.DB, dbname, query string, pcs []lookup.ParamColumns) ([]lookup.ParamColumns, []string, error) {
	out := append([]lookup.ParamColumns(nil), pcs...)
	notes := make([]string, len(out))
	if alt, ok := unparenthesizeUnion(query); ok && unreadable(pcs) {
		apcs, err := lookup.DiscoverColumns(ctx, db, dbname, alt)
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
		if !out[i].Known && inSelect[i] && !strings.Contains(out[i].Why, "select list") {
			out[i].Why = selectListWhy
		}
	}
	return out, notes, nil
}

// unreadable reports whether the analysis gave up on the whole statement.
func unreadable(pcs []lookup.ParamColumns) bool {
	for _, pc := range pcs {
		if pc.Known || !strings.Contains(pc.Why, "not a SELECT statement") {
			return false
		}
	}
	return len(pcs) > 0
}

// blockLimitRe is a LIMIT (or ORDER BY ... LIMIT) at the end of a block;
// it changes which rows come back, not which columns are compared.
var blockLimitRe = regexp.MustCompile(`(?is)\s+(ORDER\s+BY\s+[^()]*?)?(\s+LIMIT\s+\d+(\s*,\s*\d+)?)?\s*$`)

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

// paramsInSelectList reports, per ? placeholder (0-based), whether it
// stands in the select list of the query itself (not of a subquery): the
// innermost SELECT around it has not reached its FROM yet.
func paramsInSelectList(q string) map[int]bool {
	out := map[int]bool{}
	words := sqlWords(q)
	depth := 0
	inList := map[int]bool{} // depth → a SELECT at this depth is before its FROM
	opened := map[int]bool{} // depth → a SELECT started at this depth
	param := 0
	for _, w := range words {
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
					out[param] = inList[d] && !nestedSelect(opened, d)
					break
				}
			}
			param++
		}
	}
	return out
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
