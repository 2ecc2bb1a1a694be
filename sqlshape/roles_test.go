package sqlshape

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// Each parameter's Role says what a comparison no row can satisfy proves.
func TestParamRoles(t *testing.T) {
	R, F, O := RoleRequired, RoleFilter, RoleOpaque
	cases := []struct {
		q    string
		want []Role
	}{
		{"SELECT goto FROM alias WHERE address = ? AND active = 1", []Role{R}},
		{"SELECT goto FROM alias WHERE (address = ? OR address = ?) AND active = 1", []Role{F, F}},
		{"SELECT goto FROM alias WHERE address = ? UNION SELECT goto FROM alias WHERE address = ?", []Role{F, F}},
		{"SELECT goto FROM alias WHERE address IN (?, ?)", []Role{F, F}},
		{"SELECT goto FROM alias WHERE address IN (?)", []Role{R}},
		{"SELECT goto FROM alias WHERE ? IN (address, goto)", []Role{R}},
		{"SELECT goto FROM alias WHERE NOT (address = ?)", []Role{O}},
		{"SELECT goto FROM alias WHERE address <> ?", []Role{O}},
		{"SELECT goto FROM alias WHERE address LIKE ?", []Role{R}},
		{"SELECT goto FROM alias WHERE address = ? OR address LIKE ?", []Role{F, F}},
		{"SELECT goto FROM alias WHERE address <=> ? OR domain = ?", []Role{O, F}},
		{"SELECT goto FROM alias WHERE address = COALESCE(?, 'x') OR domain = ?", []Role{O, F}},
		{"SELECT CASE WHEN address = ? THEN goto END FROM alias", []Role{O}},
		{"SELECT COUNT(*) FROM alias WHERE address = ?", []Role{F}},
		{"SELECT domain FROM alias WHERE address = ? GROUP BY domain", []Role{R}},
		{"SELECT goto FROM alias WHERE id IN (SELECT id FROM alias WHERE address = ?)", []Role{F}},
		{"SELECT goto FROM alias WHERE NOT EXISTS (SELECT 1 FROM mailbox WHERE username = ?) AND address = ?", []Role{F, R}},
		{"SELECT goto FROM alias a JOIN alias_domain d ON d.alias_domain = ? WHERE a.address = CONCAT(?, '@', d.target_domain)", []Role{R, R}},
		{"SELECT goto FROM alias a LEFT JOIN alias_domain d ON d.alias_domain = ? WHERE a.address = ?", []Role{F, R}},
		{"SELECT address = ? FROM alias", []Role{O}},
	}
	for _, c := range cases {
		uses := ParamUses(c.q)
		var got []Role
		for _, u := range uses {
			got = append(got, u.Role)
		}
		assert.Equal(t, c.want, got, c.q)
	}
}

// A SUBSTRING_INDEX the key goes through is computed, so the check sees
// what reaches the comparison; other character-dropping functions make
// the check prove nothing.
func TestParamTransforms(t *testing.T) {
	u := ParamUses("SELECT 1 FROM mail_domain WHERE domain = SUBSTRING_INDEX(?, '@', -1)")[0]
	assert.Equal(t, []Transform{{Delim: "@", Count: -1}}, u.Transforms)
	assert.False(t, u.Converted)
	u = ParamUses("SELECT 1 FROM mail_domain WHERE domain = SUBSTRING_INDEX(CONCAT(?, '@x'), '@', -1)")[0]
	assert.Empty(t, u.Transforms)
	assert.True(t, u.Converted, "the delimiter may come from the CONCAT")
	for _, q := range []string{
		"SELECT 1 FROM alias WHERE address = LOWER(?)",
		"SELECT 1 FROM alias WHERE address = LEFT(?, 3)",
		"SELECT 1 FROM alias WHERE address = REPLACE(?, 'a', 'b')",
	} {
		assert.True(t, ParamUses(q)[0].Converted, q)
	}
	for _, c := range []struct {
		tr      Transform
		in, out string
	}{
		{Transform{"@", -1}, "ほげ@example.jp", "example.jp"},
		{Transform{"@", 1}, "ほげ@example.jp", "ほげ"},
		{Transform{"+", 1}, "bob+tag+x", "bob"},
		{Transform{"+", 2}, "bob+tag+x", "bob+tag"},
		{Transform{"+", -2}, "bob+tag+x", "tag+x"},
		{Transform{"+", 1}, "bob", "bob"},
		{Transform{"@", 0}, "a@b", ""},
	} {
		assert.Equal(t, c.out, c.tr.Apply(c.in), "%+v %q", c.tr, c.in)
	}
}
