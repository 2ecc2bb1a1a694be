package audit

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestParamsInSelectList(t *testing.T) {
	cases := []struct {
		q    string
		want map[int]int
	}{
		// mailcow mysql_virtual_mailbox_maps.cf
		{"SELECT CONCAT(JSON_UNQUOTE(JSON_VALUE(attributes, '$.mailbox_format')), mailbox_path_prefix, ?) FROM mailbox WHERE username=? AND (active = '1' OR active = '2')",
			map[int]int{0: selectResult, 1: selectElsewhere}},
		// mailcow mysql_relay_recipient_maps.cf
		{"SELECT DISTINCT CASE WHEN ? IN ( SELECT domain FROM domain WHERE relay_all_recipients=1 AND domain=? AND backupmx=1 ) THEN ? ELSE ( SELECT goto FROM alias WHERE address=? AND active='1' ) END AS result;",
			map[int]int{0: selectCompared, 1: selectElsewhere, 2: selectResult, 3: selectElsewhere}},
		// mailcow mysql_tls_enforce_in_policy.cf
		{"SELECT IF(EXISTS( SELECT 'TLS_ACTIVE' FROM alias WHERE (address=? OR address IN ( SELECT CONCAT(?, '@', target_domain) FROM alias_domain WHERE alias_domain=? ) ) ), 'x', NULL)",
			map[int]int{0: selectElsewhere, 1: selectElsewhere, 2: selectElsewhere}},
		{"SELECT goto FROM alias WHERE address = ?", map[int]int{0: selectElsewhere}},
		{"SELECT ?, LOWER(?) = goto FROM alias", map[int]int{0: selectResult, 1: selectCompared}},
	}
	for _, c := range cases {
		got := paramsInSelectList(c.q)
		for i, w := range c.want {
			assert.Equal(t, w, got[i], "%s: param %d", c.q, i)
		}
	}
}

func TestUnparenthesizeUnion(t *testing.T) {
	// iRedMail virtual_mailbox_domains.cf
	q := "(SELECT domain FROM domain WHERE domain=? AND backupmx=0 AND active=1 LIMIT 1) UNION (SELECT alias_domain.alias_domain FROM alias_domain,domain WHERE alias_domain.alias_domain=? AND alias_domain.active=1 LIMIT 1)"
	got, ok := unparenthesizeUnion(q)
	assert.True(t, ok)
	assert.Equal(t, "SELECT domain FROM domain WHERE domain=? AND backupmx=0 AND active=1 UNION SELECT alias_domain.alias_domain FROM alias_domain,domain WHERE alias_domain.alias_domain=? AND alias_domain.active=1", got)
	for _, q := range []string{"SELECT 1", "(SELECT 1)", "(SELECT 1) UNION SELECT 2", "(SELECT ')') UNION ALL (SELECT 2 ORDER BY 1 LIMIT 2, 3)"} {
		got, ok := unparenthesizeUnion(q)
		switch q {
		case "(SELECT ')') UNION ALL (SELECT 2 ORDER BY 1 LIMIT 2, 3)":
			assert.True(t, ok, q)
			assert.Equal(t, "SELECT ')' UNION ALL SELECT 2", got)
		default:
			assert.False(t, ok, q)
		}
	}
}

func TestQueryTables(t *testing.T) {
	for q, want := range map[string][]string{
		"SELECT goto FROM alias,alias_domain WHERE alias_domain.alias_domain = ?":                         {"alias", "alias_domain"},
		"SELECT fwd.target FROM alias JOIN fwd ON alias.address = fwd.address WHERE x = ?":                {"alias", "fwd"},
		"SELECT s.destination FROM mail_forwarding AS s WHERE s.source = ? UNION SELECT 1 FROM `x`.`y` z": {"mail_forwarding", "x.y"},
		"SELECT 'from t' FROM (SELECT a FROM inner_t) d LEFT OUTER JOIN mailbox ON 1":                     {"inner_t", "mailbox"},
	} {
		assert.Equal(t, want, queryTables(q), q)
	}
}

func TestColumnRefs(t *testing.T) {
	refs := columnRefs("SELECT a.goto, CONCAT(x, 'y.z') FROM `t`.`c` WHERE b = ? AND c = ?")
	var names []string
	for _, r := range refs {
		names = append(names, r.name)
	}
	assert.Equal(t, []string{"select", "goto", "x", "from", "c", "where", "b", "and", "c"}, names)
	assert.Equal(t, 1, refs[len(refs)-1].params)
}
