package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestConfigMapsTableType: maps names each table's type as main.cf does.
// mysql is the default, so bare paths (today's configurations) and
// mysql:/proxy:mysql: give the same path; a type no engine serves is a
// configuration error that says so, with the file and line.
func TestConfigMapsTableType(t *testing.T) {
	c, err := loadConfig(t, "maps = a=/x.cf, a=mysql:/y.cf, a=proxy:mysql:/z.cf, b=mysql:relative.cf\n")
	require.NoError(t, err)
	require.Len(t, c.Maps, 2)
	assert.Equal(t, []string{"/x.cf", "/y.cf", "/z.cf"}, c.Maps[0].Paths)
	assert.Equal(t, []string{"relative.cf"}, c.Maps[1].Paths)

	for text, want := range map[string]string{
		"maps = a=/x.cf\nmaps = b=pgsql:/etc/postfix/pg.cf\n": `:2: maps: b: "pgsql:/etc/postfix/pg.cf": table type "pgsql" is not served by mapgate (it serves mysql)`,
		"maps = b=proxy:pgsql:/pg.cf\n":                       `table type "pgsql" is not served`,
		"maps = b=mysql:\n":                                   "no file name",
	} {
		_, err := loadConfig(t, text)
		require.Error(t, err, text)
		assert.Contains(t, err.Error(), want, text)
	}
}
