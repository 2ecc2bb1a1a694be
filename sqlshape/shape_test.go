package sqlshape

import (
	"strings"
	"testing"
)

// colWant is the expected ParamUse of one placeholder, written compactly:
// cols lists ColumnRef.String() values joined by ",", why is a substring of
// Why (checked only when known is false).
type colWant struct {
	cols   string
	direct bool
	op     string
	known  bool
	why    string
}

func colKnown(cols, op string, direct bool) colWant {
	return colWant{cols: cols, op: op, direct: direct, known: true}
}

func colUnknown(why string) colWant { return colWant{why: why} }

// pend is a use whose unqualified columns DiscoverColumns must place.
func colPending(cols, op string, direct bool) colWant {
	return colWant{cols: cols, op: op, direct: direct, why: "unqualified column"}
}

// PostfixAdmin's queries (DOCUMENTS/POSTFIX_CONF.txt) after ParseQuery has
// turned every expansion into a ?, plus the legacy-built alias query.
var colPostfixAdminQueries = []struct {
	name, sql string
	want      []colWant
}{
	{"virtual_alias_maps",
		`SELECT goto FROM alias WHERE address=? AND active = '1'`,
		[]colWant{colKnown("alias.address", "=", true)}},
	{"virtual_alias_domain_maps",
		`SELECT goto FROM alias,alias_domain WHERE alias_domain.alias_domain = ? and alias.address = CONCAT(?, '@', alias_domain.target_domain) AND alias.active = 1 AND alias_domain.active='1'`,
		[]colWant{colKnown("alias_domain.alias_domain", "=", true), colKnown("alias.address,alias_domain.target_domain", "CONCAT", false)}},
	{"virtual_alias_domain_catchall_maps",
		`SELECT goto FROM alias,alias_domain WHERE alias_domain.alias_domain = ? and alias.address = CONCAT('@', alias_domain.target_domain) AND alias.active = 1 AND alias_domain.active='1'`,
		[]colWant{colKnown("alias_domain.alias_domain", "=", true)}},
	{"virtual_domains_maps",
		`SELECT domain FROM domain WHERE domain=? AND active = '1'`,
		[]colWant{colKnown("domain.domain", "=", true)}},
	{"virtual_domains_maps_backupmx",
		`SELECT domain FROM domain WHERE domain=? AND backupmx = '0' AND active = '1'`,
		[]colWant{colKnown("domain.domain", "=", true)}},
	{"virtual_mailbox_maps",
		`SELECT CONCAT(domain,'/',maildir) FROM mailbox WHERE username=? AND active = '1'`,
		[]colWant{colKnown("mailbox.username", "=", true)}},
	{"virtual_alias_domain_mailbox_maps",
		`SELECT maildir FROM mailbox,alias_domain WHERE alias_domain.alias_domain = ? and mailbox.username = CONCAT(?, '@', alias_domain.target_domain) AND mailbox.active = 1 AND alias_domain.active='1'`,
		[]colWant{colKnown("alias_domain.alias_domain", "=", true), colKnown("mailbox.username,alias_domain.target_domain", "CONCAT", false)}},
	{"virtual_alias_domain_mailbox_maps_published",
		`SELECT CONCAT(domain,'/',maildir) FROM mailbox,alias_domain WHERE alias_domain.alias_domain = ? and mailbox.username = CONCAT(?, '@', alias_domain.target_domain) AND mailbox.active = 1`,
		[]colWant{colKnown("alias_domain.alias_domain", "=", true), colKnown("mailbox.username,alias_domain.target_domain", "CONCAT", false)}},
	{"virtual_mailbox_limit_maps",
		`SELECT quota FROM mailbox WHERE username=? AND active = '1'`,
		[]colWant{colKnown("mailbox.username", "=", true)}},
	{"legacy_alias",
		`SELECT goto FROM alias WHERE address = ? AND active = 1`,
		[]colWant{colKnown("alias.address", "=", true)}},
}

var colParamUsesCases = []struct {
	name, sql string
	want      []colWant
}{
	// Operand order, aliases, qualification.
	{"reversed", `SELECT goto FROM alias WHERE ? = address`, []colWant{colKnown("alias.address", "=", true)}},
	{"as alias", `SELECT a.goto FROM alias AS a WHERE a.address = ?`, []colWant{colKnown("alias.address", "=", true)}},
	{"bare alias", `SELECT a.goto FROM alias a WHERE a.address = ?`, []colWant{colKnown("alias.address", "=", true)}},
	{"table name qualifier", `SELECT goto FROM alias WHERE alias.address = ?`, []colWant{colKnown("alias.address", "=", true)}},
	{"schema.table.col", `SELECT goto FROM postfix.alias WHERE postfix.alias.address = ?`, []colWant{colKnown("postfix.alias.address", "=", true)}},
	{"schema.table.col, table unqualified in FROM", `SELECT goto FROM alias WHERE postfix.alias.address = ?`, []colWant{colKnown("postfix.alias.address", "=", true)}},
	{"schema table alias", `SELECT a.goto FROM postfix.alias a WHERE a.address = ?`, []colWant{colKnown("postfix.alias.address", "=", true)}},
	{"backquotes", "SELECT `goto` FROM `postfix`.`alias` WHERE `alias`.`address` = ?", []colWant{colKnown("postfix.alias.address", "=", true)}},
	{"backquoted alias", "SELECT `a`.goto FROM alias `a` WHERE `a`.`address`=?", []colWant{colKnown("alias.address", "=", true)}},
	{"lower-case keywords", `select goto from alias where address=? and active='1'`, []colWant{colKnown("alias.address", "=", true)}},
	{"no spaces", `SELECT goto FROM alias WHERE address=?AND active=1`, []colWant{colKnown("alias.address", "=", true)}},
	{"semicolon", `SELECT goto FROM alias WHERE address = ?;`, []colWant{colKnown("alias.address", "=", true)}},
	{"limit", `SELECT goto FROM alias WHERE address = ? LIMIT 1`, []colWant{colKnown("alias.address", "=", true)}},
	{"order by", `SELECT goto FROM alias WHERE address = ? ORDER BY goto DESC LIMIT 1 OFFSET 0`, []colWant{colKnown("alias.address", "=", true)}},
	{"for update", `SELECT goto FROM alias WHERE address = ? FOR UPDATE`, []colWant{colKnown("alias.address", "=", true)}},
	{"index hint", `SELECT goto FROM alias USE INDEX (PRIMARY) WHERE address = ?`, []colWant{colKnown("alias.address", "=", true)}},
	{"index hint and comma join", `SELECT goto FROM alias a FORCE INDEX (PRIMARY), alias_domain d WHERE d.alias_domain = ? AND a.address = ?`,
		[]colWant{colKnown("alias_domain.alias_domain", "=", true), colKnown("alias.address", "=", true)}},
	{"two parameters", `SELECT goto FROM alias WHERE address = ? AND domain = ?`, []colWant{colKnown("alias.address", "=", true), colKnown("alias.domain", "=", true)}},
	{"numeric column", `SELECT goto FROM alias WHERE address = ? AND active = ?`, []colWant{colKnown("alias.address", "=", true), colKnown("alias.active", "=", true)}},
	{"NOT", `SELECT goto FROM alias WHERE NOT address = ?`, []colWant{colKnown("alias.address", "=", true)}},
	{"parentheses", `SELECT goto FROM alias WHERE ((address) = (?)) AND (active = 1 OR active = 2)`, []colWant{colKnown("alias.address", "=", true)}},
	{"null-safe", `SELECT goto FROM alias WHERE address <=> ?`, []colWant{colKnown("alias.address", "<=>", true)}},
	{"not equal", `SELECT goto FROM alias WHERE address <> ?`, []colWant{colKnown("alias.address", "<>", false)}},
	{"between", `SELECT goto FROM alias WHERE address BETWEEN ? AND 'z'`, []colWant{colKnown("alias.address", "BETWEEN", false)}},

	// Joins.
	{"join on", `SELECT a.goto FROM alias a JOIN alias_domain d ON d.target_domain = a.domain WHERE d.alias_domain = ? AND a.address = CONCAT(?, '@', d.target_domain)`,
		[]colWant{colKnown("alias_domain.alias_domain", "=", true), colKnown("alias.address,alias_domain.target_domain", "CONCAT", false)}},
	{"inner join, parameter in ON", `SELECT a.goto FROM alias AS a INNER JOIN alias_domain AS d ON d.alias_domain = ? AND a.address = CONCAT(?, '@', d.target_domain)`,
		[]colWant{colKnown("alias_domain.alias_domain", "=", true), colKnown("alias.address,alias_domain.target_domain", "CONCAT", false)}},
	{"left join using", `SELECT m.maildir FROM mailbox m LEFT OUTER JOIN domain d USING (domain) WHERE m.username = ?`, []colWant{colKnown("mailbox.username", "=", true)}},
	{"unqualified in a join", `SELECT goto FROM alias, alias_domain WHERE alias_domain = ? AND address = CONCAT(?, '@', target_domain)`,
		[]colWant{colPending("alias_domain", "=", true), colPending("address,target_domain", "CONCAT", false)}},
	{"unqualified and qualified in a join", `SELECT goto FROM alias a, alias_domain d WHERE d.alias_domain = ? AND address = ?`,
		[]colWant{colKnown("alias_domain.alias_domain", "=", true), colPending("address", "=", true)}},

	// Expressions.
	{"concat catch-all", `SELECT goto FROM alias WHERE address = CONCAT('@', ?)`, []colWant{colKnown("alias.address", "CONCAT", false)}},
	{"concat reversed", `SELECT goto FROM alias,alias_domain WHERE CONCAT(?, '@', alias_domain.target_domain) = alias.address`,
		[]colWant{colKnown("alias.address,alias_domain.target_domain", "CONCAT", false)}},
	{"concat_ws", `SELECT goto FROM alias WHERE address = CONCAT_WS('@', ?, ?)`, []colWant{colKnown("alias.address", "CONCAT_WS", false), colKnown("alias.address", "CONCAT_WS", false)}},
	{"in list", `SELECT goto FROM alias WHERE address IN (?, ?, '@example.com')`, []colWant{colKnown("alias.address", "IN", true), colKnown("alias.address", "IN", true)}},
	{"not in", `SELECT goto FROM alias WHERE address NOT IN (?)`, []colWant{colKnown("alias.address", "NOT IN", false)}},
	{"param IN columns", `SELECT goto FROM alias WHERE ? IN (address, goto)`, []colWant{colKnown("alias.address,alias.goto", "IN", false)}},
	{"like", `SELECT goto FROM alias WHERE address LIKE ?`, []colWant{colKnown("alias.address", "LIKE", false)}},
	{"not like escape", `SELECT goto FROM alias WHERE address NOT LIKE ? ESCAPE '!'`, []colWant{colKnown("alias.address", "NOT LIKE", false)}},
	{"like concat", `SELECT goto FROM alias WHERE address LIKE CONCAT('%@', ?)`, []colWant{colKnown("alias.address", "CONCAT", false)}},
	{"binary column", `SELECT goto FROM alias WHERE BINARY address = ?`, []colWant{colKnown("", "BINARY", false)}},
	{"binary parameter", `SELECT goto FROM alias WHERE address = BINARY ?`, []colWant{colKnown("", "BINARY", false)}},
	{"cast as binary", `SELECT goto FROM alias WHERE address = CAST(? AS BINARY)`, []colWant{colKnown("", "BINARY", false)}},
	{"binary concat part", `SELECT goto FROM alias WHERE address = CONCAT(?, BINARY '@x')`, []colWant{colKnown("", "BINARY", false)}},
	{"binary compare, concat still aggregates", `SELECT goto FROM alias,alias_domain WHERE BINARY alias.address = CONCAT(?, '@', alias_domain.target_domain)`,
		[]colWant{colKnown("alias_domain.target_domain", "BINARY", false)}},
	{"lower column", `SELECT goto FROM alias WHERE LOWER(address) = ?`, []colWant{colKnown("alias.address", "=", false)}},
	{"lower param", `SELECT goto FROM alias WHERE address = LOWER(?)`, []colWant{colKnown("alias.address", "LOWER", false)}},
	{"collate", `SELECT goto FROM alias WHERE address = ? COLLATE latin1_general_ci`, []colWant{colKnown("alias.address", "COLLATE", false)}},
	{"collate column", `SELECT goto FROM alias WHERE address COLLATE utf8mb4_bin = ?`, []colWant{colKnown("alias.address", "=", false)}},
	{"convert using", `SELECT goto FROM alias WHERE address = CONVERT(? USING latin1)`, []colWant{colKnown("alias.address", "CONVERT", false)}},
	{"convert column", `SELECT goto FROM alias WHERE CONVERT(address USING utf8mb4) = ?`, []colWant{colKnown("alias.address", "=", false)}},
	{"substring_index", `SELECT goto FROM alias WHERE domain = SUBSTRING_INDEX(?, '@', -1)`, []colWant{colKnown("alias.domain", "SUBSTRING_INDEX", false)}},
	{"introducer literal", `SELECT goto FROM alias WHERE address = _latin1'x' OR address = ?`, []colWant{colKnown("alias.address", "=", true)}},
	{"literal only", `SELECT goto FROM alias WHERE ? = '1'`, []colWant{colKnown("", "=", false)}},
	{"select list param", `SELECT ? FROM dual`, []colWant{colKnown("", "SELECT", false)}},
	{"select list concat", `SELECT CONCAT(?, '@', domain) FROM domain WHERE domain = ?`, []colWant{colKnown("domain.domain", "CONCAT", false), colKnown("domain.domain", "=", true)}},
	{"select list of a subquery", `SELECT goto FROM alias, alias_domain d WHERE alias.address = (SELECT CONCAT(?, '@', d.target_domain) FROM dual)`,
		[]colWant{colUnknown("select list of a subquery")}},
	{"select list of a union", `SELECT CONCAT(?, goto) FROM alias UNION SELECT username FROM mailbox`,
		[]colWant{colUnknown("UNION")}},
	{"select list of a derived table", `SELECT x.a FROM (SELECT ? AS a) x`, []colWant{colUnknown("subquery")}},
	{"comparison in a subquery's select list", `SELECT goto FROM alias WHERE 1 = (SELECT m.username = ? FROM mailbox m)`,
		[]colWant{colKnown("mailbox.username", "=", true)}},
	{"case when", `SELECT goto FROM alias WHERE CASE WHEN address = ? THEN 1 ELSE 0 END = 1`, []colWant{colKnown("alias.address", "=", true)}},

	// Subqueries and unions.
	{"subquery, qualified", `SELECT goto FROM alias WHERE address = ? AND domain IN (SELECT d.domain FROM domain d WHERE d.domain = ? AND d.active = 1)`,
		[]colWant{colKnown("alias.address", "=", true), colKnown("domain.domain", "=", true)}},
	{"subquery, unqualified", `SELECT goto FROM alias WHERE domain IN (SELECT domain FROM domain WHERE domain = ?)`,
		[]colWant{colPending("domain", "=", true)}},
	{"correlated subquery", `SELECT goto FROM alias a WHERE EXISTS (SELECT 1 FROM alias_domain d WHERE d.target_domain = a.domain AND a.address = ?)`,
		[]colWant{colKnown("alias.address", "=", true)}},
	{"scalar subquery", `SELECT goto FROM alias WHERE address = (SELECT username FROM mailbox m WHERE m.username = ?)`,
		[]colWant{colKnown("mailbox.username", "=", true)}},
	{"compared with subquery", `SELECT goto FROM alias WHERE ? = (SELECT username FROM mailbox)`, []colWant{colUnknown("subquery")}},
	{"in subquery", `SELECT goto FROM alias WHERE ? IN (SELECT username FROM mailbox)`, []colWant{colUnknown("subquery")}},
	{"derived table", `SELECT x.goto FROM (SELECT goto, address FROM alias WHERE domain = ?) AS x WHERE x.address = ?`,
		[]colWant{colKnown("alias.domain", "=", true), colUnknown("derived table")}},
	{"union", `SELECT goto FROM alias WHERE address = ? UNION ALL SELECT a.goto FROM alias a, alias_domain d WHERE d.alias_domain = ? AND a.address = CONCAT(?, '@', d.target_domain)`,
		[]colWant{colKnown("alias.address", "=", true), colKnown("alias_domain.alias_domain", "=", true), colKnown("alias.address,alias_domain.target_domain", "CONCAT", false)}},

	// Placeholders that are not placeholders.
	{"? in literals and comments",
		"SELECT goto FROM alias WHERE goto <> 'what?' AND goto <> \"x?\" AND goto <> 'it''s ?' AND goto <> 'a\\'?' /* ? */ AND address = ? -- really?\n AND `we?ird` = 1 # ?\n",
		[]colWant{colKnown("alias.address", "=", true)}},
	{"double dash without space is minus", "SELECT goto FROM alias WHERE active = 1--?\n AND address = ?",
		[]colWant{colUnknown("unary -"), colKnown("alias.address", "=", true)}},

	// Shapes that are not understood.
	{"pipes", `SELECT goto FROM alias,alias_domain WHERE alias.address = ? || '@' || alias_domain.target_domain`, []colWant{colUnknown("sql_mode")}},
	{"md5", `SELECT goto FROM alias WHERE MD5(address) = ?`, []colWant{colUnknown("MD5()")}},
	{"param in md5", `SELECT goto FROM alias WHERE address = MD5(?)`, []colWant{colUnknown("MD5()")}},
	{"if", `SELECT goto FROM alias WHERE address = IF(?, 'a', 'b')`, []colWant{colUnknown("IF()")}},
	{"arithmetic", `SELECT goto FROM alias WHERE active = ? + 1`, []colWant{colUnknown("+")}},
	{"condition", `SELECT goto FROM alias WHERE ? AND active = 1`, []colWant{colUnknown("condition")}},
	{"bare where", `SELECT goto FROM alias WHERE ?`, []colWant{colUnknown("not compared")}},
	{"limit param", `SELECT goto FROM alias WHERE address = ? LIMIT ?`, []colWant{colKnown("alias.address", "=", true), colUnknown("LIMIT")}},
	{"having", `SELECT goto, COUNT(*) n FROM alias GROUP BY goto HAVING goto = ?`, []colWant{colUnknown("HAVING")}},
	{"variable", `SELECT goto FROM alias WHERE CONCAT(?, '@', @d) = address`, []colWant{colUnknown("variable")}},
	{"row", `SELECT goto FROM alias WHERE (address, domain) = (?, ?)`, []colWant{colUnknown("row"), colUnknown("row")}},
	{"trim leading", `SELECT goto FROM alias WHERE TRIM(LEADING 'x' FROM address) = ?`, []colWant{colUnknown("TRIM")}},
	{"trim leading param", `SELECT goto FROM alias WHERE address = TRIM(LEADING 'x' FROM ?)`, []colWant{colUnknown("not understood")}},
	{"substring position", `SELECT goto FROM alias WHERE LEFT(address, ?) = 'x'`, []colWant{colUnknown("non-string argument")}},
	{"unknown qualifier", `SELECT goto FROM alias WHERE x.address = ?`, []colWant{colUnknown("no table x")}},
	{"ambiguous qualifier", `SELECT goto FROM alias a, mailbox a WHERE a.address = ?`, []colWant{colUnknown("several tables")}},
	{"schema.table not in FROM", `SELECT goto FROM alias WHERE other.mailbox.username = ?`, []colWant{colUnknown("not in the FROM")}},
	{"no table", `SELECT 1 WHERE x = ?`, []colWant{colUnknown("no table")}},
	{"dual", `SELECT 1 FROM DUAL WHERE x = ?`, []colWant{colUnknown("no table")}},
	{"not a select", `CALL lookup(?)`, []colWant{colUnknown("not a SELECT")}},
	{"two statements", `SELECT goto FROM alias WHERE address = ?; SELECT ?`, []colWant{colUnknown("after the statement"), colUnknown("after the statement")}},
	{"with", `WITH x AS (SELECT 1) SELECT goto FROM alias WHERE address = ?`, []colWant{colKnown("alias.address", "=", true)}},
	{"executable comment", `SELECT goto FROM alias WHERE address = ? /*!40100 AND domain = ? */`, []colWant{colUnknown("executable"), colUnknown("executable")}},
	{"parenthesised join", `SELECT goto FROM (alias, domain) WHERE address = ?`, []colWant{colUnknown("parenthesised join")}},
	{"unterminated string", `SELECT goto FROM alias WHERE address = ? AND goto = 'x?`, []colWant{colUnknown("unterminated string")}},
	{"unterminated comment", `SELECT goto FROM alias WHERE address = ? /* ?`, []colWant{colUnknown("unterminated comment")}},
	{"no placeholder", `SELECT goto FROM alias WHERE address = 'x'`, nil},
}

func checkColUses(t *testing.T, sqlText string, got []ParamUse, want []colWant) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("ParamUses(%q): %d uses, want %d: %+v", sqlText, len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		var cols []string
		for _, c := range g.Columns {
			cols = append(cols, c.String())
		}
		if g.Index != i+1 {
			t.Errorf("param %d: Index %d", i+1, g.Index)
		}
		if g.Known != w.known {
			t.Errorf("param %d: Known %v, want %v (Why %q)", i+1, g.Known, w.known, g.Why)
			continue
		}
		if !w.known {
			if !strings.Contains(g.Why, w.why) {
				t.Errorf("param %d: Why %q, want it to contain %q", i+1, g.Why, w.why)
			}
			if w.why != "unqualified column" {
				continue // nothing else is promised
			}
		} else if g.Why != "" {
			t.Errorf("param %d: Known with Why %q", i+1, g.Why)
		}
		if got := strings.Join(cols, ","); got != w.cols {
			t.Errorf("param %d: Columns %q, want %q", i+1, got, w.cols)
		}
		if g.Op != w.op {
			t.Errorf("param %d: Op %q, want %q", i+1, g.Op, w.op)
		}
		if g.Direct != w.direct {
			t.Errorf("param %d: Direct %v, want %v", i+1, g.Direct, w.direct)
		}
	}
}

func TestParamUsesPostfixAdmin(t *testing.T) {
	for _, tc := range colPostfixAdminQueries {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			checkColUses(t, tc.sql, ParamUses(tc.sql), tc.want)
		})
	}
}

func TestParamUses(t *testing.T) {
	for _, tc := range colParamUsesCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			checkColUses(t, tc.sql, ParamUses(tc.sql), tc.want)
		})
	}
}

// colCountPlaceholders is an independent, simpler count of the ? that are
// placeholders: outside ”, "", “ and comments (an executable comment's
// text counts), up to the first unterminated literal or comment.
func colCountPlaceholders(q string) int {
	n := 0
	exec := false
	for i := 0; i < len(q); i++ {
		switch c := q[i]; {
		case c == '?':
			n++
		case c == '\'' || c == '"' || c == '`':
			j := i + 1
			for ; j < len(q); j++ {
				if q[j] == '\\' && c != '`' {
					j++
					continue
				}
				if q[j] == c {
					if j+1 < len(q) && q[j+1] == c {
						j++
						continue
					}
					break
				}
			}
			if j >= len(q) {
				return n
			}
			i = j
		case c == '#' || c == '-' && strings.HasPrefix(q[i:], "--") && (i+2 == len(q) || q[i+2] <= ' '):
			for i < len(q) && q[i] != '\n' {
				i++
			}
		case strings.HasPrefix(q[i:], "/*!") || strings.HasPrefix(q[i:], "/*M!"):
			if exec {
				return n
			}
			exec = true
			i++
		case strings.HasPrefix(q[i:], "/*"):
			end := strings.Index(q[i+2:], "*/")
			if end < 0 {
				return n
			}
			i += 2 + end + 1
		case exec && strings.HasPrefix(q[i:], "*/"):
			exec = false
			i++
		}
	}
	return n
}

func TestParamUsesCount(t *testing.T) {
	// Every prefix of every test query: truncated input must not panic and
	// must keep one use per placeholder.
	for _, tc := range append(colParamUsesCases, colPostfixAdminQueries...) {
		for i := range len(tc.sql) + 1 {
			q := tc.sql[:i]
			if got, want := len(ParamUses(q)), colCountPlaceholders(q); got != want {
				t.Errorf("%q: %d uses, %d placeholders", q, got, want)
			}
		}
	}
}

func FuzzParamUses(f *testing.F) {
	for _, tc := range colParamUsesCases {
		f.Add(tc.sql)
	}
	for _, tc := range colPostfixAdminQueries {
		f.Add(tc.sql)
	}
	f.Fuzz(func(t *testing.T, q string) {
		uses := ParamUses(q)
		if want := colCountPlaceholders(q); len(uses) != want {
			t.Fatalf("ParamUses(%q): %d uses, %d placeholders", q, len(uses), want)
		}
		for i, u := range uses {
			if u.Index != i+1 {
				t.Fatalf("ParamUses(%q): use %d has Index %d", q, i, u.Index)
			}
			if !u.Known && u.Why == "" {
				t.Fatalf("ParamUses(%q): use %d unknown without a reason", q, i+1)
			}
			if u.Known && u.Why != "" {
				t.Fatalf("ParamUses(%q): use %d known with a reason", q, i+1)
			}
			if u.Direct && len(u.Columns) != 1 {
				t.Fatalf("ParamUses(%q): use %d direct with %d columns", q, i+1, len(u.Columns))
			}
			if u.Known {
				for _, c := range u.Columns {
					if c.Table == "" || c.Column == "" {
						t.Fatalf("ParamUses(%q): use %d known with column %+v", q, i+1, c)
					}
					// Never a made-up name: every part comes from the query.
					for _, part := range []string{c.Schema, c.Table, c.Column} {
						if !strings.Contains(strings.ReplaceAll(q, "``", "`"), part) {
							t.Fatalf("ParamUses(%q): use %d: column %+v not in the query", q, i+1, c)
						}
					}
				}
			}
		}
	})
}
