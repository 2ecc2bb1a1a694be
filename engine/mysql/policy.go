package mysql

import (
	"errors"
	"regexp/syntax"
	"strings"
	"unicode/utf8"

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

// A query error about a value (Classify's charset, length and
// pattern errors: 1267, 1366, 1406, 1139 and their kin) is the key's only
// if a value bound from it could have caused it. The error number alone
// does not say so: 1366 also comes from a procedure body that stores a
// constant its table cannot hold, 1267 from a join of two collations,
// 1139 from a broken constant pattern, and those fail for every key.
// Values that could, each unless the check before the query vouched for
// it (it knew every column or procedure parameter the value meets, and
// passed it):
//
//   - one with anything but printable ASCII: every charset holds ASCII,
//     so a plain ASCII value can cause no charset error;
//   - one longer than maxAddressChars characters: a comparison never
//     checks length (1406 comes only from assigning the value, to a
//     procedure's parameter say), and no mail address is that long;
//   - one that is not a valid regular expression, bound where a pattern
//     may be (REGEXP, RLIKE, a shape not understood): an invalid pattern
//     matches nothing, and only a pattern gives 1139.
//
// An ASCII key that is short and no pattern is so never blamed: its error
// is the query's or the schema's, for every key (ERROR, class "query").

// maxAddressChars is the longest mail address (RFC 5321 section 4.5.3.1:
// a path of 256 octets, the angle brackets included).
const maxAddressChars = 254

// blamable reports whether args[i] may have caused a charset, length or
// pattern error (see above); cols are the table's column facts.
func (t *table) blamable(args []any, i int, cols []schema.ParamColumns) bool {
	s, ok := args[i].(string)
	if !ok {
		return false
	}
	var p *schema.ParamColumns
	if t.connOK && i < len(cols) && vouched(cols[i]) {
		p = &cols[i]
	}
	return keySuspect(s) && p == nil ||
		len(s) > maxAddressChars && utf8.RuneCountInString(s) > maxAddressChars && (p == nil || !lengthVouched(*p)) ||
		(i >= len(cols) || mayBePattern(cols[i])) && invalidPattern(s)
}

// keyErrorMayBe reports whether a charset, length or pattern error from
// the query, run with args, can be the key's doing.
func (t *table) keyErrorMayBe(args []any) bool {
	cols := t.facts()
	for i := range args {
		if t.blamable(args, i, cols) {
			return true
		}
	}
	return false
}

// keyErrorIsMiss reports whether such an error proves that no row
// matches: every value that may have caused it sits in a comparison every
// returned row needs (RoleRequired).
func (t *table) keyErrorIsMiss(args []any) bool {
	cols := t.facts()
	blamed := false
	for i := range args {
		if !t.blamable(args, i, cols) {
			continue
		}
		if i >= len(t.roles) || t.roles[i] != sqlshape.RoleRequired {
			return false
		}
		blamed = true
	}
	return blamed
}

// lengthVouched reports whether a value p's check passed cannot be too
// long for where it goes: it is only compared with columns (a comparison
// never fails on length), or its procedure parameter's length is known,
// and the check applied it.
func lengthVouched(p schema.ParamColumns) bool {
	for _, ci := range p.Infos {
		if ci.Routine && ci.Charset != "" && ci.MaxChars == 0 {
			return false
		}
	}
	return true
}

// invalidPattern reports whether s may be an invalid pattern for the
// server's regular expressions (MariaDB's PCRE2, MySQL 8's ICU). Go's
// RE2 syntax is, but for its smaller repeat limit (1000), within theirs:
// what it parses, they do (a key like user+tag@example.com is a valid
// pattern), so only what it refuses can be the key's pattern error.
func invalidPattern(s string) bool {
	_, err := syntax.Parse(s, syntax.Perl)
	return err != nil
}

// mayBePattern reports whether p's value may be a pattern: p is compared
// by REGEXP or RLIKE, or p's shape is not understood.
func mayBePattern(p schema.ParamColumns) bool {
	if !p.Known {
		return true
	}
	op := strings.ToUpper(p.Op)
	return strings.Contains(op, "REGEXP") || strings.Contains(op, "RLIKE")
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
		if ci.Routine || p.Direct && lengthSafeCollation(ci.Collation) {
			// A procedure's parameter is assigned the value: more
			// characters than it holds (trailing spaces aside) fail the
			// CALL or cut the key, whatever the collation (schema's
			// routines.go).
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
