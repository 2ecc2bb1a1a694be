package audit

// Report is the result of an audit: maps (from .cf files) or one schema.
type Report struct {
	// Maps are the audited maps, in the order given. Empty in schema mode.
	Maps []*MapReport `json:"maps,omitempty"`
	// Schema is the audited schema in --dsn mode; nil otherwise.
	Schema *SchemaReport `json:"schema,omitempty"`
	// Fix holds the statements for every table that needs converting,
	// once per table, group by group.
	Fix []*TableFix `json:"fix,omitempty"`
	// Groups are the sets of tables converted together, to one collation,
	// with their preflight and the foreign keys dropped and added back.
	Groups []*FixGroup `json:"fix_groups,omitempty"`
	// PlanFailure is set when the fix could not be planned.
	PlanFailure *Failure `json:"plan_failure,omitempty"`
}

// AtRisk reports whether some map (or the schema) breaks on some key, or
// the fix would change some lookup's answer (a group that is not ready).
func (r *Report) AtRisk() bool {
	for _, g := range r.Groups {
		if !g.Ready {
			return true
		}
	}
	for _, m := range r.Maps {
		if m.AtRisk() {
			return true
		}
	}
	return r.Schema != nil && r.Schema.AtRisk
}

// Failures lists why parts of the audit could not run; empty when the
// audit ran completely.
func (r *Report) Failures() []*Failure {
	var out []*Failure
	for _, m := range r.Maps {
		for _, f := range m.Files {
			if f.Failure != nil {
				out = append(out, f.Failure)
			}
		}
	}
	if r.Schema != nil && r.Schema.Failure != nil {
		out = append(out, r.Schema.Failure)
	}
	if r.PlanFailure != nil {
		out = append(out, r.PlanFailure)
	}
	return out
}

// MapReport is one map: the .cf files it asks, in order.
type MapReport struct {
	Name  string        `json:"name"`
	Files []*FileReport `json:"files"`
}

// AtRisk reports whether any of the map's files breaks on some key.
func (m *MapReport) AtRisk() bool {
	for _, f := range m.Files {
		if f.AtRisk {
			return true
		}
	}
	return false
}

// Failure says why (part of) the audit could not run.
type Failure struct {
	// Stage is "read" (the .cf file), "connect", "privileges", "table"
	// (a table of the query does not exist), "query" (the query failed
	// for another reason) or "schema".
	Stage string `json:"stage"`
	// File is the .cf file, "" in schema mode.
	File string `json:"file,omitempty"`
	// Message is the reason, for people.
	Message string `json:"message"`
}

// FileReport is one .cf file of a map.
type FileReport struct {
	// Path is the .cf file as given; Host is the server that answered
	// (host:port or socket path), Database the database.
	Path     string `json:"path"`
	Host     string `json:"host,omitempty"`
	Database string `json:"database,omitempty"`
	// CFCharset is the charset parameter of the file ("" when not set,
	// which means utf8mb4).
	CFCharset string `json:"cf_charset,omitempty"`
	// Conn is the connection's character set and collation, as the
	// server reports them for this file's settings.
	Conn Conn `json:"connection"`
	// Query is the parameterised query (a ? per expansion).
	Query  string  `json:"query,omitempty"`
	Params []Param `json:"params,omitempty"`
	// Columns are the columns the key is compared with, each once.
	Columns []*Column `json:"columns,omitempty"`
	// Probes are the probe keys sent through the query.
	Probes []*Probe `json:"probes,omitempty"`
	// Mixed are the pairs of columns the query names that cannot be
	// compared (set when even the ASCII probe fails).
	Mixed []MixedPair `json:"mixed_collations,omitempty"`
	// Scans are the tables EXPLAIN says are read in full.
	Scans []Scan `json:"full_scans,omitempty"`
	// Findings are the conclusions, most severe first.
	Findings []Finding `json:"findings,omitempty"`
	// FixTables names the tables (schema.table) to convert; their
	// statements are in Report.Fix. FixCF says what to change in the file.
	FixTables []string `json:"fix_tables,omitempty"`
	FixCF     []string `json:"fix_cf,omitempty"`
	// AtRisk is true when some probe key makes the query fail.
	AtRisk bool `json:"at_risk"`
	// Failure is set when the file could not be audited (completely).
	Failure *Failure `json:"failure,omitempty"`
}

// Conn is a connection's character set and collation.
type Conn struct {
	Charset   string `json:"charset"`
	Collation string `json:"collation"`
}

// Param is one ? of the query and the columns it is compared with.
type Param struct {
	Index     int      `json:"index"`
	Expansion string   `json:"expansion"`
	Op        string   `json:"op,omitempty"`
	Columns   []string `json:"columns,omitempty"`
	// Known is false when the query shape was not understood (Why says
	// why); the probes still run.
	Known bool   `json:"known"`
	Why   string `json:"why,omitempty"`
}

// Column is a text column a key is compared with (or, in schema mode, any
// text column).
type Column struct {
	Schema    string `json:"schema"`
	Table     string `json:"table"`
	Column    string `json:"column"`
	Type      string `json:"type"`
	Charset   string `json:"charset,omitempty"`
	Collation string `json:"collation,omitempty"`
	MaxChars  int    `json:"max_chars,omitempty"`
	Indexed   bool   `json:"indexed"`
	// Data is what the stored rows hold; nil when not sampled (columns
	// that are not latin1).
	Data *Data `json:"data,omitempty"`
	// Breaks lists the probe classes the server refuses to compare with
	// this column (schema mode only).
	Breaks []string `json:"breaks,omitempty"`
}

// Name is table.column.
func (c *Column) Name() string { return c.Table + "." + c.Column }

// The cases of Data.Case.
const (
	// DataASCII: no byte over 0x7F; any conversion is safe.
	DataASCII = "ascii"
	// DataLatin1: non-ASCII bytes that are latin1 text, not UTF-8;
	// CONVERT TO CHARACTER SET is right.
	DataLatin1 = "latin1"
	// DataDoubleEncoded: every non-ASCII row holds UTF-8 byte sequences
	// written through a latin1 connection; convert through a binary type.
	DataDoubleEncoded = "double_encoded"
	// DataMixed: both latin1 text and UTF-8 sequences; rows need repair
	// by hand before or after the conversion.
	DataMixed = "mixed"
)

// Data is what a sample of a latin1 column found.
type Data struct {
	Case string `json:"case"`
	// Rows is the table's row count; NonASCII the rows holding a byte
	// over 0x7F; UTF8 the rows holding a UTF-8 multibyte sequence.
	Rows     int64 `json:"rows"`
	NonASCII int64 `json:"non_ascii"`
	UTF8     int64 `json:"utf8_sequences"`
	// Examples are a few rows as stored (escaped, \xNN for bytes over
	// 0x7F), with the UTF-8 reading of double-encoded ones.
	Examples []Example `json:"examples,omitempty"`
}

// Example is one stored value, escaped.
type Example struct {
	Bytes string `json:"bytes"`
	// AsUTF8 is the value read as UTF-8, when it is valid UTF-8 with a
	// multibyte sequence.
	AsUTF8 string `json:"as_utf8,omitempty"`
}

// Probe is one probe key sent through the map's query.
type Probe struct {
	// Class is the probe class id ("ascii", "latin1", "japanese",
	// "cyrillic", "greek", "4byte", "invalid_utf8", "too_long"); Label
	// names it for people.
	Class string `json:"class"`
	Label string `json:"label"`
	// Key is the probe key, escaped.
	Key string `json:"key"`
	// Server is "ok" or "error NNNN"; Error is the server's message.
	// Rows is how many rows the query returned for the key.
	Server string `json:"server"`
	Error  string `json:"error,omitempty"`
	Rows   int    `json:"rows"`
	// Breaks is true when the server refused the query for this key (a
	// collation or charset error, or, when the ASCII key works, any
	// error): this class of keys makes the map fail through Postfix's
	// mysql: client.
	Breaks bool `json:"breaks"`
	// MapgateAnswer is what mapgate answers for the key, asked of its own
	// lookup path (lookup.Map.Explain): "found", "notfound" or "temp";
	// Mapgate says how ("notfound, no query: unrepresentable
	// (alias.address)", "notfound, ?1 ?2 bound as NULL", "temp: key").
	// Agrees is false when it contradicts the server: TEMP for a key the
	// server answers or refuses, NOTFOUND for a key it returns rows for.
	Mapgate       string `json:"mapgate"`
	MapgateAnswer string `json:"mapgate_answer"`
	Agrees        bool   `json:"agrees"`
	// WrongNotFound is true when mapgate rejects the key (NOTFOUND without
	// a query) but the server returns rows for it.
	WrongNotFound bool `json:"wrong_notfound,omitempty"`
	// postfixRejects: mapgate answered before any search step, as
	// Postfix's own dict layer does (an invalid UTF-8 key).
	postfixRejects bool
}

// Scan is a table EXPLAIN says is read in full for a lookup.
type Scan struct {
	Table string `json:"table"`
	Rows  int64  `json:"rows"`
}

// Severity of a Finding.
const (
	SevRisk    = "risk"    // some keys make lookups fail
	SevWarning = "warning" // slow, or keys silently do not match
	SevInfo    = "info"
)

// Finding is one conclusion of the audit.
type Finding struct {
	Severity string `json:"severity"`
	// Kind is "breaking_keys", "mixed_collations", "full_scan",
	// "double_encoded", "mixed_data", "mapgate_temp_breaking" (mapgate
	// answers TEMP for keys the server refuses), "mapgate_temp" (TEMP for
	// keys the server answers), "wrong_notfound", "query_not_understood",
	// "select_list" or "safe".
	Kind string `json:"kind"`
	Text string `json:"text"`
}

// SchemaReport is the --dsn mode: every text column of one database.
type SchemaReport struct {
	Database string    `json:"database"`
	Conn     Conn      `json:"connection"`
	Columns  []*Column `json:"columns,omitempty"`
	Findings []Finding `json:"findings,omitempty"`
	AtRisk   bool      `json:"at_risk"`
	Failure  *Failure  `json:"failure,omitempty"`
}

// TableFix is the conversion of one table.
type TableFix struct {
	Schema string `json:"schema"`
	Table  string `json:"table"`
	// Rows and Bytes are information_schema's estimates (TABLE_ROWS,
	// DATA_LENGTH+INDEX_LENGTH).
	Rows  int64 `json:"rows"`
	Bytes int64 `json:"bytes"`
	// Why says what the conversion fixes.
	Why string `json:"why"`
	// Group is the index of the table's group in Report.Groups.
	Group int `json:"group"`
	// Statements are the SQL to run, in order.
	Statements []string `json:"statements"`
	// Caveats are the table's own caveats (index length, data to repair).
	Caveats []string `json:"caveats,omitempty"`
}
