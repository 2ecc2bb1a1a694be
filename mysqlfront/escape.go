package mysqlfront

import (
	"errors"
	"strings"

	"mapgate/answer"
)

// ErrNotKey is returned by ParseKey for a statement that is not one quoted
// key escaped with mysql_real_escape_string.
var ErrNotKey = errors.New("mysqlfront: statement is not a quoted escaped key")

// Escape is mysql_real_escape_string for a character set whose multibyte
// characters never contain ASCII bytes (utf8mb4, utf8mb3, latin1, ascii,
// binary): NUL, LF, CR, backslash, both quotes and ^Z get a backslash.
// With those character sets libmysqlclient and libmariadb escape byte by
// byte, so Unescape(Escape(s)) == s for every byte string s.
func Escape(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case 0:
			b.WriteString(`\0`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\\':
			b.WriteString(`\\`)
		case '\'':
			b.WriteString(`\'`)
		case '"':
			b.WriteString(`\"`)
		case 0x1a:
			b.WriteString(`\Z`)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Unescape reverses Escape. It accepts only what the escaper can produce:
// a byte that the escaper always escapes must not appear bare, and a
// backslash must be followed by one of 0 n r \ ' " Z. So Escape(k) ==
// e for every e that Unescape accepts (the escape is a bijection).
func Unescape(e string) (string, error) {
	if strings.IndexAny(e, "\\\x00\n\r'\"\x1a") < 0 {
		return e, nil
	}
	b := make([]byte, 0, len(e))
	for i := 0; i < len(e); i++ {
		c := e[i]
		switch c {
		case 0, '\n', '\r', '\'', '"', 0x1a:
			return "", ErrNotKey
		case '\\':
			i++
			if i == len(e) {
				return "", ErrNotKey
			}
			switch e[i] {
			case '0':
				c = 0
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case '\\', '\'', '"':
				c = e[i]
			case 'Z':
				c = 0x1a
			default:
				return "", ErrNotKey
			}
		}
		b = append(b, c)
	}
	return string(b), nil
}

// ParseKey returns the key in a statement of the form 'ESCAPED', what
// Postfix's mysql: client sends for "query = '%s'", or 'ESCAPED' followed
// by answer.LimitedQuerySuffix (limited: the client's .cf also sets
// expansion_limit = 1). The escaped key holds no unescaped quote, so the
// statement's last quote ends it either way.
func ParseKey(stmt string) (key string, limited bool, err error) {
	if s, ok := strings.CutSuffix(stmt, answer.LimitedQuerySuffix); ok {
		stmt, limited = s, true
	}
	if len(stmt) < 2 || stmt[0] != '\'' || stmt[len(stmt)-1] != '\'' {
		return "", false, ErrNotKey
	}
	key, err = Unescape(stmt[1 : len(stmt)-1])
	if err != nil {
		return "", false, err
	}
	return key, limited, nil
}

// sessionStatement reports whether stmt is a session setting that client
// libraries send by themselves (mysql_set_character_set, my.cnf's
// default-character-set, autocommit), and returns the character set it
// names, if any. Such a statement never starts with a quote, so it cannot
// be a key.
func sessionStatement(stmt string) (charset string, ok bool) {
	f := strings.Fields(strings.TrimSuffix(strings.TrimSpace(stmt), ";"))
	if len(f) < 2 || !strings.EqualFold(f[0], "SET") {
		return "", false
	}
	switch {
	case strings.EqualFold(strings.Join(f[1:], ""), "autocommit=1"): // however spaced
		return "", true
	case len(f) < 3:
		return "", false
	case strings.EqualFold(f[1], "NAMES"):
		return strings.ToLower(strings.Trim(f[2], "'\"`")), true
	case len(f) >= 4 && strings.EqualFold(f[1], "CHARACTER") && strings.EqualFold(f[2], "SET"):
		return strings.ToLower(strings.Trim(f[3], "'\"`")), true
	}
	return "", false
}

// safeCharset reports whether the escape of a character set is byte-wise
// (see Escape), so that Unescape recovers the key exactly. Multibyte sets
// with ASCII trail bytes (big5, cp932, gbk, gb18030, sjis) are not, nor
// are the wide ones a client cannot use.
func safeCharset(cs string) bool {
	switch cs {
	case "big5", "cp932", "gbk", "gb18030", "sjis", "ucs2", "utf16", "utf16le", "utf32", "":
		return false
	}
	return true
}

// safeCollationID is safeCharset for the collation id of a handshake.
func safeCollationID(id byte) bool {
	switch id {
	case 1, 84, // big5
		13, 88, // sjis
		28, 87, // gbk
		95, 96, // cp932
		248, 249, 250: // gb18030
		return false
	}
	return true
}
