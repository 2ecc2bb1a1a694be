package mysql

import (
	"errors"
	"strings"

	"mapgate/charset"
	"mapgate/engine"
	"mapgate/schema"
	"mapgate/sqlshape"
)

// MySQL's key policy. MySQL converts and compares each value where the
// query compares it (MySQL manual, "Collation Coercibility in
// Expressions"): a value a column's charset cannot hold makes that one
// comparison false, or fails the statement with a charset error (1267 and
// kin), depending on the expression. So the proof is per comparison: what
// a false comparison of each parameter proves is its sqlshape.Role.
//
// The methods below are the lookup core's table methods of old
// (lookup/keycheck.go), on the engine's table with the facts of one
// lookup (withFacts): the same names, fields and bodies.

// withFacts returns the table as one lookup sees it, with the column
// facts f (nil before discovery). The copy is the lookup's own.
func withFacts(tb *engine.Table, f engine.Facts) table {
	t := *native(tb)
	t.cols = Columns(f)
	return t
}

// facts returns the column facts of this lookup.
func (t *table) facts() []schema.ParamColumns { return t.cols }

// KeyErrorMayBe implements engine.Engine (keyErrorMayBe).
func (Engine) KeyErrorMayBe(tb *engine.Table, f engine.Facts, args []any) bool {
	t := withFacts(tb, f)
	return t.keyErrorMayBe(args)
}

// KeyErrorIsMiss implements engine.Engine (keyErrorIsMiss).
func (Engine) KeyErrorIsMiss(tb *engine.Table, f engine.Facts, args []any) bool {
	t := withFacts(tb, f)
	return t.keyErrorIsMiss(args)
}

// Plan implements engine.Engine: PlanArgs over the table's connection
// charset and the facts' columns.
func (Engine) Plan(tb *engine.Table, f engine.Facts, args []any) engine.Plan {
	t := withFacts(tb, f)
	return t.plan(args)
}

// keyErrorMayBe reports whether a charset or collation error from the
// query, run with args, can be the key's doing: some bound value is not
// plain ASCII and the check could not vouch for it.
func (t *table) keyErrorMayBe(args []any) bool {
	cols := t.facts()
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
	cols := t.facts()
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
func (t *table) plan(args []any) engine.Plan {
	return PlanArgs(args, t.facts(), t.conn, t.connOK)
}

// CheckArgs reports why a search step with these bound values is answered
// without a query (see PlanArgs), or nil when the query is sent.
func CheckArgs(args []any, cols []schema.ParamColumns, conn charset.Charset, connKnown bool) *charset.Error {
	var ce *charset.Error
	if m := PlanArgs(args, cols, conn, connKnown).Miss; m != nil && errors.As(m.Err, &ce) {
		return ce
	}
	return nil
}

// miss is a charset.Error as the core's Miss.
func miss(err *charset.Error) *engine.Miss {
	return &engine.Miss{Reason: engine.Reason(err.Reason.String()), Column: err.Column, Err: err}
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
func PlanArgs(args []any, cols []schema.ParamColumns, conn charset.Charset, connKnown bool) engine.Plan {
	var plan engine.Plan
	for i, a := range args {
		s, ok := a.(string)
		if !ok {
			continue
		}
		if j := strings.IndexByte(s, 0); j >= 0 {
			// Postfix's own clients can never look one up.
			return engine.Plan{Miss: miss(&charset.Error{Reason: charset.ReasonNUL, Offset: j})}
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
			return engine.Plan{Miss: miss(err)}
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
