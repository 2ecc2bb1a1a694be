package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// param is one of mapgate's configuration parameters. The params table is
// the one list of them: the parser accepts these names and no other
// (settings.set), and -h, 'mapgate help config', the manual page and
// 'mapgate check' are written from it. TestParamDefaults holds each
// default against the code that applies it, TestREADMEConfigTable the
// README's table against this one.
type param struct {
	// name as written in the configuration file; for a per-map parameter
	// the part after NAME_ (NAME_fold_case is "fold_case").
	name   string
	perMap bool
	// def is the default as it would be written in the file: setting the
	// parameter to def changes nothing. "" is the empty value (none, off).
	def string
	// shown is the default in words where def alone does not say it
	// ("off", "postconf -h recipient_delimiter"); "" shows def.
	shown string
	// fromPostfix: the default is asked of Postfix (postconf) when the
	// parameter is not set, so no value written in the file is the default.
	fromPostfix bool
	help        string
	// reload: a SIGHUP applies a changed value; false: it takes a restart.
	reload bool
}

// params are mapgate's configuration parameters, in the order of the
// documentation.
var params = []param{
	{name: "listen", shown: "none", help: "where to listen: unix:/path or inet:host:port, comma/space separated (--listen, repeatable)"},
	{name: "maps", shown: "none", reload: true, help: "NAME=/path/to/mysql_table.cf, comma/space separated (--map NAME=FILE); a name given again adds a table asked after the earlier ones"},
	{name: "socket_mode", def: "0660", help: "unix socket file mode (octal): its owner and group may connect, no other local user"},
	{name: "socket_owner", shown: "unchanged", help: "unix socket owner (name or uid)"},
	{name: "socket_group", shown: "the group Postfix's daemons run as", help: "unix socket group (name or gid); by default the primary group of postconf -h mail_owner (normally postfix), which mapgate must be root or a member of to give"},
	{name: "recipient_delimiter", shown: "postconf -h recipient_delimiter", fromPostfix: true, reload: true, help: "address extension delimiters used by the address search"},
	{name: "smtputf8_enable", def: "yes", reload: true, help: "as Postfix's: yes folds keys with Unicode case folding and finds no key that is not UTF-8; no folds ASCII letters only"},
	{name: "address_search", perMap: true, def: "yes", reload: true, help: "run Postfix's address search for map NAME (the full address, then without its +extension, then @domain)"},
	{name: "propagate_extension", perMap: true, def: "no", reload: true, help: "put an unmatched +extension into the result's addresses, as Postfix does for the tables of propagate_unmatched_extensions; never guessed from the map's name (mapgate migrate sets it where Postfix propagates)"},
	{name: "fold_case", perMap: true, def: "yes", reload: true, help: "fold keys as Postfix folds them for mysql: tables (see smtputf8_enable)"},
	{name: "domain_search", perMap: true, def: "no", reload: true, help: "for a domain list such as relay_domains: after the name, ask each parent domain as parent.example (parent) or .parent.example (dot), as Postfix asks a mysql: table; replaces the address search; no: the name only"},
	{name: "pool_size", def: "8", reload: true, help: "queries one map runs at once on one database host (its own connections; at most pool_size + 2 per map and host)"},
	{name: "dial_timeout", def: "1s", reload: true, help: "connect timeout per host"},
	{name: "query_timeout", def: "2s", reload: true, help: "one query attempt on one host: waiting for a connection, connecting, preparing and querying together"},
	{name: "lookup_timeout", def: "5s", help: "one whole lookup, all hosts and search steps"},
	{name: "breaker_timeout", def: "5s", reload: true, help: "how long a host whose breaker opened is skipped before a probe (times n for n openings in a row, ±10% jitter)"},
	{name: "breaker_max_timeout", def: "60s", reload: true, help: "the longest a repeatedly failing host is skipped"},
	{name: "breaker_trip", def: "3", reload: true, help: "consecutive host faults that open a host's breaker"},
	{name: "max_connections", def: "1024", help: "concurrent client connections; a connection over it is answered TEMP and closed"},
	{name: "metrics_listen", shown: "off", help: "host:port for /metrics, /healthz, /readyz"},
	{name: "mysql_listen", shown: "off", help: "where the MySQL-protocol front listens, for Postfix's own mysql: client (unix:/path or inet:127.0.0.1:port)"},
	{name: "mysql_user", def: "postfix", reload: true, help: "the user Postfix's mysql: client must give to the MySQL front"},
	{name: "mysql_password", shown: "none", reload: true, help: "its password (mysql_native_password); required with mysql_listen"},
	{name: "pgsql_listen", shown: "off", help: "where the PostgreSQL-protocol front listens, for Postfix's own pgsql: client (unix:/dir/.s.PGSQL.5432 or inet:127.0.0.1:port)"},
	{name: "pgsql_user", def: "postfix", reload: true, help: "the user Postfix's pgsql: client must give to the PostgreSQL front"},
	{name: "pgsql_password", shown: "none", reload: true, help: "its password (SCRAM-SHA-256); required with pgsql_listen"},
	{name: "log_format", def: "text", help: "text or json"},
	{name: "log_level", def: "info", reload: true, help: "debug, info, warn or error"},
	{name: "cache_ttl", def: "0", shown: "0 (off)", reload: true, help: "how long rows the database returned answer lookups without asking it again; 0: no cache, every answer is the database's at the time of the lookup"},
	{name: "cache_negative_ttl", def: "2s", shown: "2s (at most cache_ttl)", reload: true, help: "how long a query that returned no rows is cached: a cached NOTFOUND for an address created since bounces mail; 0: misses are not cached"},
	{name: "cache_stale_max", def: "1h", reload: true, help: "when every host of a table is unavailable, cached rows up to this old answer instead of TEMP (counted, logged); a miss is never served stale; 0: off"},
	{name: "cache_max_entries", def: "100000", reload: true, help: "the most cached query results"},
	{name: "cache_max_bytes", def: "64M", reload: true, help: "the most memory cached results take (estimated); suffixes k, M, G"},
	{name: "admin_socket", shown: "off", reload: true, help: "unix socket (mode 0600, same uid or root only) for 'mapgate purge'"},
}

// Name is the parameter's name as documented: NAME_setting for a per-map
// parameter.
func (p param) Name() string {
	if p.perMap {
		return "NAME_" + p.name
	}
	return p.name
}

// Default is the default as documented.
func (p param) Default() string {
	if p.shown != "" {
		return p.shown
	}
	return p.def
}

// When says when a changed value takes effect: "reload" (SIGHUP) or
// "restart".
func (p param) When() string {
	if p.reload {
		return "reload"
	}
	return "restart"
}

// lookupParam returns the parameter a configuration name sets: itself, or
// the per-map parameter of NAME_setting.
func lookupParam(name string) (param, bool) {
	for _, p := range params {
		if !p.perMap && p.name == name {
			return p, true
		}
	}
	for _, p := range params {
		if p.perMap && strings.HasSuffix(name, "_"+p.name) && len(name) > len(p.name)+1 {
			return p, true
		}
	}
	return param{}, false
}

// perMapParam returns the per-map parameter that name sets for map m
// ("virtual_alias_fold_case" for m "virtual_alias").
func perMapParam(name, m string) (param, bool) {
	for _, p := range params {
		if p.perMap && name == m+"_"+p.name {
			return p, true
		}
	}
	return param{}, false
}

// reloadApplies reports whether a SIGHUP applies a changed value of the
// named setting (a per-map name too); false: it takes a restart.
func reloadApplies(name string) bool {
	p, ok := lookupParam(name)
	return ok && p.reload
}

// configHelp lists the configuration parameters (mapgate help config; the
// manual page's CONFIGURATION section is made from it).
func configHelp(w io.Writer) {
	fmt.Fprint(w, "Configuration parameters, in --config FILE (Postfix's name = value syntax) or as --set name=value.\n")
	fmt.Fprint(w, "A reload (SIGHUP) applies a changed value of some; the others take a restart.\n\n")
	for _, p := range params {
		when := "a reload (SIGHUP) applies a change"
		if !p.reload {
			when = "a change takes a restart"
		}
		fmt.Fprintf(w, "  %s\n    \t%s.\n    \tDefault: %s; %s.\n", p.Name(), p.help, p.Default(), when)
	}
}

// paramNames is the list of parameter names, for -h.
func paramNames() string {
	names := make([]string, len(params))
	for i, p := range params {
		names[i] = p.Name()
	}
	return strings.Join(names, ", ")
}

// reloadSplit sorts the parameters a configuration sets into those a
// reload applies and those that take a restart (mapgate check).
func reloadSplit(given map[string]string) (reload, restart []string) {
	for n := range given {
		if reloadApplies(n) {
			reload = append(reload, n)
		} else {
			restart = append(restart, n)
		}
	}
	slices.Sort(reload)
	slices.Sort(restart)
	return reload, restart
}
