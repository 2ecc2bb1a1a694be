package charset_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"mapgate/charset"
)

// charsets indexes the fuzzer's choice of connection and column charset.
var charsets = [...]charset.Charset{unknown, ascii, latin1, mb3, mb4, binary}

func pick(i uint8) charset.Charset { return charsets[int(i)%len(charsets)] }

// checkSeeds are keys worth starting from, shared by both fuzz targets.
var checkSeeds = []string{
	"", "bob@example.jp", "Bob@Example.JP", "josé@example.jp", "jose\u0301@example.jp",
	"ほげ@example.jp", "😀@example.jp", "\xff@example.jp", "a\x00b@example.jp",
	"abc   ", "€‚ƒ„…†‡ˆ‰Š‹ŒŽ''\"\"•–—˜™š›œžŸ", "\u0080\u0081\u008d\u008f\u0090\u0098\u009d\u009f",
	"ｂｏｂ@example.jp", "\xed\xa0\x80", "\xc0\xaf", "\xe3\x81", "\U0010FFFF\uFFFF\uFFFD",
	"\u212b\u1100\u1161", "ΣΑΣ ẞ İ", "\t\r\n\x1b\x7f",
}

// FuzzCheck: Check never panics, its errors are well-formed, and for a
// latin1 column over a utf8mb4 connection it accepts exactly the keys whose
// runes the reference latin1 table encodes.
func FuzzCheck(f *testing.F) {
	for i, s := range checkSeeds {
		f.Add(s, uint8(i), uint8(i/len(charsets)), int(i%4))
	}
	f.Fuzz(func(t *testing.T, key string, connIdx, colIdx uint8, maxChars int) {
		conn, col := pick(connIdx), pick(colIdx)
		err := charset.Check(key, conn, col, maxChars)
		hasNUL := strings.IndexByte(key, 0) >= 0
		if err != nil {
			if err.Offset < 0 || err.Offset >= len(key) {
				t.Fatalf("offset %d out of range for %+q", err.Offset, key)
			}
			if err.Reason == charset.ReasonNone || err.Reason.String() == "unknown" {
				t.Fatalf("bad reason %d", err.Reason)
			}
			if hasNUL != (err.Reason == charset.ReasonNUL) {
				t.Fatalf("NUL %v but reason %v", hasNUL, err.Reason)
			}
			if err.Reason == charset.ReasonTooLong && (maxChars <= 0 || err.Chars <= maxChars) {
				t.Fatalf("too long with max %d, chars %d", maxChars, err.Chars)
			}
			assertPrintable(t, err.Error())
		} else if hasNUL {
			t.Fatalf("NUL accepted: %+q", key)
		}

		// Without a length limit the outcome is the charset decision alone.
		base := charset.Check(key, conn, col, 0)
		if err == nil && base != nil {
			t.Fatalf("accepted with max %d but rejected without: %v", maxChars, base)
		}
		if base != nil && base.Reason == charset.ReasonTooLong {
			t.Fatal("too long without a limit")
		}

		// The property: latin1 column, utf8mb4 connection.
		l1 := charset.Check(key, mb4, latin1, 0)
		wantL1 := !hasNUL && utf8.ValidString(key) && refLatin1OK(key)
		if (l1 == nil) != wantL1 {
			t.Fatalf("latin1/utf8mb4 Check(%+q) = %v, reference says accept=%v", key, l1, wantL1)
		}
		// Repertoires nest: ascii ⊂ latin1 ⊂ utf8mb4, utf8mb3 ⊂ utf8mb4 ⊂ binary.
		a := charset.Check(key, mb4, ascii, 0)
		m3 := charset.Check(key, mb4, mb3, 0)
		m4 := charset.Check(key, mb4, mb4, 0)
		bin := charset.Check(key, mb4, binary, 0)
		if (a == nil && l1 != nil) || (l1 == nil && m4 != nil) || (m3 == nil && m4 != nil) || (m4 == nil && bin != nil) {
			t.Fatalf("repertoires do not nest for %+q: ascii %v latin1 %v mb3 %v mb4 %v binary %v", key, a, l1, m3, m4, bin)
		}
		// utf8mb4 column over utf8mb4: valid UTF-8 without NUL.
		if (m4 == nil) != (!hasNUL && utf8.ValidString(key)) {
			t.Fatalf("utf8mb4 Check(%+q) = %v", key, m4)
		}
		// A latin1 connection never rejects for charset reasons except
		// against an ascii column.
		if !hasNUL && charset.Check(key, latin1, col, 0) != nil && col != ascii {
			t.Fatalf("latin1 connection rejected %+q for column %v", key, col)
		}
		// Binary connection and unknown charsets: only NUL.
		if !hasNUL && (charset.Check(key, binary, col, 0) != nil || charset.Check(key, conn, unknown, 0) != nil && conn != ascii) {
			t.Fatalf("binary/unknown rejected %+q", key)
		}
		// Trailing spaces never change the decision.
		if (charset.Check(key+"   ", conn, col, maxChars) == nil) != (err == nil) {
			t.Fatalf("trailing spaces changed the decision for %+q", key)
		}
		// The length counted is never more than the byte length.
		if maxChars >= len(key) && err == nil != (base == nil) {
			t.Fatalf("limit %d >= len %d changed the decision", maxChars, len(key))
		}
	})
}

// FuzzNormalize: Normalize, Fold and Escape never panic, Normalize and
// Fold are idempotent, invalid UTF-8 survives Normalize untouched, and
// Escape is bounded printable ASCII.
func FuzzNormalize(f *testing.F) {
	for _, s := range checkSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		n := charset.Normalize(key)
		if charset.Normalize(n) != n {
			t.Fatalf("Normalize not idempotent on %+q", key)
		}
		if utf8.ValidString(key) {
			if !utf8.ValidString(n) || !norm.NFC.IsNormalString(n) {
				t.Fatalf("Normalize(%+q) = %+q is not valid NFC", key, n)
			}
			if norm.NFC.IsNormalString(key) && n != key {
				t.Fatalf("Normalize changed NFC input %+q", key)
			}
			if n != norm.NFC.String(key) {
				t.Fatalf("Normalize(%+q) differs from NFC", key)
			}
		} else if n != key {
			t.Fatalf("Normalize changed invalid input %+q", key)
		}

		l := charset.ASCIIFold(key)
		if len(l) != len(key) {
			t.Fatalf("ASCIIFold(%+q) changed the length", key)
		}
		for i := 0; i < len(key); i++ {
			c := key[i]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if l[i] != c {
				t.Fatalf("ASCIIFold(%+q) byte %d: %#02x", key, i, l[i])
			}
		}
		f := charset.PostfixFold(key, true)
		if charset.PostfixFold(f, true) != f {
			t.Fatalf("PostfixFold not idempotent on %+q", key)
		}
		if utf8.ValidString(f) != utf8.ValidString(key) {
			t.Fatalf("PostfixFold(%+q) = %+q changed validity", key, f)
		}

		e := charset.Escape(key)
		assertPrintable(t, e)
		if len(e) > 4*charset.MaxEscapeBytes+40 {
			t.Fatalf("Escape too long: %d", len(e))
		}
	})
}
