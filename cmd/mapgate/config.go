package main

import (
	"errors"
	"fmt"
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
	PgSQL         MySQLFront // the PostgreSQL-protocol front (pgsql_listen), the same three settings; off when PgSQL.Listen is empty
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
	// Given holds the parameters the configuration sets (file and
	// flags) with their values as written (maps: NAME=FILE, ...): mapgate
	// check says which a reload applies, and a reload which of those it
	// changes take a restart (restartNeeded).
	Given map[string]string
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

// domainSearches are the values of NAME_domain_search.
var domainSearches = map[string]lookup.DomainSearch{
	"no": lookup.DomainExact, "parent": lookup.DomainParent, "dot": lookup.DomainDotParent,
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
	if _, ok := lookupParam(name); !ok {
		return fmt.Errorf("%s: unknown parameter %q (mapgate help config lists them)", where, name)
	}
	s.vals[name] = value
	s.where[name] = where
	return nil
}

// perMap reports whether name is NAME_setting for some per-map setting.
func (s *settings) perMap(name string) bool {
	p, ok := lookupParam(name)
	return ok && p.perMap
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

func splitList(v string) []string { return mysqlcf.SplitList(v) }

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
	c.PgSQL.Listen = splitList(s.vals["pgsql_listen"])
	c.PgSQL.User = "postfix"
	if v, ok := s.vals["pgsql_user"]; ok {
		c.PgSQL.User = v
	}
	c.PgSQL.Password = s.vals["pgsql_password"]
	if len(c.PgSQL.Listen) > 0 && c.PgSQL.Password == "" {
		bad("pgsql_listen", errors.New("needs pgsql_password"))
	}
	for _, l := range c.PgSQL.Listen {
		if err := loopbackOrUnix(l); err != nil {
			bad("pgsql_listen", err)
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
				if _, ok := perMapParam(name, n); ok {
					found = true
				}
			}
			if !found {
				bad(name, errors.New("names no map given in maps or --map"))
			}
		}
	}
	c.Given = make(map[string]string, len(s.vals)+1)
	for name, v := range s.vals {
		c.Given[name] = v
	}
	if len(s.order) > 0 {
		var maps []string
		for _, n := range s.order {
			for _, p := range s.maps[n] {
				maps = append(maps, n+"="+p)
			}
		}
		c.Given["maps"] = strings.Join(maps, ", ")
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
