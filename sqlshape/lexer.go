package sqlshape

import (
	"fmt"
	"strings"
)

// ---------------------------------------------------------------------------
// Tokenizer

type sqlTokKind uint8

const (
	tkEOF    sqlTokKind = iota
	tkIdent             // a bare word: keyword or identifier
	tkQIdent            // a `quoted` identifier (text unquoted)
	tkString            // a string literal, also N'', X'', B'' and _charset''
	tkNumber            // a numeric literal
	tkParam             // ?
	tkVar               // @var, @@var
	tkOp                // punctuation and operators
)

type sqlTok struct {
	kind  sqlTokKind
	text  string // identifier text, operator, or the raw literal
	upper string // upper-cased text of a tkIdent
	pos   int    // byte offset in the query
	param int    // placeholder ordinal of a tkParam
	exec  bool   // inside an executable comment
}

// sqlCharsets are the character set names that may introduce a literal
// (_latin1'...').
var sqlCharsets = map[string]bool{
	"armscii8": true, "ascii": true, "big5": true, "binary": true, "cp1250": true,
	"cp1251": true, "cp1256": true, "cp1257": true, "cp850": true, "cp852": true,
	"cp866": true, "cp932": true, "dec8": true, "eucjpms": true, "euckr": true,
	"gb2312": true, "gbk": true, "geostd8": true, "greek": true, "hebrew": true,
	"hp8": true, "keybcs2": true, "koi8r": true, "koi8u": true, "latin1": true,
	"latin2": true, "latin5": true, "latin7": true, "macce": true, "macroman": true,
	"sjis": true, "swe7": true, "tis620": true, "ucs2": true, "ujis": true,
	"utf16": true, "utf16le": true, "utf32": true, "utf8": true, "utf8mb3": true,
	"utf8mb4": true, "filename": true,
}

func isIdentByte(c byte) bool {
	return c == '_' || c == '$' || c >= 0x80 || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// sqlTokenize splits q into tokens. It returns the number of placeholders
// seen (up to an error, if any).
func sqlTokenize(q string) ([]sqlTok, int, error) {
	var toks []sqlTok
	nparam := 0
	exec := false
	i := 0
	errAt := func(pos int, msg string) error {
		return fmt.Errorf("%s at offset %d", msg, pos)
	}
	add := func(t sqlTok) {
		t.exec = exec
		toks = append(toks, t)
	}
	for i < len(q) {
		c := q[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '#' || c == '-' && strings.HasPrefix(q[i:], "--") && (i+2 == len(q) || q[i+2] <= ' '):
			if nl := strings.IndexByte(q[i:], '\n'); nl >= 0 {
				i += nl + 1
			} else {
				i = len(q)
			}
		case c == '/' && strings.HasPrefix(q[i:], "/*"):
			if strings.HasPrefix(q[i:], "/*!") || strings.HasPrefix(q[i:], "/*M!") {
				if exec {
					return toks, nparam, errAt(i, "nested executable comment")
				}
				exec = true
				i += strings.IndexByte(q[i:], '!') + 1
				for i < len(q) && isDigit(q[i]) {
					i++
				}
				continue
			}
			end := strings.Index(q[i+2:], "*/")
			if end < 0 {
				return toks, nparam, errAt(i, "unterminated comment")
			}
			i += 2 + end + 2
		case c == '*' && exec && strings.HasPrefix(q[i:], "*/"):
			exec = false
			i += 2
		case c == '\'' || c == '"':
			end, err := sqlSkipString(q, i)
			if err != nil {
				return toks, nparam, err
			}
			add(sqlTok{kind: tkString, text: q[i:end], pos: i})
			i = end
		case c == '`':
			end, text, err := sqlSkipQuotedIdent(q, i)
			if err != nil {
				return toks, nparam, err
			}
			add(sqlTok{kind: tkQIdent, text: text, pos: i})
			i = end
		case c == '?':
			add(sqlTok{kind: tkParam, text: "?", pos: i, param: nparam})
			nparam++
			i++
		case c == '@':
			j := i + 1
			if j < len(q) && q[j] == '@' {
				j++
			}
			if j < len(q) && (q[j] == '\'' || q[j] == '"') {
				end, err := sqlSkipString(q, j)
				if err != nil {
					return toks, nparam, err
				}
				j = end
			} else if j < len(q) && q[j] == '`' {
				end, _, err := sqlSkipQuotedIdent(q, j)
				if err != nil {
					return toks, nparam, err
				}
				j = end
			} else {
				for j < len(q) && (isIdentByte(q[j]) || q[j] == '.') {
					j++
				}
			}
			add(sqlTok{kind: tkVar, text: q[i:j], pos: i})
			i = j
		case isDigit(c) || c == '.' && i+1 < len(q) && isDigit(q[i+1]) && !sqlAfterName(toks):
			j := i
			for j < len(q) && isDigit(q[j]) {
				j++
			}
			word := false
			if j < len(q) && q[j] == '.' {
				j++
				for j < len(q) && isDigit(q[j]) {
					j++
				}
			} else if j < len(q) && isIdentByte(q[j]) && !(q[j] == 'e' || q[j] == 'E') {
				word = true // 0x1f, 0b01, or an identifier such as 1abc
			}
			if !word && j < len(q) && (q[j] == 'e' || q[j] == 'E') {
				k := j + 1
				if k < len(q) && (q[k] == '+' || q[k] == '-') {
					k++
				}
				if k < len(q) && isDigit(q[k]) {
					for k < len(q) && isDigit(q[k]) {
						k++
					}
					j = k
				} else {
					word = true
				}
			}
			if word {
				for j < len(q) && isIdentByte(q[j]) {
					j++
				}
			}
			add(sqlTok{kind: tkNumber, text: q[i:j], pos: i})
			i = j
		case isIdentByte(c):
			j := i
			for j < len(q) && isIdentByte(q[j]) {
				j++
			}
			word := q[i:j]
			up := strings.ToUpper(word)
			// N'..', X'..', B'..' and _charset '..' are literals.
			if j < len(q) && q[j] == '\'' && (up == "N" || up == "X" || up == "B") {
				end, err := sqlSkipString(q, j)
				if err != nil {
					return toks, nparam, err
				}
				add(sqlTok{kind: tkString, text: q[i:end], pos: i})
				i = end
				continue
			}
			if word[0] == '_' && sqlCharsets[strings.ToLower(word[1:])] {
				k := j
				for k < len(q) && (q[k] == ' ' || q[k] == '\t' || q[k] == '\n' || q[k] == '\r') {
					k++
				}
				if k < len(q) && (q[k] == '\'' || q[k] == '"') {
					end, err := sqlSkipString(q, k)
					if err != nil {
						return toks, nparam, err
					}
					add(sqlTok{kind: tkString, text: q[i:end], pos: i})
					i = end
					continue
				}
			}
			add(sqlTok{kind: tkIdent, text: word, upper: up, pos: i})
			i = j
		default:
			op := string(c)
			for _, m := range []string{"<=>", "->>", "<=", ">=", "<>", "!=", "<<", ">>", "||", "&&", ":=", "->"} {
				if strings.HasPrefix(q[i:], m) {
					op = m
					break
				}
			}
			add(sqlTok{kind: tkOp, text: op, pos: i})
			i += len(op)
		}
	}
	if exec {
		return toks, nparam, errAt(len(q), "unterminated executable comment")
	}
	toks = append(toks, sqlTok{kind: tkEOF, pos: len(q)})
	return toks, nparam, nil
}

// sqlAfterName reports whether the last token is a name, after which '.'
// is a qualifier dot and not the start of a number (t.5 is not t .5).
func sqlAfterName(toks []sqlTok) bool {
	if len(toks) == 0 {
		return false
	}
	k := toks[len(toks)-1].kind
	return k == tkIdent || k == tkQIdent
}

// sqlSkipString returns the offset after the string literal starting at
// q[i] (a ' or "), honouring backslash escapes and doubled quotes.
func sqlSkipString(q string, i int) (int, error) {
	quote := q[i]
	j := i + 1
	for j < len(q) {
		switch q[j] {
		case '\\':
			j += 2
			continue
		case quote:
			if j+1 < len(q) && q[j+1] == quote {
				j += 2
				continue
			}
			return j + 1, nil
		}
		j++
	}
	return 0, fmt.Errorf("unterminated string literal at offset %d", i)
}

// sqlSkipQuotedIdent returns the offset after the `identifier` starting at
// q[i], and its unquoted text.
func sqlSkipQuotedIdent(q string, i int) (int, string, error) {
	var b strings.Builder
	j := i + 1
	for j < len(q) {
		if q[j] == '`' {
			if j+1 < len(q) && q[j+1] == '`' {
				b.WriteByte('`')
				j += 2
				continue
			}
			return j + 1, b.String(), nil
		}
		b.WriteByte(q[j])
		j++
	}
	return 0, "", fmt.Errorf("unterminated quoted identifier at offset %d", i)
}

// ---------------------------------------------------------------------------
// Parser
