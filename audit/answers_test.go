package audit

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestKeyVariants(t *testing.T) {
	keys := func(v string) map[string]string {
		m := map[string]string{}
		for _, kv := range keyVariants(v) {
			m[kv.key] = kv.kind
		}
		return m
	}
	// Postfix folds Straße@ to strasse@ before the query.
	k := keys("Straße@example.com")
	assert.Equal(t, "case", k["strasse@example.com"])
	k = keys("y@example.com")
	assert.Equal(t, "accent", k["ÿ@example.com"])
	assert.Equal(t, "accent", k["ý@example.com"])
	k = keys("bob@example.com")
	assert.Equal(t, "ignorable U+00AD", k["bob\u00ad@example.com"])
	assert.Equal(t, "ignorable U+001A", k["bob\x1a@example.com"])
	assert.Equal(t, "ignorable U+001A", k["b\x1aob@example.com"])
	assert.Equal(t, "fullwidth", k["ｂｏｂ＠ｅｘａｍｐｌｅ．ｃｏｍ"])
	assert.Equal(t, "trailing space", k["bob@example.com "])
	assert.NotContains(t, k, "bob@example.com", "the value itself is no variant")
	// Postfix's full case folding turns a ligature back into its letters
	// (U+FB00 → "ff"): no such key reaches the table.
	k = keys("office@example.com")
	assert.NotContains(t, k, "o\ufb00ice@example.com")
	assert.NotContains(t, k, "office@example.com")
}
