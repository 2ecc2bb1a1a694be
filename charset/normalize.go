package charset

import (
	"strconv"
	"strings"
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

// Fold lower-cases key as Postfix's mysql: client receives keys: ASCII
// letters always; for valid UTF-8, also Unicode simple lower-casing
// ([strings.ToLower] semantics, rune by rune, so "ß" stays "ß" and "İ"
// becomes "i"). For invalid UTF-8 only ASCII letters are folded and every
// other byte is left untouched (strings.ToLower would turn each bad byte
// into U+FFFD).
//
// Fold returns key itself, without allocating, when nothing changes.
// Invariant: Fold(Fold(s)) == Fold(s).
func Fold(key string) string {
	upper := false
	i := 0
	for ; i < len(key); i++ {
		b := key[i]
		if b >= utf8.RuneSelf {
			break
		}
		if 'A' <= b && b <= 'Z' {
			upper = true
		}
	}
	if i < len(key) && utf8.ValidString(key[i:]) {
		return strings.ToLower(key) // returns key when nothing changes
	}
	if !upper {
		for j := i; j < len(key); j++ {
			if b := key[j]; 'A' <= b && b <= 'Z' {
				upper = true
				break
			}
		}
		if !upper {
			return key
		}
	}
	b := []byte(key)
	for j, c := range b {
		if 'A' <= c && c <= 'Z' {
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

// CaseFold applies full Unicode case folding (Unicode's CaseFolding.txt,
// status C and F: "ß" → "ss", "ﬁ" → "fi"), which is what Postfix does to a
// key for a mysql: table when smtputf8_enable = yes (util_utf8_enable;
// ICU's default case folding). Invalid UTF-8 gets Fold's treatment. It
// returns key itself when nothing changes.
func CaseFold(key string) string {
	if !utf8.ValidString(key) {
		return Fold(key)
	}
	f := cases.Fold().String(key)
	if f == key {
		return key
	}
	return f
}
