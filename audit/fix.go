package audit

import (
	"fmt"
	"strconv"
	"strings"
)

// Index limits of InnoDB: 767 bytes per index column under the COMPACT
// and REDUNDANT row formats (and MySQL 5.6 / MariaDB < 10.2 without
// innodb_large_prefix), 3072 bytes under DYNAMIC and COMPRESSED.
const (
	smallPrefixLimit = 767
	largePrefixLimit = 3072
)

// Caveats are the points that apply to every conversion; the report
// prints them once, before the statements.
var Caveats = []string{
	"Back up first, and try the statements on a copy: mysqldump --default-character-set=binary keeps the bytes exactly as stored.",
	"Each ALTER TABLE rebuilds the whole table (a copy): it takes time in proportion to the table's size and blocks writes to it meanwhile (lookups keep working). Run it at a quiet time; for big tables consider pt-online-schema-change or gh-ost.",
	"Replication: every replica runs the same ALTER TABLE after the primary, one statement at a time, and lags behind for as long as it takes.",
	"utf8mb4 takes up to 4 bytes per character: an index on varchar(255) needs 1020 bytes, more than the 767 bytes of the COMPACT and REDUNDANT row formats (MySQL 5.6 / MariaDB < 10.2 also need innodb_large_prefix=ON and innodb_file_format=Barracuda), which fails with error 1709 'Index column size too large' (1071 'Specified key was too long' on older servers). Tables that need ROW_FORMAT=DYNAMIC get it below.",
	"Convert every table the maps join in one go, to the same collation: in between, joins across a converted and an unconverted table fail with error 1267 even for ASCII keys.",
	"Then change the .cf files as listed per map, and run 'postfix reload' (and restart mapgate).",
}

// buildFix writes the statements that convert table t to utf8mb4 in the
// given collation. Columns that hold UTF-8 written through a latin1
// connection go through a binary type first.
func buildFix(t *tableMeta, collation string) *TableFix {
	f := &TableFix{Schema: t.schema, Table: t.name, Rows: t.rows, Bytes: t.bytes}
	tbl := "ALTER TABLE " + t.qualified()
	rf := strings.ToUpper(t.rowFormat)
	if rf == "COMPACT" || rf == "REDUNDANT" {
		for _, c := range t.cols {
			if c.textual() && c.indexed && c.maxChars*4 > smallPrefixLimit {
				f.Statements = append(f.Statements, tbl+" ROW_FORMAT=DYNAMIC;")
				f.Caveats = append(f.Caveats, fmt.Sprintf("Row format %s: the index on %s (%d characters = %d bytes in utf8mb4) needs ROW_FORMAT=DYNAMIC, set by the first statement.",
					t.rowFormat, c.name, c.maxChars, c.maxChars*4))
				break
			}
		}
	}
	for _, in := range t.indexOrder {
		total := 0
		for _, cn := range t.indexes[in] {
			if c := t.col(cn); c != nil && c.textual() {
				total += t.indexChars(in, cn) * 4
			}
		}
		if total > largePrefixLimit {
			f.Caveats = append(f.Caveats, fmt.Sprintf("Index %s would need %d bytes in utf8mb4, over InnoDB's %d: shorten its columns or index a prefix before converting.",
				in, total, largePrefixLimit))
		}
	}
	var binary []*colMeta
	for _, c := range t.cols {
		if c.data != nil && (c.data.Case == DataDoubleEncoded || c.data.Case == DataMixed) {
			if _, ok := binaryType(c.colType); ok {
				binary = append(binary, c)
			} else {
				f.Caveats = append(f.Caveats, fmt.Sprintf("Column %s (%s) holds UTF-8 bytes but has no binary twin: convert it by hand.", c.name, c.colType))
			}
		}
		if c.data != nil && c.data.Case == DataMixed {
			f.Caveats = append(f.Caveats, fmt.Sprintf("Column %s holds both latin1 text and UTF-8 bytes (%d of %d non-ASCII rows are UTF-8): after the binary step the latin1 rows are invalid UTF-8 and the second statement fails (or, in non-strict mode, mangles them). Repair those rows first (SELECT ... WHERE HEX(%s) REGEXP '%s' AND NOT HEX(%s) REGEXP '%s').",
				c.name, c.data.UTF8, c.data.NonASCII, quoteIdent(c.name), reNonASCII, quoteIdent(c.name), reUTF8))
		}
	}
	if len(binary) > 0 {
		var mods, back []string
		for _, c := range binary {
			bt, _ := binaryType(c.colType)
			mods = append(mods, "MODIFY "+quoteIdent(c.name)+" "+bt+colSuffix(c))
			back = append(back, "MODIFY "+quoteIdent(c.name)+" "+c.colType+" CHARACTER SET utf8mb4 COLLATE "+collation+colSuffix(c))
		}
		f.Statements = append(f.Statements,
			"-- step 1: the double-encoded columns to bytes, unchanged",
			tbl+"\n  "+strings.Join(mods, ",\n  ")+";",
			"-- step 2: the bytes read as UTF-8",
			tbl+"\n  "+strings.Join(back, ",\n  ")+";",
			"-- step 3: everything else, converted from latin1")
	}
	f.Statements = append(f.Statements, tbl+" CONVERT TO CHARACTER SET utf8mb4 COLLATE "+collation+";")
	return f
}

// binaryType returns the binary type that holds the bytes of a text type.
func binaryType(colType string) (string, bool) {
	ct := strings.ToLower(colType)
	switch {
	case strings.HasPrefix(ct, "varchar("):
		return "VARBINARY" + colType[len("varchar"):], true
	case strings.HasPrefix(ct, "char("):
		return "BINARY" + colType[len("char"):], true
	case ct == "tinytext":
		return "TINYBLOB", true
	case ct == "text":
		return "BLOB", true
	case ct == "mediumtext":
		return "MEDIUMBLOB", true
	case ct == "longtext":
		return "LONGBLOB", true
	}
	return "", false
}

// colSuffix restates a column's NULL, DEFAULT and COMMENT for MODIFY, which
// otherwise drops them.
func colSuffix(c *colMeta) string {
	var b strings.Builder
	if c.nullable {
		b.WriteString(" NULL")
	} else {
		b.WriteString(" NOT NULL")
	}
	if c.def.Valid {
		v := c.def.String
		switch {
		case v == "NULL":
			if c.nullable {
				b.WriteString(" DEFAULT NULL")
			}
		case strings.HasPrefix(v, "'"):
			// MariaDB >= 10.2.7 gives the default as an SQL literal.
			b.WriteString(" DEFAULT " + v)
		default:
			if _, err := strconv.ParseFloat(v, 64); err == nil {
				b.WriteString(" DEFAULT " + v)
			} else {
				b.WriteString(" DEFAULT " + sqlString(v))
			}
		}
	}
	if c.comment != "" {
		b.WriteString(" COMMENT " + sqlString(c.comment))
	}
	return b.String()
}

// sqlString quotes s as an SQL string literal.
func sqlString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\x00", `\0`, "\n", `\n`, "\r", `\r`)
	return "'" + r.Replace(s) + "'"
}
