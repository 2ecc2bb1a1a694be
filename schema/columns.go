// Package schema is MySQL's catalogue as mapgate reads it: what
// information_schema (MySQL manual, "INFORMATION_SCHEMA COLUMNS" and
// "STATISTICS") says about the columns sqlshape.ParamUses found, and
// whether they are still so. Discovery runs once per map at start-up (and
// for the audit) with the map's own, read-only account: information_schema
// shows that account the tables it may SELECT from, which are the tables
// its query can use. The lookup core reaches it through the MySQL engine
// (mapgate/engine/mysql).
package schema

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"unicode/utf8"

	"mapgate/sqlshape"
)

// ColumnInfo is what information_schema says about a column.
type ColumnInfo struct {
	sqlshape.ColumnRef        // Schema, Table and Column as the server spells them
	DataType           string // DATA_TYPE, e.g. "varchar", "text", "int"
	// Charset and Collation of a text column; "" for other columns,
	// binary strings included.
	Charset, Collation string
	// MaxChars is CHARACTER_MAXIMUM_LENGTH, 0 if none.
	MaxChars int
	// Indexed is true when the column is the first column of some index.
	Indexed bool
	// Routine: not a column but a stored procedure's parameter (Table is
	// the procedure's name, Column the parameter's), from
	// information_schema.PARAMETERS. The value is assigned to it, not
	// compared, so its length counts whatever the collation (routines.go).
	Routine bool
}

// ParamColumns is a ParamUse with its columns resolved.
type ParamColumns struct {
	sqlshape.ParamUse
	// Infos are the resolved columns, in the order of Columns. Nil when
	// Known is false: a table or column missing from information_schema
	// (or not visible to the account) makes the use Known=false with Why.
	Infos []ColumnInfo
	// Expansion is a label for String, set by the caller: the template
	// expansion bound to the parameter, e.g. "%s". May be empty.
	Expansion string
}

// String renders a one-line summary for the start-up log, e.g.
//
//	param 1 (%s) = postfix.alias.address latin1/latin1_general_ci len 255 indexed
func (p ParamColumns) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "param %d", p.Index)
	if p.Expansion != "" {
		fmt.Fprintf(&b, " (%s)", p.Expansion)
	}
	if !p.Known {
		fmt.Fprintf(&b, " unknown: %s", p.Why)
		return b.String()
	}
	if p.Op != "" {
		b.WriteString(" " + p.Op)
	}
	if len(p.Infos) == 0 {
		b.WriteString(" no column")
		return b.String()
	}
	for i, ci := range p.Infos {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(" " + ci.ColumnRef.String())
		if ci.Charset != "" {
			fmt.Fprintf(&b, " %s/%s", ci.Charset, ci.Collation)
		} else {
			b.WriteString(" " + ci.DataType)
		}
		if ci.MaxChars > 0 {
			fmt.Fprintf(&b, " len %d", ci.MaxChars)
		}
		if ci.Indexed {
			b.WriteString(" indexed")
		}
	}
	return b.String()
}

// tableKey names a table as information_schema does.
type tableKey struct{ schema, table string }

// tableColumns holds the columns of one table, by lower-cased name.
type tableColumns map[string]*ColumnInfo

// DiscoverColumns resolves the columns of every parameter of sqlText (see
// ParamUses) through information_schema.COLUMNS and STATISTICS. dbname is
// the database of the connection (mysql_table's dbname); "" asks the
// server (SELECT DATABASE()). A table or column that does not exist or is
// not visible to the account makes that parameter Known=false with Why; the
// error return is for failed queries only.
func DiscoverColumns(ctx context.Context, db *sql.DB, dbname, sqlText string) ([]ParamColumns, error) {
	uses := sqlshape.ParamUses(sqlText)
	out := make([]ParamColumns, len(uses))
	// Which tables are needed?
	want := map[tableKey]bool{}
	need := func(r sqlshape.ColumnRef) {
		if r.Table != "" {
			want[tableKey{r.Schema, r.Table}] = true
		}
	}
	for _, u := range uses {
		if !u.Known && !u.NeedsDB {
			continue
		}
		for _, c := range u.Columns {
			need(c)
		}
		for _, pc := range u.Pending {
			for _, lv := range pc.Levels {
				for _, c := range lv {
					need(c)
				}
			}
		}
	}
	if dbname == "" && len(want) > 0 {
		var cur sql.NullString
		if err := db.QueryRowContext(ctx, "SELECT DATABASE()").Scan(&cur); err != nil {
			return nil, fmt.Errorf("column discovery: %w", err)
		}
		dbname = cur.String
	}
	tables, err := loadColumns(ctx, db, dbname, want)
	if err != nil {
		return nil, err
	}
	for i, u := range uses {
		out[i] = resolveUse(u, dbname, tables)
	}
	return out, nil
}

// resolveUse places pending columns and attaches column information.
func resolveUse(u sqlshape.ParamUse, dbname string, tables map[tableKey]tableColumns) ParamColumns {
	pc := ParamColumns{ParamUse: u}
	if !u.Known && !u.NeedsDB {
		return pc
	}
	cols := append([]sqlshape.ColumnRef(nil), u.Columns...)
	fail := func(format string, args ...any) ParamColumns {
		pc.Known, pc.Why, pc.Direct, pc.Infos = false, fmt.Sprintf(format, args...), false, nil
		return pc
	}
	for _, p := range u.Pending {
		var placed *sqlshape.ColumnRef
	levels:
		for _, lv := range p.Levels {
			var hits []sqlshape.ColumnRef
			for _, cand := range lv {
				tc, ok := findTable(tables, dbname, cand)
				if !ok {
					return fail("table %s not found (or not visible to this account)", tableName(qualify(dbname, cand)))
				}
				if tc[strings.ToLower(cand.Column)] != nil {
					hits = append(hits, cand)
				}
			}
			switch len(hits) {
			case 0:
				continue
			case 1:
				placed = &hits[0]
			default:
				var names []string
				for _, h := range hits {
					names = append(names, h.Table)
				}
				return fail("unqualified column %s is ambiguous: it is in %s", p.Levels[0][0].Column, strings.Join(names, ", "))
			}
			break levels
		}
		if placed == nil {
			return fail("column %s not found in any table of the query (or not visible to this account)", cols[p.Index].Column)
		}
		cols[p.Index] = *placed
	}
	infos := make([]ColumnInfo, len(cols))
	for i, c := range cols {
		tc, ok := findTable(tables, dbname, c)
		if !ok {
			return fail("table %s not found (or not visible to this account)", tableName(qualify(dbname, c)))
		}
		ci := tc[strings.ToLower(c.Column)]
		if ci == nil {
			return fail("column %s not found (or not visible to this account)", qualify(dbname, c).String())
		}
		infos[i] = *ci
		cols[i] = ci.ColumnRef
	}
	pc.Columns, pc.Infos = cols, infos
	pc.Known, pc.Why, pc.Pending, pc.NeedsDB = true, "", nil, false
	return pc
}

func qualify(dbname string, c sqlshape.ColumnRef) sqlshape.ColumnRef {
	if c.Schema == "" {
		c.Schema = dbname
	}
	return c
}

// tableName renders c's schema.table.
func tableName(c sqlshape.ColumnRef) string {
	return sqlshape.ColumnRef{Schema: c.Schema, Table: c.Table}.String()
}

// findTable finds a table: by exact name first, then ignoring case when
// exactly one table matches that way (servers with lower_case_table_names).
func findTable(tables map[tableKey]tableColumns, dbname string, c sqlshape.ColumnRef) (tableColumns, bool) {
	c = qualify(dbname, c)
	if tc, ok := tables[tableKey{c.Schema, c.Table}]; ok {
		return tc, true
	}
	var found tableColumns
	n := 0
	for k, tc := range tables {
		if strings.EqualFold(k.schema, c.Schema) && strings.EqualFold(k.table, c.Table) {
			found = tc
			n++
		}
	}
	return found, n == 1
}

// validIdent reports whether s can name a MySQL object: identifiers are
// utf8mb3, so a name that is not, cannot exist (and comparing it with
// information_schema's utf8mb3 columns would fail with error 1267).
func validIdent(s string) bool {
	if s == "" || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r > 0xFFFF || r == 0 {
			return false
		}
	}
	return true
}

// loadColumns reads the columns and first index columns of the wanted
// tables, grouped by schema.
func loadColumns(ctx context.Context, db *sql.DB, dbname string, want map[tableKey]bool) (map[tableKey]tableColumns, error) {
	bySchema := map[string][]string{}
	for k := range want {
		k = tableKey{qualify(dbname, sqlshape.ColumnRef{Schema: k.schema}).Schema, k.table}
		if !validIdent(k.schema) || !validIdent(k.table) {
			continue
		}
		bySchema[k.schema] = append(bySchema[k.schema], k.table)
	}
	tables := map[tableKey]tableColumns{}
	for schema, names := range bySchema {
		in := "?" + strings.Repeat(",?", len(names)-1)
		args := []any{schema}
		for _, n := range names {
			args = append(args, n)
		}
		rows, err := db.QueryContext(ctx, `SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, DATA_TYPE,
 CHARACTER_SET_NAME, COLLATION_NAME, CHARACTER_MAXIMUM_LENGTH
 FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME IN (`+in+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("column discovery: information_schema.COLUMNS: %w", err)
		}
		for rows.Next() {
			var ci ColumnInfo
			var cs, coll sql.NullString
			var maxLen sql.NullInt64
			if err := rows.Scan(&ci.Schema, &ci.Table, &ci.Column, &ci.DataType, &cs, &coll, &maxLen); err != nil {
				rows.Close()
				return nil, fmt.Errorf("column discovery: information_schema.COLUMNS: %w", err)
			}
			ci.Charset, ci.Collation = cs.String, coll.String
			if maxLen.Valid && maxLen.Int64 > 0 && maxLen.Int64 <= int64(^uint32(0)) {
				ci.MaxChars = int(maxLen.Int64)
			}
			k := tableKey{ci.Schema, ci.Table}
			if tables[k] == nil {
				tables[k] = tableColumns{}
			}
			tables[k][strings.ToLower(ci.Column)] = &ci
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("column discovery: information_schema.COLUMNS: %w", err)
		}

		rows, err = db.QueryContext(ctx, `SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME
 FROM information_schema.STATISTICS WHERE SEQ_IN_INDEX = 1 AND TABLE_SCHEMA = ? AND TABLE_NAME IN (`+in+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("column discovery: information_schema.STATISTICS: %w", err)
		}
		for rows.Next() {
			var s, t, c string
			if err := rows.Scan(&s, &t, &c); err != nil {
				rows.Close()
				return nil, fmt.Errorf("column discovery: information_schema.STATISTICS: %w", err)
			}
			if ci := tables[tableKey{s, t}][strings.ToLower(c)]; ci != nil {
				ci.Indexed = true
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("column discovery: information_schema.STATISTICS: %w", err)
		}
	}
	return tables, nil
}

// ConnectionCharset returns the character set and collation a connection
// of db gives a string literal or a bound parameter (SELECT
// @@character_set_connection, @@collation_connection), for the audit and
// the logs.
func ConnectionCharset(ctx context.Context, db *sql.DB) (charset, collation string, err error) {
	err = db.QueryRowContext(ctx, "SELECT @@character_set_connection, @@collation_connection").Scan(&charset, &collation)
	if err != nil {
		return "", "", fmt.Errorf("connection charset: %w", err)
	}
	return charset, collation, nil
}

// ColumnsUnchanged reports whether every column in infos still has the
// data type, character set, collation and length they record, with one
// query on information_schema.COLUMNS.
func ColumnsUnchanged(ctx context.Context, db *sql.DB, infos []ColumnInfo) (bool, error) {
	var params, cols []ColumnInfo
	for _, ci := range infos {
		if ci.Routine {
			params = append(params, ci)
		} else {
			cols = append(cols, ci)
		}
	}
	infos = cols
	if len(params) > 0 {
		if ok, err := routinesUnchanged(ctx, db, params); !ok || err != nil {
			return ok, err
		}
	}
	if len(infos) == 0 {
		return true, nil
	}
	var cond []string
	var args []any
	want := map[string]ColumnInfo{}
	for _, ci := range infos {
		k := strings.ToLower(ci.Schema + "\x00" + ci.Table + "\x00" + ci.Column)
		if _, dup := want[k]; dup {
			continue
		}
		want[k] = ci
		cond = append(cond, "(TABLE_SCHEMA = ? AND TABLE_NAME = ? AND COLUMN_NAME = ?)")
		args = append(args, ci.Schema, ci.Table, ci.Column)
	}
	rows, err := db.QueryContext(ctx, `SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, DATA_TYPE,
 CHARACTER_SET_NAME, COLLATION_NAME, CHARACTER_MAXIMUM_LENGTH
 FROM information_schema.COLUMNS WHERE `+strings.Join(cond, " OR "), args...)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	seen := 0
	for rows.Next() {
		var ci ColumnInfo
		var cs, coll sql.NullString
		var maxLen sql.NullInt64
		if err := rows.Scan(&ci.Schema, &ci.Table, &ci.Column, &ci.DataType, &cs, &coll, &maxLen); err != nil {
			return false, err
		}
		w, ok := want[strings.ToLower(ci.Schema+"\x00"+ci.Table+"\x00"+ci.Column)]
		if !ok {
			continue
		}
		seen++
		if !strings.EqualFold(w.DataType, ci.DataType) || !strings.EqualFold(w.Charset, cs.String) ||
			!strings.EqualFold(w.Collation, coll.String) || int64(w.MaxChars) != maxLen.Int64 && w.MaxChars != 0 {
			return false, nil
		}
	}
	if err := rows.Err(); err != nil {
		return false, err
	}
	return seen == len(want), nil
}
