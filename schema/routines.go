package schema

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"mapgate/sqlshape"
)

// A placeholder bound alone to a stored procedure's parameter (CALL
// p(?), sqlshape.RoutineArg) meets no column: the server converts the
// value to the parameter's type, as for an assignment, before the body
// runs (MySQL manual, "CALL Statement" and "CREATE PROCEDURE": "the
// parameter ... is assigned the value"). In strict sql_mode a value the
// parameter cannot hold (a character outside its character set, more
// characters than its length, trailing spaces aside) fails the CALL with
// 1366 or 1406 and nothing of the body has run; without strict mode the
// value is cut or its characters replaced, with a warning, and the body runs
// with a key that is not the one asked. Either way no answer to that call
// is about the key: the lookup core answers it as a miss without calling.
//
// information_schema.PARAMETERS describes the parameter
// (CHARACTER_SET_NAME, COLLATION_NAME, CHARACTER_MAXIMUM_LENGTH,
// DATA_TYPE), and shows a routine's parameters to an account that may
// execute it.

// routineKey names a procedure as information_schema does.
type routineKey struct{ schema, name string }

// routineParams holds a procedure's IN and INOUT parameters by position.
type routineParams map[int]*ColumnInfo

// DiscoverParameters resolves, in place, the uses of pcs (from
// DiscoverColumns) that are bound to a procedure's parameter, through
// information_schema.PARAMETERS; the others are left as they are. A
// parameter not found (or not visible to the account) leaves its use
// Known=false. The lookup core's catalogue (MySQL.Columns) calls it; the
// audit does not (yet): it reads tables only.
func DiscoverParameters(ctx context.Context, db *sql.DB, dbname string, pcs []ParamColumns) error {
	any := false
	for _, pc := range pcs {
		any = any || pc.Routine != nil
	}
	if !any {
		return nil
	}
	if dbname == "" {
		var cur sql.NullString
		if err := db.QueryRowContext(ctx, "SELECT DATABASE()").Scan(&cur); err != nil {
			return fmt.Errorf("parameter discovery: %w", err)
		}
		dbname = cur.String
	}
	want := map[routineKey]bool{}
	for _, pc := range pcs {
		if u := pc.ParamUse; u.Routine != nil {
			want[routineKey{qualify(dbname, sqlshape.ColumnRef{Schema: u.Routine.Schema}).Schema, u.Routine.Name}] = true
		}
	}
	procs, err := loadRoutines(ctx, db, want)
	if err != nil {
		return err
	}
	for i := range pcs {
		u := pcs[i].ParamUse
		if u.Routine == nil {
			continue
		}
		k := routineKey{qualify(dbname, sqlshape.ColumnRef{Schema: u.Routine.Schema}).Schema, u.Routine.Name}
		ci := findRoutine(procs, k)[u.Routine.Position]
		if ci == nil {
			continue // Known stays false, with sqlshape's Why
		}
		pc := ParamColumns{ParamUse: u}
		pc.Columns, pc.Infos = []sqlshape.ColumnRef{ci.ColumnRef}, []ColumnInfo{*ci}
		// Alone, assigned: the length rule holds whatever the collation
		// (ColumnInfo.Routine), and a value the parameter cannot hold
		// means no answer for the key at all.
		pc.Known, pc.Why, pc.NeedsDB, pc.Direct, pc.Role = true, "", false, true, sqlshape.RoleRequired
		pcs[i] = pc
	}
	return nil
}

// findRoutine finds a procedure by exact name, then ignoring case (routine
// names are not case-sensitive).
func findRoutine(procs map[routineKey]routineParams, k routineKey) routineParams {
	if p, ok := procs[k]; ok {
		return p
	}
	for pk, p := range procs {
		if strings.EqualFold(pk.schema, k.schema) && strings.EqualFold(pk.name, k.name) {
			return p
		}
	}
	return nil
}

const routineParamsQuery = `SELECT SPECIFIC_SCHEMA, SPECIFIC_NAME, ORDINAL_POSITION, PARAMETER_NAME, DATA_TYPE,
 CHARACTER_SET_NAME, COLLATION_NAME, CHARACTER_MAXIMUM_LENGTH
 FROM information_schema.PARAMETERS
 WHERE ROUTINE_TYPE = 'PROCEDURE' AND PARAMETER_MODE IN ('IN', 'INOUT') AND `

// loadRoutines reads the IN and INOUT parameters of the wanted procedures.
func loadRoutines(ctx context.Context, db *sql.DB, want map[routineKey]bool) (map[routineKey]routineParams, error) {
	var cond []string
	var args []any
	for k := range want {
		if !validIdent(k.schema) || !validIdent(k.name) {
			continue
		}
		cond = append(cond, "(SPECIFIC_SCHEMA = ? AND SPECIFIC_NAME = ?)")
		args = append(args, k.schema, k.name)
	}
	procs := map[routineKey]routineParams{}
	if len(cond) == 0 {
		return procs, nil
	}
	rows, err := db.QueryContext(ctx, routineParamsQuery+"("+strings.Join(cond, " OR ")+")", args...)
	if err != nil {
		return nil, fmt.Errorf("parameter discovery: information_schema.PARAMETERS: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		ci, pos, err := scanParam(rows)
		if err != nil {
			return nil, fmt.Errorf("parameter discovery: information_schema.PARAMETERS: %w", err)
		}
		k := routineKey{ci.Schema, ci.Table}
		if procs[k] == nil {
			procs[k] = routineParams{}
		}
		procs[k][pos] = ci
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("parameter discovery: information_schema.PARAMETERS: %w", err)
	}
	return procs, nil
}

func scanParam(rows *sql.Rows) (*ColumnInfo, int, error) {
	ci := &ColumnInfo{Routine: true}
	var pos int
	var name, cs, coll sql.NullString
	var maxLen sql.NullInt64
	if err := rows.Scan(&ci.Schema, &ci.Table, &pos, &name, &ci.DataType, &cs, &coll, &maxLen); err != nil {
		return nil, 0, err
	}
	ci.Column, ci.Charset, ci.Collation = name.String, cs.String, coll.String
	if maxLen.Valid && maxLen.Int64 > 0 && maxLen.Int64 <= int64(^uint32(0)) {
		ci.MaxChars = int(maxLen.Int64)
	}
	return ci, pos, nil
}

// routinesUnchanged is ColumnsUnchanged for procedure parameters: each
// still exists with the same data type, character set, collation and
// length.
func routinesUnchanged(ctx context.Context, db *sql.DB, infos []ColumnInfo) (bool, error) {
	want := map[routineKey]bool{}
	for _, ci := range infos {
		want[routineKey{ci.Schema, ci.Table}] = true
	}
	procs, err := loadRoutines(ctx, db, want)
	if err != nil {
		return false, err
	}
	for _, w := range infos {
		var got *ColumnInfo
		for _, ci := range procs[routineKey{w.Schema, w.Table}] {
			if ci.Column == w.Column {
				got = ci
			}
		}
		if got == nil || !strings.EqualFold(w.DataType, got.DataType) || !strings.EqualFold(w.Charset, got.Charset) ||
			!strings.EqualFold(w.Collation, got.Collation) || w.MaxChars != got.MaxChars {
			return false, nil
		}
	}
	return true, nil
}
