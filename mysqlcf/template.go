package mysqlcf

import (
	"fmt"
	"strings"
)

// Uses is a set of flags telling which % expansions a query template holds.
type Uses uint8

// The expansions a template can use.
const (
	UsesKey    Uses = 1 << iota // %s or %S: the whole key
	UsesUser                    // %u or %U: the localpart
	UsesDomain                  // %d or %D: the domain
	UsesLabels                  // %1 … %9: domain labels
)

// keyReq is what a key must have for a template to apply (db_common.c
// DB_COMMON_KEY_DOMAIN, DB_COMMON_KEY_USER and nparts).
type keyReq struct {
	domain bool // the key needs an '@' and a non-empty domain
	user   bool // the key must not start with '@' (empty localpart)
	nparts int  // the domain needs at least this many labels
}

func (r keyReq) merge(o keyReq) keyReq {
	r.domain = r.domain || o.domain
	r.user = r.user || o.user
	r.nparts = max(r.nparts, o.nparts)
	return r
}

// ok reports whether key meets r, as the checks at the top of
// db_common_expand do. at is the index of the last '@' of key, or -1.
func (r keyReq) ok(key string, at int) bool {
	if r.domain && (at < 0 || at == len(key)-1) {
		return false
	}
	if r.user && at == 0 {
		return false
	}
	if r.nparts > 0 {
		if at < 0 {
			return false
		}
		if _, ok := domainLabel(key[at+1:], r.nparts); !ok {
			return false
		}
	}
	return true
}

// domainLabel returns the nth label of domain counted from the right
// (1 = the top-level label). Empty labels are not counted: Postfix splits
// the domain with argv_split, which skips empty tokens, so "a..b." has the
// labels "a" and "b".
func domainLabel(domain string, n int) (string, bool) {
	end := len(domain)
	for {
		for end > 0 && domain[end-1] == '.' {
			end--
		}
		if end == 0 {
			return "", false
		}
		start := strings.LastIndexByte(domain[:end], '.') + 1
		if n--; n == 0 {
			return domain[start:end], true
		}
		end = start
	}
}

// keyParts is a key split at its last '@', as db_common_expand does.
type keyParts struct {
	key, user, domain string
	at                int
}

func splitKey(key string) keyParts {
	at := strings.LastIndexByte(key, '@')
	if at < 0 {
		return keyParts{key: key, user: key, at: at}
	}
	return keyParts{key: key, user: key[:at], domain: key[at+1:], at: at}
}

// value returns one expansion: 's', 'u', 'd' or '1'…'9'. The key must
// already have passed the template's keyReq.
func (k *keyParts) value(exp byte) string {
	switch exp {
	case 's':
		return k.key
	case 'u':
		return k.user
	case 'd':
		return k.domain
	}
	l, _ := domainLabel(k.domain, int(exp-'0'))
	return l
}

// tmplPiece is part of a parameter's value: literal text, or an expansion.
type tmplPiece struct {
	text string
	exp  byte // 0 for text; 's', 'u', 'd', '1'…'9'
}

// Param is one bound parameter of a Template.
type Param struct {
	// Expansion names the one expansion the parameter consists of, in
	// lower case ("%s", "%u", "%d", "%1" … "%9"; %S %U %D count as
	// %s %u %d), or "mixed" when it has other text or several expansions.
	Expansion string
	// Literal is the template text the parameter replaces: the body of
	// the string literal without its quotes (for adjacent literals that
	// MySQL concatenates, the bodies joined), e.g. "%u@%d"; or the
	// expansion itself for an expansion outside quotes.
	Literal string
	// Quoted is false for an expansion written outside quotes.
	Quoted bool
	// Offset is the byte offset of the parameter's '?' in Template.SQL.
	Offset int

	pieces []tmplPiece
	single byte // the expansion when the value is exactly one expansion
}

// Uses reports which expansions the parameter's value holds.
func (p *Param) Uses() Uses {
	var u Uses
	for _, pc := range p.pieces {
		_, use, _, _ := tmplSpec(pc.exp)
		u |= use
	}
	return u
}

// Template is a mysql_table(5) query turned into parameterised SQL: every
// % expansion is bound as a parameter, so a key never becomes SQL text.
type Template struct {
	// SQL is the query with a '?' for each parameter. It does not depend
	// on the key.
	SQL string
	// Params describes the parameters in the order of their '?'.
	Params []Param

	uses Uses
	req  keyReq
}

// Uses reports which expansions appear anywhere in the template text,
// comments included (Postfix scans the whole text).
func (t *Template) Uses() Uses { return t.uses }

// Expand appends the values of the template's parameters for key to args.
// ok is false when Postfix would suppress the query for this key, which
// the caller treats as "not found" without querying: an empty key; a key
// without '@' or with an empty domain when %d, %D or %1-%9 is used; a key
// starting with '@' (empty localpart) when %u or %U is used; a domain with
// fewer labels than the highest %1-%9. A template from a File also obeys the
// requirements of the file's result_format.
//
// For a key without '@', %u is the whole key. The key is split at its
// last '@'.
func (t *Template) Expand(key string, args []any) (out []any, ok bool) {
	if key == "" {
		return args, false
	}
	k := splitKey(key)
	if !t.req.ok(key, k.at) {
		return args, false
	}
	for i := range t.Params {
		p := &t.Params[i]
		if p.single != 0 {
			args = append(args, k.value(p.single))
			continue
		}
		n := 0
		for _, pc := range p.pieces {
			if pc.exp == 0 {
				n += len(pc.text)
			} else {
				n += len(k.value(pc.exp))
			}
		}
		var b strings.Builder
		b.Grow(n)
		for _, pc := range p.pieces {
			if pc.exp == 0 {
				b.WriteString(pc.text)
			} else {
				b.WriteString(k.value(pc.exp))
			}
		}
		args = append(args, b.String())
	}
	return args, true
}

// tmplError builds an "invalid query template" error.
func tmplError(q string, pos int, format string, args ...any) error {
	return fmt.Errorf("invalid query template: %s (at byte %d of %q)", fmt.Sprintf(format, args...), pos, q)
}

// tmplSpec decodes the character after '%': the expansion it stands for
// (0 for "%%"), the Uses flag and the key requirement.
func tmplSpec(c byte) (exp byte, use Uses, req keyReq, ok bool) {
	switch c {
	case '%':
		return 0, 0, req, true
	case 's', 'S':
		return 's', UsesKey, req, true
	case 'u', 'U':
		return 'u', UsesUser, keyReq{user: true}, true
	case 'd', 'D':
		return 'd', UsesDomain, keyReq{domain: true}, true
	case '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return c, UsesLabels, keyReq{domain: true, nparts: int(c - '0')}, true
	}
	return 0, 0, req, false
}

// tmplParser turns a query into SQL and parameters.
type tmplParser struct {
	q   string
	sql strings.Builder
	t   *Template
}

// spec reads the % specification at q[i] == '%', records its use and
// returns the expansion (0 for %%).
func (p *tmplParser) spec(i int) (byte, error) {
	if i+1 >= len(p.q) {
		return 0, tmplError(p.q, i, "'%%' at the end")
	}
	exp, use, req, ok := tmplSpec(p.q[i+1])
	if !ok {
		return 0, tmplError(p.q, i, "unknown expansion %%%c", p.q[i+1])
	}
	p.t.uses |= use
	p.t.req = p.t.req.merge(req)
	return exp, nil
}

// ParseQuery turns a mysql_table(5) query template into parameterised SQL.
//
// The SQL is scanned as MySQL does, respecting '…' and "…" string literals
// (backslash escapes, doubled quotes), `…` identifiers, and /* … */, "-- "
// and "#" comments. A run of adjacent string literals (which MySQL
// concatenates) containing any expansion becomes one '?' whose value is
// the literal's content with the expansions substituted and the literal's
// own escapes undone: "address = '%u@%d'" binds "bob@example.jp",
// "CONCAT('%u', '@', t.domain)" becomes "CONCAT(?, '@', t.domain)". A
// literal without expansions stays SQL text, with "%%" turned into "%". An
// expansion outside quotes becomes a '?' on its own (Postfix would splice
// the escaped key into the SQL unquoted). Expansions in comments are
// dropped from the SQL but still count for suppression, as in Postfix.
//
// Errors: an unknown %x, an unterminated literal, identifier or comment; an
// expansion inside a `…` identifier, after a backslash, in a literal with
// a prefix (N'…', _utf8mb4'…', X'…'), or outside quotes but glued to other
// SQL text; a '?' outside quotes and comments.
//
// The scan assumes MySQL's default sql_mode: "…" is a string (not
// ANSI_QUOTES) and backslash escapes apply (not NO_BACKSLASH_ESCAPES).
func ParseQuery(q string) (*Template, error) {
	t := &Template{}
	p := &tmplParser{q: q, t: t}
	if q == "" {
		return nil, fmt.Errorf("invalid query template: empty")
	}
	i := 0
	for i < len(q) {
		c := q[i]
		var err error
		switch {
		case c == '\'' || c == '"':
			i, err = p.literal(i)
		case c == '`':
			i, err = p.ident(i)
		case c == '#' || c == '-' && strings.HasPrefix(q[i:], "--") && (i+2 == len(q) || q[i+2] <= ' '):
			end := len(q)
			if nl := strings.IndexByte(q[i:], '\n'); nl >= 0 {
				end = i + nl
			}
			i, err = p.comment(i, end)
		case c == '/' && strings.HasPrefix(q[i:], "/*") && !strings.HasPrefix(q[i:], "/*!"):
			end := strings.Index(q[i+2:], "*/")
			if end < 0 {
				return nil, tmplError(q, i, "unterminated comment")
			}
			i, err = p.comment(i, i+2+end+2)
		case c == '%':
			i, err = p.bare(i)
		case c == '?':
			return nil, tmplError(q, i, "'?' outside quotes")
		default:
			p.sql.WriteByte(c)
			i++
		}
		if err != nil {
			return nil, err
		}
	}
	t.SQL = p.sql.String()
	return t, nil
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
		exp, err := p.spec(j)
		if err != nil {
			return 0, err
		}
		if exp == 0 {
			p.sql.WriteByte('%')
		}
		j++
	}
	return end, nil
}

// ident copies a `…` identifier.
func (p *tmplParser) ident(i int) (int, error) {
	start := i
	for j := i + 1; j < len(p.q); j++ {
		switch p.q[j] {
		case '`':
			if j+1 < len(p.q) && p.q[j+1] == '`' {
				j++
				continue
			}
			return p.copyText(start, j+1)
		case '%':
			exp, err := p.spec(j)
			if err != nil {
				return 0, err
			}
			if exp != 0 {
				return 0, tmplError(p.q, j, "expansion inside a `quoted` identifier")
			}
			j++
		}
	}
	return 0, tmplError(p.q, i, "unterminated `identifier`")
}

// copyText copies q[i:end], which holds no expansions, with "%%" as "%".
func (p *tmplParser) copyText(i, end int) (int, error) {
	for j := i; j < end; j++ {
		p.sql.WriteByte(p.q[j])
		if p.q[j] == '%' {
			j++ // validated by the caller: "%%"
		}
	}
	return end, nil
}

// tmplWord reports whether c can be part of an identifier or number.
func tmplWord(c byte) bool {
	return c == '_' || c == '$' || c == '.' || c >= 0x80 ||
		c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// bare handles '%' outside quotes: "%%", or a run of expansions that
// becomes one parameter.
func (p *tmplParser) bare(i int) (int, error) {
	exp, err := p.spec(i)
	if err != nil {
		return 0, err
	}
	if exp == 0 {
		p.sql.WriteByte('%')
		return i + 2, nil
	}
	start := i
	var pieces []tmplPiece
	for i < len(p.q) && p.q[i] == '%' && i+1 < len(p.q) && p.q[i+1] != '%' {
		exp, err := p.spec(i)
		if err != nil {
			return 0, err
		}
		pieces = append(pieces, tmplPiece{exp: exp})
		i += 2
	}
	if start > 0 && tmplWord(p.q[start-1]) || i < len(p.q) && tmplWord(p.q[i]) {
		return 0, tmplError(p.q, start, "expansion outside quotes must stand alone; put it in quotes")
	}
	p.param(pieces, p.q[start:i], false)
	return i, nil
}

// param writes a '?' and records its parameter.
func (p *tmplParser) param(pieces []tmplPiece, literal string, quoted bool) {
	pr := Param{Literal: literal, Quoted: quoted, Offset: p.sql.Len(), pieces: pieces, Expansion: "mixed"}
	if len(pieces) == 1 && pieces[0].exp != 0 {
		pr.single = pieces[0].exp
		pr.Expansion = "%" + string(pr.single)
	}
	p.sql.WriteByte('?')
	p.t.Params = append(p.t.Params, pr)
}

// tmplUnescape is a MySQL backslash escape inside a string literal. \% and
// \_ keep their backslash (for LIKE).
func tmplUnescape(c byte) string {
	switch c {
	case '0':
		return "\x00"
	case 'b':
		return "\b"
	case 'n':
		return "\n"
	case 'r':
		return "\r"
	case 't':
		return "\t"
	case 'Z':
		return "\x1a"
	case '%':
		return `\%`
	case '_':
		return `\_`
	}
	return string(c)
}

// literal handles a run of adjacent string literals starting at q[i].
func (p *tmplParser) literal(i int) (int, error) {
	q := p.q
	start := i
	var (
		pieces  []tmplPiece
		text    strings.Builder // the unescaped text since the last expansion
		bodies  strings.Builder
		hasExp  bool
		lastEnd int
	)
	flushText := func() {
		if text.Len() > 0 {
			pieces = append(pieces, tmplPiece{text: text.String()})
			text.Reset()
		}
	}
	for {
		qc := q[i]
		j := i + 1
		for {
			if j >= len(q) {
				return 0, tmplError(q, i, "unterminated %c…%c string", qc, qc)
			}
			c := q[j]
			if c == qc {
				if j+1 < len(q) && q[j+1] == qc {
					text.WriteByte(qc)
					j += 2
					continue
				}
				break
			}
			switch c {
			case '\\':
				if j+1 >= len(q) {
					return 0, tmplError(q, i, "unterminated %c…%c string", qc, qc)
				}
				if q[j+1] == '%' {
					exp, err := p.spec(j + 1)
					if err != nil {
						return 0, err
					}
					if exp != 0 {
						return 0, tmplError(q, j, "backslash before an expansion")
					}
					text.WriteString(`\%`) // Postfix makes "\%%" into "\%"
					j += 3
					continue
				}
				text.WriteString(tmplUnescape(q[j+1]))
				j += 2
			case '%':
				exp, err := p.spec(j)
				if err != nil {
					return 0, err
				}
				if exp == 0 {
					text.WriteByte('%')
				} else {
					flushText()
					pieces = append(pieces, tmplPiece{exp: exp})
					hasExp = true
				}
				j += 2
			default:
				text.WriteByte(c)
				j++
			}
		}
		bodies.WriteString(q[i+1 : j])
		lastEnd = j + 1
		// MySQL concatenates adjacent string literals.
		k := lastEnd
		for k < len(q) && cfSpace(q[k]) {
			k++
		}
		if k < len(q) && (q[k] == '\'' || q[k] == '"') {
			i = k
			continue
		}
		break
	}
	if !hasExp {
		return p.copyText(start, lastEnd)
	}
	if tmplPrefixed(q, start) {
		return 0, tmplError(q, start, "expansion in a string with a prefix or charset introducer")
	}
	flushText()
	p.param(pieces, bodies.String(), true)
	return lastEnd, nil
}

// tmplPrefixed reports whether the string literal at q[start] has a prefix
// that changes its meaning: a charset introducer (_utf8mb4'…'), N'…',
// X'…' or B'…'.
func tmplPrefixed(q string, start int) bool {
	w := start
	for w > 0 && tmplWord(q[w-1]) && q[w-1] != '.' {
		w--
	}
	word := q[w:start]
	return strings.HasPrefix(word, "_") || len(word) == 1 && strings.ContainsAny(word, "nNxXbB")
}
