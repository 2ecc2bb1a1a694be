// Package engine is the seam between mapgate's engine-neutral core
// (lookup, hosts) and the SQL databases whose Postfix tables it serves.
// An Engine is everything that differs between one database and another
// (mysql_table(5), pgsql_table(5)): how its table files read, how to
// connect, what its errors mean, what its catalogue says about the columns
// a key meets, and which keys provably cannot match. Each table of a map
// has its own engine, chosen by the table type that Postfix writes before
// the file name in main.cf ("mysql:/etc/postfix/x.cf"): see Resolve.
//
// Engines register themselves by name (Register), as database/sql drivers
// do: the MySQL engine is mapgate/engine/mysql, and the binary imports it.
package engine

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"log/slog"
	"time"

	"mapgate/answer"
)

// Engine is one SQL database's side of mapgate. Its methods must be safe
// for concurrent use. The core never looks behind it: a table's values,
// statement, errors and column facts reach lookup and hosts only through
// these methods and the Table the engine read.
type Engine interface {
	// Name is the table type as Postfix spells it ("mysql", "pgsql").
	Name() string

	// ReadTable reads one table file of this type: its parameters (the
	// engine's manual page), its query as a Template whose % expansions
	// are bound parameters in the engine's placeholder syntax (Statement),
	// its result_format. Errors name the file, line and parameter.
	ReadTable(path string) (*Table, error)

	// Connector returns a connector to host h as table t configures it
	// (account, database, connection encoding, TLS, timeouts from o), a
	// key naming those settings (one pool per map and key) and a
	// description of them without the password, for logs and metrics.
	Connector(t *Table, h Host, o ConnOptions) (c driver.Connector, key, desc string, err error)

	// Classify says who is to blame for a query's error: the key's
	// (answer.ClassKey: only when keySuspect, see KeyErrorMayBe), the
	// query's or schema's (ClassQuery), the host's (ClassHost: only these
	// count against a host's breaker), a client that left (ClassCanceled);
	// anything else is ClassUnknown, which is TEMP.
	Classify(err error, keySuspect bool) answer.Class
	// IsCharsetError reports whether err is the database refusing a bound
	// value for its characters (MySQL's 1267 and kin): such an error on a
	// value the column facts vouched for makes lookup confirm the facts
	// and ask once more.
	IsCharsetError(err error) bool

	// Discover asks the catalogue what each parameter of t's statement
	// meets (columns, their encodings and lengths), on db, a pool of the
	// map on one of t's hosts. The error is for a failed query; a shape or
	// column the engine does not understand is in the Facts.
	Discover(ctx context.Context, db *sql.DB, t *Table) (Facts, error)
	// Unchanged reports whether the columns f describes are still as
	// described (one cheap query per table: lookup confirms its facts
	// before it answers on them).
	Unchanged(ctx context.Context, db *sql.DB, t *Table, f Facts) (bool, error)

	// Plan is the key policy's check before a query: may these bound
	// values (t's Template expanded for one search step) be sent, and if
	// a value provably cannot equal any stored one, what that proves for
	// the whole statement (a miss, a NULL in its place, or nothing). f is
	// nil before discovery: then nothing is proven.
	Plan(t *Table, f Facts, args []any) Plan
	// KeyErrorMayBe reports whether an error from the statement run with
	// args may be the key's doing (some value was not vouched for by f):
	// Classify's keySuspect.
	KeyErrorMayBe(t *Table, f Facts, args []any) bool
	// KeyErrorIsMiss reports whether the key's error (ClassKey) proves
	// that no row matches, whatever the statement's other branches.
	KeyErrorIsMiss(t *Table, f Facts, args []any) bool
}

// Table is one table file as its engine read it: what lookup and hosts
// need of it. Native is the engine's own reading of the file, which only
// the engine (and its tools, such as the audit) looks into.
type Table struct {
	// Engine read the file; it serves every question about this table.
	Engine Engine
	// Path is the file name.
	Path string
	// Hosts are the database servers of the hosts parameter, in the order
	// they are tried. Never empty.
	Hosts []Host
	// Statement is the query as sent, each % expansion a placeholder in
	// the engine's syntax ("?" or "$1"). It does not depend on the key.
	Statement string
	// Query binds a search step's key to Statement's parameters.
	Query Template
	// ResultFormat is result_format.
	ResultFormat Result
	// Domain is the domain parameter's raw entries (nil: unset).
	Domain []string
	// RequireResultSet: a statement that returns no result set is an error.
	RequireResultSet bool
	// ExpansionLimit is expansion_limit; 0 or less: no limit.
	ExpansionLimit int
	// IdleInterval closes connections idle that long (0: the pool's default).
	IdleInterval time.Duration
	// Unknown lists parameters the engine's manual page does not know;
	// Warnings what Postfix would warn about, and what the engine found
	// it cannot check ("FILE:LINE: text"). The caller logs them.
	Unknown, Warnings []string
	// Native is the engine's own parsed file.
	Native any
}

// ExpansionLimitExceeded reports whether n result elements exceed
// expansion_limit.
func (t *Table) ExpansionLimitExceeded(n int) bool {
	return t.ExpansionLimit > 0 && n > t.ExpansionLimit
}

// Host is one database server of a table's hosts parameter.
type Host struct {
	// Network is "unix" or "tcp"; Addr a socket path or host:port. With
	// Name, they name the host's breaker: the engine gives each server
	// one name, however the file spells it.
	Network, Addr string
	// Spec is the entry as written in the file.
	Spec string
	// Native is the engine's own reading of the entry, for its Connector
	// (a pgsql_table(5) postgresql:// URI carries its own account and
	// database, say); nil when it needs none.
	Native any
}

// Name names the host for breakers, logs and metrics ("tcp:host:port",
// "unix:/path"): maps on the same host share its breaker.
func (h Host) Name() string { return h.Network + ":" + h.Addr }

// Template binds a search step's key to a statement's parameters
// (db_common.c's % expansions).
type Template interface {
	// Expand appends the bound values for key to args; ok is false when
	// Postfix would suppress the query for this key (a miss, no query).
	Expand(key string, args []any) (out []any, ok bool)
}

// Result is a table's result_format.
type Result interface {
	// Element reports whether a value is an element of the result (for
	// expansion_limit).
	Element(value string) bool
	// Format formats the result values for key; "" means no result.
	Format(key string, values []string) string
}

// ConnOptions are the connection settings that are mapgate's, not the
// table file's.
type ConnOptions struct {
	// DialTimeout bounds connecting; QueryTimeout every read and write on
	// a connection.
	DialTimeout, QueryTimeout time.Duration
	// Logger receives the driver's own messages (at debug level).
	Logger *slog.Logger
}

// Facts is what the catalogue found for one table's statement (Discover).
// Only its engine reads it; the core compares, logs and passes it back.
type Facts interface {
	// Equal reports whether g describes the same columns (a rediscovery
	// that finds other facts is logged and swapped in).
	Equal(g Facts) bool
	// Params describes each parameter for the start-up log.
	Params() []ParamFacts
}

// ParamFacts is one parameter's line in the start-up log.
type ParamFacts struct {
	// Known: the key policy can check values of this parameter. Text
	// describes what it meets; when not Known, why the check leaves it to
	// the database.
	Known bool
	Text  string
}

// Plan is what the check before a query decided for one search step.
type Plan struct {
	// Miss, when not nil, says why no row can match: the step is a miss,
	// answered without a query.
	Miss *Miss
	// Null lists the parameters (0-based) to bind as NULL: no stored value
	// can satisfy their comparison, and NULL filters rows exactly as that
	// false comparison would, so the statement's other branches are still
	// asked.
	Null []int
	// Unproven: a value failed the check in a comparison whose falseness
	// proves nothing. The statement is sent as it is; an error about the
	// key that it causes is TEMP, never a miss.
	Unproven bool
}

// Reason names why a key cannot match, for metrics ("unrepresentable",
// "too_long", "nul", "invalid_utf8").
type Reason string

func (r Reason) String() string { return string(r) }

// Miss is a key that provably cannot match: Reason for metrics, Column
// the column (or parameter) the value cannot equal ("" when none), Err
// the detail for the log (which character, which length).
type Miss struct {
	Reason Reason
	Column string
	Err    error
}

func (m *Miss) Error() string { return m.Err.Error() }
func (m *Miss) Unwrap() error { return m.Err }
