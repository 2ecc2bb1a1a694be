package audit

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"unicode/utf8"

	"mapgate/charset"
)

// tableMeta is what information_schema says about one table.
type tableMeta struct {
	schema, name          string
	collation, rowFormat  string
	engine                string
	rows, bytes           int64
	cols                  []*colMeta // ordinal order
	indexes               map[string][]string
	indexOrder            []string
	unique                map[string]bool           // unique indexes and the primary key
	subPart               map[string]map[string]int // index → column → prefix length in characters
	sampled               bool
	sampleErr             error
	double, mixed, latin1 []string // columns by data case, after sampling
}

// colMeta is one column of a table.
type colMeta struct {
	name, colType, dataType string
	charset, collation      string
	nullable                bool
	def                     sql.NullString
	comment                 string
	maxChars                int
	indexed                 bool
	data                    *Data
}

// textual reports whether the column holds text in a character set.
func (c *colMeta) textual() bool { return c.charset != "" }

// quoteIdent quotes a MySQL identifier.
func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// qualified is `schema`.`table`.
func (t *tableMeta) qualified() string { return quoteIdent(t.schema) + "." + quoteIdent(t.name) }

// loadTables reads the tables of one schema (all of them when names is
// empty) from information_schema.TABLES, COLUMNS and STATISTICS.
func loadTables(ctx context.Context, db *sql.DB, schema string, names []string) (map[string]*tableMeta, []string, error) {
	where := "TABLE_SCHEMA = ?"
	args := []any{schema}
	if len(names) > 0 {
		where += " AND TABLE_NAME IN (?" + strings.Repeat(",?", len(names)-1) + ")"
		for _, n := range names {
			args = append(args, n)
		}
	}
	tables := map[string]*tableMeta{}
	var order []string
	rows, err := db.QueryContext(ctx, `SELECT TABLE_NAME, IFNULL(TABLE_COLLATION,''), IFNULL(ROW_FORMAT,''), IFNULL(ENGINE,''),
 IFNULL(TABLE_ROWS,0), IFNULL(DATA_LENGTH,0)+IFNULL(INDEX_LENGTH,0)
 FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' AND `+where+` ORDER BY TABLE_NAME`, args...)
	if err != nil {
		return nil, nil, fmt.Errorf("information_schema.TABLES: %w", err)
	}
	for rows.Next() {
		t := &tableMeta{schema: schema, indexes: map[string][]string{}, unique: map[string]bool{}, subPart: map[string]map[string]int{}}
		if err := rows.Scan(&t.name, &t.collation, &t.rowFormat, &t.engine, &t.rows, &t.bytes); err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("information_schema.TABLES: %w", err)
		}
		tables[t.name] = t
		order = append(order, t.name)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("information_schema.TABLES: %w", err)
	}

	rows, err = db.QueryContext(ctx, `SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, DATA_TYPE, IFNULL(CHARACTER_SET_NAME,''),
 IFNULL(COLLATION_NAME,''), IS_NULLABLE, COLUMN_DEFAULT, IFNULL(COLUMN_COMMENT,''), IFNULL(CHARACTER_MAXIMUM_LENGTH,0)
 FROM information_schema.COLUMNS WHERE `+where+` ORDER BY TABLE_NAME, ORDINAL_POSITION`, args...)
	if err != nil {
		return nil, nil, fmt.Errorf("information_schema.COLUMNS: %w", err)
	}
	for rows.Next() {
		var tn, nullable string
		var maxLen int64
		c := &colMeta{}
		if err := rows.Scan(&tn, &c.name, &c.colType, &c.dataType, &c.charset, &c.collation, &nullable, &c.def, &c.comment, &maxLen); err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("information_schema.COLUMNS: %w", err)
		}
		c.nullable = nullable == "YES"
		if maxLen > 0 && maxLen < 1<<31 {
			c.maxChars = int(maxLen)
		}
		if t := tables[tn]; t != nil {
			t.cols = append(t.cols, c)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("information_schema.COLUMNS: %w", err)
	}

	rows, err = db.QueryContext(ctx, `SELECT TABLE_NAME, INDEX_NAME, COLUMN_NAME, SEQ_IN_INDEX, NON_UNIQUE, IFNULL(SUB_PART, 0)
 FROM information_schema.STATISTICS WHERE `+where+` ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX`, args...)
	if err != nil {
		return nil, nil, fmt.Errorf("information_schema.STATISTICS: %w", err)
	}
	for rows.Next() {
		var tn, in, cn string
		var seq, nonUnique, sub int
		if err := rows.Scan(&tn, &in, &cn, &seq, &nonUnique, &sub); err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("information_schema.STATISTICS: %w", err)
		}
		t := tables[tn]
		if t == nil {
			continue
		}
		if _, ok := t.indexes[in]; !ok {
			t.indexOrder = append(t.indexOrder, in)
		}
		t.indexes[in] = append(t.indexes[in], cn)
		t.unique[in] = nonUnique == 0
		if sub > 0 {
			if t.subPart[in] == nil {
				t.subPart[in] = map[string]int{}
			}
			t.subPart[in][cn] = sub
		}
		if seq == 1 {
			if c := t.col(cn); c != nil {
				c.indexed = true
			}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("information_schema.STATISTICS: %w", err)
	}
	return tables, order, nil
}

// indexChars is how many characters of column cn index in keeps: its
// prefix length, or the whole column.
func (t *tableMeta) indexChars(in, cn string) int {
	if n := t.subPart[in][cn]; n > 0 {
		return n
	}
	if c := t.col(cn); c != nil {
		return c.maxChars
	}
	return 0
}

// col finds a column by name, ignoring case.
func (t *tableMeta) col(name string) *colMeta {
	for _, c := range t.cols {
		if strings.EqualFold(c.name, name) {
			return c
		}
	}
	return nil
}

// The REGEXPs over HEX(col): a byte over 0x7F, and a UTF-8 lead byte
// followed by a continuation byte (at an even hex offset).
const (
	reNonASCII = `^(..)*[89A-F]`
	reUTF8     = `^(..)*(C[2-9A-F]|D[0-9A-F]|E[0-9A-F]|F[0-4])[89AB][0-9A-F]`
)

// sample fills the data of every latin1 text column of t (once).
func (t *tableMeta) sample(ctx context.Context, db *sql.DB, examples int) error {
	if t.sampled {
		return t.sampleErr
	}
	t.sampled = true
	for _, c := range t.cols {
		if !strings.EqualFold(c.charset, "latin1") {
			continue
		}
		d, err := sampleColumn(ctx, db, t, c, examples)
		if err != nil {
			t.sampleErr = err
			return err
		}
		c.data = d
		switch d.Case {
		case DataDoubleEncoded:
			t.double = append(t.double, c.name)
		case DataMixed:
			t.mixed = append(t.mixed, c.name)
		case DataLatin1:
			t.latin1 = append(t.latin1, c.name)
		}
	}
	return nil
}

// sampleColumn counts the rows of a latin1 column holding non-ASCII bytes
// and UTF-8 sequences, and fetches a few examples.
func sampleColumn(ctx context.Context, db *sql.DB, t *tableMeta, c *colMeta, examples int) (*Data, error) {
	col := quoteIdent(c.name)
	hex := "HEX(" + col + ")"
	d := &Data{}
	var nonASCII, utf8n sql.NullInt64
	q := fmt.Sprintf("SELECT COUNT(*), SUM(%s REGEXP '%s'), SUM(%s REGEXP '%s') FROM %s", hex, reNonASCII, hex, reUTF8, t.qualified())
	if err := runRow(ctx, db, q, &d.Rows, &nonASCII, &utf8n); err != nil {
		return nil, fmt.Errorf("sampling %s.%s: %w", t.name, c.name, err)
	}
	d.NonASCII, d.UTF8 = nonASCII.Int64, utf8n.Int64
	switch {
	case d.NonASCII == 0:
		d.Case = DataASCII
	case d.UTF8 == 0:
		d.Case = DataLatin1
	case d.UTF8 == d.NonASCII:
		d.Case = DataDoubleEncoded
	default:
		d.Case = DataMixed
	}
	if d.NonASCII == 0 || examples <= 0 {
		return d, nil
	}
	// UTF-8 rows first (the ones that decide the conversion), then latin1.
	conds := []string{hex + " REGEXP '" + reUTF8 + "'", hex + " REGEXP '" + reNonASCII + "' AND NOT " + hex + " REGEXP '" + reUTF8 + "'"}
	for _, cond := range conds {
		if len(d.Examples) >= examples {
			break
		}
		q := fmt.Sprintf("SELECT CAST(%s AS BINARY) FROM %s WHERE %s ORDER BY 1 LIMIT %d", col, t.qualified(), cond, examples-len(d.Examples))
		err := runRows(ctx, db, q, func(rows *sql.Rows) error {
			var b []byte
			if err := rows.Scan(&b); err != nil {
				return err
			}
			d.Examples = append(d.Examples, makeExample(b))
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("sampling %s.%s: %w", t.name, c.name, err)
		}
	}
	return d, nil
}

// makeExample escapes stored bytes: printable ASCII as is, everything else
// as \xNN; and the UTF-8 reading when the bytes are UTF-8 with a multibyte
// sequence.
func makeExample(b []byte) Example {
	const max = 96
	cut := b
	more := 0
	if len(cut) > max {
		cut, more = b[:max], len(b)-max
	}
	var sb strings.Builder
	sb.WriteByte('"')
	for _, c := range cut {
		switch {
		case c == '"' || c == '\\':
			sb.WriteByte('\\')
			sb.WriteByte(c)
		case c >= 0x20 && c < 0x7f:
			sb.WriteByte(c)
		default:
			fmt.Fprintf(&sb, `\x%02x`, c)
		}
	}
	sb.WriteByte('"')
	if more > 0 {
		fmt.Fprintf(&sb, "...(%d more bytes)", more)
	}
	e := Example{Bytes: sb.String()}
	if utf8.Valid(b) {
		for _, c := range b {
			if c >= 0x80 {
				e.AsUTF8 = escapeText(string(b))
				break
			}
		}
	}
	return e
}

// escapeText quotes a string with \u escapes for non-ASCII characters.
func escapeText(s string) string { return charset.Escape(s) }

// runRow runs a read-only query that returns one row.
func runRow(ctx context.Context, db *sql.DB, q string, dst ...any) error {
	found := false
	err := runRows(ctx, db, q, func(rows *sql.Rows) error {
		found = true
		return rows.Scan(dst...)
	})
	if err == nil && !found {
		err = sql.ErrNoRows
	}
	return err
}

// runRows runs a query in a READ ONLY transaction and calls each for every
// row.
func runRows(ctx context.Context, db *sql.DB, q string, each func(*sql.Rows) error, args ...any) error {
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // read-only; nothing to keep
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := each(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}
