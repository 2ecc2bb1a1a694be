package sqlshape

import (
	"strings"
	"testing"
)

// A construct the parser does not model becomes an opaque node: only the
// placeholders inside it leave the check, never the statement's others
// (issue 13: INTERVAL, ->>, a parenthesised join or UNION used to drop
// every parameter's check). A WITH clause's bodies are opaque too; a
// common table expression's name is a derived table, never the real
// table it may shadow.
func TestOpaqueConstructKeepsOtherParams(t *testing.T) {
	addr := colKnown("alias.address", "=", true)
	cases := []struct {
		name, sql string
		want      []colWant
		roles     []Role
	}{
		{"INTERVAL", `SELECT goto FROM alias WHERE address = ? AND created > NOW() - INTERVAL 1 DAY`,
			[]colWant{addr}, []Role{RoleRequired}},
		{"INTERVAL with its own parameter", `SELECT goto FROM alias WHERE address = ? AND created > NOW() - INTERVAL ? DAY`,
			[]colWant{addr, colUnknown("INTERVAL")}, []Role{RoleRequired, RoleOpaque}},
		{"->>", `SELECT goto FROM alias WHERE address = ? AND data->>'$.x' = 'y'`,
			[]colWant{addr}, []Role{RoleRequired}},
		{"-> compared with a parameter", `SELECT goto FROM alias WHERE data->'$.x' = ? AND address = ?`,
			[]colWant{colUnknown("compared with JSON path operator"), addr}, []Role{RoleRequired, RoleRequired}},
		{"parenthesised UNION in IN", `SELECT goto FROM alias WHERE address = ? AND domain IN ((SELECT domain FROM a) UNION (SELECT domain FROM b))`,
			[]colWant{addr}, []Role{RoleRequired}},
		{"parenthesised join elsewhere", `SELECT goto FROM alias a, (domain d JOIN x ON d.id = x.id) WHERE a.address = ?`,
			[]colWant{addr}, []Role{RoleRequired}},
		{"WITH body", `WITH x AS (SELECT address FROM alias WHERE domain = ?) SELECT goto FROM alias WHERE address = ?`,
			[]colWant{colUnknown("WITH"), addr}, []Role{RoleOpaque, RoleRequired}},
		{"WITH shadowing a table", `WITH alias AS (SELECT 'x' AS address, 'y' AS goto) SELECT goto FROM alias WHERE alias.address = ?`,
			[]colWant{colUnknown("derived table")}, []Role{RoleOpaque}},
		{"parenthesised UNION operands", `(SELECT goto FROM alias WHERE address = ?) UNION (SELECT goto FROM alias WHERE address = ?)`,
			[]colWant{addr, addr}, []Role{RoleFilter, RoleFilter}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			uses := ParamUses(tc.sql)
			checkColUses(t, tc.sql, uses, tc.want)
			for i, r := range tc.roles {
				if uses[i].Role != r {
					t.Errorf("param %d: Role %v, want %v", i+1, uses[i].Role, r)
				}
			}
			for i, u := range uses {
				if !u.Known && !strings.HasPrefix(u.Why, "query not understood") && !strings.HasPrefix(u.Why, "compared with") {
					t.Errorf("param %d: Why %q", i+1, u.Why)
				}
			}
		})
	}
}
