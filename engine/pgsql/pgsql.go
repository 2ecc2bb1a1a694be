// Package pgsql is mapgate's PostgreSQL engine (engine.Engine), the table
// type pgsql of pgsql_table(5). It bundles what is PostgreSQL's: the table
// file (pgsqlcf: its parameters, % expansions bound as $1 … $n,
// PostgreSQL's own quoting), the connector (pgx v5's protocol layer,
// pgconn, behind a small database/sql driver: driver.go), the error
// classes (SQLSTATE, never message text), the catalogue (the database
// encoding, the type the server infers for each parameter: catalog.go)
// and the key policy (policy.go). Importing it registers the engine.
package pgsql

import (
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"mapgate/answer"
	"mapgate/engine"
	"mapgate/pgsqlcf"
	"mapgate/sqlshape"
)

func init() { engine.Register(Engine{}) }

// Engine is the PostgreSQL engine. The zero value is ready to use.
type Engine struct{}

var _ engine.Engine = Engine{}

// Name implements engine.Engine.
func (Engine) Name() string { return "pgsql" }

// table is the engine's reading of one file.
type table struct {
	cf *pgsqlcf.File
	// roles holds what a parameter no stored value can equal proves about
	// the statement (from the query text alone: see shape.go).
	roles []sqlshape.Role
	// why says, when the query's shape was not read, why.
	why string
	// pattern: the statement may use a parameter as a pattern (LIKE,
	// ~, SIMILAR TO, a regexp function), where a key's backslash or
	// bracket can be an error of the key's.
	pattern bool
}

func native(t *engine.Table) *table { return t.Native.(*table) }

// File returns the pgsql_table(5) file behind a table of this engine.
func File(t *engine.Table) *pgsqlcf.File { return native(t).cf }

// ReadTable implements engine.Engine: pgsqlcf.Parse.
func (Engine) ReadTable(path string) (*engine.Table, error) {
	cf, err := pgsqlcf.Parse(path)
	if err != nil {
		return nil, err
	}
	return Wrap(cf), nil
}

// Wrap makes a parsed file a table of this engine.
func Wrap(cf *pgsqlcf.File) *engine.Table {
	nt := &table{cf: cf}
	t := &engine.Table{
		Engine: Engine{}, Path: cf.Path, Domain: cf.Domain,
		ExpansionLimit: cf.ExpansionLimit, IdleInterval: cf.IdleInterval,
		Unknown: cf.Unknown, Warnings: cf.Warnings,
		ResultFormat: cf.ResultFormat, Native: nt,
		Statement: cf.Query.SQL, Query: cf.Query,
	}
	for _, h := range cf.Hosts {
		t.Hosts = append(t.Hosts, host(h))
	}
	if cf.EncodingSet && cf.Encoding != "UTF8" {
		t.Warnings = append(t.Warnings, fmt.Sprintf("%s:%d: encoding = %s: mapgate speaks UTF8 to the server whatever encoding says (its keys are UTF-8; the server converts them to the database encoding)", cf.Path, cf.Line["encoding"], cf.Encoding))
	}
	nt.roles, nt.why = roles(cf.Query.SQL, len(cf.Query.Params))
	if nt.why != "" {
		t.Warnings = append(t.Warnings, fmt.Sprintf("%s: query shape not read (%s): a key the database cannot take is answered TEMP, never a miss", cf.Path, nt.why))
	}
	up := strings.ToUpper(cf.Query.SQL)
	nt.pattern = strings.Contains(up, "LIKE") || strings.Contains(up, "SIMILAR") || strings.Contains(up, "REGEXP") || strings.Contains(up, "~")
	return t
}

// host names a hosts entry for breakers and logs: where it connects, never
// its password.
func host(h pgsqlcf.Host) engine.Host {
	eh := engine.Host{Spec: h.Spec, Native: h}
	switch h.Kind {
	case pgsqlcf.Unix:
		eh.Network, eh.Addr = "unix", h.Addr()
	case pgsqlcf.TCP:
		eh.Network, eh.Addr = "tcp", h.Addr()
	default:
		eh.Network, eh.Addr = "tcp", h.Spec
		if cfg, err := pgconn.ParseConfig(h.URI); err == nil {
			eh.Addr = describeHost(cfg)
			if strings.HasPrefix(cfg.Host, "/") {
				eh.Network = "unix"
			}
			for _, fb := range cfg.Fallbacks {
				if fb.Host != cfg.Host || fb.Port != cfg.Port {
					eh.Addr += "," + fb.Host // a multi-host URI is one entry
				}
			}
		} else if i := strings.Index(h.Spec, "@"); i >= 0 {
			eh.Addr = h.Spec[i+1:]
		}
	}
	return eh
}

// SQLSTATE classes and codes (PostgreSQL manual, Appendix A, "PostgreSQL
// Error Codes").
//
// Host: the server, or our account or database on it, cannot be used
// now, whatever the key: connection exceptions (08), insufficient
// resources (53), operator intervention (57: shutdown, crash, cannot
// connect now, database dropped, a statement_timeout or a cancel),
// invalid authorization (28), a database that does not exist (3D000:
// wrong host, or not restored yet), system errors (58), serialization
// failures and deadlocks (40), lock timeouts (55P03), and a read-only
// standby (25006).
//
// Query: the statement is broken for every key: syntax or access rule
// violations (42: unknown table, column, function, privilege), an
// unknown schema (3F000), an unsupported feature (0A000), a subquery
// that returns more than one row (21000).
//
// Value (class 22, data exception): the value of something in the
// statement cannot be taken: 22P05 (a character the database encoding
// lacks), 22021 (not valid in the client encoding, a NUL), 22P02 (not a
// number, a boolean, a uuid), 22003 (out of range), 2201B (an invalid
// regular expression), 22025 (a LIKE pattern ending in a backslash).
// Raised while the server binds the parameters (bindError), before the
// statement runs, it is about the parameter values: the key's when
// keySuspect, else the query's (a plain key the catalogue vouched for
// cannot cause it). Raised while the statement runs (from stored rows,
// or a function of a key), it proves nothing about the key: TEMP.
func hostState(c string) bool {
	switch c[:2] {
	case "08", "53", "28", "58", "40":
		return true
	case "57":
		return c != "57000" // 57P01-57P05, 57014
	}
	switch c {
	case "3D000", "55P03", "25006":
		return true
	}
	return false
}

func queryState(c string) bool {
	switch c[:2] {
	case "42", "0A", "21":
		return true
	}
	return c == "3F000"
}

// Classify implements engine.Engine, by SQLSTATE (pgconn.PgError's Code).
func (Engine) Classify(err error, keySuspect bool) answer.Class {
	if err == nil {
		return answer.ClassNone
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return answer.ClassHost // whatever the server said: we cannot use it
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && len(pe.Code) == 5 {
		var be *bindError
		switch c := pe.Code; {
		case c[:2] == "22":
			switch {
			case keySuspect && errors.As(err, &be):
				return answer.ClassKey
			case keySuspect:
				return answer.ClassUnknown
			}
			return answer.ClassQuery
		case hostState(c):
			return answer.ClassHost
		case queryState(c):
			return answer.ClassQuery
		}
		return answer.ClassUnknown
	}
	if c, ok := engine.TransportClass(err); ok {
		return c
	}
	if pgconn.Timeout(err) {
		return answer.ClassHost
	}
	return answer.ClassUnknown
}

// IsCharsetError implements engine.Engine: 22P05 and 22021.
func (Engine) IsCharsetError(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "22P05" || pe.Code == "22021")
}
