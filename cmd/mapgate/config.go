package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"time"

	"mapgate/engine"
	"mapgate/hosts"
	"mapgate/lookup"
	"mapgate/mysqlcf"
	"mapgate/socketmap"
)

// Config is everything `mapgate serve` needs, from the config file (Postfix
// "name = value" syntax) and the command line (which wins).
type Config struct {
	Listen        []string
	MySQL         MySQLFront // the MySQL-protocol front (mysql_listen); off when MySQL.Listen is empty
	Maps          []lookup.MapSpec
	Unix          socketmap.UnixOptions
	Pool          hosts.PoolOptions
	LookupTimeout time.Duration // the whole lookup, all hosts and search steps
	MaxConns      int
	MetricsListen string
	LogFormat     string // text or json
	LogLevel      string // debug, info, warn, error
	Delimiter     string
	Cache         lookup.CacheOptions
	AdminSocket   string // unix socket for mapgate purge; empty: none
	// Warnings are said once at start-up: settings that work but may not
	// be what the admin meant.
	Warnings []string
}

// settings are the raw name = value pairs, before validation; set from a
// file and then from flags.
type settings struct {
	vals  map[string]string
	where map[string]string   // name → "FILE:LINE" or "command line"
	order []string            // map names in the order given
	maps  map[string][]string // map name → .cf paths, asked in order
}

func newSettings() *settings {
	return &settings{vals: map[string]string{}, where: map[string]string{}, maps: map[string][]string{}}
}

// knownSettings are mapgate's own parameters. Per-map parameters are
// NAME_address_search, NAME_propagate_extension, NAME_fold_case,
// NAME_domain_search.
var knownSettings = map[string]string{
	"listen":              "where to listen: unix:/path or inet:host:port, comma/space separated",
	"maps":                "NAME=/path/to/mysql_table.cf, comma/space separated; a name given again adds a table asked after the earlier ones",
	"socket_mode":         "unix socket file mode (octal), default 0660: owner and group only",
	"socket_owner":        "unix socket owner (name or uid)",
	"socket_group":        "unix socket group (name or gid), default: the group Postfix's daemons run as (mail_owner's)",
	"recipient_delimiter": "address extension delimiters; default: postconf -h recipient_delimiter",
	"smtputf8_enable":     "as Postfix's: yes folds keys with Unicode case folding and finds no key that is not UTF-8; no folds ASCII only; default yes",
	"pool_size":           "queries one map runs at once on one database host (its own connections), default 8",
	"dial_timeout":        "connect timeout per host, default 1s",
	"query_timeout":       "one query attempt on one host, default 2s",
	"lookup_timeout":      "one whole lookup, all hosts and search steps, default 5s",
	"breaker_timeout":     "how long a failed host is skipped before a probe, default 5s",
	"breaker_trip":        "consecutive host faults that open a host's breaker, default 3",
	"breaker_max_timeout": "the longest a repeatedly failing host is skipped, default 60s",
	"max_connections":     "concurrent client connections, default 1024",
	"metrics_listen":      "host:port for /metrics, /healthz, /readyz; empty: off",
	"mysql_listen":        "where the MySQL-protocol front listens, for Postfix's own mysql: client (unix:/path or inet:127.0.0.1:port); empty: off",
	"mysql_user":          "the user Postfix's mysql: client must give to the MySQL front, default postfix",
	"mysql_password":      "its password (mysql_native_password); required with mysql_listen",
	"log_format":          "text or json, default text",
	"log_level":           "debug, info, warn or error, default info",
	"cache_ttl":           "how long rows the database returned answer lookups without asking it again; 0 (the default): no cache, every answer is the database's at the time of the lookup",
	"cache_negative_ttl":  "how long a query that returned no rows is cached, default 2s (at most cache_ttl): a cached NOTFOUND for an address created since bounces mail; 0: misses are not cached",
	"cache_stale_max":     "when every host of a table is unavailable, cached rows up to this old answer instead of TEMP (counted, logged); a miss is never served stale; default 1h; 0: off",
	"cache_max_entries":   "the most cached query results, default 100000",
	"cache_max_bytes":     "the most memory cached results take (estimated), default 64MiB; suffixes k, M, G",
	"admin_socket":        "unix socket (mode 0600, same uid or root only) for 'mapgate purge'; empty (the default): none",
}

var perMapSettings = []string{"address_search", "propagate_extension", "fold_case", "domain_search"}

// domainSearches are the values of NAME_domain_search.
var domainSearches = map[string]lookup.DomainSearch{
	"no": lookup.DomainExact, "parent": lookup.DomainParent, "dot": lookup.DomainDotParent,
}

// perMapHelp describes the per-map parameters, NAME_setting.
var perMapHelp = map[string]string{
	"address_search":      "run Postfix's address search for map NAME (full address, without +extension, @domain), default yes",
	"propagate_extension": "put an unmatched +extension into the result's addresses, default yes for names containing alias or canonical",
	"fold_case":           "fold keys to lower case, as Postfix does for mysql: tables, default yes",
}

// configHelp lists the configuration parameters (mapgate help config); the
// manual page is made from the same tables.
func configHelp(w io.Writer) {
	fmt.Fprint(w, "Configuration parameters, in --config FILE (Postfix's name = value syntax) or as --set name=value:\n\n")
	for _, n := range sortedKeys(knownSettings) {
		fmt.Fprintf(w, "  %s\n    \t%s\n", n, knownSettings[n])
	}
	for _, n := range perMapSettings {
		fmt.Fprintf(w, "  NAME_%s\n    \t%s\n", n, perMapHelp[n])
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (s *settings) set(name, value, where string) error {
	if name == "maps" {
		for _, e := range splitList(value) {
			n, ref, ok := strings.Cut(e, "=")
			if !ok || n == "" || ref == "" {
				return fmt.Errorf("%s: maps: %q is not NAME=FILE", where, e)
			}
			// The table type as Postfix writes it (mysql:/path,
			// proxy:mysql:/path), mysql when none is given.
			path, err := engine.Canonical(ref)
			if err != nil {
				return fmt.Errorf("%s: maps: %s: %w", where, n, err)
			}
			if _, dup := s.maps[n]; !dup {
				s.order = append(s.order, n)
			}
			// The same name again adds a table to that map, asked after
			// the earlier ones (like several tables in one Postfix
			// parameter).
			s.maps[n] = append(s.maps[n], path)
		}
		return nil
	}
	if name == "listen" {
		s.vals[name] = strings.TrimSpace(s.vals[name] + " " + value)
		s.where[name] = where
		return nil
	}
	if _, ok := knownSettings[name]; !ok && !s.perMap(name) {
		return fmt.Errorf("%s: unknown parameter %q", where, name)
	}
	s.vals[name] = value
	s.where[name] = where
	return nil
}

// perMap reports whether name is NAME_setting for some per-map setting.
func (s *settings) perMap(name string) bool {
	for _, p := range perMapSettings {
		if strings.HasSuffix(name, "_"+p) && len(name) > len(p)+1 {
			return true
		}
	}
	return false
}

func (s *settings) loadFile(path string) error {
	p, err := mysqlcf.ReadParams(path)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(p.Values))
	for n := range p.Values {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return p.Line[names[i]] < p.Line[names[j]] })
	for _, n := range names {
		if err := s.set(n, p.Values[n], fmt.Sprintf("%s:%d", path, p.Line[n])); err != nil {
			return err
		}
	}
	return nil
}

func splitList(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
}

// build validates the settings into a Config.
func (s *settings) build() (*Config, error) {
	c := &Config{LogFormat: "text", LogLevel: "info", LookupTimeout: 5 * time.Second}
	var errs []error
	bad := func(name string, err error) {
		errs = append(errs, fmt.Errorf("%s: %s: %w", s.where[name], name, err))
	}
	c.Listen = splitList(s.vals["listen"])
	c.MySQL.Listen = splitList(s.vals["mysql_listen"])
	c.MySQL.User = "postfix"
	if v, ok := s.vals["mysql_user"]; ok {
		c.MySQL.User = v
	}
	c.MySQL.Password = s.vals["mysql_password"]
	if len(c.MySQL.Listen) > 0 && c.MySQL.Password == "" {
		bad("mysql_listen", errors.New("needs mysql_password"))
	}
	for _, l := range c.MySQL.Listen {
		if err := loopbackOrUnix(l); err != nil {
			bad("mysql_listen", err)
		}
	}
	dur := func(name string, dst *time.Duration) {
		if v, ok := s.vals[name]; ok {
			d, err := mysqlcf.ParseDuration(v)
			if err != nil || d <= 0 {
				if err == nil {
					err = errors.New("must be positive")
				}
				bad(name, err)
				return
			}
			*dst = d
		}
	}
	num := func(name string, dst *int) {
		if v, ok := s.vals[name]; ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n <= 0 {
				bad(name, fmt.Errorf("%q is not a positive number", v))
				return
			}
			*dst = n
		}
	}
	dur("dial_timeout", &c.Pool.DialTimeout)
	dur("query_timeout", &c.Pool.QueryTimeout)
	dur("lookup_timeout", &c.LookupTimeout)
	dur("breaker_timeout", &c.Pool.BreakerTimeout)
	dur("breaker_max_timeout", &c.Pool.BreakerMaxTimeout)
	num("pool_size", &c.Pool.MaxOpen)
	num("max_connections", &c.MaxConns)
	trip := 0
	num("breaker_trip", &trip)
	c.Pool.TripAfter = uint32(trip)
	s.cache(c, bad)
	if v, ok := s.vals["admin_socket"]; ok {
		c.AdminSocket = strings.TrimSpace(v)
	}
	if v, ok := s.vals["socket_mode"]; ok {
		m, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32)
		if err != nil || m > 0o777 {
			bad("socket_mode", fmt.Errorf("%q is not an octal file mode", v))
		}
		c.Unix.Mode = os.FileMode(m)
	}
	c.Unix.Owner = s.vals["socket_owner"]
	c.Unix.Group = s.vals["socket_group"]
	c.MetricsListen = s.vals["metrics_listen"]
	if v, ok := s.vals["log_format"]; ok {
		if v != "text" && v != "json" {
			bad("log_format", fmt.Errorf("%q: want text or json", v))
		}
		c.LogFormat = v
	}
	if v, ok := s.vals["log_level"]; ok {
		switch v {
		case "debug", "info", "warn", "error":
		default:
			bad("log_level", fmt.Errorf("%q: want debug, info, warn or error", v))
		}
		c.LogLevel = v
	}
	if v, ok := s.vals["recipient_delimiter"]; ok {
		c.Delimiter = v
	} else {
		var err error
		if c.Delimiter, err = postfixDelimiter(); err != nil {
			c.Warnings = append(c.Warnings, fmt.Sprintf("recipient_delimiter is not set and 'postconf -h recipient_delimiter' failed (%v): using none, so user+ext@domain is not searched as user@domain; set recipient_delimiter as in main.cf", err))
		}
	}
	smtputf8 := true
	if v, ok := s.vals["smtputf8_enable"]; ok {
		b, err := mysqlcf.ParseBool(v)
		if err != nil {
			bad("smtputf8_enable", err)
		}
		smtputf8 = b
	}
	for _, n := range s.order {
		o := lookup.DefaultMapOptions(c.Delimiter)
		o.SMTPUTF8 = smtputf8
		flag := func(setting string, dst *bool, invert bool) {
			key := n + "_" + setting
			if v, ok := s.vals[key]; ok {
				b, err := mysqlcf.ParseBool(v)
				if err != nil {
					bad(key, err)
					return
				}
				*dst = b != invert
			}
		}
		flag("address_search", &o.AddressSearch, false)
		flag("propagate_extension", &o.PropagateExtension, false)
		flag("fold_case", &o.FoldCase, false)
		if err := s.domainSearch(n, &o); err != nil {
			bad(n+"_domain_search", err)
		}
		c.Maps = append(c.Maps, lookup.MapSpec{Name: n, Paths: s.maps[n], Opts: o})
	}
	for name := range s.vals {
		if s.perMap(name) {
			found := false
			for _, n := range s.order {
				for _, p := range perMapSettings {
					if name == n+"_"+p {
						found = true
					}
				}
			}
			if !found {
				bad(name, errors.New("names no map given in maps or --map"))
			}
		}
	}
	if c.Pool.QueryTimeout > c.LookupTimeout {
		bad("query_timeout", fmt.Errorf("%v is longer than lookup_timeout %v", c.Pool.QueryTimeout, c.LookupTimeout))
	}
	return c, errors.Join(errs...)
}

// cache builds the cache options: the cache is off unless cache_ttl is set.
func (s *settings) cache(c *Config, bad func(string, error)) {
	o := lookup.CacheOptions{NegativeTTL: 2 * time.Second, StaleMax: time.Hour, MaxEntries: 100000, MaxBytes: 64 << 20}
	dur0 := func(name string, dst *time.Duration) {
		if v, ok := s.vals[name]; ok {
			d, err := mysqlcf.ParseDuration(v)
			if err != nil || d < 0 {
				if err == nil {
					err = errors.New("must not be negative")
				}
				bad(name, err)
				return
			}
			*dst = d
		}
	}
	dur0("cache_ttl", &o.TTL)
	_, negSet := s.vals["cache_negative_ttl"]
	dur0("cache_negative_ttl", &o.NegativeTTL)
	dur0("cache_stale_max", &o.StaleMax)
	if v, ok := s.vals["cache_max_entries"]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n <= 0 {
			bad("cache_max_entries", fmt.Errorf("%q is not a positive number", v))
		}
		o.MaxEntries = n
	}
	if v, ok := s.vals["cache_max_bytes"]; ok {
		n, err := parseBytes(v)
		if err != nil {
			bad("cache_max_bytes", err)
		}
		o.MaxBytes = n
	}
	if !negSet && o.NegativeTTL > o.TTL {
		o.NegativeTTL = o.TTL
	}
	if err := o.Validate(); err != nil {
		bad("cache_ttl", err)
	}
	if !o.Enabled() {
		o = lookup.CacheOptions{}
	}
	c.Cache = o
}

// parseBytes reads a size: a number with an optional k, M or G (1024s).
func parseBytes(v string) (int64, error) {
	v = strings.TrimSpace(v)
	mult := int64(1)
	if v != "" {
		switch v[len(v)-1] {
		case 'k', 'K':
			mult = 1 << 10
		case 'm', 'M':
			mult = 1 << 20
		case 'g', 'G':
			mult = 1 << 30
		}
		if mult > 1 {
			v = v[:len(v)-1]
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a positive size", v)
	}
	return n * mult, nil
}

// domainSearch applies NAME_domain_search to o: a parent-domain search
// replaces the address search, which must then not be asked for.
func (s *settings) domainSearch(n string, o *lookup.MapOptions) error {
	v, ok := s.vals[n+"_domain_search"]
	if !ok {
		return nil
	}
	ds, known := domainSearches[strings.TrimSpace(v)]
	if !known {
		return fmt.Errorf("%q: want no, parent or dot", v)
	}
	o.DomainSearch = ds
	if ds == lookup.DomainExact {
		return nil
	}
	if v, set := s.vals[n+"_address_search"]; set {
		if b, err := mysqlcf.ParseBool(v); err == nil && b {
			return fmt.Errorf("%s_address_search = yes: a map searches addresses or domains, not both", n)
		}
	}
	o.AddressSearch = false
	return nil
}

// postfixDelimiter asks an installed Postfix for recipient_delimiter. When
// postconf cannot answer (no Postfix here, or no main.cf), it is empty,
// Postfix's own default, and err says why: an empty delimiter where main.cf
// has one would make bob+tag@ unknown, so the caller warns.
func postfixDelimiter() (string, error) {
	out, err := exec.Command("postconf", "-h", "recipient_delimiter").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && len(ee.Stderr) > 0 {
			err = fmt.Errorf("%w: %s", err, strings.TrimSpace(string(ee.Stderr)))
		}
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}
