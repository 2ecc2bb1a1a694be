package charset

import (
	"strconv"
	"sync"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// iterPool recycles norm.Iter values, which escape to the heap.
var iterPool = sync.Pool{New: func() any { return new(norm.Iter) }}

// Normalize returns key in Unicode Normalization Form C, so that "e\u0301"
// and "é" look up the same row. It never applies compatibility forms (NFKC):
// a fullwidth "ｂｏｂ" stays fullwidth, as it is a different address.
//
// When key is already NFC, or is not valid UTF-8 (left alone: [Check]
// rejects it over a utf8 connection), Normalize returns key itself and does
// not allocate (apart from an amortised pool refill).
//
// Invariants: Normalize(Normalize(s)) == Normalize(s); for valid UTF-8 the
// result is valid UTF-8 and NFC.
func Normalize(key string) string {
	i := 0
	for i < len(key) && key[i] < utf8.RuneSelf {
		i++
	}
	if i == len(key) {
		return key // ASCII is NFC
	}
	if !utf8.ValidString(key[i:]) {
		return key
	}
	if isNFC(key) {
		return key
	}
	return norm.NFC.String(key)
}

// isNFC reports whether the valid UTF-8 string s is in NFC, without
// allocating.
func isNFC(s string) bool {
	if norm.NFC.QuickSpanString(s) == len(s) {
		return true
	}
	it := iterPool.Get().(*norm.Iter)
	defer iterPool.Put(it)
	it.InitString(norm.NFC, s)
	pos := 0
	for !it.Done() {
		seg := it.Next()
		if len(seg) > len(s)-pos || string(seg) != s[pos:pos+len(seg)] {
			return false
		}
		pos += len(seg)
	}
	return pos == len(s)
}

// ASCIIFold lower-cases the ASCII letters of key and leaves every other
// byte as it is: Postfix's lowercase(), what its casefold() does for an
// all-ASCII key or with smtputf8_enable = no.
//
// It returns key itself, without allocating, when nothing changes.
func ASCIIFold(key string) string {
	i := 0
	for i < len(key) && !('A' <= key[i] && key[i] <= 'Z') {
		i++
	}
	if i == len(key) {
		return key
	}
	b := []byte(key)
	for j := i; j < len(b); j++ {
		if c := b[j]; 'A' <= c && c <= 'Z' {
			b[j] = c + ('a' - 'A')
		}
	}
	return string(b)
}

// MaxEscapeBytes is how many bytes of a key [Escape] quotes before it
// truncates.
const MaxEscapeBytes = 128

// Escape formats s for a log line: quoted with [strconv.QuoteToASCII]
// (`"\u307b\u3052@example.jp"`, invalid bytes as \xff), so the result is
// printable ASCII and never contains the key's raw bytes. Only the first
// [MaxEscapeBytes] bytes (cut back to a character boundary) are quoted; a
// longer s gets the marker `...(N more bytes)` after the closing quote. The
// result is at most about 4*MaxEscapeBytes+30 bytes long.
func Escape(s string) string {
	if len(s) <= MaxEscapeBytes {
		return strconv.QuoteToASCII(s)
	}
	cut := MaxEscapeBytes
	for k := cut; k > cut-utf8.UTFMax && k > 0; k-- {
		if utf8.RuneStart(s[k]) {
			cut = k
			break
		}
	}
	return strconv.QuoteToASCII(s[:cut]) + "...(" + strconv.Itoa(len(s)-cut) + " more bytes)"
}

// PostfixFold folds a lookup key as Postfix's casefold() does for a
// mysql: table opened with DICT_FLAG_FOLD_FIX (postfix/src/util/casefold.c,
// dict_utf8.c): with utf8 (smtputf8_enable = yes), full Unicode case
// folding for a key that is not all ASCII (CaseFolding.txt status C and F,
// as ICU's default: "ß" → "ss", "İ" → "i\u0307", never a plain "i");
// otherwise, and for a key that is not valid UTF-8 (which Postfix does not
// look up at all with utf8), ASCII letters only.
//
// It returns key itself when nothing changes.
func PostfixFold(key string, utf8Enabled bool) string {
	i := 0
	for i < len(key) && key[i] < utf8.RuneSelf {
		i++
	}
	if !utf8Enabled || i == len(key) || !utf8.ValidString(key[i:]) {
		return ASCIIFold(key)
	}
	if f := cases.Fold().String(key); f != key {
		return f
	}
	return key
}
