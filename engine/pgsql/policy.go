package pgsql

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"mapgate/engine"
	"mapgate/sqlshape"
)

// PostgreSQL's key policy. The server converts every parameter value from
// the client encoding (UTF8, always: see Connector) to the database
// encoding as it binds the parameters, and runs the parameter type's input
// function on it, before the statement runs and wherever the parameter
// sits (PostgreSQL manual, "Character Set Support", and the encoding rules
// pgsqlcf's TestEncodingRules measures). So a value that is not valid
// UTF-8 (22021: a NUL too), one with a character the database encoding
// lacks (22P05), or one a parameter of integer type cannot take (22P02)
// fails the whole statement, not one comparison.
//
// Such a value cannot equal any stored one: stored text is valid in the
// database encoding, and with deterministic collations (every built-in
// one) equal strings are equal bytes. What that proves for the statement
// is the parameter's role (shape.go): a miss (required), a NULL in its
// place so that the other branches are still asked (filter), or nothing
// (opaque: the statement is sent as it is, and its error is TEMP).
//
// Before a query (Plan) the check knows: invalid UTF-8 (every encoding);
// the characters of the database encodings whose repertoire is modelled
// below (others: ASCII only, which every server encoding holds); integer
// and numeric parameters (a value with a character no number has). After
// a query, the server's own refusal of a bound value (Classify's bindError)
// is the key's only where a value could have caused it (blamable).

// repertoires are the database encodings whose characters the check knows:
// whether a character (any but NUL) converts from UTF8. LATIN1 is
// ISO-8859-1 (U+0080-U+009F included, no €); WIN1252 is Microsoft's code
// page 1252 without the five bytes it leaves undefined; SQL_ASCII converts
// nothing and takes any valid UTF-8; UTF8 takes any.
var repertoires = map[string]func(r rune) bool{
	"UTF8":      func(rune) bool { return true },
	"SQL_ASCII": func(rune) bool { return true },
	"LATIN1":    func(r rune) bool { return r <= 0xff },
	"WIN1252": func(r rune) bool {
		if r < 0x80 || r >= 0xa0 && r <= 0xff {
			return true
		}
		return strings.ContainsRune(cp1252High, r)
	},
}

// cp1252High are the characters of code page 1252's bytes 0x80-0x9F.
const cp1252High = "€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ"

// Reasons for metrics, beyond the core's ("unrepresentable",
// "invalid_utf8", "nul").
const reasonNotNumber engine.Reason = "not_a_number"

// impossible says why value s of parameter i cannot be bound (the server
// would refuse the statement), or "" when it may be.
func impossible(s string, i int, f *facts) (engine.Reason, string) {
	if !utf8.ValidString(s) {
		return "invalid_utf8", "not valid UTF-8"
	}
	if f == nil {
		return "", ""
	}
	if !f.nondeterministic {
		if holds, ok := repertoires[f.encoding]; ok {
			for _, r := range s {
				if !holds(r) {
					return "unrepresentable", fmt.Sprintf("%U is not in the database encoding %s", r, f.encoding)
				}
			}
		}
	}
	if i < len(f.params) && f.params[i].numeric() && !mayBeNumber(s) {
		return reasonNotNumber, fmt.Sprintf("not a number, which a %s parameter needs", f.params[i].name)
	}
	return "", ""
}

// mayBeNumber reports whether s may be taken by an integer, numeric or
// floating input function (signs, digits, a point, exponents, white
// space, Infinity, NaN, and PostgreSQL 16's 0x/0o/0b prefixes and
// underscores): a character outside those proves it is no number.
func mayBeNumber(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		if !(s[i] >= '0' && s[i] <= '9' || strings.IndexByte("+-._ \t\n\r\v\f", s[i]) >= 0 || strings.IndexByte("abcdefoxinty", c) >= 0) {
			return false
		}
	}
	return true
}

// factsOf returns the facts, nil before discovery.
func factsOf(f engine.Facts) *facts {
	if f == nil {
		return nil
	}
	return f.(*facts)
}

// Plan implements engine.Engine.
func (Engine) Plan(tb *engine.Table, ef engine.Facts, args []any) engine.Plan {
	t, f := native(tb), factsOf(ef)
	var plan engine.Plan
	for i, a := range args {
		s, ok := a.(string)
		if !ok {
			continue
		}
		if j := strings.IndexByte(s, 0); j >= 0 {
			// PostgreSQL's text cannot hold NUL; Postfix's clients cannot
			// send one.
			return engine.Plan{Miss: &engine.Miss{Reason: "nul", Column: param(i), Err: fmt.Errorf("%s: a NUL at byte %d", param(i), j)}}
		}
		reason, why := impossible(s, i, f)
		if reason == "" {
			continue
		}
		switch t.role(i) {
		case sqlshape.RoleRequired:
			return engine.Plan{Miss: &engine.Miss{Reason: reason, Column: param(i), Err: fmt.Errorf("%s: %s", param(i), why)}}
		case sqlshape.RoleFilter:
			plan.Null = append(plan.Null, i)
		default:
			plan.Unproven = true
		}
	}
	return plan
}

func param(i int) string { return fmt.Sprintf("$%d", i+1) }

func (t *table) role(i int) sqlshape.Role {
	if i < len(t.roles) {
		return t.roles[i]
	}
	return sqlshape.RoleOpaque
}

// blamable reports whether the value of parameter i may have caused an
// error the server raised binding the parameters: a value that is not
// printable ASCII and that the check could not vouch for (facts unknown,
// an encoding not modelled, a nondeterministic collation), any value of
// a parameter whose type is not a string type (or not known), and, where
// the statement may use a value as a pattern, one with a backslash or a
// bracket (an escape at the end of a LIKE pattern, an invalid regular
// expression).
func (t *table) blamable(s string, i int, f *facts) bool {
	if s == "" {
		return false
	}
	if f == nil || i >= len(f.params) || !f.params[i].text() {
		return true
	}
	if t.pattern && strings.ContainsAny(s, `\[](){}*+?|^$`) {
		return true
	}
	for j := 0; j < len(s); j++ {
		if c := s[j]; c < 0x20 || c > 0x7e {
			_, known := repertoires[f.encoding]
			return !known || f.nondeterministic || !utf8.ValidString(s)
		}
	}
	return false
}

// KeyErrorMayBe implements engine.Engine.
func (Engine) KeyErrorMayBe(tb *engine.Table, ef engine.Facts, args []any) bool {
	t, f := native(tb), factsOf(ef)
	for i, a := range args {
		if s, ok := a.(string); ok && t.blamable(s, i, f) {
			return true
		}
	}
	return false
}

// KeyErrorIsMiss implements engine.Engine: every value that may have
// caused the error is in a required comparison.
func (Engine) KeyErrorIsMiss(tb *engine.Table, ef engine.Facts, args []any) bool {
	t, f := native(tb), factsOf(ef)
	blamed := false
	for i, a := range args {
		s, ok := a.(string)
		if !ok || !t.blamable(s, i, f) {
			continue
		}
		if t.role(i) != sqlshape.RoleRequired {
			return false
		}
		blamed = true
	}
	return blamed
}
