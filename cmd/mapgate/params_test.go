package main

import (
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"mapgate/daemon"
	"mapgate/hosts"
	"mapgate/lookup"
	"mapgate/mysqlcf"
	"mapgate/socketmap"
)

// effective is c with the defaults that the packages apply to zero values
// (hosts' pool options, socketmap's mode and connection cap), so that a
// configuration that leaves a parameter unset and one that sets it to its
// documented default compare equal exactly when the documentation is right.
func effective(c *Config) Config {
	e := *c
	e.Pool = hosts.NewPools(c.Pool).Options()
	if e.Unix.Mode == 0 {
		e.Unix.Mode = socketmap.DefaultSocketMode
	}
	if e.MaxConns == 0 {
		e.MaxConns = socketmap.DefaultMaxConns
	}
	e.Given = nil
	return e
}

// TestParamDefaults: setting any parameter to the default the params table
// documents (and help config, the manual page and the README show) gives
// the configuration that leaving it unset gives, once the packages have
// applied their own defaults. The map is named virtual_alias, so a default
// that depended on the name (as the old help claimed for
// NAME_propagate_extension) would show.
func TestParamDefaults(t *testing.T) {
	t.Setenv("MAIL_CONFIG", t.TempDir()) // no postconf answer leaks in
	base := "maps = virtual_alias=/x.cf\nrecipient_delimiter = +\n"
	for _, p := range params {
		if p.fromPostfix {
			continue // asked of Postfix: no value in the file is the default
		}
		name := p.name
		if p.perMap {
			name = "virtual_alias_" + p.name
		}
		b := base
		if p.name == "maps" {
			b = "recipient_delimiter = +\n" // a later line replaces an earlier one
		}
		if strings.HasPrefix(p.name, "cache_") && p.name != "cache_ttl" {
			b += "cache_ttl = 1h\n" // the cache's other settings matter only with it on
		}
		want, err := loadConfig(t, b)
		require.NoError(t, err)
		got, err := loadConfig(t, b+name+" = "+p.def+"\n")
		require.NoError(t, err, "%s = %s", name, p.def)
		assert.Equal(t, effective(want), effective(got), "%s = %q is not what an unset %s does", name, p.def, name)
	}
}

// TestParamDefaultsPerMap: a map's options with no per-map setting are
// lookup.DefaultMapOptions, and each per-map parameter's documented
// default is that option's value.
func TestParamDefaultsPerMap(t *testing.T) {
	c, err := loadConfig(t, "maps = virtual_alias=/x.cf\nrecipient_delimiter = +\n")
	require.NoError(t, err)
	def := lookup.DefaultMapOptions("+")
	assert.Equal(t, def, c.Maps[0].Opts)
	field := map[string]bool{"address_search": def.AddressSearch, "propagate_extension": def.PropagateExtension, "fold_case": def.FoldCase}
	n := 0
	for _, p := range params {
		if !p.perMap {
			continue
		}
		n++
		if p.name == "domain_search" {
			assert.Equal(t, def.DomainSearch, domainSearches[p.def], p.name)
			continue
		}
		want, ok := field[p.name]
		require.True(t, ok, "per-map parameter %s has no option here", p.name)
		b, err := mysqlcf.ParseBool(p.def)
		require.NoError(t, err, p.name)
		assert.Equal(t, want, b, "NAME_%s", p.name)
	}
	assert.Equal(t, 4, n)
}

// TestParamTableDrivesParser: every parameter of the table is accepted,
// its help lists it with its default and whether a reload applies it, and
// the reload split is the daemon's.
func TestParamTableDrivesParser(t *testing.T) {
	var help strings.Builder
	configHelp(&help)
	for _, p := range params {
		name := p.name
		if p.perMap {
			name = "m_" + p.name
		}
		require.NoError(t, newSettings().set(name, p.def, "test"), name)
		assert.Contains(t, help.String(), "  "+p.Name()+"\n", p.Name())
		assert.Equal(t, p.reload, reloadApplies(name), name)
	}
	assert.Contains(t, help.String(), "  NAME_propagate_extension\n    \t")
	assert.Contains(t, help.String(), "Default: no; a reload (SIGHUP) applies a change.\n  NAME_fold_case")
	assert.Error(t, newSettings().set("no_such_thing", "1", "test"))
	restart := []string{"listen", "mysql_listen", "pgsql_listen", "metrics_listen", "socket_mode", "socket_owner", "socket_group", "max_connections", "lookup_timeout", "log_format"}
	for _, n := range restart {
		assert.False(t, reloadApplies(n), n)
	}
	nRestart := 0
	for _, p := range params {
		if !p.reload {
			nRestart++
		}
	}
	assert.Equal(t, len(restart), nRestart, "every other parameter a reload applies")
}

// TestREADMEConfigTable: the README's configuration table lists the
// parameters of the table, in its order, with the same defaults and the
// same reload column.
func TestREADMEConfigTable(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	_, table, ok := strings.Cut(string(b), "\n| parameter | default | SIGHUP | meaning |\n|---|---|---|---|\n")
	require.True(t, ok, "README has no configuration table")
	table, _, _ = strings.Cut(table, "\n\n")
	var got, want [][3]string
	for _, row := range strings.Split(table, "\n") {
		cells := strings.Split(strings.Trim(row, "|"), " | ")
		require.GreaterOrEqual(t, len(cells), 4, row)
		clean := func(s string) string { return strings.TrimSpace(strings.ReplaceAll(s, "`", "")) }
		got = append(got, [3]string{clean(cells[0]), clean(cells[1]), clean(cells[2])})
	}
	for _, p := range params {
		want = append(want, [3]string{p.Name(), p.Default(), p.When()})
	}
	assert.Equal(t, want, got)
}

// TestReloadColumnIsTheDaemons: the table's SIGHUP column says what the
// daemon's reload does. Each parameter that takes a restart, changed alone,
// is the one daemon.NeedsRestart names; a configuration that changes only
// parameters a reload applies needs no restart. reloadSplit sorts what a
// configuration sets the same way (mapgate check).
func TestReloadColumnIsTheDaemons(t *testing.T) {
	base := "maps = a=/x.cf\nrecipient_delimiter = +\nmysql_password = pw\npgsql_password = pw\n"
	changed := map[string]string{
		"listen":          "listen = inet:127.0.0.1:10001",
		"mysql_listen":    "mysql_listen = inet:127.0.0.1:10002",
		"pgsql_listen":    "pgsql_listen = inet:127.0.0.1:10003",
		"metrics_listen":  "metrics_listen = 127.0.0.1:9999",
		"socket_mode":     "socket_mode = 0600",
		"socket_owner":    "socket_owner = 0",
		"socket_group":    "socket_group = 0",
		"max_connections": "max_connections = 10",
		"lookup_timeout":  "lookup_timeout = 9s",
		"log_format":      "log_format = json",
	}
	var restart []string
	for _, p := range params {
		if !p.reload {
			restart = append(restart, p.Name())
		}
	}
	assert.ElementsMatch(t, restart, slices.Collect(maps.Keys(changed)), "the table's restart parameters")
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	running, err := loadConfig(t, base)
	require.NoError(t, err)
	for name, line := range changed {
		next, err := loadConfig(t, base+line+"\n")
		require.NoError(t, err, name)
		assert.Equal(t, []string{name}, daemon.NeedsRestart(running.daemonConfig(discard), next.daemonConfig(discard)), name)
	}
	next, err := loadConfig(t, "maps = a=/x.cf, b=/y.cf\nrecipient_delimiter = -\nmysql_password = other\nmysql_user = u\npgsql_password = other\npgsql_user = u\npool_size = 4\n"+
		"query_timeout = 1s\nbreaker_trip = 5\ncache_ttl = 10s\nadmin_socket = /a.sock\nlog_level = debug\nsmtputf8_enable = no\n")
	require.NoError(t, err)
	assert.Empty(t, daemon.NeedsRestart(running.daemonConfig(discard), next.daemonConfig(discard)))
	reload, restartSet := reloadSplit(next.Given)
	assert.Equal(t, []string{"admin_socket", "breaker_trip", "cache_ttl", "log_level", "maps", "mysql_password", "mysql_user", "pgsql_password", "pgsql_user", "pool_size", "query_timeout", "recipient_delimiter", "smtputf8_enable"}, reload)
	assert.Empty(t, restartSet)
}
