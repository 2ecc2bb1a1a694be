// Package mysql is mapgate's MySQL and MariaDB engine (engine.Engine), the
// table type mysql of mysql_table(5). It bundles what is MySQL's: the
// table file (mysqlcf: its parameters, % expansions bound as '?'
// parameters, MySQL's literal and identifier quoting), the connector
// (go-sql-driver/mysql, TLS, option files), the error classes (MySQL's
// error numbers, Classify), the catalogue (information_schema,
// schema) and the key policy (MySQL's charset repertoires and length rule
// from charset, the coercibility roles of the query analysis from
// sqlshape). Importing it registers the engine.
package mysql

import (
	"context"
	"database/sql"
	"fmt"

	"mapgate/answer"
	"mapgate/charset"
	"mapgate/engine"
	"mapgate/mysqlcf"
	"mapgate/schema"
	"mapgate/sqlshape"
)

func init() { engine.Register(Engine{}) }

// Engine is the MySQL engine. The zero value is ready to use.
type Engine struct{}

var _ engine.Engine = Engine{}

// Name implements engine.Engine.
func (Engine) Name() string { return "mysql" }

// table is the engine's reading of one file: the file, and what the key
// policy needs of it that does not depend on the key.
type table struct {
	cf *mysqlcf.File
	// roles holds what a false comparison of each query parameter proves
	// (from the query text alone, so it is there before discovery).
	roles []sqlshape.Role
	// conn is the connection's character set; connOK that the charset
	// package knows it (else no key is checked before its query).
	conn   charset.Charset
	connOK bool

	// cols are one lookup's column facts (see withFacts); nil in the
	// table the engine read.
	cols []schema.ParamColumns
}

// ReadTable implements engine.Engine: mysqlcf.Parse.
func (e Engine) ReadTable(path string) (*engine.Table, error) {
	cf, err := mysqlcf.Parse(path)
	if err != nil {
		return nil, err
	}
	if cf.Query == nil {
		return nil, fmt.Errorf("%s: no query", cf.Path)
	}
	return Wrap(cf), nil
}

// Wrap makes a parsed file a table of this engine (for tools that read
// the file themselves, such as the audit).
func Wrap(cf *mysqlcf.File) *engine.Table {
	nt := &table{cf: cf}
	t := &engine.Table{
		Engine: Engine{}, Path: cf.Path, Domain: cf.Domain,
		RequireResultSet: cf.RequireResultSet, ExpansionLimit: cf.ExpansionLimit,
		IdleInterval: cf.IdleInterval, Unknown: cf.Unknown, Warnings: cf.Warnings,
		ResultFormat: cf.ResultFormat, Native: nt,
	}
	for _, h := range cf.Hosts {
		t.Hosts = append(t.Hosts, engine.Host{Network: h.Network, Addr: h.Addr, Spec: h.Spec})
	}
	if cf.Query != nil {
		t.Statement, t.Query = cf.Query.SQL, cf.Query
		for _, u := range sqlshape.ParamUses(cf.Query.SQL) {
			nt.roles = append(nt.roles, u.Role)
		}
	}
	cs := cf.Charset
	if cs == "" {
		cs = "utf8mb4"
	}
	nt.conn, nt.connOK = charset.Lookup(cs)
	if !nt.connOK {
		t.Warnings = append(t.Warnings, fmt.Sprintf("%s: connection charset %q unknown to mapgate: keys are not checked before the query", cf.Path, cs))
	}
	return t
}

// File returns the mysql_table(5) file behind a table of this engine.
func File(t *engine.Table) *mysqlcf.File { return native(t).cf }

func native(t *engine.Table) *table { return t.Native.(*table) }

// Classify implements engine.Engine: Classify, by MySQL error number.
func (Engine) Classify(err error, keySuspect bool) answer.Class {
	return Classify(err, keySuspect)
}

// IsCharsetError implements engine.Engine: IsCharsetError.
func (Engine) IsCharsetError(err error) bool { return IsCharsetError(err) }

// facts are the columns information_schema showed for each parameter.
type facts []schema.ParamColumns

// Equal implements engine.Facts.
func (f facts) Equal(g engine.Facts) bool {
	o, ok := g.(facts)
	if !ok || len(f) != len(o) {
		return false
	}
	for i := range f {
		if f[i].String() != o[i].String() || f[i].Known != o[i].Known || f[i].Converted != o[i].Converted {
			return false
		}
	}
	return true
}

// Params implements engine.Facts.
func (f facts) Params() []engine.ParamFacts {
	out := make([]engine.ParamFacts, len(f))
	for i, p := range f {
		out[i] = engine.ParamFacts{Known: p.Known, Text: p.String()}
		if !p.Known {
			out[i].Text = p.Why
		}
	}
	return out
}

// Columns returns the schema facts behind f (nil when f is nil).
func Columns(f engine.Facts) []schema.ParamColumns {
	if f == nil {
		return nil
	}
	return f.(facts)
}

// Discover implements engine.Engine: schema.DiscoverColumns, and the
// parameters of a CALLed procedure (schema.DiscoverParameters).
func (Engine) Discover(ctx context.Context, db *sql.DB, t *engine.Table) (engine.Facts, error) {
	cf := native(t).cf
	pc, err := schema.DiscoverColumns(ctx, db, cf.DBName, cf.Query.SQL)
	if err != nil {
		return nil, err
	}
	if err := schema.DiscoverParameters(ctx, db, cf.DBName, pc); err != nil {
		return nil, err
	}
	return facts(pc), nil
}

// Unchanged implements engine.Engine: schema.ColumnsUnchanged.
func (Engine) Unchanged(ctx context.Context, db *sql.DB, _ *engine.Table, f engine.Facts) (bool, error) {
	var infos []schema.ColumnInfo
	for _, p := range Columns(f) {
		if p.Known {
			infos = append(infos, p.Infos...)
		}
	}
	return schema.ColumnsUnchanged(ctx, db, infos)
}
