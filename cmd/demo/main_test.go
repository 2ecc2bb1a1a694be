package main

import "testing"

func TestShownAsTyped(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		key  string
		n    int
		want string
	}{
		{"ほげ@example.jp", 0, "ほげ@example.jp"},
		{"ほげ@example.jp", 18, "ほげ@example.jp   "}, // ほげ takes four columns
		{"josé@example.jp", 16, "josé@example.jp "},
		{"\xff\xfe@example.jp", 0, `\xff\xfe@example.jp`},
		{"a\x00b\u200b@x", 0, `a\x00b\u200b@x`},
	} {
		if got := shown(c.key, c.n); got != c.want {
			t.Errorf("shown(%q, %d) = %q, want %q", c.key, c.n, got, c.want)
		}
	}
}
