package pgsql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"mapgate/engine"
)

// facts are what the catalogue says about one table's statement: the
// database encoding every value is converted to (PostgreSQL converts
// each parameter as it binds it, wherever the parameter sits), whether
// the database holds a nondeterministic collation (under which a string
// may equal another of other characters), and the type the server infers
// for each parameter (it runs that type's input function on the value:
// integer parameters refuse what is not a number).
type facts struct {
	encoding         string
	nondeterministic bool
	params           []paramType
}

// paramType is the type the server inferred for one parameter.
type paramType struct {
	oid      uint32
	name     string // pg_type.typname
	category byte   // pg_type.typcategory: 'S' string, 'N' numeric, …
}

// text: the type's input function takes any string the encoding holds.
func (p paramType) text() bool { return p.category == 'S' || p.oid == 705 } // 705: unknown

// numeric: the type is an integer, numeric or floating type.
func (p paramType) numeric() bool {
	switch p.name {
	case "int2", "int4", "int8", "oid", "numeric", "float4", "float8":
		return true
	}
	return false
}

// Equal implements engine.Facts.
func (f *facts) Equal(g engine.Facts) bool {
	o, ok := g.(*facts)
	if !ok || f.encoding != o.encoding || f.nondeterministic != o.nondeterministic || len(f.params) != len(o.params) {
		return false
	}
	for i := range f.params {
		if f.params[i] != o.params[i] {
			return false
		}
	}
	return true
}

// Params implements engine.Facts.
func (f *facts) Params() []engine.ParamFacts {
	out := make([]engine.ParamFacts, len(f.params))
	for i, p := range f.params {
		out[i] = engine.ParamFacts{Known: true, Text: fmt.Sprintf("$%d %s, database encoding %s", i+1, p.name, f.encoding)}
		if f.nondeterministic {
			out[i] = engine.ParamFacts{Text: fmt.Sprintf("$%d %s: the database has a nondeterministic collation; characters are checked by the database alone", i+1, p.name)}
		} else if _, ok := repertoires[f.encoding]; !ok {
			out[i].Text += " (only ASCII is checked before the query)"
		}
	}
	return out
}

// Discover implements engine.Engine: the statement described by the
// server (the unnamed statement: nothing stays prepared), the database
// encoding, and the collations.
func (Engine) Discover(ctx context.Context, db *sql.DB, t *engine.Table) (engine.Facts, error) {
	return describe(ctx, db, t.Statement)
}

// Unchanged implements engine.Engine: the same description again (a
// column whose type changed changes its parameter's type; a failover to
// a database of another encoding changes the encoding).
func (Engine) Unchanged(ctx context.Context, db *sql.DB, t *engine.Table, f engine.Facts) (bool, error) {
	g, err := describe(ctx, db, t.Statement)
	if err != nil {
		return false, err
	}
	return f.Equal(g), nil
}

func describe(ctx context.Context, db *sql.DB, stmt string) (*facts, error) {
	c, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	f := &facts{}
	err = c.Raw(func(dc any) error {
		pc := dc.(*conn).pc
		sd, err := prepare(ctx, pc, "", stmt)
		if err != nil {
			return err
		}
		var b strings.Builder
		for i, oid := range sd.ParamOIDs {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.FormatUint(uint64(oid), 10))
		}
		res := pc.ExecParams(ctx, `SELECT current_setting('server_encoding'), current_setting('server_version_num')::int >= 120000`, nil, nil, nil, nil).Read()
		if res.Err != nil {
			return res.Err
		}
		if len(res.Rows) != 1 {
			return errors.New("server_encoding: no answer")
		}
		f.encoding = string(res.Rows[0][0])
		if string(res.Rows[0][1]) == "t" {
			res = pc.ExecParams(ctx, `SELECT count(*) FROM pg_collation WHERE NOT collisdeterministic`, nil, nil, nil, nil).Read()
			if res.Err != nil {
				return res.Err
			}
			f.nondeterministic = len(res.Rows) == 1 && string(res.Rows[0][0]) != "0"
		}
		types := map[uint32]paramType{}
		if len(sd.ParamOIDs) > 0 {
			res = pc.ExecParams(ctx, `SELECT oid, typname, typcategory FROM pg_type WHERE oid = ANY($1::oid[])`,
				[][]byte{[]byte("{" + b.String() + "}")}, nil, nil, nil).Read()
			if res.Err != nil {
				return res.Err
			}
			for _, r := range res.Rows {
				oid, _ := strconv.ParseUint(string(r[0]), 10, 32)
				pt := paramType{oid: uint32(oid), name: string(r[1])}
				if len(r[2]) == 1 {
					pt.category = r[2][0]
				}
				types[uint32(oid)] = pt
			}
		}
		for _, oid := range sd.ParamOIDs {
			pt, ok := types[oid]
			if !ok {
				pt = paramType{oid: oid, name: "oid " + strconv.FormatUint(uint64(oid), 10)}
			}
			f.params = append(f.params, pt)
		}
		return nil
	})
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("describing the query: %w", err)
		}
		return nil, err
	}
	return f, nil
}

// Describe returns what the catalogue found (for the audit): the database
// encoding, each parameter's type as the server infers it, and whether the
// database has a nondeterministic collation. f must be this engine's.
func Describe(f engine.Facts) (encoding string, params []string, numeric []bool, nondeterministic bool) {
	ff := factsOf(f)
	for _, p := range ff.params {
		params = append(params, p.name)
		numeric = append(numeric, p.numeric())
	}
	return ff.encoding, params, numeric, ff.nondeterministic
}
