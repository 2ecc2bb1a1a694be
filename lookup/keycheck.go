package lookup

import (
	"strings"

	"mapgate/charset"
	"mapgate/schema"
	"mapgate/sqlshape"
)

// keyErrorMayBe reports whether a charset or collation error from the
// query, run with args, can be the key's doing: some bound value is not
// plain ASCII and the check could not vouch for it.
func (t *table) keyErrorMayBe(args []any) bool {
	var cols []schema.ParamColumns
	if pc := t.columns.Load(); pc != nil {
		cols = *pc
	}
	for i, a := range args {
		s, ok := a.(string)
		if !ok || !keySuspect(s) {
			continue
		}
		if !t.connOK || i >= len(cols) || !vouched(cols[i]) {
			return true
		}
	}
	return false
}

// keyErrorIsMiss reports whether a charset or collation error from the
// query, run with args, proves that no row matches: some bound value is
// not plain ASCII, and every such value that the check could not vouch
// for sits in a comparison every returned row needs (RoleRequired). A value
// the check passed against known columns cannot cause such an error.
func (t *table) keyErrorIsMiss(args []any) bool {
	var cols []schema.ParamColumns
	if pc := t.columns.Load(); pc != nil {
		cols = *pc
	}
	blamed := false
	for i, a := range args {
		s, ok := a.(string)
		if !ok || !keySuspect(s) {
			continue
		}
		if t.connOK && i < len(cols) && vouched(cols[i]) {
			continue
		}
		if i >= len(t.roles) || t.roles[i] != sqlshape.RoleRequired {
			return false
		}
		blamed = true
	}
	return blamed
}

// vouched reports whether the check knew the character set of every column
// parameter p is compared with (so a value it passed cannot cause a
// charset error).
func vouched(p schema.ParamColumns) bool {
	if !p.Known || p.Converted {
		return false
	}
	for _, ci := range p.Infos {
		if ci.Charset == "" {
			continue // not a text column
		}
		if _, ok := charset.Lookup(ci.Charset); !ok {
			return false
		}
	}
	return true
}

// plan checks the bound values against the columns they are compared
// with: see PlanArgs.
func (t *table) plan(args []any) ArgsPlan {
	var cols []schema.ParamColumns
	if pc := t.columns.Load(); pc != nil {
		cols = *pc
	}
	return PlanArgs(args, cols, t.conn, t.connOK)
}

// ArgsPlan is what the check before a query decided for one search step.
type ArgsPlan struct {
	// Miss, when not nil, says why no row can match: the step is a miss,
	// answered without a query.
	Miss *charset.Error
	// Null lists the parameters (0-based) to bind as NULL: no stored value
	// can satisfy their comparison, and NULL filters rows exactly as that
	// false comparison would (RoleFilter), so the statement's other
	// branches are still asked.
	Null []int
	// Unproven: a value failed the check in a comparison whose falseness
	// proves nothing (RoleOpaque). The statement is sent as it is; a
	// charset error it causes is not the key's to answer NOTFOUND for.
	Unproven bool
}

// CheckArgs reports why a search step with these bound values is answered
// without a query (see PlanArgs), or nil when the query is sent.
func CheckArgs(args []any, cols []schema.ParamColumns, conn charset.Charset, connKnown bool) *charset.Error {
	return PlanArgs(args, cols, conn, connKnown).Miss
}

// PlanArgs is mapgate's check before a query: can each bound value, sent
// over a connection of charset conn, equal a value of the columns
// discovery found for it (cols, nil when unknown)? A value that cannot (a
// character the column's charset lacks, or longer than the column where
// that proves a mismatch) makes its comparison false for every row, and
// what follows depends on the parameter's Role: a miss without a query
// (required), a NULL bound in its place (filter), or the statement sent as
// it is (opaque). Unknown columns and charsets, and comparisons through
// COLLATE or CONVERT, are left to the database.
func PlanArgs(args []any, cols []schema.ParamColumns, conn charset.Charset, connKnown bool) ArgsPlan {
	var plan ArgsPlan
	for i, a := range args {
		s, ok := a.(string)
		if !ok {
			continue
		}
		if j := strings.IndexByte(s, 0); j >= 0 {
			// Postfix's own clients can never look one up.
			return ArgsPlan{Miss: &charset.Error{Reason: charset.ReasonNUL, Offset: j}}
		}
		if !connKnown || i >= len(cols) || !cols[i].Known || cols[i].Converted {
			continue
		}
		for _, tr := range cols[i].Transforms {
			s = tr.Apply(s)
		}
		err := checkParam(s, cols[i], conn)
		if err == nil {
			continue
		}
		switch cols[i].Role {
		case sqlshape.RoleRequired:
			return ArgsPlan{Miss: err}
		case sqlshape.RoleFilter:
			plan.Null = append(plan.Null, i)
		default:
			plan.Unproven = true
		}
	}
	return plan
}

// checkParam checks one value against every column its parameter is
// compared with.
func checkParam(s string, p schema.ParamColumns, conn charset.Charset) *charset.Error {
	for _, ci := range p.Infos {
		if ci.Charset == "" {
			continue
		}
		col, ok := charset.Lookup(ci.Charset)
		if !ok {
			continue
		}
		max := 0
		if p.Direct && lengthSafeCollation(ci.Collation) {
			max = ci.MaxChars
		}
		if err := charset.Check(s, conn, col, max); err != nil {
			err.Column = ci.Table + "." + ci.Column
			return err
		}
	}
	return nil
}

// lengthSafeCollation reports whether a key longer than a column of this
// collation provably cannot equal a stored value: true for the simple
// one-character-to-one-weight collations. UCA collations (unicode, 0900,
// uca1400) and latin1_german2_ci can equal a longer key to a shorter value
// ('ß' = 'ss', ignorable characters), so no length check for them.
func lengthSafeCollation(c string) bool {
	c = strings.ToLower(c)
	switch {
	case strings.HasSuffix(c, "_bin"), strings.HasSuffix(c, "_general_ci"), strings.HasSuffix(c, "_general_cs"),
		c == "latin1_swedish_ci", c == "binary":
		return true
	}
	return false
}

// keySuspect reports whether s holds anything but printable ASCII.
func keySuspect(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e {
			return true
		}
	}
	return false
}
