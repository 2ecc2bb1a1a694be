package schema

// The PostfixAdmin shapes of sqlshape/shape_test.go, which the discovery
// tests resolve against real schemas: keep the two lists in step.

// colWant is the expected ParamUse of one placeholder, written compactly:
// cols lists ColumnRef.String() values joined by ",".
type colWant struct {
	cols   string
	direct bool
	op     string
	known  bool
}

func colKnown(cols, op string, direct bool) colWant {
	return colWant{cols: cols, op: op, direct: direct, known: true}
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
