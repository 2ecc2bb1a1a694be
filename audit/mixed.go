package audit

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"mapgate/schema"
	"mapgate/sqlshape"
)

// MixedPair is two columns a query names that the server cannot compare
// with each other (error 1267): a join between them fails for every key.
type MixedPair struct {
	A      Column `json:"a"`
	B      Column `json:"b"`
	Server string `json:"server"`
}

// String is "alias.address (latin1_swedish_ci) and fwd.address (latin1_general_ci)".
func (m MixedPair) String() string {
	return fmt.Sprintf("%s (%s) and %s (%s)", m.A.Name(), m.A.Collation, m.B.Name(), m.B.Collation)
}

// comparedColumns finds, for each place the query names a column of one
// of its tables, the columns it is compared with: the place is wrapped as
// CONCAT(?, place) and mapgate's own column discovery says which columns
// that new parameter meets (the column itself, and those of the same
// comparison or string expression).
func (a *auditor) comparedColumns(ctx context.Context, db *sql.DB, host, database, query string) ([][]schema.ColumnInfo, error) {
	names := map[string]bool{}
	for _, name := range sqlshape.Tables(query) {
		schema, table := database, name
		if i := strings.IndexByte(name, '.'); i >= 0 {
			schema, table = name[:i], name[i+1:]
		}
		t, err := a.table(ctx, db, host, schema, table)
		if err != nil {
			return nil, err
		}
		if t == nil {
			continue
		}
		for _, c := range t.cols {
			if c.textual() {
				names[strings.ToLower(c.name)] = true
			}
		}
	}
	var sets [][]schema.ColumnInfo
	for _, r := range sqlshape.ColumnSpans(query) {
		if !names[r.Name] {
			continue
		}
		probe := query[:r.Start] + "CONCAT(?, " + query[r.Start:r.End] + ")" + query[r.End:]
		pcs, err := schema.DiscoverColumns(ctx, db, database, probe)
		if err != nil {
			return nil, err
		}
		if r.Params < len(pcs) && pcs[r.Params].Known && len(pcs[r.Params].Infos) > 1 {
			sets = append(sets, pcs[r.Params].Infos)
		}
	}
	return sets, nil
}

// mixedPairs finds the columns the query compares with each other that the
// server cannot compare: every pair of text columns of different
// collations met in one comparison is tried with EXPLAIN (the server
// refuses such a comparison while preparing it).
func (a *auditor) mixedPairs(ctx context.Context, db *sql.DB, host, database, query string) ([]MixedPair, error) {
	sets, err := a.comparedColumns(ctx, db, host, database, query)
	if err != nil {
		return nil, err
	}
	var out []MixedPair
	tried := map[string]bool{}
	for _, set := range sets {
		for i, x := range set {
			for _, y := range set[i+1:] {
				if x.Collation == "" || y.Collation == "" || strings.EqualFold(x.Collation, y.Collation) {
					continue
				}
				key := x.ColumnRef.String() + "|" + y.ColumnRef.String()
				if y.ColumnRef.String() < x.ColumnRef.String() {
					key = y.ColumnRef.String() + "|" + x.ColumnRef.String()
				}
				if tried[key] {
					continue
				}
				tried[key] = true
				q := fmt.Sprintf("EXPLAIN SELECT 1 FROM %s.%s AS a, %s.%s AS b WHERE a.%s = b.%s",
					quoteIdent(x.Schema), quoteIdent(x.Table), quoteIdent(y.Schema), quoteIdent(y.Table), quoteIdent(x.Column), quoteIdent(y.Column))
				p := &Probe{}
				if err := p.verdict(runRows(ctx, db, q, func(*sql.Rows) error { return nil }), false); err != nil {
					return nil, err
				}
				if p.Breaks {
					a, b := infoColumn(x), infoColumn(y)
					if b.Name() < a.Name() {
						a, b = b, a
					}
					out = append(out, MixedPair{A: a, B: b, Server: p.Server})
				}
			}
		}
	}
	return out, nil
}

func infoColumn(ci schema.ColumnInfo) Column {
	return Column{Schema: ci.Schema, Table: ci.Table, Column: ci.Column, Type: ci.DataType, Charset: ci.Charset,
		Collation: ci.Collation, MaxChars: ci.MaxChars, Indexed: ci.Indexed}
}
