package daemon

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"mapgate/lookup"
)

// params are mapgate's parameters as Config holds them: each changes one
// thing, and says whether a reload applies it (the split of issue 20,
// defect 5, which the parameter table repeats).
var params = []struct {
	name     string
	reloaded bool
	change   func(*Config)
}{
	{"maps", true, func(c *Config) { c.Maps = append(c.Maps, lookup.MapSpec{Name: "other", Paths: []string{"/x.cf"}}) }},
	{"NAME_address_search", true, func(c *Config) { c.Maps[0].Opts.AddressSearch = !c.Maps[0].Opts.AddressSearch }},
	{"NAME_propagate_extension", true, func(c *Config) { c.Maps[0].Opts.PropagateExtension = !c.Maps[0].Opts.PropagateExtension }},
	{"NAME_fold_case", true, func(c *Config) { c.Maps[0].Opts.FoldCase = !c.Maps[0].Opts.FoldCase }},
	{"NAME_domain_search", true, func(c *Config) { c.Maps[0].Opts.DomainSearch = lookup.DomainParent }},
	{"recipient_delimiter", true, func(c *Config) { c.Maps[0].Opts.RecipientDelimiter = "-" }},
	{"smtputf8_enable", true, func(c *Config) { c.Maps[0].Opts.SMTPUTF8 = !c.Maps[0].Opts.SMTPUTF8 }},
	{"pool_size", true, func(c *Config) { c.Pool.MaxOpen = 3 }},
	{"dial_timeout", true, func(c *Config) { c.Pool.DialTimeout = 3 * time.Second }},
	{"query_timeout", true, func(c *Config) { c.Pool.QueryTimeout = 3 * time.Second }},
	{"breaker_timeout", true, func(c *Config) { c.Pool.BreakerTimeout = 3 * time.Second }},
	{"breaker_max_timeout", true, func(c *Config) { c.Pool.BreakerMaxTimeout = 3 * time.Minute }},
	{"breaker_trip", true, func(c *Config) { c.Pool.TripAfter = 7 }},
	{"cache_ttl", true, func(c *Config) { c.Cache.TTL = time.Minute }},
	{"cache_negative_ttl", true, func(c *Config) { c.Cache.NegativeTTL = time.Second }},
	{"cache_stale_max", true, func(c *Config) { c.Cache.StaleMax = time.Minute }},
	{"cache_max_entries", true, func(c *Config) { c.Cache.MaxEntries = 9 }},
	{"cache_max_bytes", true, func(c *Config) { c.Cache.MaxBytes = 9 << 20 }},
	{"mysql_user", true, func(c *Config) { c.MySQLUser = "other" }},
	{"mysql_password", true, func(c *Config) { c.MySQLPassword = "other" }},
	{"pgsql_user", true, func(c *Config) { c.PgSQLUser = "other" }},
	{"pgsql_password", true, func(c *Config) { c.PgSQLPassword = "other" }},
	{"admin_socket", true, func(c *Config) { c.AdminSocket = "/run/other.sock" }},
	{"log_level", true, func(c *Config) { c.LogLevel = "debug" }},
	{"listen", false, func(c *Config) { c.Listen = []string{"unix:/run/other.sock"} }},
	{"mysql_listen", false, func(c *Config) { c.MySQLListen = []string{"unix:/run/other-mysql.sock"} }},
	{"pgsql_listen", false, func(c *Config) { c.PgSQLListen = []string{"unix:/run/other/.s.PGSQL.5432"} }},
	{"metrics_listen", false, func(c *Config) { c.MetricsListen = "127.0.0.1:9999" }},
	{"socket_mode", false, func(c *Config) { c.Unix.Mode = 0o600 }},
	{"socket_owner", false, func(c *Config) { c.Unix.Owner = "other" }},
	{"socket_group", false, func(c *Config) { c.Unix.Group = "other" }},
	{"max_connections", false, func(c *Config) { c.MaxConns = 9 }},
	{"lookup_timeout", false, func(c *Config) { c.LookupTimeout = 9 * time.Second }},
	{"log_format", false, func(c *Config) { c.LogFormat = "json" }},
}

func baseConfig() Config {
	return Config{
		Listen: []string{"unix:/run/mapgate.sock"}, MySQLListen: []string{"unix:/run/mysql.sock"},
		MySQLUser: "postfix", MySQLPassword: "pw",
		Maps:          []lookup.MapSpec{{Name: "virtual_alias", Paths: []string{"/a.cf"}, Opts: lookup.DefaultMapOptions("+")}},
		LookupTimeout: 5 * time.Second, MaxConns: 1024, MetricsListen: "127.0.0.1:9154",
		AdminSocket: "/run/admin.sock", LogFormat: "text", LogLevel: "info",
	}
}

// TestNeedsRestart: each parameter that needs a restart is named, alone,
// when it changes; no other parameter is; and what a reload runs
// (applied) keeps exactly the running values of the parameters named and
// takes the new value of every other one.
func TestNeedsRestart(t *testing.T) {
	for _, p := range params {
		old, next := baseConfig(), baseConfig()
		next.Maps = slices.Clone(next.Maps)
		p.change(&next)
		require := func(ok bool, format string, args ...any) {
			t.Helper()
			if !ok {
				t.Errorf(p.name+": "+format, args...)
			}
		}
		require(!reflect.DeepEqual(old, next), "the change changed nothing")
		got := NeedsRestart(old, next)
		run := applied(old, next)
		if p.reloaded {
			require(len(got) == 0, "NeedsRestart = %v, want none: a reload applies it", got)
			require(reflect.DeepEqual(run, next), "a reload does not apply it: %+v", run)
		} else {
			require(slices.Equal(got, []string{p.name}), "NeedsRestart = %v, want [%s]", got, p.name)
			require(reflect.DeepEqual(run, old), "a reload applied a parameter that needs a restart: %+v", run)
		}
	}
	if got := NeedsRestart(baseConfig(), baseConfig()); len(got) != 0 {
		t.Errorf("no change: %v", got)
	}
}

// TestParamsCoverConfig: every field of Config is some parameter's (a new
// field must be put on one side of the split).
func TestParamsCoverConfig(t *testing.T) {
	changed := map[string]bool{}
	for _, p := range params {
		old, next := baseConfig(), baseConfig()
		next.Maps = slices.Clone(next.Maps)
		p.change(&next)
		ov, nv := reflect.ValueOf(old), reflect.ValueOf(next)
		for i := range ov.NumField() {
			if !reflect.DeepEqual(ov.Field(i).Interface(), nv.Field(i).Interface()) {
				changed[ov.Type().Field(i).Name] = true
			}
		}
	}
	for i := range reflect.TypeFor[Config]().NumField() {
		if f := reflect.TypeFor[Config]().Field(i).Name; !changed[f] {
			t.Errorf("Config.%s is no parameter's: add it to params and to NeedsRestart or applied", f)
		}
	}
}
