package charset

import (
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// id identifies a character set. The zero value means "unknown".
type id uint8

const (
	idUnknown id = iota
	idASCII
	idLatin1
	idUTF8MB3
	idUTF8MB4
	idBinary
)

// Charset is a MySQL/MariaDB character set as far as this package knows it.
// Charset values are comparable with ==.
//
// The zero value is the unknown character set: it contains every rune,
// and [Check] never rejects a key for charset reasons when either side is
// unknown (only for NUL, and for length where the count is certain).
type Charset struct{ id id }

// The character sets [Lookup] knows. These are values, not pointers; treat
// them as constants.
var (
	// ASCII is MySQL's ascii: U+0000 to U+007F.
	ASCII = Charset{idASCII}
	// Latin1 is MySQL's latin1, which is cp1252 plus five C1 controls.
	Latin1 = Charset{idLatin1}
	// UTF8MB3 is utf8mb3 (MariaDB's and older MySQL's utf8): the BMP only.
	UTF8MB3 = Charset{idUTF8MB3}
	// UTF8MB4 is utf8mb4: every Unicode scalar value.
	UTF8MB4 = Charset{idUTF8MB4}
	// Binary is the binary pseudo charset: bytes, compared bytewise.
	Binary = Charset{idBinary}
)

var names = [...]string{
	idUnknown: "",
	idASCII:   "ascii",
	idLatin1:  "latin1",
	idUTF8MB3: "utf8mb3",
	idUTF8MB4: "utf8mb4",
	idBinary:  "binary",
}

// Lookup returns the character set a MySQL or MariaDB charset name denotes,
// compared case-insensitively: latin1, ascii, utf8mb3, utf8 (an alias of
// utf8mb3, as in MariaDB with its default old_mode UTF8_IS_UTF8MB3 and in
// MySQL up to 9.x), utf8mb4 and binary. Any other name gives the zero
// Charset and false; the caller should then send the query and rely on
// classifying the server's error.
func Lookup(name string) (Charset, bool) {
	for i, n := range names {
		if i != int(idUnknown) && strings.EqualFold(name, n) {
			return Charset{id(i)}, true
		}
	}
	if strings.EqualFold(name, "utf8") {
		return UTF8MB3, true
	}
	return Charset{}, false
}

// Name returns the canonical MySQL name ("latin1", "ascii", "utf8mb3",
// "utf8mb4", "binary"), or "" for the zero (unknown) Charset. Lookup("utf8")
// gives a Charset named "utf8mb3".
func (c Charset) Name() string {
	if int(c.id) < len(names) {
		return names[c.id]
	}
	return ""
}

// String returns [Charset.Name], or "unknown" for the zero Charset.
func (c Charset) String() string {
	if c.id == idUnknown {
		return "unknown"
	}
	return c.Name()
}

// Known reports whether c is one of the character sets [Lookup] returns,
// that is, not the zero value.
func (c Charset) Known() bool { return c.id != idUnknown }

// Contains reports whether the rune r is in the repertoire of c:
//   - ascii: U+0000 to U+007F;
//   - latin1: U+0000 to U+007F, U+00A0 to U+00FF, the 27 cp1252 characters
//     at bytes 0x80 to 0x9F (€ ‚ ƒ „ … † ‡ ˆ ‰ Š ‹ Œ Ž ' ' " " • – — ˜ ™ š › œ ž Ÿ),
//     and U+0081, U+008D, U+008F, U+0090, U+009D;
//   - utf8mb3: Unicode scalar values up to U+FFFF;
//   - utf8mb4: every Unicode scalar value;
//   - binary and the zero (unknown) Charset: every rune from 0 to
//     [unicode.MaxRune], surrogates included (any byte string fits).
func (c Charset) Contains(r rune) bool {
	switch c.id {
	case idASCII:
		return r >= 0 && r < utf8.RuneSelf
	case idLatin1:
		_, ok := latin1Encode(r)
		return ok
	case idUTF8MB3:
		return r <= 0xFFFF && utf8.ValidRune(r)
	case idUTF8MB4:
		return utf8.ValidRune(r)
	default:
		return r >= 0 && r <= utf8.MaxRune
	}
}

// latin1Decode maps each byte to the character MySQL's latin1 gives it.
// latin1High lists the runes of bytes 0x80 to 0x9F (index b-0x80).
var (
	latin1Decode [256]rune
	latin1High   [32]rune
)

// latin1Undefined are the bytes cp1252 leaves undefined, which MySQL maps to
// the C1 control of the same value and x/text decodes to U+FFFD.
var latin1Undefined = [...]byte{0x81, 0x8D, 0x8F, 0x90, 0x9D}

func init() {
	for b := range 256 {
		r := charmap.Windows1252.DecodeByte(byte(b))
		if r == utf8.RuneError {
			for _, u := range latin1Undefined {
				if byte(b) == u {
					r = rune(b)
				}
			}
		}
		if r == utf8.RuneError {
			panic("charset: x/text Windows1252 has an unexpected undefined byte")
		}
		latin1Decode[b] = r
		if b >= 0x80 && b < 0xA0 {
			latin1High[b-0x80] = r
		}
	}
}

// latin1Encode returns the MySQL latin1 byte of r, if r has one.
func latin1Encode(r rune) (byte, bool) {
	switch {
	case r >= 0 && r < 0x80, r >= 0xA0 && r <= 0xFF:
		return byte(r), true
	case r < 0x80:
		return 0, false
	}
	for i, h := range latin1High {
		if h == r {
			return byte(0x80 + i), true
		}
	}
	return 0, false
}
