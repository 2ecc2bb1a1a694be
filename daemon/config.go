package daemon

import (
	"reflect"
	"slices"
	"time"

	"mapgate/hosts"
	"mapgate/lookup"
	"mapgate/socketmap"
)

// Config is what the running mapgate is made of (mapgate(8)'s parameters,
// validated; cmd/mapgate builds it from the configuration file and flags).
type Config struct {
	Listen        []string // socketmap listeners (listen); not used when systemd passes sockets
	MySQLListen   []string // the MySQL front's listeners (mysql_listen); empty and none from systemd: no front
	MySQLUser     string   // mysql_user
	MySQLPassword string   // mysql_password
	PgSQLListen   []string // the PostgreSQL front's listeners (pgsql_listen); empty and none from systemd: no front
	PgSQLUser     string   // pgsql_user
	PgSQLPassword string   // pgsql_password
	Maps          []lookup.MapSpec
	Unix          socketmap.UnixOptions // socket_mode, socket_owner, socket_group
	Pool          hosts.PoolOptions     // pool_size, dial_timeout, query_timeout, breaker_*
	Cache         lookup.CacheOptions   // cache_*
	LookupTimeout time.Duration         // the whole lookup, all hosts and search steps
	MaxConns      int                   // max_connections, per front
	MetricsListen string                // metrics_listen; empty: none
	AdminSocket   string                // admin_socket; empty: none
	LogFormat     string                // text or json
	LogLevel      string                // debug, info, warn, error
}

// NeedsRestart names the parameters that differ between old and new and
// that a reload cannot apply: the listening sockets and what they were made
// with (a socket-activated restart keeps them open across), the logger's
// format, and the budgets the fronts' servers were started with. Every other
// parameter (maps and the per-map NAME_* settings, recipient_delimiter,
// smtputf8_enable, pool_size, dial_timeout, query_timeout, breaker_*,
// cache_*, mysql_user, mysql_password, pgsql_user, pgsql_password,
// admin_socket, log_level) is applied by
// a reload. A reload logs each name it returns.
func NeedsRestart(old, new Config) []string {
	var out []string
	differ := func(name string, a, b any) {
		if !reflect.DeepEqual(a, b) {
			out = append(out, name)
		}
	}
	differ("listen", old.Listen, new.Listen)
	differ("mysql_listen", old.MySQLListen, new.MySQLListen)
	differ("pgsql_listen", old.PgSQLListen, new.PgSQLListen)
	differ("metrics_listen", old.MetricsListen, new.MetricsListen)
	differ("socket_mode", old.Unix.Mode, new.Unix.Mode)
	differ("socket_owner", old.Unix.Owner, new.Unix.Owner)
	differ("socket_group", old.Unix.Group, new.Unix.Group)
	differ("max_connections", old.MaxConns, new.MaxConns)
	differ("lookup_timeout", old.LookupTimeout, new.LookupTimeout)
	differ("log_format", old.LogFormat, new.LogFormat)
	slices.Sort(out)
	return out
}
