package charset

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Reason says why [Check] rejected a key. Its String form is a short
// snake_case word, suitable as a metric label.
type Reason uint8

// The reasons [Check] gives.
const (
	// ReasonNone is the zero value; Check never returns it.
	ReasonNone Reason = iota
	// ReasonInvalidUTF8: the key is not valid UTF-8 but the connection
	// character set is utf8mb3 or utf8mb4.
	ReasonInvalidUTF8
	// ReasonUnrepresentable: a character is outside the repertoire of the
	// column's or the connection's character set.
	ReasonUnrepresentable
	// ReasonNUL: the key contains a NUL byte, which Postfix's own clients
	// (C strings) can never look up.
	ReasonNUL
	// ReasonTooLong: the key has more characters, not counting trailing
	// spaces, than the column can hold.
	ReasonTooLong
)

var reasonNames = [...]string{
	ReasonNone:            "none",
	ReasonInvalidUTF8:     "invalid_utf8",
	ReasonUnrepresentable: "unrepresentable",
	ReasonNUL:             "nul",
	ReasonTooLong:         "too_long",
}

// String returns "none", "invalid_utf8", "unrepresentable", "nul" or
// "too_long", and "unknown" for any other value.
func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return "unknown"
}

// Error is a key that provably cannot equal any value of the column it is
// compared with. The caller answers NOTFOUND for that search step.
type Error struct {
	// Reason says what is wrong; never ReasonNone.
	Reason Reason
	// Offset is the byte offset in the key of the offending character: the
	// bad byte, the unrepresentable character, the NUL, or for
	// ReasonTooLong the first character beyond the limit.
	Offset int
	// Rune is the offending character. For ReasonInvalidUTF8 it is the
	// value of the offending byte (0x80 to 0xFF). Over a single-byte
	// connection (latin1, ascii, binary) it is the byte read as MySQL
	// latin1. Zero for ReasonNUL.
	Rune rune
	// Charset names the character set that cannot hold Rune: the column's,
	// or the connection's (utf8mb3 for a supplementary character, ascii for
	// a byte over 0x7F). Empty unless Reason is ReasonUnrepresentable.
	Charset string
	// Chars and MaxChars are, for ReasonTooLong, the key's length in
	// characters as the column counts them (trailing spaces excluded) and
	// the column's limit. Zero otherwise.
	Chars, MaxChars int
	// Column is filled in by the caller (for example "alias.address") and
	// may be empty; Check leaves it empty.
	Column string
}

// Error describes the rejection in printable ASCII, for example
// `U+307B at byte 0 not representable in latin1`. It never contains the
// key's bytes; log the key with [Escape].
func (e *Error) Error() string {
	var s string
	switch e.Reason {
	case ReasonInvalidUTF8:
		s = fmt.Sprintf("invalid UTF-8 byte 0x%02X at byte %d", uint32(e.Rune)&0xFF, e.Offset)
	case ReasonUnrepresentable:
		s = fmt.Sprintf("U+%04X at byte %d not representable in %s", e.Rune, e.Offset, unquoted(e.Charset))
	case ReasonNUL:
		s = "NUL at byte " + strconv.Itoa(e.Offset)
	case ReasonTooLong:
		s = strconv.Itoa(e.Chars) + " characters exceed the column length " + strconv.Itoa(e.MaxChars)
	default:
		s = "key rejected (" + e.Reason.String() + ")"
	}
	if e.Column != "" {
		s += " for column " + strconv.QuoteToASCII(e.Column)
	}
	return s
}

// Is reports whether target is an *Error with the same Reason, so that
// errors.Is(err, &charset.Error{Reason: charset.ReasonNUL}) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Reason == e.Reason
}

// unquoted returns s escaped to printable ASCII, without the quotes.
func unquoted(s string) string {
	q := strconv.QuoteToASCII(s)
	return q[1 : len(q)-1]
}

// unit is how a column counts the characters of a key.
type unit uint8

const (
	unitNone  unit = iota // unknown: no length check
	unitBytes             // one character per byte
	unitRunes             // one character per UTF-8 sequence
)

// lengthUnit returns how the column col counts a key sent over conn.
func lengthUnit(conn, col Charset) unit {
	switch conn.id {
	case idUTF8MB3, idUTF8MB4:
		if col.id == idBinary {
			return unitBytes // the key's UTF-8 bytes, compared bytewise
		}
		// Each rune becomes one column character (or fails to convert).
		// For an unknown column that might be binary, runes <= bytes, so
		// the check stays conservative.
		return unitRunes
	case idLatin1, idASCII:
		return unitBytes // every byte is a connection character
	case idBinary:
		switch col.id {
		case idLatin1, idASCII, idBinary:
			return unitBytes
		case idUTF8MB3, idUTF8MB4:
			return unitRunes
		}
	}
	return unitNone
}

// Check decides whether key, sent over a connection whose character set is
// conn, can be compared with a column of character set col holding at most
// maxChars characters (0 or less: unknown, no length check) without MySQL
// raising a collation or conversion error, and with a possible match.
//
// It returns nil when the query should be sent, and an *Error when no
// stored value can equal the key (the caller answers NOTFOUND). The first
// offending character in byte order is reported; length is checked last.
//
// Rules, by connection character set:
//   - utf8mb4: the key must be valid UTF-8 and every rune must be in col's
//     repertoire ([Charset.Contains]).
//   - utf8mb3: as utf8mb4, and no rune above U+FFFF, which the connection
//     cannot carry (reported with Charset "utf8mb3").
//   - latin1 (old installs): every byte is a latin1 character and converts
//     to any latin1 or Unicode column, so the key is never rejected for
//     charset reasons, except that bytes from 0x80 are not in an ascii
//     column.
//   - ascii: bytes from 0x80 are not ascii characters: rejected.
//   - binary: bytes, compared bytewise: never rejected for charset reasons.
//
// A binary column compares bytewise and holds any byte string, so it never
// rejects for charset reasons, whatever the connection. An unknown (zero)
// conn or col never rejects for charset reasons either.
//
// A NUL byte anywhere gives ReasonNUL under every combination, whatever else
// is wrong with the key. Other control characters are accepted: the database
// answers them safely.
//
// When maxChars > 0, the key's length in characters as the column counts
// them (runes over a utf8 connection, bytes over latin1/ascii, bytes for a
// binary column), not counting trailing spaces (PAD SPACE collations compare
// 'a' = 'a  '), must not exceed maxChars. Pass 0 for collations where a
// longer string can equal a shorter one: expansions (latin1_german2_ci
// 'ä' = 'ae', UCA collations 'ß' = 'ss') or ignorable characters (UCA
// collations such as utf8mb4_unicode_ci, utf8mb4_0900_ai_ci,
// utf8mb4_uca1400_ai_ci); the _general_ci, _swedish_ci and _bin collations
// and binary have neither.
//
// Check does not allocate unless it rejects the key.
func Check(key string, conn, col Charset, maxChars int) *Error {
	if i := strings.IndexByte(key, 0); i >= 0 {
		return &Error{Reason: ReasonNUL, Offset: i}
	}
	// ASCII fast path: every charset holds ASCII, one byte is one character.
	i := 0
	for i < len(key) && key[i] < utf8.RuneSelf {
		i++
	}
	if i == len(key) {
		if maxChars > 0 && conn.id != idUnknown {
			return checkLen(key, len(trimSpaces(key)), unitBytes, maxChars, false)
		}
		return nil
	}

	// strict: the column holds only characters of its repertoire, so
	// anything outside it can neither convert nor match.
	strict := col.id != idUnknown && col.id != idBinary
	switch conn.id {
	case idUTF8MB3, idUTF8MB4:
		for j := i; j < len(key); {
			b := key[j]
			if b < utf8.RuneSelf {
				j++
				continue
			}
			r, size := utf8.DecodeRuneInString(key[j:])
			if strict {
				switch {
				case r == utf8.RuneError && size == 1:
					return &Error{Reason: ReasonInvalidUTF8, Offset: j, Rune: rune(b)}
				case conn.id == idUTF8MB3 && r > 0xFFFF:
					return &Error{Reason: ReasonUnrepresentable, Offset: j, Rune: r, Charset: names[idUTF8MB3]}
				case !col.Contains(r):
					return &Error{Reason: ReasonUnrepresentable, Offset: j, Rune: r, Charset: col.Name()}
				}
			}
			j += size
		}
	case idLatin1, idASCII, idBinary:
		for j := i; j < len(key); j++ {
			b := key[j]
			if b < utf8.RuneSelf || !strict {
				continue
			}
			if conn.id == idASCII {
				return &Error{Reason: ReasonUnrepresentable, Offset: j, Rune: latin1Decode[b], Charset: names[idASCII]}
			}
			if conn.id == idLatin1 && col.id == idASCII {
				return &Error{Reason: ReasonUnrepresentable, Offset: j, Rune: latin1Decode[b], Charset: names[idASCII]}
			}
		}
	}

	if maxChars <= 0 {
		return nil
	}
	u := lengthUnit(conn, col)
	utf8Conn := conn.id == idUTF8MB3 || conn.id == idUTF8MB4
	switch u {
	case unitBytes:
		return checkLen(key, len(trimSpaces(key)), u, maxChars, utf8Conn)
	case unitRunes:
		return checkLen(key, utf8.RuneCountInString(trimSpaces(key)), u, maxChars, utf8Conn)
	}
	return nil
}

// checkLen rejects key if n, its length in characters counted in unit u,
// exceeds maxChars. utf8Conn says how to report the offending character.
func checkLen(key string, n int, u unit, maxChars int, utf8Conn bool) *Error {
	if n <= maxChars {
		return nil
	}
	e := &Error{Reason: ReasonTooLong, Chars: n, MaxChars: maxChars}
	if u == unitBytes {
		e.Offset = maxChars
		e.Rune = latin1Decode[key[maxChars]]
		if utf8Conn && key[maxChars] >= utf8.RuneSelf {
			// Over a utf8 connection with a binary column the byte may be
			// part of a sequence; report the rune it starts, if any.
			if r, size := utf8.DecodeRuneInString(key[maxChars:]); size > 1 {
				e.Rune = r
			}
		}
		return e
	}
	c := 0
	for j, r := range key {
		if c == maxChars {
			e.Offset, e.Rune = j, r
			break
		}
		c++
	}
	return e
}

// trimSpaces strips trailing U+0020 spaces (one byte in every charset here).
func trimSpaces(s string) string {
	for len(s) > 0 && s[len(s)-1] == ' ' {
		s = s[:len(s)-1]
	}
	return s
}
