package audit

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// The preflight changes nothing. The audit runs its part read-only, with
// the .cf file's account; the part that depends on who runs the
// statements (privileges) and on data written since is SQL at the head of
// the group's statements, which stops the mysql client with a message
// (SIGNAL) before the first change.

// preflight fills g.Checks, g.Ready and g.Preflight.
func (a *auditor) preflight(ctx context.Context, db *sql.DB, g *FixGroup, convert []*want) error {
	var stops []string // SQL conditions, each with its message
	g.Checks = append(g.Checks, fkCheck(g))
	stops = append(stops, a.fkStop(g, convert))

	collide, err := collisions(ctx, db, convert, g.Collation)
	if err != nil {
		return err
	}
	if len(collide) == 0 {
		g.Checks = append(g.Checks, Check{"duplicate_keys", true, fmt.Sprintf("No two rows of a unique key become equal under %s.", g.Collation)})
	}
	for _, c := range collide {
		g.Checks = append(g.Checks, Check{"duplicate_keys", false, c.text(g.Collation)})
	}
	for _, w := range convert {
		for _, u := range uniqueTextIndexes(w.t) {
			stops = append(stops, fmt.Sprintf("IF((SELECT COUNT(*) FROM (SELECT 1 FROM %s GROUP BY %s HAVING COUNT(*) > 1) d) > 0, '%s.%s: keys of %s collide under %s', NULL)",
				w.t.qualified(), groupExprs(w.t, u.cols, g.Collation), w.t.schema, w.t.name, u.name, g.Collation))
		}
	}

	merged, err := mergedKeyValues(ctx, db, convert, g.Collation)
	if err != nil {
		return err
	}
	if len(merged) == 0 {
		g.Checks = append(g.Checks, Check{"key_values", true, fmt.Sprintf("No two values of a key column that differ now become equal under %s.", g.Collation)})
	}
	for _, m := range merged {
		g.Checks = append(g.Checks, Check{"key_values", false, m.mergeText(g.Collation)})
	}

	g.Checks = append(g.Checks, answersCheck(g))

	long := indexLengthProblems(convert)
	if len(long) == 0 {
		g.Checks = append(g.Checks, Check{"index_length", true, "Every index fits InnoDB's limits in utf8mb4."})
	}
	for _, l := range long {
		g.Checks = append(g.Checks, Check{"index_length", false, l})
	}

	g.Checks = append(g.Checks, collationCheck(g))
	g.Checks = append(g.Checks, Check{"privileges", true,
		"Checked when the statements run: the account running them needs ALTER, CREATE and INSERT on each table" +
			map[bool]string{true: ", and REFERENCES for the foreign keys.", false: "."}[len(g.ForeignKeys) > 0]})
	privs := []string{"ALTER", "CREATE", "INSERT"}
	if len(g.ForeignKeys) > 0 {
		privs = append(privs, "REFERENCES")
	}
	for _, w := range convert {
		stops = append(stops, fmt.Sprintf("IF(%s < %d, '%s.%s: needs %s', NULL)", privilegeCount(privs, w.t.schema, w.t.name), len(privs),
			w.t.schema, w.t.name, strings.Join(privs, ", ")))
	}

	g.Ready, g.Verdict = true, "ready"
	var failed []string
	for _, c := range g.Checks {
		if !c.OK {
			g.Ready = false
			failed = append(failed, c.Name)
		}
	}
	switch {
	case len(failed) == 1 && failed[0] == "answers":
		// Some answers change: the admin reviews the pairs and may accept
		// them explicitly.
		// Last, so that a precondition failing as well is named first.
		g.Verdict = "review"
		stops = append(stops, fmt.Sprintf("IF(IFNULL(@mapgate_review, '') <> 'accept', %s, NULL)",
			sqlString("answers change under "+g.Collation+" (see the audit); SET @mapgate_review = 'accept' to convert anyway")))
	case len(failed) > 0:
		// Found by the audit already: stop unconditionally.
		g.Verdict = "not_ready"
		stops = append([]string{sqlString("the audit's preflight failed (" + strings.Join(failed, ", ") + ")")}, stops...)
	}
	g.Preflight = stopStatements(stops)
	return nil
}

// stopStatements is the SQL that stops the mysql client with the first
// messages of the conditions that hold (SIGNAL 45000), and does nothing
// otherwise.
func stopStatements(conds []string) []string {
	return []string{
		"SET @mapgate_me = CONCAT(QUOTE(SUBSTRING_INDEX(CURRENT_USER(), '@', 1)), '@', QUOTE(SUBSTRING_INDEX(CURRENT_USER(), '@', -1)));",
		"SET @mapgate_stop = CONCAT_WS('; ',\n  " + strings.Join(conds, ",\n  ") + ");",
		"SET @mapgate_stop = IF(@mapgate_stop IS NULL OR @mapgate_stop = '', 'DO 0', CONCAT('SIGNAL SQLSTATE ''45000'' SET MESSAGE_TEXT = ', QUOTE(LEFT(CONCAT('mapgate preflight: ', @mapgate_stop), 128))));",
		"PREPARE mapgate_stop FROM @mapgate_stop;",
		"EXECUTE mapgate_stop;",
		"DEALLOCATE PREPARE mapgate_stop;",
	}
}

// privilegeCount is an SQL expression: how many of privs the account
// running the statements holds on the table, globally, on its schema or on
// the table (roles are not looked at). @mapgate_me is its GRANTEE.
func privilegeCount(privs []string, schema, table string) string {
	var in []string
	for _, p := range privs {
		in = append(in, sqlString(p))
	}
	return fmt.Sprintf("(SELECT COUNT(DISTINCT PRIVILEGE_TYPE) FROM ("+
		"SELECT PRIVILEGE_TYPE FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = @mapgate_me"+
		" UNION ALL SELECT PRIVILEGE_TYPE FROM information_schema.SCHEMA_PRIVILEGES WHERE GRANTEE = @mapgate_me AND %[1]s LIKE TABLE_SCHEMA"+
		" UNION ALL SELECT PRIVILEGE_TYPE FROM information_schema.TABLE_PRIVILEGES WHERE GRANTEE = @mapgate_me AND TABLE_SCHEMA = %[1]s AND TABLE_NAME = %[2]s"+
		") p WHERE PRIVILEGE_TYPE IN (%[3]s))", sqlString(schema), sqlString(table), strings.Join(in, ", "))
}

// fkCheck describes the foreign keys of a group.
func fkCheck(g *FixGroup) Check {
	if len(g.ForeignKeys) == 0 {
		return Check{"foreign_keys", true, "No foreign key uses a text column of these tables."}
	}
	var names []string
	for _, f := range g.ForeignKeys {
		names = append(names, f.String())
	}
	return Check{"foreign_keys", true, fmt.Sprintf("%d foreign %s over text columns: %s. %s dropped before the conversion and added back after it.",
		len(names), plural(len(names), "key", "keys"), strings.Join(names, ", "), map[bool]string{true: "It is", false: "They are"}[len(names) == 1])}
}

// fkStop is the SQL condition "the foreign keys over text columns on the
// group's tables are not as many as the audit saw" (changed since, or
// hidden from the audit's account).
func (a *auditor) fkStop(g *FixGroup, convert []*want) string {
	var tables []string
	for _, w := range convert {
		tables = append(tables, fmt.Sprintf("(k.TABLE_SCHEMA = %s AND k.TABLE_NAME = %s) OR (k.REFERENCED_TABLE_SCHEMA = %s AND k.REFERENCED_TABLE_NAME = %s)",
			sqlString(w.t.schema), sqlString(w.t.name), sqlString(w.t.schema), sqlString(w.t.name)))
	}
	n := 0
	for _, f := range a.fks {
		for _, w := range convert {
			if (f.Schema == w.t.schema && f.Table == w.t.name) || (f.RefSchema == w.t.schema && f.RefTable == w.t.name) {
				n++
				break
			}
		}
	}
	// Non-textual keys are not dropped and need not be counted.
	return fmt.Sprintf("IF((SELECT COUNT(DISTINCT k.CONSTRAINT_SCHEMA, k.TABLE_NAME, k.CONSTRAINT_NAME) FROM information_schema.KEY_COLUMN_USAGE k JOIN information_schema.COLUMNS c ON c.TABLE_SCHEMA = k.TABLE_SCHEMA AND c.TABLE_NAME = k.TABLE_NAME AND c.COLUMN_NAME = k.COLUMN_NAME WHERE k.REFERENCED_TABLE_NAME IS NOT NULL AND c.CHARACTER_SET_NAME IS NOT NULL AND (%s)) <> %d, 'the foreign keys on these tables are not the %d the audit saw: audit again with an account that sees them all', NULL)",
		strings.Join(tables, " OR "), n, n)
}

// answersCheck says whether the conversion changes the answer of some
// lookup (answers.go).
func answersCheck(g *FixGroup) Check {
	a := g.Answers
	if a == nil {
		return Check{"answers", false, "Not checked."}
	}
	if !a.changed() {
		text := fmt.Sprintf("No answer changes: %d stored key %s and %d keys derived from them (case, accents, expansions, ignorable characters, fullwidth forms) compare under %s as they do now.",
			a.Values, plural(a.Values, "value", "values"), a.Keys, g.Collation)
		if len(a.Notes) > 0 {
			text += " Not checked: " + strings.Join(a.Notes, "; ") + "."
		}
		return Check{"answers", true, text}
	}
	var parts []string
	if n := len(a.Changes); n > 0 {
		parts = append(parts, fmt.Sprintf("%d %s of %d change under %s (each listed below)", n, plural(n, "answer", "answers"), a.Keys, g.Collation))
	}
	if a.Merged > 0 {
		parts = append(parts, fmt.Sprintf("%d %s of stored values become equal (see key_values, duplicate_keys)", a.Merged, plural(a.Merged, "set", "sets")))
	}
	parts = append(parts, a.Unchecked...)
	return Check{"answers", false, "Lookups would find other rows than today: " + strings.Join(parts, "; ") +
		". Review them; no server collation keeps every answer."}
}

// collationCheck says what the group's collation changes.
func collationCheck(g *FixGroup) Check {
	var parts []string
	for _, ch := range g.Changes {
		if ch.Changes == 0 {
			parts = append(parts, fmt.Sprintf("%s compares every Latin-1 test pair as %s does", ch.To, ch.From))
			continue
		}
		parts = append(parts, fmt.Sprintf("%s compares %d Latin-1 test %s differently from %s; after the conversion %s", ch.To, ch.Changes,
			plural(ch.Changes, "pair", "pairs"), ch.From, strings.Join(ch.Examples[:min(8, len(ch.Examples))], ", ")))
	}
	return Check{"collation", true, strings.Join(parts, "; ") + "."}
}

// uniqueIndex is a unique index (or the primary key) with a text column.
type uniqueIndex struct {
	name string
	cols []string
}

func uniqueTextIndexes(t *tableMeta) []uniqueIndex {
	var out []uniqueIndex
	for _, in := range t.indexOrder {
		if !t.unique[in] {
			continue
		}
		text := false
		for _, cn := range t.indexes[in] {
			if c := t.col(cn); c != nil && c.textual() {
				text = true
			}
		}
		if text {
			out = append(out, uniqueIndex{in, t.indexes[in]})
		}
	}
	return out
}

// groupExprs are the GROUP BY expressions that compare cols as they will
// compare after the conversion. Double-encoded columns are read as the
// UTF-8 they hold.
func groupExprs(t *tableMeta, cols []string, collation string) string {
	var out []string
	for _, cn := range cols {
		c := t.col(cn)
		switch {
		case c == nil || !c.textual():
			out = append(out, quoteIdent(cn))
		case c.data != nil && (c.data.Case == DataDoubleEncoded || c.data.Case == DataMixed):
			out = append(out, fmt.Sprintf("CONVERT(CAST(%s AS BINARY) USING utf8mb4) COLLATE %s", quoteIdent(cn), collation))
		default:
			out = append(out, fmt.Sprintf("CONVERT(%s USING utf8mb4) COLLATE %s", quoteIdent(cn), collation))
		}
	}
	return strings.Join(out, ", ")
}

// collision is a set of rows a unique key cannot keep apart any more.
type collision struct {
	table, index string
	groups       int
	examples     []string
}

func (c collision) text(collation string) string {
	return fmt.Sprintf("%s: %d %s of rows of unique key %s become equal under %s, so the conversion would fail with a duplicate key: %s. Rename or remove one row of each before converting.",
		c.table, c.groups, plural(c.groups, "set", "sets"), c.index, collation, strings.Join(c.examples, "; "))
}

// collisions finds, for every unique key of the tables, rows that are
// distinct now and equal under collation.
func collisions(ctx context.Context, db *sql.DB, convert []*want, collation string) ([]collision, error) {
	var out []collision
	for _, w := range convert {
		for _, u := range uniqueTextIndexes(w.t) {
			var shown []string
			for _, cn := range u.cols {
				shown = append(shown, quoteIdent(cn))
			}
			row := "CONCAT_WS(' / ', " + strings.Join(shown, ", ") + ")"
			q := fmt.Sprintf("SELECT HEX(CONVERT(GROUP_CONCAT(%s ORDER BY CAST(%s AS BINARY) SEPARATOR ' | ') USING utf8mb4)) FROM %s GROUP BY %s HAVING COUNT(*) > 1 ORDER BY 1",
				row, row, w.t.qualified(), groupExprs(w.t, u.cols, collation))
			c := collision{table: w.t.schema + "." + w.t.name, index: u.name}
			err := runRows(ctx, db, q, func(rows *sql.Rows) error {
				var h sql.NullString
				if err := rows.Scan(&h); err != nil {
					return err
				}
				c.groups++
				if len(c.examples) < 5 {
					c.examples = append(c.examples, unhexText(h.String))
				}
				return nil
			})
			if err != nil {
				return nil, fmt.Errorf("preflight on %s: %w", c.table, err)
			}
			if c.groups > 0 {
				out = append(out, c)
			}
		}
	}
	return out, nil
}

func (c collision) mergeText(collation string) string {
	return fmt.Sprintf("%s.%s: %d %s of values that differ now become equal under %s, so a key that finds one row finds the other too (a change in who gets mail): %s. Rename one of each, or convert to a collation that keeps them apart (--collation).",
		c.table, c.index, c.groups, plural(c.groups, "set", "sets"), collation, strings.Join(c.examples, "; "))
}

// mergedKeyValues finds, in the key columns of the tables (the columns
// keys are compared with), values that differ under the column's
// collation now and are equal under collation. Unique keys are left to
// collisions.
func mergedKeyValues(ctx context.Context, db *sql.DB, convert []*want, collation string) ([]collision, error) {
	var out []collision
	for _, w := range convert {
		uniq := map[string]bool{}
		for _, u := range uniqueTextIndexes(w.t) {
			if len(u.cols) == 1 {
				uniq[strings.ToLower(u.cols[0])] = true
			}
		}
		for _, c := range w.t.cols {
			if !c.textual() || !w.keyCols[strings.ToLower(c.name)] || uniq[strings.ToLower(c.name)] {
				continue
			}
			col := quoteIdent(c.name)
			q := fmt.Sprintf("SELECT HEX(CONVERT(GROUP_CONCAT(DISTINCT %s ORDER BY CAST(%s AS BINARY) SEPARATOR ' | ') USING utf8mb4)) FROM %s GROUP BY %s HAVING COUNT(DISTINCT %s) > 1 ORDER BY 1",
				col, col, w.t.qualified(), groupExprs(w.t, []string{c.name}, collation), col)
			m := collision{table: w.t.schema + "." + w.t.name, index: c.name}
			err := runRows(ctx, db, q, func(rows *sql.Rows) error {
				var h sql.NullString
				if err := rows.Scan(&h); err != nil {
					return err
				}
				m.groups++
				if len(m.examples) < 5 {
					m.examples = append(m.examples, unhexText(h.String))
				}
				return nil
			})
			if err != nil {
				return nil, fmt.Errorf("preflight on %s.%s: %w", m.table, c.name, err)
			}
			if m.groups > 0 {
				out = append(out, m)
			}
		}
	}
	return out, nil
}

// indexLengthProblems lists indexes that would not fit InnoDB's limit in
// utf8mb4.
func indexLengthProblems(convert []*want) []string {
	var out []string
	for _, w := range convert {
		for _, in := range w.t.indexOrder {
			total := 0
			for _, cn := range w.t.indexes[in] {
				if c := w.t.col(cn); c != nil && c.textual() {
					total += w.t.indexChars(in, cn) * 4
				}
			}
			if total > largePrefixLimit {
				out = append(out, fmt.Sprintf("%s.%s: index %s would need %d bytes in utf8mb4, over InnoDB's %d: shorten its columns or index a prefix first.",
					w.t.schema, w.t.name, in, total, largePrefixLimit))
			}
		}
	}
	return out
}
