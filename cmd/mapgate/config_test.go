package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"mapgate/lookup"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func loadConfig(t *testing.T, text string) (*Config, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "mapgate.cf")
	require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
	s := newSettings()
	if err := s.loadFile(p); err != nil {
		return nil, err
	}
	return s.build()
}

func TestConfigFile(t *testing.T) {
	c, err := loadConfig(t, `# a comment
listen = unix:/run/mapgate.sock,
    inet:127.0.0.1:27823
maps = virtual_alias=/etc/postfix/a.cf, virtual_alias=/etc/postfix/b.cf,
    virtual_mailbox_domains=/etc/postfix/d.cf
virtual_mailbox_domains_address_search = no
virtual_alias_fold_case = no
virtual_alias_propagate_extension = yes
recipient_delimiter = +-
query_timeout = 500ms
lookup_timeout = 3
socket_mode = 0660
log_format = json
`)
	require.NoError(t, err)
	assert.Equal(t, []string{"unix:/run/mapgate.sock", "inet:127.0.0.1:27823"}, c.Listen)
	require.Len(t, c.Maps, 2)
	assert.Equal(t, "virtual_alias", c.Maps[0].Name)
	assert.Equal(t, []string{"/etc/postfix/a.cf", "/etc/postfix/b.cf"}, c.Maps[0].Paths)
	assert.True(t, c.Maps[0].Opts.AddressSearch)
	assert.True(t, c.Maps[0].Opts.PropagateExtension)
	assert.False(t, c.Maps[0].Opts.FoldCase)
	assert.Equal(t, "+-", c.Maps[0].Opts.RecipientDelimiter)
	assert.True(t, c.Maps[0].Opts.SMTPUTF8)
	assert.False(t, c.Maps[1].Opts.AddressSearch)
	assert.False(t, c.Maps[1].Opts.PropagateExtension, "never guessed from a name")
	assert.True(t, c.Maps[1].Opts.FoldCase)
	assert.Equal(t, 500*time.Millisecond, c.Pool.QueryTimeout)
	assert.Equal(t, 3*time.Second, c.LookupTimeout)
	assert.Equal(t, os.FileMode(0o660), c.Unix.Mode)
	assert.Equal(t, "json", c.LogFormat)
}

func TestConfigErrorsNameFileLineAndParameter(t *testing.T) {
	cases := []struct{ text, want string }{
		{"maps = a=/x.cf\nno_such_thing = 1\n", `:2: unknown parameter "no_such_thing"`},
		{"maps = a=/x.cf\nquery_timeout = soon\n", ":2: query_timeout"},
		{"maps = a=/x.cf\nb_address_search = no\n", "b_address_search: names no map"},
		{"maps = a=/x.cf\na_address_search = maybe\n", "a_address_search"},
		{"maps = a\n", "is not NAME=FILE"},
		{"maps = a=/x.cf\nsocket_mode = 999\n", "socket_mode"},
		{"maps = a=/x.cf\na_domain_search = parents\n", "a_domain_search"},
		{"maps = a=/x.cf\na_domain_search = parent\na_address_search = yes\n", "not both"},
		{"maps = a=/x.cf\nquery_timeout = 10s\nlookup_timeout = 5s\n", "longer than lookup_timeout"},
	}
	for _, c := range cases {
		_, err := loadConfig(t, c.text)
		require.Error(t, err, c.text)
		assert.Contains(t, err.Error(), c.want, c.text)
	}
}

func TestConfigDomainSearch(t *testing.T) {
	c, err := loadConfig(t, "maps = relay_domains=/x.cf, other=/y.cf, plain=/z.cf\nrelay_domains_domain_search = parent\nother_domain_search = dot\nplain_domain_search = no\n")
	require.NoError(t, err)
	require.Len(t, c.Maps, 3)
	assert.Equal(t, lookup.DomainParent, c.Maps[0].Opts.DomainSearch)
	assert.False(t, c.Maps[0].Opts.AddressSearch, "a domain search replaces the address search")
	assert.Equal(t, lookup.DomainDotParent, c.Maps[1].Opts.DomainSearch)
	assert.False(t, c.Maps[1].Opts.AddressSearch)
	assert.Equal(t, lookup.DomainExact, c.Maps[2].Opts.DomainSearch)
	assert.True(t, c.Maps[2].Opts.AddressSearch)
}

// Without recipient_delimiter and without a postconf that can answer (no
// main.cf), the delimiter is empty and the admin is told so.
func TestConfigWarnsWhenDelimiterUnknown(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("MAIL_CONFIG", dir) // postconf finds no main.cf here
	c, err := loadConfig(t, "maps = a=/x.cf\n")
	require.NoError(t, err)
	assert.Empty(t, c.Maps[0].Opts.RecipientDelimiter)
	require.Len(t, c.Warnings, 1)
	assert.Contains(t, c.Warnings[0], "recipient_delimiter")
	c, err = loadConfig(t, "maps = a=/x.cf\nrecipient_delimiter = +\n")
	require.NoError(t, err)
	assert.Empty(t, c.Warnings)
}

func TestConfigCache(t *testing.T) {
	c, err := loadConfig(t, "recipient_delimiter = +\n")
	require.NoError(t, err)
	assert.False(t, c.Cache.Enabled(), "the cache is off by default")

	c, err = loadConfig(t, "recipient_delimiter = +\ncache_ttl = 60s\ncache_max_bytes = 8M\n")
	require.NoError(t, err)
	assert.Equal(t, lookup.CacheOptions{TTL: time.Minute, NegativeTTL: 2 * time.Second, StaleMax: time.Hour,
		MaxEntries: 100000, MaxBytes: 8 << 20}, c.Cache)

	c, err = loadConfig(t, "recipient_delimiter = +\ncache_ttl = 1s\ncache_stale_max = 0\n")
	require.NoError(t, err)
	assert.Equal(t, time.Second, c.Cache.NegativeTTL, "the negative TTL is at most the TTL")
	assert.Zero(t, c.Cache.StaleMax)

	for _, bad := range []string{"cache_ttl = 10s\ncache_negative_ttl = 1m\n", "cache_ttl = -1s\n",
		"cache_ttl = 10s\ncache_max_entries = 0\n", "cache_ttl = 10s\ncache_max_bytes = lots\n"} {
		_, err := loadConfig(t, "recipient_delimiter = +\n"+bad)
		assert.Error(t, err, bad)
	}
}
