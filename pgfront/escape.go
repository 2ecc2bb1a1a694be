package pgfront

import (
	"errors"
	"strings"
	"unicode/utf8"

	"mapgate/answer"
)

// ErrNotKey is returned by ParseKey for a statement that is not one key,
// escaped as PQescapeStringConn escapes it, in single quotes.
var ErrNotKey = errors.New("pgfront: statement is not a quoted escaped key")

// ErrCannotEscape is Escape's error for a string PQescapeStringConn
// refuses (or would cut): NUL, or, in UTF8, bytes that are not UTF-8.
var ErrCannotEscape = errors.New("pgfront: string cannot be escaped in this client encoding")

// Encoding is a client encoding the front accepts: one whose
// PQescapeStringConn is byte-wise (no multibyte character holds an ASCII
// byte), so that Unescape recovers the key exactly.
type Encoding uint8

const (
	// UTF8: PostgreSQL's UTF8, what Postfix 3.8+ sets by default (the
	// pgsql_table(5) encoding parameter).
	UTF8 Encoding = iota
	// LATIN1: ISO-8859-1, what Postfix 3.7 and older hard-wire in release
	// builds (dict_pgsql.c plpgsql_connect_single).
	LATIN1
	// SQLASCII: SQL_ASCII, no conversion; what libpq's client_encoding=auto
	// picks under the C locale (psql).
	SQLASCII
)

// String returns the encoding's PostgreSQL name, as ParameterStatus
// reports it.
func (e Encoding) String() string {
	switch e {
	case LATIN1:
		return "LATIN1"
	case SQLASCII:
		return "SQL_ASCII"
	}
	return "UTF8"
}

// Key is the key the Resolver is asked for the unescaped bytes k of a
// session in encoding e: the bytes themselves, except that in a LATIN1
// session bytes that are not UTF-8 are read as Latin-1, as a real server
// reads them. Postfix 3.7 declares LATIN1 whatever it sends: its keys are
// UTF-8 where smtpd took them as such (and a real server would misread
// those), raw 8-bit bytes only with smtputf8_enable = no, and those can
// only mean Latin-1 here.
func (e Encoding) Key(k string) string {
	if e != LATIN1 || utf8.ValidString(k) {
		return k
	}
	r := make([]rune, len(k))
	for i := 0; i < len(k); i++ {
		r[i] = rune(k[i])
	}
	return string(r)
}

// ParseEncoding reads an encoding name as PostgreSQL does (case and
// punctuation ignored, with its aliases: UNICODE, ISO88591). Other
// encodings are refused: multibyte ones whose trail bytes may be ASCII
// (SJIS, BIG5, GBK, GB18030, UHC, JOHAB) escape differently, and the
// single-byte ones are not what Postfix sends.
func ParseEncoding(name string) (Encoding, bool) {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	switch b.String() {
	case "utf8", "unicode":
		return UTF8, true
	case "latin1", "iso88591":
		return LATIN1, true
	case "sqlascii":
		return SQLASCII, true
	}
	return UTF8, false
}

// Escape is PQescapeStringConn on a connection whose server reported
// standard_conforming_strings = on (libpq fe-exec.c,
// PQescapeStringInternal): a single quote is doubled, every other byte
// copied; in UTF8 a string that is not valid UTF-8 is refused (libpq:
// "invalid multibyte character"), and NUL, where libpq stops, is refused
// in every encoding. Postfix's keys are C strings and hold no NUL.
func Escape(s string, enc Encoding) (string, error) {
	if strings.IndexByte(s, 0) >= 0 || enc == UTF8 && !utf8.ValidString(s) {
		return "", ErrCannotEscape
	}
	return strings.ReplaceAll(s, "'", "''"), nil
}

// Unescape reverses Escape. It accepts only what the escaper can produce:
// quotes come in pairs, no NUL, and in UTF8 only valid UTF-8 (PostgreSQL's
// pg_utf8_islegal: no overlong forms, no surrogates, nothing above
// U+10FFFF, which is Go's utf8.ValidString). So Escape(k) == e for every e
// that Unescape accepts.
func Unescape(e string, enc Encoding) (string, error) {
	if strings.IndexByte(e, 0) >= 0 || enc == UTF8 && !utf8.ValidString(e) {
		return "", ErrNotKey
	}
	if strings.IndexByte(e, '\'') < 0 {
		return e, nil
	}
	b := make([]byte, 0, len(e))
	for i := 0; i < len(e); i++ {
		c := e[i]
		if c == '\'' {
			if i+1 == len(e) || e[i+1] != '\'' {
				return "", ErrNotKey
			}
			i++
		}
		b = append(b, c)
	}
	return string(b), nil
}

// ParseKey returns the key in a statement of the form 'ESCAPED', what
// Postfix's pgsql: client sends for "query = '%s'", or 'ESCAPED' followed
// by answer.LimitedQuerySuffix (limited: the client's .cf also sets
// expansion_limit = 1). The escaped key holds no lone quote, so the
// statement's last quote ends it either way.
func ParseKey(stmt string, enc Encoding) (key string, limited bool, err error) {
	if s, ok := strings.CutSuffix(stmt, answer.LimitedQuerySuffix); ok {
		stmt, limited = s, true
	}
	if len(stmt) < 2 || stmt[0] != '\'' || stmt[len(stmt)-1] != '\'' {
		return "", false, ErrNotKey
	}
	key, err = Unescape(stmt[1:len(stmt)-1], enc)
	if err != nil {
		return "", false, err
	}
	return key, limited, nil
}

// setEncoding reports whether stmt sets the client encoding (what
// libpq's PQsetClientEncoding sends: "set client_encoding to 'LATIN1'";
// also "SET client_encoding = ..." and "SET NAMES ..."), and the name it
// sets. Such a statement never starts with a quote, so it cannot be a key.
func setEncoding(stmt string) (name string, ok bool) {
	f := strings.Fields(strings.TrimSuffix(strings.TrimSpace(stmt), ";"))
	if len(f) < 2 || !strings.EqualFold(f[0], "SET") {
		return "", false
	}
	f = f[1:]
	if len(f) > 0 && (strings.EqualFold(f[0], "SESSION") || strings.EqualFold(f[0], "LOCAL")) {
		return "", false // not what libpq sends; refused
	}
	switch {
	case len(f) == 2 && strings.EqualFold(f[0], "NAMES"):
		name = f[1]
	case len(f) == 3 && strings.EqualFold(f[0], "client_encoding") && (strings.EqualFold(f[1], "TO") || f[1] == "="):
		name = f[2]
	case len(f) == 1 && strings.HasPrefix(strings.ToLower(f[0]), "client_encoding="):
		name = f[0][len("client_encoding="):]
	default:
		return "", false
	}
	if len(name) >= 2 && name[0] == '\'' && name[len(name)-1] == '\'' {
		name = name[1 : len(name)-1]
	}
	if name == "" || strings.ContainsAny(name, "'\"\\") {
		return "", false
	}
	return name, true
}
