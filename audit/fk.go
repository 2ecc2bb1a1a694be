package audit

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// ForeignKey is one foreign key constraint, as information_schema gives it.
// A conversion cannot change a column a foreign key uses (MariaDB error
// 1832/1833, whatever FOREIGN_KEY_CHECKS says), so the fix drops the
// constraints that tie the converted tables together first and adds them
// back last.
type ForeignKey struct {
	Schema     string   `json:"schema"`
	Table      string   `json:"table"`
	Name       string   `json:"name"`
	Columns    []string `json:"columns"`
	RefSchema  string   `json:"ref_schema"`
	RefTable   string   `json:"ref_table"`
	RefColumns []string `json:"ref_columns"`
	OnUpdate   string   `json:"on_update"`
	OnDelete   string   `json:"on_delete"`
	// Textual is true when its columns hold text: then both tables must be
	// converted together (the columns must keep one collation).
	Textual bool `json:"textual"`
}

// String is "dkim(domain_name) -> domain(domain)".
func (f *ForeignKey) String() string {
	ref := f.RefTable
	if f.RefSchema != f.Schema {
		ref = f.RefSchema + "." + ref
	}
	return fmt.Sprintf("%s(%s) -> %s(%s)", f.Table, strings.Join(f.Columns, ", "), ref, strings.Join(f.RefColumns, ", "))
}

// drop is the statement that drops the constraint.
func (f *ForeignKey) drop() string {
	return fmt.Sprintf("ALTER TABLE %s.%s DROP FOREIGN KEY %s;", quoteIdent(f.Schema), quoteIdent(f.Table), quoteIdent(f.Name))
}

// add is the statement that adds the constraint back as it was.
func (f *ForeignKey) add() string {
	return fmt.Sprintf("ALTER TABLE %s.%s ADD CONSTRAINT %s FOREIGN KEY (%s) REFERENCES %s.%s (%s) ON DELETE %s ON UPDATE %s;",
		quoteIdent(f.Schema), quoteIdent(f.Table), quoteIdent(f.Name), quoteList(f.Columns),
		quoteIdent(f.RefSchema), quoteIdent(f.RefTable), quoteList(f.RefColumns), f.OnDelete, f.OnUpdate)
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = quoteIdent(n)
	}
	return strings.Join(q, ", ")
}

// loadForeignKeys reads every foreign key that starts or ends in schema,
// from information_schema and from SHOW CREATE TABLE of each of its
// tables: MariaDB hides foreign keys from information_schema for an
// account with only SELECT, the kind a .cf file names, but shows them in
// SHOW CREATE TABLE. Textual is filled in from the referencing columns.
func loadForeignKeys(ctx context.Context, db *sql.DB, schema string, tables map[string]*tableMeta) ([]*ForeignKey, error) {
	fks, err := infoSchemaForeignKeys(ctx, db, schema)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, f := range fks {
		seen[f.Schema+"."+f.Table+"."+f.Name] = true
	}
	names := make([]string, 0, len(tables))
	for n := range tables {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		more, err := showCreateForeignKeys(ctx, db, tables[n])
		if err != nil {
			return nil, err
		}
		for _, f := range more {
			if !seen[f.Schema+"."+f.Table+"."+f.Name] {
				seen[f.Schema+"."+f.Table+"."+f.Name] = true
				fks = append(fks, f)
			}
		}
	}
	for _, f := range fks {
		if t := tables[f.Table]; t != nil && f.Schema == schema {
			for _, cn := range f.Columns {
				if c := t.col(cn); c != nil && c.textual() {
					f.Textual = true
				}
			}
		}
	}
	return fks, nil
}

// constraintRe matches a foreign key line of SHOW CREATE TABLE.
var constraintRe = regexp.MustCompile("CONSTRAINT `((?:[^`]|``)+)` FOREIGN KEY \\(([^)]*)\\) REFERENCES (?:`((?:[^`]|``)+)`\\.)?`((?:[^`]|``)+)` \\(([^)]*)\\)" +
	"(?: ON DELETE (RESTRICT|CASCADE|SET NULL|NO ACTION|SET DEFAULT))?(?: ON UPDATE (RESTRICT|CASCADE|SET NULL|NO ACTION|SET DEFAULT))?")

// showCreateForeignKeys reads the foreign keys of one table from SHOW
// CREATE TABLE.
func showCreateForeignKeys(ctx context.Context, db *sql.DB, t *tableMeta) ([]*ForeignKey, error) {
	var name, ddl string
	if err := runRow(ctx, db, "SHOW CREATE TABLE "+t.qualified(), &name, &ddl); err != nil {
		return nil, fmt.Errorf("SHOW CREATE TABLE %s.%s: %w", t.schema, t.name, err)
	}
	var out []*ForeignKey
	for _, m := range constraintRe.FindAllStringSubmatch(ddl, -1) {
		f := &ForeignKey{Schema: t.schema, Table: t.name, Name: unquoteIdent(m[1]), Columns: identList(m[2]),
			RefSchema: unquoteIdent(m[3]), RefTable: unquoteIdent(m[4]), RefColumns: identList(m[5]),
			OnDelete: m[6], OnUpdate: m[7]}
		if f.RefSchema == "" {
			f.RefSchema = t.schema
		}
		if f.OnDelete == "" {
			f.OnDelete = "RESTRICT"
		}
		if f.OnUpdate == "" {
			f.OnUpdate = "RESTRICT"
		}
		out = append(out, f)
	}
	return out, nil
}

func unquoteIdent(s string) string { return strings.ReplaceAll(s, "``", "`") }

// identList splits "`a`, `b`" into a, b.
func identList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		out = append(out, unquoteIdent(strings.TrimSuffix(strings.TrimPrefix(p, "`"), "`")))
	}
	return out
}

// infoSchemaForeignKeys reads the foreign keys information_schema shows.
func infoSchemaForeignKeys(ctx context.Context, db *sql.DB, schema string) ([]*ForeignKey, error) {
	q := `SELECT k.CONSTRAINT_SCHEMA, k.TABLE_NAME, k.CONSTRAINT_NAME, k.COLUMN_NAME,
 k.REFERENCED_TABLE_SCHEMA, k.REFERENCED_TABLE_NAME, k.REFERENCED_COLUMN_NAME, r.UPDATE_RULE, r.DELETE_RULE,
 IFNULL(c.CHARACTER_SET_NAME, '')
 FROM information_schema.KEY_COLUMN_USAGE k
 JOIN information_schema.REFERENTIAL_CONSTRAINTS r
  ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME AND r.TABLE_NAME = k.TABLE_NAME
 LEFT JOIN information_schema.COLUMNS c
  ON c.TABLE_SCHEMA = k.TABLE_SCHEMA AND c.TABLE_NAME = k.TABLE_NAME AND c.COLUMN_NAME = k.COLUMN_NAME
 WHERE k.REFERENCED_TABLE_NAME IS NOT NULL AND (k.TABLE_SCHEMA = ? OR k.REFERENCED_TABLE_SCHEMA = ?)
 ORDER BY k.CONSTRAINT_SCHEMA, k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION`
	var fks []*ForeignKey
	byName := map[string]*ForeignKey{}
	err := runRows(ctx, db, q, func(rows *sql.Rows) error {
		var s, t, n, col, rs, rt, rc, upd, del, cs string
		if err := rows.Scan(&s, &t, &n, &col, &rs, &rt, &rc, &upd, &del, &cs); err != nil {
			return err
		}
		k := s + "." + t + "." + n
		f := byName[k]
		if f == nil {
			f = &ForeignKey{Schema: s, Table: t, Name: n, RefSchema: rs, RefTable: rt, OnUpdate: upd, OnDelete: del}
			byName[k] = f
			fks = append(fks, f)
		}
		f.Columns = append(f.Columns, col)
		f.RefColumns = append(f.RefColumns, rc)
		if cs != "" {
			f.Textual = true
		}
		return nil
	}, schema, schema)
	if err != nil {
		return nil, fmt.Errorf("information_schema foreign keys: %w", err)
	}
	return fks, nil
}
