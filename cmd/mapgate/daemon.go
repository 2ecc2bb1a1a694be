package main

import (
	"io"
	"log/slog"
	"slices"
	"strings"

	"mapgate/daemon"
)

// daemonConfig is the configuration as package daemon runs it. An unset
// socket_group is Postfix's (postfixGroup) when mapgate makes a unix socket.
func (c *Config) daemonConfig(log *slog.Logger) daemon.Config {
	unix := c.Unix
	isUnix := func(s string) bool { return strings.HasPrefix(s, "unix:") }
	if unix.Group == "" && (slices.ContainsFunc(c.Listen, isUnix) || slices.ContainsFunc(c.MySQL.Listen, isUnix) || slices.ContainsFunc(c.PgSQL.Listen, isUnix)) {
		unix.Group = postfixGroup(log)
	}
	return daemon.Config{
		Listen:        c.Listen,
		MySQLListen:   c.MySQL.Listen,
		MySQLUser:     c.MySQL.User,
		MySQLPassword: c.MySQL.Password,
		PgSQLListen:   c.PgSQL.Listen,
		PgSQLUser:     c.PgSQL.User,
		PgSQLPassword: c.PgSQL.Password,
		Maps:          c.Maps,
		Unix:          unix,
		Pool:          c.Pool,
		Cache:         c.Cache,
		LookupTimeout: c.LookupTimeout,
		MaxConns:      c.MaxConns,
		MetricsListen: c.MetricsListen,
		AdminSocket:   c.AdminSocket,
		LogFormat:     c.LogFormat,
		LogLevel:      c.LogLevel,
	}
}

// newLevelLogger is newLogger with a level a reload can change (log_level).
func newLevelLogger(w io.Writer, format, level string) (*slog.Logger, *slog.LevelVar) {
	lv := new(slog.LevelVar)
	lv.Set(daemon.ParseLevel(level))
	opts := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), lv
	}
	return slog.New(slog.NewTextHandler(w, opts)), lv
}
