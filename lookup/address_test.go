package lookup

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSearchKeys(t *testing.T) {
	t.Parallel()
	full := func(k string) Candidate { return Candidate{Key: k} }
	noext := func(k, ext string) Candidate { return Candidate{Key: k, Ext: ext} }
	at := func(k string) Candidate { return Candidate{Key: k, CatchAll: true} }
	tests := []struct {
		key, delims string
		want        []Candidate
	}{
		{"bob+tag@example.jp", "+", []Candidate{full("bob+tag@example.jp"), noext("bob@example.jp", "+tag"), at("@example.jp")}},
		{"bob@example.jp", "+", []Candidate{full("bob@example.jp"), at("@example.jp")}},
		{"bob+tag@example.jp", "", []Candidate{full("bob+tag@example.jp"), at("@example.jp")}},
		{"@example.jp", "+", []Candidate{full("@example.jp")}},
		{"bob+tag", "+", []Candidate{full("bob+tag"), noext("bob", "+tag")}},
		{"bob", "+", []Candidate{full("bob")}},
		{"", "+", nil},
		{"+tag@example.jp", "+", []Candidate{full("+tag@example.jp"), at("@example.jp")}},
		{"bob+@x", "+", []Candidate{full("bob+@x"), noext("bob@x", "+"), at("@x")}},
		{"bob@", "+", []Candidate{full("bob@"), at("@")}},
		// Several delimiters: cut at the first one found.
		{"bob-a+b@x", "+-", []Candidate{full("bob-a+b@x"), noext("bob@x", "-a+b"), at("@x")}},
		{"bob+a-b@x", "-+", []Candidate{full("bob+a-b@x"), noext("bob@x", "+a-b"), at("@x")}},
		{"bob.smith+x@x", "+", []Candidate{full("bob.smith+x@x"), noext("bob.smith@x", "+x"), at("@x")}},
		// Split the localpart only; last '@' separates the domain.
		{"a+b@c@x+y", "+", []Candidate{full("a+b@c@x+y"), noext("a@x+y", "+b@c"), at("@x+y")}},
		// Never split these localparts; "postmaster+x" is not one of them.
		{"postmaster+x@x", "+", []Candidate{full("postmaster+x@x"), noext("postmaster@x", "+x"), at("@x")}},
		{"Postmaster@x", "+", []Candidate{full("Postmaster@x"), at("@x")}},
		{"MAILER-DAEMON@x", "-", []Candidate{full("MAILER-DAEMON@x"), at("@x")}},
		{"double-bounce@x", "-", []Candidate{full("double-bounce@x"), at("@x")}},
		{"owner-list@x", "-", []Candidate{full("owner-list@x"), at("@x")}},
		{"owner-list+x@x", "+", []Candidate{full("owner-list+x@x"), noext("owner-list@x", "+x"), at("@x")}},
		{"list-request@x", "-", []Candidate{full("list-request@x"), at("@x")}},
		{"x-request@x", "-", []Candidate{full("x-request@x"), at("@x")}},
		{"-request@x", "-", []Candidate{full("-request@x"), at("@x")}},
		{"request-x@x", "-", []Candidate{full("request-x@x"), noext("request@x", "-x"), at("@x")}},
		{"list-request@x", "+", []Candidate{full("list-request@x"), at("@x")}},
	}
	for _, tt := range tests {
		t.Run(tt.key+" "+tt.delims, func(t *testing.T) {
			t.Parallel()
			got := SearchKeys(tt.key, tt.delims, nil)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestSearchKeysAppends(t *testing.T) {
	t.Parallel()
	dst := make([]Candidate, 0, 3)
	dst = SearchKeys("a+b@x", "+", dst)
	assert.Len(t, dst, 3)
	dst = SearchKeys("c@y", "+", dst[:0])
	assert.Equal(t, []Candidate{{Key: "c@y"}, {Key: "@y", CatchAll: true}}, dst)
}

func TestPropagateExtension(t *testing.T) {
	t.Parallel()
	tests := []struct{ result, ext, want string }{
		{"alice@example.jp", "+tag", "alice+tag@example.jp"},
		{"alice@example.jp", "", "alice@example.jp"},
		{"alice@example.jp,carol@example.net", "+tag", "alice+tag@example.jp,carol+tag@example.net"},
		{"alice@example.jp, carol@example.net ", "+tag", "alice+tag@example.jp, carol+tag@example.net "},
		{"alice", "+tag", "alice+tag"},
		{"alice@example.jp", "+", "alice+@example.jp"},
		{`"a b"@example.jp`, "+x", `"a b+x"@example.jp`},
		{`"a,b"@example.jp,c@d`, "+x", `"a,b+x"@example.jp,c+x@d`},
		{"@example.net", "+tag", "@example.net"},
		{"a@b,,c@d", "-x", "a-x@b,,c-x@d"},
		{"", "+x", ""},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, PropagateExtension(tt.result, tt.ext), "%q %q", tt.result, tt.ext)
	}
}

func BenchmarkSearchKeys(b *testing.B) {
	dst := make([]Candidate, 0, 3)
	b.ReportAllocs()
	for b.Loop() {
		dst = SearchKeys("bob+tag@example.jp", "+", dst[:0])
		if len(dst) != 3 {
			b.Fatal(dst)
		}
	}
}

func TestDomainKeys(t *testing.T) {
	t.Parallel()
	keys := func(ks ...string) []Candidate {
		var out []Candidate
		for _, k := range ks {
			out = append(out, Candidate{Key: k})
		}
		return out
	}
	tests := []struct {
		name string
		s    DomainSearch
		want []Candidate
	}{
		{"sub.relay2.example", DomainParent, keys("sub.relay2.example", "relay2.example", "example")},
		{"sub.relay2.example", DomainDotParent, keys("sub.relay2.example", ".relay2.example", ".example")},
		{"sub.relay2.example", DomainExact, keys("sub.relay2.example")},
		{"relay2.example", DomainParent, keys("relay2.example", "example")},
		{"example", DomainParent, keys("example")},
		{"example", DomainDotParent, keys("example")},
		{".example", DomainDotParent, keys(".example")},
		{"a.", DomainParent, keys("a.")},
		{"a.", DomainDotParent, keys("a.", ".")},
		{"a..b", DomainParent, keys("a..b", ".b")},
		{"a..b", DomainDotParent, keys("a..b", "..b", ".b")},
		{"", DomainParent, nil},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, DomainKeys(tt.name, tt.s, nil), "%q %v", tt.name, tt.s)
	}
}
