package pgsqlcf

import (
	"fmt"
	"strconv"
	"strings"

	"mapgate/mysqlcf"
)

// Quote says how a parameter was written in the query.
type Quote uint8

// The ways an expansion can be written.
const (
	Bare     Quote = iota // outside quotes: %s
	Standard              // a standard string: '%s' (also continued over lines)
	Escape                // an escape string: E'%s'
	Dollar                // a dollar-quoted string: $$%s$$ or $tag$%s$tag$
)

func (q Quote) String() string {
	return [...]string{"bare", "'…'", "E'…'", "$$…$$"}[q]
}

// Param is one bound parameter ($1, $2, …) of a Template.
type Param struct {
	// Expansion names the one expansion the parameter consists of, in
	// lower case ("%s", "%u", "%d", "%1" … "%9"), or "mixed" when it has
	// other text or several expansions.
	Expansion string
	// Literal is the template text the parameter replaces, without its
	// quotes (for a string continued over lines, the bodies joined), e.g.
	// "%u@%d"; or the expansions themselves for a bare one.
	Literal string
	// Quote is how the parameter was written. Postfix splices a bare
	// expansion into the SQL as it is (escaped for a '…' string); mapgate
	// binds every expansion as a value. Inside $$…$$ Postfix's escaping
	// doubles a key's quotes, which the dollar quoting keeps; inside E'…'
	// (with standard_conforming_strings on) it leaves a key's backslashes,
	// which the server reads as escapes: such a key reaches the database
	// changed through Postfix, unchanged through mapgate.
	Quote Quote
	// Offset is the byte offset of the parameter's "$n" in Template.SQL.
	Offset int
}

// Template is a pgsql_table(5) query turned into parameterised SQL for
// PostgreSQL's extended query protocol: every % expansion is a bound
// parameter $1 … $n, so a key never becomes SQL text.
//
// The expansions themselves (which parts of the key, when the query is
// suppressed) are Postfix's db_common.c, shared with mysql_table(5): the
// values come from a mysqlcf.Template that holds the same parameters.
type Template struct {
	// SQL is the query with "$1" … "$n" for the parameters. It does not
	// depend on the key. The parameters have no declared type: the server
	// infers each from its context, as it does for the untyped '…' literal
	// Postfix sends.
	SQL string
	// Params describes the parameters, Params[i] being $(i+1).
	Params []Param

	values *mysqlcf.Template
}

// Uses reports which expansions appear anywhere in the template text,
// comments included (Postfix scans the whole text).
func (t *Template) Uses() mysqlcf.Uses { return t.values.Uses() }

// Expand appends the values of the template's parameters for key to args,
// one string per parameter. ok is false when Postfix would suppress the
// query for this key (see mysqlcf.Template.Expand: an empty key; %d, %D or
// %1-%9 without a domain or with too few labels; %u or %U with an empty
// localpart); the caller answers "not found" without querying. A template
// from a File also obeys the requirements of the file's result_format.
func (t *Template) Expand(key string, args []any) ([]any, bool) {
	return t.values.Expand(key, args)
}

// tmplError builds an "invalid query template" error.
func tmplError(q string, pos int, format string, args ...any) error {
	return fmt.Errorf("invalid query template: %s (at byte %d of %q)", fmt.Sprintf(format, args...), pos, q)
}

// piece is part of a parameter's value: literal text, or an expansion
// ("%s", "%u", … as written).
type piece struct {
	text string
	exp  string
}

// tmplParser turns a query into SQL and parameters.
type tmplParser struct {
	q      string
	sql    strings.Builder
	params []Param
	pieces [][]piece
	// inComments holds the expansions found in comments: they are dropped
	// from the SQL but count for suppression, as in Postfix.
	inComments strings.Builder
}

// validSpec reports whether c may follow '%' (db_common_parse): %% and
// the expansions s S u U d D 1-9.
func validSpec(c byte) bool { return strings.IndexByte("%sSuUdD123456789", c) >= 0 }

// spec checks the % specification at q[i] == '%' and returns it ("%%" or
// the expansion).
func (p *tmplParser) spec(i int) (string, error) {
	if i+1 >= len(p.q) {
		return "", tmplError(p.q, i, "'%%' at the end")
	}
	if !validSpec(p.q[i+1]) {
		return "", tmplError(p.q, i, "unknown expansion %%%c", p.q[i+1])
	}
	return p.q[i : i+2], nil
}

// ParseQuery turns a pgsql_table(5) query template into parameterised SQL.
//
// Postfix expands % everywhere in the query text before the server sees it
// ("%%" is a '%'), so every '%' here is a specification, wherever it is.
// The SQL is scanned as PostgreSQL's lexer does (scan.l), with
// standard_conforming_strings on (the default since PostgreSQL 9.1):
// '…' strings with ” for a quote, continued by a following '…' after white
// space that holds a newline; E'…' escape strings with backslash escapes;
// $$…$$ and $tag$…$tag$ dollar quoting; "…" identifiers; -- comments and
// nested /* … */ comments. A string (or a continued run of them) holding
// any expansion becomes one parameter whose value is the string's content
// with the expansions substituted: "address = '%u@%d'" binds
// "bob@example.jp". A string without expansions stays SQL text with "%%"
// turned into "%". An expansion outside quotes becomes a parameter on its
// own. Expansions in comments are dropped from the SQL but still count for
// suppression.
//
// Errors: an unknown %x; an unterminated string, identifier, dollar quote
// or comment; an expansion inside a "…" identifier, in a string with
// another prefix (N'…', B'…', X'…', U&'…'), or outside quotes but glued to
// other SQL text; a backslash in a '…' string that holds an expansion, or
// before a quote in any '…' string (both read differently with
// standard_conforming_strings off); a $n parameter of the query's own;
// a second statement after a ';'.
func ParseQuery(q string) (*Template, error) {
	p := &tmplParser{q: q}
	if err := p.parse(); err != nil {
		return nil, err
	}
	t := &Template{SQL: p.sql.String(), Params: p.params}
	values, err := mysqlcf.ParseQuery(p.valuesQuery())
	if err != nil {
		return nil, tmplError(q, 0, "%v", err)
	}
	if err := t.adopt(values); err != nil {
		return nil, err
	}
	return t, nil
}

// adopt takes the expansions of the template's parameters from values, the
// template valuesQuery built, parsed by mysqlcf.
func (t *Template) adopt(values *mysqlcf.Template) error {
	if len(values.Params) != len(t.Params) {
		return fmt.Errorf("invalid query template: %d parameters, but %d values", len(t.Params), len(values.Params))
	}
	for i := range t.Params {
		t.Params[i].Expansion = values.Params[i].Expansion
	}
	t.values = values
	return nil
}

// valuesQuery writes the parameters' values as a mysql_table(5) query of
// the same expansions: "SELECT 'v1', 'v2' /*comment expansions*/", each
// value a MySQL string, so that mysqlcf computes exactly the values and
// the suppression rules Postfix's db_common.c would. The text is one line
// (it may go into a mysql_table(5) file: see File).
func (p *tmplParser) valuesQuery() string {
	var b strings.Builder
	b.WriteString("SELECT 1")
	for _, pcs := range p.pieces {
		b.WriteString(", '")
		for _, pc := range pcs {
			if pc.exp != "" {
				b.WriteString(pc.exp)
				continue
			}
			for i := 0; i < len(pc.text); i++ {
				switch c := pc.text[i]; c {
				case '%':
					b.WriteString("%%")
				case '\\', '\'':
					b.WriteByte('\\')
					b.WriteByte(c)
				case '\n':
					b.WriteString(`\n`)
				case '\r':
					b.WriteString(`\r`)
				case 0:
					b.WriteString(`\0`)
				default:
					b.WriteByte(c)
				}
			}
		}
		b.WriteByte('\'')
	}
	if p.inComments.Len() > 0 {
		b.WriteString(" /*")
		b.WriteString(p.inComments.String())
		b.WriteString("*/")
	}
	return b.String()
}

// identStart and identCont are PostgreSQL's ident_start and ident_cont.
func identStart(c byte) bool {
	return c == '_' || c >= 0x80 || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func identCont(c byte) bool { return identStart(c) || c == '$' || c >= '0' && c <= '9' }

// pgSpace is PostgreSQL's space.
func pgSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func (p *tmplParser) parse() error {
	q := p.q
	if strings.TrimSpace(q) == "" {
		return fmt.Errorf("invalid query template: empty")
	}
	i, semi := 0, -1
	for i < len(q) {
		c := q[i]
		if semi >= 0 && !pgSpace(c) && !strings.HasPrefix(q[i:], "--") && !strings.HasPrefix(q[i:], "/*") && c != ';' {
			return tmplError(q, semi, "several statements: Postfix runs them all and uses the last result; a lookup takes one")
		}
		var err error
		switch {
		case c == ';':
			semi = i
			p.sql.WriteByte(c)
			i++
		case c == '\'':
			i, err = p.str(i, i, Standard)
		case c == '"':
			i, err = p.ident(i)
		case c == '-' && strings.HasPrefix(q[i:], "--"):
			end := len(q)
			if nl := strings.IndexAny(q[i:], "\n\r"); nl >= 0 {
				end = i + nl
			}
			i, err = p.comment(i, end)
		case c == '/' && strings.HasPrefix(q[i:], "/*"):
			var end int
			if end, err = p.blockEnd(i); err == nil {
				i, err = p.comment(i, end)
			}
		case c == '$':
			i, err = p.dollar(i)
		case c == '%':
			i, err = p.bare(i)
		case identStart(c) || c >= '0' && c <= '9':
			i, err = p.word(i)
		default:
			p.sql.WriteByte(c)
			i++
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// word copies an identifier, keyword or number at q[i], or handles a
// string with a prefix (E'…', N'…', B'…', X'…', U&'…', U&"…").
func (p *tmplParser) word(i int) (int, error) {
	q := p.q
	j := i + 1
	for j < len(q) && (identCont(q[j]) || q[j] == '%') {
		if q[j] == '%' {
			spec, err := p.spec(j)
			if err != nil {
				return 0, err
			}
			if spec != "%%" {
				return 0, tmplError(q, j, "expansion outside quotes must stand alone; put it in quotes")
			}
			j += 2
			continue
		}
		j++
	}
	w := q[i:j]
	if j < len(q) && q[j] == '\'' && len(w) == 1 {
		switch w[0] {
		case 'e', 'E':
			return p.str(i, j, Escape)
		case 'n', 'N', 'b', 'B', 'x', 'X':
			return p.str(i, j, 0)
		}
	}
	if len(w) == 1 && (w[0] == 'u' || w[0] == 'U') && strings.HasPrefix(q[j:], "&'") {
		return p.str(i, j+1, 0)
	}
	if len(w) == 1 && (w[0] == 'u' || w[0] == 'U') && strings.HasPrefix(q[j:], `&"`) {
		p.sql.WriteString(q[i : j+1])
		return p.ident(j + 1)
	}
	return p.copyText(i, j), nil
}

// blockEnd finds the end of the nested /* … */ comment at q[i].
func (p *tmplParser) blockEnd(i int) (int, error) {
	q, depth := p.q, 0
	for j := i; j+1 < len(q); j++ {
		switch {
		case q[j] == '/' && q[j+1] == '*':
			depth++
			j++
		case q[j] == '*' && q[j+1] == '/':
			depth--
			j++
			if depth == 0 {
				return j + 1, nil
			}
		}
	}
	return 0, tmplError(q, i, "unterminated /* comment")
}

// comment copies the comment q[i:end], dropping expansions.
func (p *tmplParser) comment(i, end int) (int, error) {
	for j := i; j < end; j++ {
		if p.q[j] != '%' {
			p.sql.WriteByte(p.q[j])
			continue
		}
		if j+1 >= end {
			return 0, tmplError(p.q, j, "'%%' at the end of a comment")
		}
		spec, err := p.spec(j)
		if err != nil {
			return 0, err
		}
		if spec == "%%" {
			p.sql.WriteByte('%')
		} else {
			p.inComments.WriteString(spec)
		}
		j++
	}
	return end, nil
}

// ident copies a "…" identifier at q[i].
func (p *tmplParser) ident(i int) (int, error) {
	q := p.q
	for j := i + 1; j < len(q); j++ {
		switch q[j] {
		case '"':
			if j+1 < len(q) && q[j+1] == '"' {
				j++
				continue
			}
			return p.copyText(i, j+1), nil
		case '%':
			spec, err := p.spec(j)
			if err != nil {
				return 0, err
			}
			if spec != "%%" {
				return 0, tmplError(q, j, `expansion inside a "quoted" identifier`)
			}
			j++
		}
	}
	return 0, tmplError(q, i, `unterminated "identifier"`)
}

// copyText copies q[i:end], which holds no expansions, with "%%" as "%",
// and returns end.
func (p *tmplParser) copyText(i, end int) int {
	for j := i; j < end; j++ {
		p.sql.WriteByte(p.q[j])
		if p.q[j] == '%' {
			j++ // validated by the caller: "%%"
		}
	}
	return end
}

// bare handles '%' outside quotes: "%%", or a run of expansions that
// becomes one parameter.
func (p *tmplParser) bare(i int) (int, error) {
	spec, err := p.spec(i)
	if err != nil {
		return 0, err
	}
	if spec == "%%" {
		p.sql.WriteByte('%')
		return i + 2, nil
	}
	start := i
	var pcs []piece
	for i+1 < len(p.q) && p.q[i] == '%' && p.q[i+1] != '%' {
		spec, err := p.spec(i)
		if err != nil {
			return 0, err
		}
		pcs = append(pcs, piece{exp: spec})
		i += 2
	}
	if start > 0 && identCont(p.q[start-1]) || i < len(p.q) && identCont(p.q[i]) {
		return 0, tmplError(p.q, start, "expansion outside quotes must stand alone; put it in quotes")
	}
	p.param(pcs, p.q[start:i], Bare, i)
	return i, nil
}

// param writes "$n" for the token that ends before q[end], and records the
// parameter. A "$n" must not run into the text around it ('%s'1 would read
// $11, x'…' x$1): a space keeps the tokens apart, as the quotes did.
func (p *tmplParser) param(pcs []piece, literal string, quote Quote, end int) {
	n := len(p.params) + 1
	if out := p.sql.String(); out != "" && identCont(out[len(out)-1]) {
		p.sql.WriteByte(' ')
	}
	p.params = append(p.params, Param{Literal: literal, Quote: quote, Offset: p.sql.Len()})
	p.pieces = append(p.pieces, pcs)
	p.sql.WriteByte('$')
	p.sql.WriteString(strconv.Itoa(n))
	if end < len(p.q) && identCont(p.q[end]) {
		p.sql.WriteByte(' ')
	}
}

// dollar handles '$' at the start of a token: a $n parameter (an error),
// or a dollar-quoted string. Any other '$' is copied.
func (p *tmplParser) dollar(i int) (int, error) {
	q := p.q
	j := i + 1
	if j < len(q) && q[j] >= '0' && q[j] <= '9' {
		return 0, tmplError(q, i, "the query has a $n parameter of its own; use %%s")
	}
	for j < len(q) && (identStart(q[j]) || j > i+1 && q[j] >= '0' && q[j] <= '9') {
		j++
	}
	if j >= len(q) || q[j] != '$' {
		p.sql.WriteByte('$')
		return i + 1, nil
	}
	tag := q[i : j+1]
	if strings.IndexByte(tag, '%') >= 0 {
		return 0, tmplError(q, i, "'%%' in a dollar-quote tag")
	}
	bodyStart := j + 1
	end := strings.Index(q[bodyStart:], tag)
	if end < 0 {
		return 0, tmplError(q, i, "unterminated dollar-quoted string %s", tag)
	}
	bodyEnd := bodyStart + end
	var (
		pcs    []piece
		text   strings.Builder
		hasExp bool
	)
	for k := bodyStart; k < bodyEnd; k++ {
		if q[k] != '%' {
			text.WriteByte(q[k])
			continue
		}
		spec, err := p.spec(k)
		if err != nil {
			return 0, err
		}
		if k+1 >= bodyEnd {
			return 0, tmplError(q, k, "'%%' at the end of a dollar-quoted string")
		}
		k++
		if spec == "%%" {
			text.WriteByte('%')
			continue
		}
		if text.Len() > 0 {
			pcs = append(pcs, piece{text: text.String()})
			text.Reset()
		}
		pcs = append(pcs, piece{exp: spec})
		hasExp = true
	}
	after := bodyEnd + len(tag)
	if !hasExp {
		return p.copyText(i, after), nil
	}
	if text.Len() > 0 {
		pcs = append(pcs, piece{text: text.String()})
	}
	p.param(pcs, q[bodyStart:bodyEnd], Dollar, after)
	return after, nil
}

// continuation returns the index of the quote that continues the string
// that ended just before q[i]: white space holding a newline (-- comments
// allowed), then a quote (scan.l's quotecontinue). It returns -1 if none.
func continuation(q string, i int) int {
	newline := false
	for i < len(q) {
		switch c := q[i]; {
		case c == '\n' || c == '\r':
			newline = true
			i++
		case pgSpace(c):
			i++
		case newline && strings.HasPrefix(q[i:], "--"):
			nl := strings.IndexAny(q[i:], "\n\r")
			if nl < 0 {
				return -1
			}
			i += nl
		case c == '\'' && newline:
			return i
		default:
			return -1
		}
	}
	return -1
}

// str handles a string whose first quote is at q[open]; the token starts at
// q[start] (before a prefix). kind is Standard or Escape; 0 is any other
// prefixed string (N'…', B'…', X'…', U&'…'), which must hold no expansion.
func (p *tmplParser) str(start, open int, kind Quote) (int, error) {
	q := p.q
	var (
		pcs     []piece
		text    strings.Builder
		bodies  strings.Builder
		hasExp  bool
		backsl  = -1 // a backslash in a standard string, for the error
		lastEnd int
	)
	flush := func() {
		if text.Len() > 0 {
			pcs = append(pcs, piece{text: text.String()})
			text.Reset()
		}
	}
	i := open
	for {
		j := i + 1
		for {
			if j >= len(q) {
				return 0, tmplError(q, open, "unterminated string")
			}
			c := q[j]
			if c == '\'' {
				if j+1 < len(q) && q[j+1] == '\'' {
					text.WriteByte('\'')
					j += 2
					continue
				}
				break
			}
			switch {
			case c == '%':
				spec, err := p.spec(j)
				if err != nil {
					return 0, err
				}
				if spec == "%%" {
					text.WriteByte('%')
				} else {
					flush()
					pcs = append(pcs, piece{exp: spec})
					hasExp = true
				}
				j += 2
			case c == '\\' && kind == Escape:
				n, err := p.escape(j, &text)
				if err != nil {
					return 0, err
				}
				j += n
			case c == '\\':
				if kind == Standard && j+1 < len(q) && q[j+1] == '\'' {
					return 0, tmplError(q, j, `backslash before a quote in a '…' string: it ends the string only with standard_conforming_strings on; write '' or E'\''`)
				}
				if backsl < 0 {
					backsl = j
				}
				text.WriteByte(c)
				j++
			default:
				text.WriteByte(c)
				j++
			}
		}
		bodies.WriteString(q[i+1 : j])
		lastEnd = j + 1
		if k := continuation(q, lastEnd); k >= 0 {
			i = k
			continue
		}
		break
	}
	if !hasExp {
		return p.copyText(start, lastEnd), nil
	}
	if kind == 0 {
		return 0, tmplError(q, start, "expansion in a string with a prefix (N'…', B'…', X'…', U&'…')")
	}
	if kind == Standard && backsl >= 0 {
		return 0, tmplError(q, backsl, "backslash in a '…' string with an expansion: its meaning depends on standard_conforming_strings; use E'…'")
	}
	flush()
	p.param(pcs, bodies.String(), kind, lastEnd)
	return lastEnd, nil
}

// escape decodes the backslash escape of an E'…' string at q[j] == '\\'
// into text and returns its length (PostgreSQL's xeescape, xeoctesc,
// xehexesc, xeunicode).
func (p *tmplParser) escape(j int, text *strings.Builder) (int, error) {
	q := p.q
	if j+1 >= len(q) {
		return 0, tmplError(q, j, "unterminated string")
	}
	c := q[j+1]
	digits := func(from, max int, ok func(byte) bool) int {
		n := 0
		for from+n < len(q) && n < max && ok(q[from+n]) {
			n++
		}
		return n
	}
	hex := func(b byte) bool { return b >= '0' && b <= '9' || b >= 'a' && b <= 'f' || b >= 'A' && b <= 'F' }
	switch c {
	case 'b':
		text.WriteByte('\b')
	case 'f':
		text.WriteByte('\f')
	case 'n':
		text.WriteByte('\n')
	case 'r':
		text.WriteByte('\r')
	case 't':
		text.WriteByte('\t')
	case '%':
		// Postfix expands "\%s" to a backslash and the key: the key's
		// first character would be escaped.
		if spec, err := p.spec(j + 1); err != nil {
			return 0, err
		} else if spec != "%%" {
			return 0, tmplError(q, j, "backslash before an expansion")
		}
		text.WriteByte('%')
		return 3, nil
	case '0', '1', '2', '3', '4', '5', '6', '7':
		n := digits(j+1, 3, func(b byte) bool { return b >= '0' && b <= '7' })
		v, _ := strconv.ParseUint(q[j+1:j+1+n], 8, 16)
		if v == 0 || v > 0xff {
			return 0, tmplError(q, j, "invalid octal escape in E'…'")
		}
		text.WriteByte(byte(v))
		return 1 + n, nil
	case 'x':
		n := digits(j+2, 2, hex)
		if n == 0 {
			text.WriteByte('x')
			break
		}
		v, _ := strconv.ParseUint(q[j+2:j+2+n], 16, 8)
		if v == 0 {
			return 0, tmplError(q, j, "invalid hex escape \\x00 in E'…'")
		}
		text.WriteByte(byte(v))
		return 2 + n, nil
	case 'u', 'U':
		want := 4
		if c == 'U' {
			want = 8
		}
		if digits(j+2, want, hex) != want {
			return 0, tmplError(q, j, "invalid Unicode escape in E'…'")
		}
		v, _ := strconv.ParseUint(q[j+2:j+2+want], 16, 32)
		if v == 0 || v > 0x10ffff || v >= 0xd800 && v <= 0xdfff {
			return 0, tmplError(q, j, "invalid Unicode escape value in E'…'")
		}
		text.WriteRune(rune(v))
		return 2 + want, nil
	default:
		text.WriteByte(c)
	}
	return 2, nil
}
