package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestQueryCommand: mapgate query answers like postmap -q: the value and
// exit 0, exit 1 for not found, exit 3 with the reason when the database
// cannot answer.
func TestQueryCommand(t *testing.T) {
	f := newFixture(t)
	q := func(key string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run([]string{"query", "--map", "virtual_alias=" + f.cf, "--recipient-delimiter", "+", "--set", "virtual_alias_propagate_extension=yes", "virtual_alias", key}, &out, &errb)
		return code, out.String(), errb.String()
	}
	code, out, _ := q("bob+tag@example.jp")
	assert.Equal(t, exitOK, code)
	assert.Equal(t, "bob+tag@example.jp\n", out)
	code, out, _ = q("ほげ@example.jp")
	assert.Equal(t, exitNotFound, code)
	assert.Empty(t, out)

	var out2, errb2 bytes.Buffer
	assert.Equal(t, exitUsage, run([]string{"query", "--map", "virtual_alias=" + f.cf, "virtual_alias"}, &out2, &errb2))

	f.db.Kill()
	code, out, errs := q("bob@example.jp")
	assert.Equal(t, exitFailure, code)
	assert.Empty(t, out)
	assert.Contains(t, errs, "TEMP")
}
