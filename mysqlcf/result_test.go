package mysqlcf

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestResultFormat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		format, key, value string
		want               string
		skipped            bool
	}{
		{"", "k", "v", "v", false},
		{"%s", "k", "v", "v", false},
		{"%s", "k", "", "", true},
		{"OK", "k", "", "", true}, // empty values are skipped whatever the format
		{"OK", "k", "x", "OK", false},
		{"smtp:[%s]", "k", "mx.example.jp", "smtp:[mx.example.jp]", false},
		{"%u", "k", "bob@example.jp", "bob", false},
		{"%u", "k", "bob", "bob", false},
		{"%u", "k", "@example.jp", "", true},
		{"%u", "k", "bob@", "bob", false},
		{"%d", "k", "bob@example.jp", "example.jp", false},
		{"%d", "k", "bob", "", true},
		{"%d", "k", "bob@", "", true},
		{"%u@%d", "k", "a@b@c", "a@b@c", false},
		{"%S=%s", "Key@X", "v", "Key@X=v", false},
		{"%U+%s", "bob@example.jp", "v", "bob+v", false},
		{"%U", "bob", "v", "bob", false},
		{"%U", "@example.jp", "v", "", true},
		{"%D", "bob@example.jp", "v", "example.jp", false},
		{"%D", "bob", "v", "", true},
		{"%2/%1", "bob@mail.example.jp", "v", "example/jp", false},
		{"%3", "bob@example.jp", "v", "", true},
		{"100%%", "k", "v", "100%", false},
	}
	for _, tt := range tests {
		t.Run(tt.format+" "+tt.key+" "+tt.value, func(t *testing.T) {
			t.Parallel()
			rf, err := ParseResultFormat(tt.format)
			require.NoError(t, err)
			out, skipped := rf.Append(nil, tt.key, tt.value)
			assert.Equal(t, tt.skipped, skipped)
			assert.Equal(t, tt.want, string(out))
			// With an element already present: a comma, unless skipped.
			out, _ = rf.Append([]byte("first"), tt.key, tt.value)
			if tt.skipped {
				assert.Equal(t, "first", string(out))
			} else {
				assert.Equal(t, "first,"+tt.want, string(out))
			}
		})
	}
}

func TestResultFormatErrors(t *testing.T) {
	t.Parallel()
	for _, f := range []string{"%x", "%", "a%", "%0", "%c"} {
		_, err := ParseResultFormat(f)
		assert.ErrorContains(t, err, "invalid result template", f)
	}
}

func TestResultElements(t *testing.T) {
	t.Parallel()
	cf, err := ParseBytes("x", []byte("dbname = d\nquery = SELECT a, b FROM t WHERE k='%s'\nexpansion_limit = 2\nresult_format = %d\n"))
	require.NoError(t, err)
	// Rows × columns; skipped values are not elements.
	var out []byte
	elements := 0
	for _, v := range []string{"a@x.jp", "b", "", "c@y.jp, d@z.jp"} {
		var skipped bool
		if out, skipped = cf.ResultFormat.Append(out, "k", v); !skipped {
			elements++
		}
	}
	assert.Equal(t, "x.jp,z.jp", string(out))
	assert.Equal(t, 2, elements, "one element per formatted value, not per address")
	assert.False(t, cf.ExpansionLimitExceeded(elements))
	assert.True(t, cf.ExpansionLimitExceeded(elements+1))
}

func BenchmarkResultAppend(b *testing.B) {
	rf, err := ParseResultFormat("%s")
	require.NoError(b, err)
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = rf.Append(buf[:0], "bob@example.jp", "alice@example.jp")
		if len(buf) != len("alice@example.jp") {
			b.Fatal(string(buf))
		}
	}
}
