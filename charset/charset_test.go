package charset_test

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/text/encoding/charmap"

	"mapgate/charset"
)

// refHigh is MySQL latin1 for bytes 0x80 to 0x9F, written out independently
// of the implementation from the MySQL manual ("West European Character
// Sets") and the WHATWG index-windows-1252 (POSTFIX-FACTS.md §4.2).
var refHigh = [32]rune{
	0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, // 80-87
	0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F, // 88-8F
	0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, // 90-97
	0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178, // 98-9F
}

// refDecode returns the character MySQL's latin1 gives byte b.
func refDecode(b byte) rune {
	if b >= 0x80 && b < 0xA0 {
		return refHigh[b-0x80]
	}
	return rune(b)
}

// refEncode is the reference latin1 encoder: rune → byte.
var refEncode = func() map[rune]byte {
	m := make(map[rune]byte, 256)
	for b := range 256 {
		m[refDecode(byte(b))] = byte(b)
	}
	return m
}()

// refLatin1OK reports whether every rune of the valid UTF-8 string s has a
// latin1 byte.
func refLatin1OK(s string) bool {
	for _, r := range s {
		if _, ok := refEncode[r]; !ok {
			return false
		}
	}
	return true
}

var undefined5 = []byte{0x81, 0x8D, 0x8F, 0x90, 0x9D}

func TestReferenceTableAgreesWithXText(t *testing.T) {
	t.Parallel()
	require.Len(t, refEncode, 256, "the reference table must be a bijection")
	special := 0
	for b := range 256 {
		x := charmap.Windows1252.DecodeByte(byte(b))
		if x == utf8.RuneError {
			assert.Contains(t, undefined5, byte(b), "x/text leaves byte %#02x undefined", b)
			assert.Equal(t, rune(b), refDecode(byte(b)), "undefined byte %#02x maps to the C1 control", b)
			continue
		}
		assert.Equal(t, x, refDecode(byte(b)), "byte %#02x", b)
		if b >= 0x80 && b < 0xA0 {
			special++
		}
	}
	assert.Equal(t, 27, special, "cp1252 assigns 27 characters at 0x80-0x9F")
}

func TestLookup(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want charset.Charset
		name string
	}{
		{"latin1", charset.Latin1, "latin1"},
		{"LATIN1", charset.Latin1, "latin1"},
		{"ascii", charset.ASCII, "ascii"},
		{"utf8mb3", charset.UTF8MB3, "utf8mb3"},
		{"utf8", charset.UTF8MB3, "utf8mb3"},
		{"UTF8", charset.UTF8MB3, "utf8mb3"},
		{"utf8mb4", charset.UTF8MB4, "utf8mb4"},
		{"Utf8Mb4", charset.UTF8MB4, "utf8mb4"},
		{"binary", charset.Binary, "binary"},
	}
	for _, tt := range tests {
		c, ok := charset.Lookup(tt.in)
		assert.True(t, ok, tt.in)
		assert.Equal(t, tt.want, c, tt.in)
		assert.Equal(t, tt.name, c.Name(), tt.in)
		assert.True(t, c.Known())
	}
	for _, in := range []string{"", "utf-8", "latin2", "cp1252", "utf16", "ucs2", "sjis", "latin1 ", "utf8mb4_general_ci"} {
		c, ok := charset.Lookup(in)
		assert.False(t, ok, in)
		assert.Equal(t, charset.Charset{}, c, in)
		assert.False(t, c.Known())
		assert.Equal(t, "", c.Name())
	}
	assert.Equal(t, "unknown", charset.Charset{}.String())
	assert.Equal(t, "latin1", charset.Latin1.String())
}

// TestLatin1EveryByte: each of the 256 bytes, read as MySQL latin1, gives a
// rune that is in the repertoire and that Check accepts over a utf8mb4
// connection; each byte is also accepted as-is over a latin1 connection.
func TestLatin1EveryByte(t *testing.T) {
	t.Parallel()
	for b := range 256 {
		r := refDecode(byte(b))
		assert.True(t, charset.Latin1.Contains(r), "byte %#02x = %U", b, r)
		err := charset.Check(string(r), charset.UTF8MB4, charset.Latin1, 1)
		raw := string([]byte{byte(b)})
		errRaw := charset.Check(raw, charset.Latin1, charset.Latin1, 1)
		errRaw4 := charset.Check(raw, charset.Latin1, charset.UTF8MB4, 1)
		if b == 0 {
			require.NotNil(t, err)
			assert.Equal(t, charset.ReasonNUL, err.Reason)
			require.NotNil(t, errRaw)
			assert.Equal(t, charset.ReasonNUL, errRaw.Reason)
			continue
		}
		assert.Nil(t, err, "byte %#02x = %U", b, r)
		assert.Nil(t, errRaw, "byte %#02x over a latin1 connection", b)
		assert.Nil(t, errRaw4, "byte %#02x over a latin1 connection, utf8mb4 column", b)
		// Over utf8 connections a lone byte >= 0x80 is invalid UTF-8.
		if b >= 0x80 {
			e := charset.Check(raw, charset.UTF8MB4, charset.Latin1, 0)
			require.NotNil(t, e, "byte %#02x", b)
			assert.Equal(t, charset.ReasonInvalidUTF8, e.Reason)
			assert.Equal(t, rune(b), e.Rune)
		}
	}
}

// TestLatin1C1 pins the 0x80-0x9F area: the 27 cp1252 characters and the 5
// C1 controls MySQL keeps are in; the other 27 C1 controls are out.
func TestLatin1C1(t *testing.T) {
	t.Parallel()
	in := map[rune]bool{0x81: true, 0x8D: true, 0x8F: true, 0x90: true, 0x9D: true}
	for r := rune(0x80); r < 0xA0; r++ {
		assert.Equal(t, in[r], charset.Latin1.Contains(r), "%U", r)
		err := charset.Check("a"+string(r)+"@example.jp", charset.UTF8MB4, charset.Latin1, 0)
		if in[r] {
			assert.Nil(t, err, "%U", r)
		} else if assert.NotNil(t, err, "%U", r) {
			assert.Equal(t, charset.ReasonUnrepresentable, err.Reason)
			assert.Equal(t, 1, err.Offset)
			assert.Equal(t, r, err.Rune)
			assert.Equal(t, "latin1", err.Charset)
		}
	}
	for _, r := range refHigh {
		assert.True(t, charset.Latin1.Contains(r), "%U", r)
	}
	named := map[string]bool{"€": true, "Š": true, "˜": true, "Ÿ": true, "\u0080": false, "\u0098": false}
	for s, want := range named {
		assert.Equal(t, want, charset.Check(s, charset.UTF8MB4, charset.Latin1, 0) == nil, "%+q", s)
	}
}

// TestContainsExhaustive compares each repertoire with its definition for
// every rune.
func TestContainsExhaustive(t *testing.T) {
	t.Parallel()
	for r := rune(-1); r <= unicode.MaxRune+1; r++ {
		_, l1 := refEncode[r]
		valid := utf8.ValidRune(r)
		if charset.Latin1.Contains(r) != l1 {
			t.Fatalf("latin1 Contains(%U) = %v", r, !l1)
		}
		if charset.ASCII.Contains(r) != (r >= 0 && r < 0x80) {
			t.Fatalf("ascii Contains(%U)", r)
		}
		if charset.UTF8MB3.Contains(r) != (valid && r <= 0xFFFF) {
			t.Fatalf("utf8mb3 Contains(%U)", r)
		}
		if charset.UTF8MB4.Contains(r) != valid {
			t.Fatalf("utf8mb4 Contains(%U)", r)
		}
		inRange := r >= 0 && r <= unicode.MaxRune
		if charset.Binary.Contains(r) != inRange || (charset.Charset{}).Contains(r) != inRange {
			t.Fatalf("binary/unknown Contains(%U)", r)
		}
	}
}

var (
	unknown = charset.Charset{}
	latin1  = charset.Latin1
	ascii   = charset.ASCII
	mb3     = charset.UTF8MB3
	mb4     = charset.UTF8MB4
	binary  = charset.Binary
)

func TestCheck(t *testing.T) {
	t.Parallel()
	type want struct {
		reason  charset.Reason
		offset  int
		r       rune
		charset string
	}
	ok := want{}
	tests := []struct {
		name      string
		key       string
		conn, col charset.Charset
		max       int
		want      want
	}{
		{"ascii key latin1 column", "bob@example.jp", mb4, latin1, 0, ok},
		{"empty key", "", mb4, latin1, 0, ok},
		{"josé latin1", "josé@example.jp", mb4, latin1, 0, ok},
		{"josé utf8mb3", "josé@example.jp", mb3, latin1, 0, ok},
		{"josé ascii column", "josé@example.jp", mb4, ascii, 0, want{charset.ReasonUnrepresentable, 3, 'é', "ascii"}},
		{"ほげ latin1", "ほげ@example.jp", mb4, latin1, 0, want{charset.ReasonUnrepresentable, 0, 'ほ', "latin1"}},
		{"ほげ latin1 over utf8mb3", "ほげ@example.jp", mb3, latin1, 0, want{charset.ReasonUnrepresentable, 0, 'ほ', "latin1"}},
		{"ほげ utf8mb3", "ほげ@example.jp", mb4, mb3, 0, ok},
		{"ほげ utf8mb3 conn", "ほげ@example.jp", mb3, mb3, 0, ok},
		{"ほげ utf8mb4", "ほげ@example.jp", mb4, mb4, 0, ok},
		{"emoji utf8mb3 column", "a😀@example.jp", mb4, mb3, 0, want{charset.ReasonUnrepresentable, 1, '😀', "utf8mb3"}},
		{"emoji utf8mb4", "a😀@example.jp", mb4, mb4, 0, ok},
		{"emoji utf8mb3 connection", "a😀@example.jp", mb3, mb4, 0, want{charset.ReasonUnrepresentable, 1, '😀', "utf8mb3"}},
		{"emoji latin1", "😀@example.jp", mb4, latin1, 0, want{charset.ReasonUnrepresentable, 0, '😀', "latin1"}},
		{"emoji binary column", "😀@example.jp", mb3, binary, 0, ok},
		{"xff utf8mb4 latin1 column", "\xff@example.jp", mb4, latin1, 0, want{charset.ReasonInvalidUTF8, 0, 0xFF, ""}},
		{"xff utf8mb4 utf8mb4 column", "a\xff@example.jp", mb4, mb4, 0, want{charset.ReasonInvalidUTF8, 1, 0xFF, ""}},
		{"xff utf8mb3", "\xff@example.jp", mb3, mb3, 0, want{charset.ReasonInvalidUTF8, 0, 0xFF, ""}},
		{"truncated sequence", "ab\xe3\x81", mb4, mb4, 0, want{charset.ReasonInvalidUTF8, 2, 0xE3, ""}},
		{"surrogate encoded", "\xed\xa0\x80", mb4, mb4, 0, want{charset.ReasonInvalidUTF8, 0, 0xED, ""}},
		{"overlong slash", "\xc0\xaf", mb4, mb4, 0, want{charset.ReasonInvalidUTF8, 0, 0xC0, ""}},
		{"xff binary column", "\xff@example.jp", mb4, binary, 0, ok},
		{"xff unknown column", "\xff@example.jp", mb4, unknown, 0, ok},
		{"xff latin1 connection", "\xff@example.jp", latin1, latin1, 0, ok},
		{"xff latin1 connection utf8mb4 column", "\xff@example.jp", latin1, mb4, 0, ok},
		{"xff latin1 connection utf8mb3 column", "\xff@example.jp", latin1, mb3, 0, ok},
		{"utf8 bytes latin1 connection", "ほげ@example.jp", latin1, latin1, 0, ok},
		{"x81 latin1 connection", "\x81\x8d\x8f\x90\x9d\x80\x98", latin1, mb4, 0, ok},
		{"latin1 connection ascii column", "jos\xe9", latin1, ascii, 0, want{charset.ReasonUnrepresentable, 3, 'é', "ascii"}},
		{"latin1 connection ascii column euro", "\x80", latin1, ascii, 0, want{charset.ReasonUnrepresentable, 0, '€', "ascii"}},
		{"latin1 connection binary column", "\xff", latin1, binary, 0, ok},
		{"binary connection", "\xffほ😀", binary, latin1, 0, ok},
		{"binary connection ascii column", "\xff", binary, ascii, 0, ok},
		{"ascii connection", "jos\xc3\xa9", ascii, latin1, 0, want{charset.ReasonUnrepresentable, 3, 'Ã', "ascii"}},
		{"ascii connection binary column", "jos\xc3\xa9", ascii, binary, 0, ok},
		{"unknown connection", "\xff\xfe", unknown, latin1, 0, ok},
		{"unknown both", "ほげ", unknown, unknown, 0, ok},
		{"NUL", "a\x00b@example.jp", mb4, mb4, 0, want{charset.ReasonNUL, 1, 0, ""}},
		{"NUL first", "\x00", mb4, mb4, 0, want{charset.ReasonNUL, 0, 0, ""}},
		{"NUL latin1 connection", "a\x00", latin1, latin1, 0, want{charset.ReasonNUL, 1, 0, ""}},
		{"NUL binary", "a\x00", binary, binary, 0, want{charset.ReasonNUL, 1, 0, ""}},
		{"NUL unknown", "a\x00", unknown, unknown, 0, want{charset.ReasonNUL, 1, 0, ""}},
		{"NUL wins over earlier bad byte", "\xffa\x00", mb4, latin1, 0, want{charset.ReasonNUL, 2, 0, ""}},
		{"controls accepted", "a\x01\t\n\r\x1b\x7f@example.jp", mb4, latin1, 0, ok},
		{"C1 controls in utf8mb4", "a\u0080\u009f", mb4, mb4, 0, ok},
		{"first bad wins", "éほ😀", mb4, ascii, 0, want{charset.ReasonUnrepresentable, 0, 'é', "ascii"}},
		{"U+FFFD itself is valid", "\uFFFD", mb4, mb3, 0, ok},
		{"U+FFFD not in latin1", "\uFFFD", mb4, latin1, 0, want{charset.ReasonUnrepresentable, 0, 0xFFFD, "latin1"}},
		{"noncharacter U+FFFF in utf8mb3", "\uFFFF", mb4, mb3, 0, ok},
		{"U+10000 not in utf8mb3", "\U00010000", mb4, mb3, 0, want{charset.ReasonUnrepresentable, 0, 0x10000, "utf8mb3"}},
		{"max rune utf8mb4", "\U0010FFFF", mb4, mb4, 0, ok},

		// Lengths.
		{"length at limit", "abc", mb4, latin1, 3, ok},
		{"length over limit", "abcd", mb4, latin1, 3, want{charset.ReasonTooLong, 3, 'd', ""}},
		{"trailing spaces ignored", "abc   ", mb4, latin1, 3, ok},
		{"trailing spaces ignored, non-ASCII", "ほげx  ", mb4, mb4, 3, ok},
		{"only spaces", "     ", mb4, mb4, 1, ok},
		{"leading spaces count", "  abc", mb4, latin1, 3, want{charset.ReasonTooLong, 3, 'b', ""}},
		{"inner spaces count", "a  b", mb4, latin1, 3, want{charset.ReasonTooLong, 3, 'b', ""}},
		{"trailing tab counts", "abc\t", mb4, latin1, 3, want{charset.ReasonTooLong, 3, '\t', ""}},
		{"runes over utf8mb4 connection", "ほげほ", mb4, mb4, 3, ok},
		{"runes over the limit", "ほげほげ", mb4, mb4, 3, want{charset.ReasonTooLong, 9, 'げ', ""}},
		{"josé is four characters", "josé", mb4, latin1, 4, ok},
		{"emoji is one character", "😀", mb4, mb4, 1, ok},
		{"bytes over latin1 connection", "jos\xc3\xa9", latin1, latin1, 4, want{charset.ReasonTooLong, 4, 0xA9, ""}},
		{"bytes over latin1 connection fit", "jos\xc3\xa9", latin1, mb4, 5, ok},
		{"binary column counts bytes", "ほげ", mb4, binary, 5, want{charset.ReasonTooLong, 5, 0, ""}},
		{"binary column counts bytes fit", "ほげ", mb4, binary, 6, ok},
		{"binary connection utf8 column counts runes", "ほげ", binary, mb4, 2, ok},
		{"binary connection latin1 column counts bytes", "\xe9\xe9\xe9", binary, latin1, 2, want{charset.ReasonTooLong, 2, 'é', ""}},
		{"binary connection unknown column: no length check", "abcdef\xff", binary, unknown, 2, ok},
		{"unknown connection: no length check", "abcdef", unknown, latin1, 2, ok},
		{"unknown column over utf8mb4 counts runes", "abc", mb4, unknown, 2, want{charset.ReasonTooLong, 2, 'c', ""}},
		{"zero max: no check", strings.Repeat("a", 10000), mb4, latin1, 0, ok},
		{"negative max: no check", "abc", mb4, latin1, -1, ok},
		{"charset before length", "ほげほげ", mb4, latin1, 1, want{charset.ReasonUnrepresentable, 0, 'ほ', "latin1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := charset.Check(tt.key, tt.conn, tt.col, tt.max)
			if tt.want == ok {
				assert.Nil(t, err)
				return
			}
			require.NotNil(t, err)
			assert.Equal(t, tt.want.reason, err.Reason, err.Error())
			assert.Equal(t, tt.want.offset, err.Offset, "offset")
			if tt.want.r != 0 || tt.want.reason == charset.ReasonNUL {
				assert.Equal(t, tt.want.r, err.Rune, "rune %U", err.Rune)
			}
			assert.Equal(t, tt.want.charset, err.Charset)
			assert.Empty(t, err.Column)
			if tt.want.reason == charset.ReasonTooLong {
				assert.Equal(t, tt.max, err.MaxChars)
				assert.Greater(t, err.Chars, tt.max)
			}
			assertPrintable(t, err.Error())
		})
	}
}

func TestErrorText(t *testing.T) {
	t.Parallel()
	err := charset.Check("ほげ@example.jp", mb4, latin1, 0)
	require.NotNil(t, err)
	assert.Equal(t, "U+307B at byte 0 not representable in latin1", err.Error())
	err.Column = "alias.address"
	assert.Equal(t, `U+307B at byte 0 not representable in latin1 for column "alias.address"`, err.Error())
	err.Column = "ほ\x00"
	assert.Equal(t, `U+307B at byte 0 not representable in latin1 for column "\u307b\x00"`, err.Error())

	cases := map[string]*charset.Error{
		"invalid UTF-8 byte 0xFF at byte 3":              charset.Check("abc\xff", mb4, mb4, 0),
		"U+1F600 at byte 0 not representable in utf8mb3": charset.Check("😀", mb4, mb3, 0),
		"NUL at byte 1": charset.Check("a\x00", mb4, mb4, 0),
		"4 characters exceed the column length 3":            charset.Check("abcd  ", mb4, mb4, 3),
		"U+00E9 at byte 0 not representable in ascii":        charset.Check("\xe9", latin1, ascii, 0),
		"key rejected (none)":                                {},
		"U+0000 at byte 0 not representable in \\xff\\u307b": {Reason: charset.ReasonUnrepresentable, Charset: "\xffほ"},
	}
	for want, e := range cases {
		require.NotNil(t, e, want)
		assert.Equal(t, want, e.Error())
		assertPrintable(t, e.Error())
	}
}

func TestErrorIs(t *testing.T) {
	t.Parallel()
	var err error = charset.Check("a\x00", mb4, mb4, 0)
	assert.ErrorIs(t, err, &charset.Error{Reason: charset.ReasonNUL})
	assert.NotErrorIs(t, err, &charset.Error{Reason: charset.ReasonTooLong})
	var e *charset.Error
	assert.ErrorAs(t, err, &e)
}

func TestReasonString(t *testing.T) {
	t.Parallel()
	want := map[charset.Reason]string{
		charset.ReasonNone:            "none",
		charset.ReasonInvalidUTF8:     "invalid_utf8",
		charset.ReasonUnrepresentable: "unrepresentable",
		charset.ReasonNUL:             "nul",
		charset.ReasonTooLong:         "too_long",
		charset.Reason(200):           "unknown",
	}
	for r, s := range want {
		assert.Equal(t, s, r.String())
	}
}

func TestNormalize(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"", ""},
		{"bob@example.jp", "bob@example.jp"},
		{"e\u0301", "é"},
		{"jose\u0301@example.jp", "josé@example.jp"},
		{"é", "é"},
		{"ｂｏｂ@example.jp", "ｂｏｂ@example.jp"}, // never NFKC
		{"ﬁ", "ﬁ"},                     // ligature kept
		{"\u212b", "\u00c5"},           // U+212B ANGSTROM SIGN is a singleton: NFC maps it
		{"\u1100\u1161", "\uac00"},     // Hangul jamo compose
		{"x\u0301", "x\u0301"},         // no precomposed form: unchanged
		{"a\u0328\u0301", "ą\u0301"},   // canonical reordering then composition
		{"\xffe\u0301", "\xffe\u0301"}, // invalid UTF-8 left alone
		{"Bob", "Bob"},                 // no case folding
	}
	for _, tt := range tests {
		got := charset.Normalize(tt.in)
		assert.Equal(t, tt.want, got, "%+q", tt.in)
		assert.Equal(t, got, charset.Normalize(got), "idempotent on %+q", tt.in)
	}
	// NFC makes a decomposed key acceptable to a latin1 column.
	assert.NotNil(t, charset.Check("jose\u0301", mb4, latin1, 0))
	assert.Nil(t, charset.Check(charset.Normalize("jose\u0301"), mb4, latin1, 0))
}

func TestASCIIFold(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"", ""},
		{"bob@example.jp", "bob@example.jp"},
		{"Bob@Example.JP", "bob@example.jp"},
		{"JOSÉ@Example.jp", "josÉ@example.jp"}, // only ASCII letters
		{"İ", "İ"},
		{"ほげ@Example.jp", "ほげ@example.jp"},
		{"Bob\xff@Example.JP", "bob\xff@example.jp"},
		{"A\x00B", "a\x00b"},
	}
	for _, tt := range tests {
		got := charset.ASCIIFold(tt.in)
		assert.Equal(t, tt.want, got, "%+q", tt.in)
		assert.Equal(t, got, charset.ASCIIFold(got), "idempotent on %+q", tt.in)
	}
}

func TestEscape(t *testing.T) {
	t.Parallel()
	assert.Equal(t, `"\u307b\u3052@example.jp"`, charset.Escape("ほげ@example.jp"))
	assert.Equal(t, `"\xff\x00\n"`, charset.Escape("\xff\x00\n"))
	assert.Equal(t, `"\U0001f600"`, charset.Escape("😀"))
	exact := strings.Repeat("a", charset.MaxEscapeBytes)
	assert.Equal(t, `"`+exact+`"`, charset.Escape(exact))
	assert.Equal(t, `"`+exact+`"...(1 more bytes)`, charset.Escape(exact+"b"))
	// A cut inside a character moves back to its start.
	s := strings.Repeat("a", charset.MaxEscapeBytes-1) + "ほげ"
	assert.Equal(t, `"`+strings.Repeat("a", charset.MaxEscapeBytes-1)+`"...(6 more bytes)`, charset.Escape(s))
	long := strings.Repeat("\xff", 100000)
	got := charset.Escape(long)
	assert.LessOrEqual(t, len(got), 4*charset.MaxEscapeBytes+40)
	assertPrintable(t, got)
}

func TestNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	ascii := "bob.example-user+tag@example.jp"
	jose := "josé@example.jp"
	hoge := "ほげ@example.jp"
	cases := []struct {
		name string
		f    func()
	}{
		{"Check ascii", func() { _ = charset.Check(ascii, mb4, latin1, 255) }},
		{"Check josé latin1", func() { _ = charset.Check(jose, mb4, latin1, 255) }},
		{"Check ほげ utf8mb4", func() { _ = charset.Check(hoge, mb4, mb4, 255) }},
		{"Check latin1 connection", func() { _ = charset.Check("\xff\xfe", latin1, mb4, 255) }},
		{"Normalize ascii", func() { _ = charset.Normalize(ascii) }},
		{"Normalize NFC", func() { _ = charset.Normalize(hoge) }},
		{"Normalize NFC maybe", func() { _ = charset.Normalize("x\u0301") }},
		{"Normalize invalid", func() { _ = charset.Normalize("e\u0301\xff") }},
		{"ASCIIFold ascii", func() { _ = charset.ASCIIFold(ascii) }},
		{"ASCIIFold unicode", func() { _ = charset.ASCIIFold(hoge) }},
		{"PostfixFold ascii", func() { _ = charset.PostfixFold(ascii, true) }},
	}
	for _, c := range cases {
		c.f() // warm the pool
		assert.Zero(t, testing.AllocsPerRun(200, c.f), c.name)
	}
	assert.Same(t, unsafeData(hoge), unsafeData(charset.Normalize(hoge)))
}

func assertPrintable(t *testing.T, s string) {
	t.Helper()
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			t.Errorf("not printable ASCII at %d: %+q", i, s)
			return
		}
	}
}

// PostfixFold follows Postfix's casefold(): full case folding with
// SMTPUTF8 (ICU's default folding), ASCII lowercase() without it.
func TestPostfixFold(t *testing.T) {
	withUTF8 := map[string]string{
		"bob@example.jp":    "bob@example.jp",
		"BOB@Example.JP":    "bob@example.jp",
		"Straße@example.de": "strasse@example.de",
		"ﬁle@example.com":   "file@example.com",
		"ΣΊΣΥΦΟΣ@x":         "σίσυφοσ@x",
		"JOSÉ@x":            "josé@x",
		"İ@x":               "i\u0307@x", // never a plain i (Go's unicode.ToLower gives one)
		"\xffBOB@x":         "\xffbob@x",
	}
	for in, want := range withUTF8 {
		assert.Equal(t, want, charset.PostfixFold(in, true), "%q", in)
		assert.Equal(t, charset.PostfixFold(want, true), charset.PostfixFold(in, true), "idempotent %q", in)
	}
	without := map[string]string{
		"BOB@Example.JP":    "bob@example.jp",
		"Straße@example.de": "straße@example.de",
		"JOSÉ@x":            "josÉ@x",
		"İ@x":               "İ@x",
	}
	for in, want := range without {
		assert.Equal(t, want, charset.PostfixFold(in, false), "%q", in)
	}
}
