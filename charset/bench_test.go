package charset_test

import (
	"testing"

	"mapgate/charset"
)

func BenchmarkCheck(b *testing.B) {
	cases := []struct {
		name      string
		key       string
		conn, col charset.Charset
		ok        bool
	}{
		{"ascii/latin1", "bob.example-user+tag@example.jp", mb4, latin1, true},
		{"latin1-key/latin1", "josé.müller@example.jp", mb4, latin1, true},
		{"japanese/utf8mb4", "ほげ@example.jp", mb4, mb4, true},
		{"japanese/latin1-reject", "ほげ@example.jp", mb4, latin1, false},
		{"bytes/latin1-conn", "jos\xe9.m\xfcller@example.jp", latin1, latin1, true},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if (charset.Check(c.key, c.conn, c.col, 255) == nil) != c.ok {
					b.Fatal("wrong answer")
				}
			}
		})
	}
}

func BenchmarkNormalize(b *testing.B) {
	cases := []struct{ name, in, want string }{
		{"ascii", "bob.example-user+tag@example.jp", "bob.example-user+tag@example.jp"},
		{"nfc", "ほげ.josé@example.jp", "ほげ.josé@example.jp"},
		{"nfd", "jose\u0301@example.jp", "josé@example.jp"},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if charset.Normalize(c.in) != c.want {
					b.Fatal("wrong answer")
				}
			}
		})
	}
}

func BenchmarkFold(b *testing.B) {
	cases := []struct{ name, in, want string }{
		{"ascii-lower", "bob.example-user+tag@example.jp", "bob.example-user+tag@example.jp"},
		{"ascii-mixed", "Bob.Example@Example.JP", "bob.example@example.jp"},
		{"unicode-lower", "ほげ.josé@example.jp", "ほげ.josé@example.jp"},
		{"unicode-mixed", "ほげ.JOSÉ@example.jp", "ほげ.josé@example.jp"},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if charset.PostfixFold(c.in, true) != c.want {
					b.Fatal("wrong answer")
				}
			}
		})
	}
}
