package sqlshape

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSelectPlaces(t *testing.T) {
	cases := []struct {
		q    string
		want []SelectPlace
	}{
		// mailcow mysql_virtual_mailbox_maps.cf
		{"SELECT CONCAT(JSON_UNQUOTE(JSON_VALUE(attributes, '$.mailbox_format')), mailbox_path_prefix, ?) FROM mailbox WHERE username=? AND (active = '1' OR active = '2')",
			[]SelectPlace{SelectListResult, NotInSelectList}},
		// mailcow mysql_relay_recipient_maps.cf
		{"SELECT DISTINCT CASE WHEN ? IN ( SELECT domain FROM domain WHERE relay_all_recipients=1 AND domain=? AND backupmx=1 ) THEN ? ELSE ( SELECT goto FROM alias WHERE address=? AND active='1' ) END AS result;",
			[]SelectPlace{SelectListCompared, NotInSelectList, SelectListResult, NotInSelectList}},
		// mailcow mysql_tls_enforce_in_policy.cf
		{"SELECT IF(EXISTS( SELECT 'TLS_ACTIVE' FROM alias WHERE (address=? OR address IN ( SELECT CONCAT(?, '@', target_domain) FROM alias_domain WHERE alias_domain=? ) ) ), 'x', NULL)",
			[]SelectPlace{NotInSelectList, NotInSelectList, NotInSelectList}},
		{"SELECT goto FROM alias WHERE address = ?", []SelectPlace{NotInSelectList}},
		{"SELECT ?, LOWER(?) = goto FROM alias", []SelectPlace{SelectListResult, SelectListCompared}},
		// A ? in a string or a comment is no placeholder.
		{"SELECT '?', ? /* ? */ FROM t WHERE a = ?", []SelectPlace{SelectListResult, NotInSelectList}},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, SelectPlaces(c.q), c.q)
	}
}

func TestTables(t *testing.T) {
	for q, want := range map[string][]string{
		"SELECT goto FROM alias,alias_domain WHERE alias_domain.alias_domain = ?":                         {"alias", "alias_domain"},
		"SELECT fwd.target FROM alias JOIN fwd ON alias.address = fwd.address WHERE x = ?":                {"alias", "fwd"},
		"SELECT s.destination FROM mail_forwarding AS s WHERE s.source = ? UNION SELECT 1 FROM `x`.`y` z": {"mail_forwarding", "x.y"},
		"SELECT 'from t' FROM (SELECT a FROM inner_t) d LEFT OUTER JOIN mailbox ON 1":                     {"inner_t", "mailbox"},
		"SELECT a FROM t -- FROM u\nWHERE b = ?":                                                          {"t"},
	} {
		assert.Equal(t, want, Tables(q), q)
	}
}

func TestColumnSpans(t *testing.T) {
	q := "SELECT a.goto, CONCAT(x, 'y.z') FROM `t`.`c` WHERE b = ? AND c = ?"
	spans := ColumnSpans(q)
	var names, texts []string
	for _, s := range spans {
		names = append(names, s.Name)
		texts = append(texts, q[s.Start:s.End])
	}
	assert.Equal(t, []string{"select", "goto", "x", "from", "c", "where", "b", "and", "c"}, names)
	assert.Equal(t, []string{"SELECT", "a.goto", "x", "FROM", "`t`.`c`", "WHERE", "b", "AND", "c"}, texts)
	assert.Equal(t, 1, spans[len(spans)-1].Params)
}
