package sqlshape

import (
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

	// Pending holds, for a column of Columns whose table is not known yet
	// (an unqualified column in a query over several tables), the tables
	// it may belong to, innermost scope first.
	Pending []PendingColumn
	// NeedsDB: Known is false only because of Pending columns, which the
	// database's catalogue can place.
	NeedsDB bool
	// Routine, when not nil, is the stored-procedure parameter the
	// placeholder is bound to (CALL p(?)): the value is converted to that
	// parameter's type before the procedure's body runs. The catalogue
	// resolves it (schema.DiscoverParameters); Known is false until then.
	Routine *RoutineArg
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

// PendingColumn is an unqualified column the database's catalogue must
// place (lookup's DiscoverColumns).
type PendingColumn struct {
	Index  int           // into ParamUse.Columns
	Levels [][]ColumnRef // candidate tables per scope, innermost first
}

// Placeholders counts the ? placeholders of sqlText as MySQL's tokenizer
// reads them (not inside a string, a quoted identifier or a comment). err
// is not nil when sqlText cannot be tokenized (an unterminated literal or
// comment): the count is then of the placeholders before the fault.
func Placeholders(sqlText string) (int, error) {
	_, n, err := sqlTokenize(sqlText)
	return n, err
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
	if p.isKw(0, "CALL") {
		if !p.parseCallStatement(uses) {
			for i := range uses {
				uses[i].Why = "not a SELECT statement: a CALL not understood"
			}
		}
		return uses
	}
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
