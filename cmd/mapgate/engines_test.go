package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestConfigMapsTableType: maps names each table's type as main.cf does.
// mysql is the default, so bare paths (today's configurations) and
// mysql:/proxy:mysql: give the same path; pgsql: and proxy:pgsql: are the
// PostgreSQL engine's; a type no engine serves is a
// configuration error that says so, with the file and line.
func TestConfigMapsTableType(t *testing.T) {
	c, err := loadConfig(t, "maps = a=/x.cf, a=mysql:/y.cf, a=proxy:mysql:/z.cf, b=mysql:relative.cf, c=pgsql:/p.cf, c=proxy:pgsql:/q.cf\n")
	require.NoError(t, err)
	require.Len(t, c.Maps, 3)
	assert.Equal(t, []string{"/x.cf", "/y.cf", "/z.cf"}, c.Maps[0].Paths)
	assert.Equal(t, []string{"relative.cf"}, c.Maps[1].Paths)
	assert.Equal(t, []string{"pgsql:/p.cf", "pgsql:/q.cf"}, c.Maps[2].Paths)

	for text, want := range map[string]string{
		"maps = a=/x.cf\nmaps = b=ldap:/etc/postfix/ldap.cf\n": `:2: maps: b: "ldap:/etc/postfix/ldap.cf": table type "ldap" is not served by mapgate (it serves mysql, pgsql)`,
		"maps = b=proxy:ldap:/l.cf\n":                          `table type "ldap" is not served`,
		"maps = b=mysql:\n":                                    "no file name",
	} {
		_, err := loadConfig(t, text)
		require.Error(t, err, text)
		assert.Contains(t, err.Error(), want, text)
	}
}
