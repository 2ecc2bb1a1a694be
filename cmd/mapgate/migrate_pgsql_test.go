package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestMigratePgsqlTables: pgsql: and proxy:pgsql: tables are served over
// socketmap like mysql: ones (the map names them pgsql:PATH, for the
// PostgreSQL engine), mixed with mysql: tables in one map where a
// parameter lists both; a delivery agent keeps its own pgsql: client
// (--via pgsql points it at the PostgreSQL front), isolated with max_use=1.
func TestMigratePgsqlTables(t *testing.T) {
	out := migrateDir(t, `virtual_alias_maps = proxy:pgsql:/etc/postfix/pgsql/virtual_alias_maps.cf, mysql:/etc/postfix/sql/alias.cf
relay_domains = pgsql:/etc/postfix/pgsql/relay_domains.cf
virtual_mailbox_maps = proxy:pgsql:/etc/postfix/pgsql/virtual_mailbox_maps.cf
`, `# service type private unpriv chroot wakeup maxproc command + args
smtp      inet  n       -       y       -       -       smtpd
virtual   unix  -       n       n       -       -       virtual
`)
	cmds := postconfLines(out)
	assert.Contains(t, cmds, "postconf -e 'virtual_alias_maps = socketmap:unix:mapgate/mapgate.sock:virtual_alias'")
	assert.Contains(t, cmds, "postconf -e 'relay_domains = socketmap:unix:mapgate/mapgate.sock:relay_domains'")
	assert.Contains(t, out, "virtual_alias=pgsql:/etc/postfix/pgsql/virtual_alias_maps.cf,\n    virtual_alias=/etc/postfix/sql/alias.cf")
	assert.Contains(t, out, "relay_domains=pgsql:/etc/postfix/pgsql/relay_domains.cf")
	assert.Contains(t, cmds, "postconf -P 'virtual/unix/virtual_mailbox_maps=proxy:pgsql:/etc/postfix/pgsql/virtual_mailbox_maps.cf'")
	assert.Contains(t, cmds, "postconf -P 'virtual/unix/max_use=1'")
	assert.NotContains(t, out, "relative path")
	assert.Contains(t, out, "virtual_mailbox_maps: virtual(8) refuses socketmap tables and keeps its own pgsql: client")
}
