package audit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"mapgate/engine"
	mysqleng "mapgate/engine/mysql"
	"mapgate/hosts"
	"mapgate/lookup"
	"mapgate/mysqlcf"
	"mapgate/schema"
)

// Options tune an audit. The zero value takes the defaults.
type Options struct {
	// Examples is how many example rows to show per sampled column.
	// Default 3; negative means none.
	Examples int
	// QueryTimeout bounds each query of the audit (a sampling query reads
	// a whole table). Default 60s.
	QueryTimeout time.Duration
	// DialTimeout bounds connecting. Default 5s.
	DialTimeout time.Duration
	// Collation is the utf8mb4 collation the fix converts to. Default ""
	// reads it from the server: of the utf8mb4 collations it offers, the
	// one that compares Latin-1 characters as the columns do now (see
	// CollationChange).
	Collation string
}

func (o *Options) defaults() {
	if o.Examples == 0 {
		o.Examples = 3
	}
	if o.QueryTimeout <= 0 {
		o.QueryTimeout = 60 * time.Second
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 5 * time.Second
	}
}

// auditor holds what is shared between the files of one audit.
type auditor struct {
	opts   Options
	tables map[string]*tableMeta // host|schema|table
	report *Report

	// For the fix, planned once every file is audited: the tables met
	// (host|schema|table, in order), which must share a collation, the
	// text foreign keys (host|schema|table|name), one connection per host.
	wants     map[string]*want
	order     []string
	parent    map[string]string
	fks       map[string]*ForeignKey
	dbs       map[string]*sql.DB
	converted map[string]bool
	fileNeeds map[*FileReport][]string
}

func newAuditor(opts Options) *auditor {
	opts.defaults()
	return &auditor{opts: opts, tables: map[string]*tableMeta{}, report: &Report{},
		wants: map[string]*want{}, parent: map[string]string{}, fks: map[string]*ForeignKey{},
		dbs: map[string]*sql.DB{}, converted: map[string]bool{}, fileNeeds: map[*FileReport][]string{}}
}

// Maps audits maps: every .cf file of every map, in order. Problems that
// stop the audit of a file are reported in its FileReport.Failure (see
// Report.Failures); the audit goes on with the next file.
func Maps(ctx context.Context, specs []lookup.MapSpec, opts Options) *Report {
	a := newAuditor(opts)
	for _, sp := range specs {
		mr := &MapReport{Name: sp.Name}
		for _, p := range sp.Paths {
			mr.Files = append(mr.Files, a.file(ctx, sp.Name, p, sp.Opts))
		}
		a.report.Maps = append(a.report.Maps, mr)
	}
	defer a.closeDBs()
	if err := a.plan(ctx); err != nil {
		a.report.PlanFailure = failureFor("", err)
		a.report.PlanFailure.Message = "cannot plan the fix: " + a.report.PlanFailure.Message
	}
	for fr, keys := range a.fileNeeds {
		fr.FixTables = a.groupTables(keys)
	}
	return a.report
}

// groupTables lists the converted tables (schema.table) of the groups of
// keys, in the order of the fix.
func (a *auditor) groupTables(keys []string) []string {
	roots := map[string]bool{}
	for _, k := range keys {
		roots[a.root(k)] = true
	}
	var out []string
	for _, k := range a.order {
		if a.converted[k] && roots[a.root(k)] {
			w := a.wants[k]
			out = append(out, w.t.schema+"."+w.t.name)
		}
	}
	return out
}

// file audits one .cf file of map name, served with mopts.
func (a *auditor) file(ctx context.Context, name, path string, mopts lookup.MapOptions) *FileReport {
	if typ, p, err := engine.Split(path); err == nil && typ == "pgsql" {
		return a.pgsqlFile(ctx, name, p, mopts)
	}
	fr := &FileReport{Path: path}
	fail := func(f *Failure) *FileReport {
		f.File = path
		fr.Failure = f
		return fr
	}
	cf, err := mysqlcf.Parse(path)
	if err != nil {
		msg := err.Error()
		if errors.Is(err, fs.ErrNotExist) {
			msg = "cannot read " + path + ": file does not exist"
		}
		return fail(&Failure{Stage: "read", Message: msg})
	}
	if _, set := cf.Line["charset"]; set {
		fr.CFCharset = cf.Charset
	}
	fr.Query = cf.Query.SQL
	cctx, cancel := context.WithTimeout(ctx, a.opts.DialTimeout)
	db, host, err := hosts.Connect(cctx, mysqleng.Wrap(cf), hosts.PoolOptions{DialTimeout: a.opts.DialTimeout, QueryTimeout: a.opts.QueryTimeout})
	cancel()
	if err != nil {
		if privilegeErrors[mysqlErrNo(err)] {
			return fail(&Failure{Stage: "privileges", Message: "cannot connect as " + cf.User + ": no privileges: " + err.Error()})
		}
		return fail(&Failure{Stage: "connect", Message: "cannot connect: " + err.Error()})
	}
	if !a.keepDB(host.Addr, db) {
		defer db.Close()
	}
	fr.Host = host.Addr

	qctx, cancel := context.WithTimeout(ctx, a.opts.QueryTimeout)
	defer cancel()
	fr.Conn.Charset, fr.Conn.Collation, err = schema.ConnectionCharset(qctx, db)
	if err != nil {
		return fail(failureFor(path, err))
	}
	fr.Database = cf.DBName
	if fr.Database == "" {
		var cur sql.NullString
		if err := db.QueryRowContext(qctx, "SELECT DATABASE()").Scan(&cur); err != nil {
			return fail(failureFor(path, err))
		}
		fr.Database = cur.String
	}
	pcs, err := schema.DiscoverColumns(qctx, db, fr.Database, cf.Query.SQL)
	if err != nil {
		return fail(failureFor(path, err))
	}

	// Parameters and the columns they meet, as the query really has them
	// (pcs stays mapgate's own view, for the pre-check's predictions).
	shown := readParams(cf.Query.SQL, pcs)
	type colKey struct{ schema, table, column string }
	seen := map[colKey]bool{}
	var keyCols []schema.ColumnInfo
	maxChars := 0
	for i, pc := range shown {
		p := Param{Index: pc.Index, Op: pc.Op, Known: pc.Known, Why: pc.Why}
		if i < len(cf.Query.Params) {
			p.Expansion = cf.Query.Params[i].Expansion
			pcs[i].Expansion = p.Expansion
		}
		for _, ci := range pc.Infos {
			p.Columns = append(p.Columns, ci.Table+"."+ci.Column)
			k := colKey{ci.Schema, ci.Table, strings.ToLower(ci.Column)}
			if !seen[k] {
				seen[k] = true
				keyCols = append(keyCols, ci)
			}
			if ci.MaxChars > maxChars {
				maxChars = ci.MaxChars
			}
		}
		fr.Params = append(fr.Params, p)
	}
	for _, ci := range keyCols {
		t, err := a.table(qctx, db, fr.Host, ci.Schema, ci.Table)
		if err != nil {
			return fail(failureFor(path, err))
		}
		col := &Column{Schema: ci.Schema, Table: ci.Table, Column: ci.Column, Type: ci.DataType,
			Charset: ci.Charset, Collation: ci.Collation, MaxChars: ci.MaxChars, Indexed: ci.Indexed}
		if t != nil {
			if c := t.col(ci.Column); c != nil {
				col.Type = c.colType
				// Every latin1 column of the table, for the fix.
				if err := t.sample(qctx, db, a.opts.Examples); err != nil {
					return fail(failureFor(path, err))
				}
				col.Data = c.data
			}
		}
		fr.Columns = append(fr.Columns, col)
	}

	// Probes: the map's own query, one key per class, and mapgate's own
	// answer for the same key.
	mg, err := newMapgateView(name, mysqleng.Wrap(cf), mopts, a.opts)
	if err != nil {
		return fail(&Failure{Stage: "read", Message: err.Error()})
	}
	defer mg.close()
	var asciiArgs []any
	control := false
	for _, c := range probeClasses {
		key, args, ok := probeKey(c, cf.Query, maxChars)
		if !ok {
			continue
		}
		pr := &Probe{Class: c.id, Label: c.label, Key: displayKey(c, key)}
		var err error
		pr.Rows, err = runReadOnly(qctx, db, cf.Query.SQL, args...)
		if err := pr.verdict(err, control); err != nil {
			fr.Probes = append(fr.Probes, pr)
			return fail(failureFor(path, err))
		}
		pr.mapgate(mg.m.Explain(qctx, key))
		pr.agree()
		fr.Probes = append(fr.Probes, pr)
		if c.id == "ascii" {
			asciiArgs = args
			control = !pr.Breaks
		}
	}

	// Mixed collations: name every pair of columns that cannot be compared.
	if len(fr.Probes) > 0 && fr.Probes[0].Class == "ascii" && fr.Probes[0].Breaks {
		if fr.Mixed, err = a.mixedPairs(qctx, db, fr.Host, fr.Database, cf.Query.SQL); err != nil {
			return fail(failureFor(path, err))
		}
	}

	// EXPLAIN with the ASCII key, if that key works (a CALL has no plan).
	if len(fr.Probes) > 0 && fr.Probes[0].Class == "ascii" && !fr.Probes[0].Breaks && explainable(cf.Query.SQL) {
		scans, err := explainScans(qctx, db, cf.Query.SQL, asciiArgs)
		if err != nil {
			return fail(failureFor(path, err))
		}
		fr.Scans = scans
	}
	a.conclude(fr, pcs)
	return fr
}

// table returns the metadata of one table (loaded once per audit), nil if
// information_schema does not show it.
func (a *auditor) table(ctx context.Context, db *sql.DB, host, schema, name string) (*tableMeta, error) {
	k := host + "|" + schema + "|" + name
	if t, ok := a.tables[k]; ok {
		return t, nil
	}
	ts, _, err := loadTables(ctx, db, schema, []string{name})
	if err != nil {
		return nil, err
	}
	t := ts[name]
	a.tables[k] = t
	return t, nil
}

// explainable reports whether EXPLAIN can take the statement: a SELECT
// (or a parenthesised one, or WITH), not a CALL.
func explainable(query string) bool {
	q := strings.ToUpper(strings.TrimLeft(query, " \t\r\n("))
	return strings.HasPrefix(q, "SELECT") || strings.HasPrefix(q, "WITH")
}

// explainScans runs EXPLAIN on the query and returns the tables read in
// full with no usable index (type ALL, possible_keys NULL). A table that
// has a usable index the optimizer skipped (tiny tables) is not listed.
func explainScans(ctx context.Context, db *sql.DB, query string, args []any) ([]Scan, error) {
	var scans []Scan
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	rows, err := tx.QueryContext(ctx, "EXPLAIN "+query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	names, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	idx := map[string]int{}
	for i, n := range names {
		idx[strings.ToLower(n)] = i
	}
	vals := make([]sql.NullString, len(names))
	ptrs := make([]any, len(names))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	get := func(n string) sql.NullString {
		if i, ok := idx[n]; ok {
			return vals[i]
		}
		return sql.NullString{}
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		tbl := get("table")
		if !tbl.Valid || strings.HasPrefix(tbl.String, "<") {
			continue
		}
		if get("type").String == "ALL" && (!get("possible_keys").Valid || get("possible_keys").String == "") {
			var n int64
			fmt.Sscan(get("rows").String, &n)
			scans = append(scans, Scan{Table: tbl.String, Rows: n})
		}
	}
	return scans, rows.Err()
}

// conclude turns the probes, scans and samples of a file into findings,
// the tables to convert and the .cf change.
func (a *auditor) conclude(fr *FileReport, pcs []schema.ParamColumns) {
	var breaking, unprotected []string
	codes := map[string]bool{}
	asciiBreaks := false
	for _, p := range fr.Probes {
		if !p.Breaks {
			continue
		}
		fr.AtRisk = true
		codes[strings.TrimPrefix(p.Server, "error ")] = true
		if p.Class == "ascii" {
			asciiBreaks = true
			continue
		}
		breaking = append(breaking, p.Label)
		if p.MapgateAnswer != "notfound" && !asciiBreaks {
			unprotected = append(unprotected, p.Label)
		}
	}
	codeList := sortedKeys(codes)
	if asciiBreaks {
		fr.Findings = append(fr.Findings, Finding{SevRisk, "mixed_collations",
			fmt.Sprintf("Even plain ASCII keys make the query fail (error %s): it compares columns of different collations%s. Every lookup of this map fails.",
				strings.Join(codeList, ", "), mixedText(fr.Mixed, pcs))})
	} else if len(breaking) > 0 {
		fr.Findings = append(fr.Findings, Finding{SevRisk, "breaking_keys",
			fmt.Sprintf("The %s probe keys make the query fail (error %s). Through Postfix's mysql: client one such key makes lookups of this map fail (451 4.3.0) for every recipient for a while.",
				joinAnd(breaking), strings.Join(codeList, ", "))})
		if len(unprotected) == 0 {
			fr.Findings = append(fr.Findings, Finding{SevInfo, "breaking_keys",
				"mapgate answers NOTFOUND for each of these keys (see the mapgate column): it proves that no row can match them."})
		}
	}
	var missed []string
	for _, p := range fr.Probes {
		if p.WrongNotFound {
			missed = append(missed, fmt.Sprintf("%s (%d %s)", p.Label, p.Rows, plural(p.Rows, "row", "rows")))
		}
	}
	var temp []string
	for _, p := range fr.Probes {
		if !p.Breaks && p.MapgateAnswer == "temp" {
			temp = append(temp, p.Label)
		}
	}
	if len(temp) > 0 {
		fr.Findings = append(fr.Findings, Finding{SevWarning, "mapgate_temp",
			fmt.Sprintf("The server answers the %s probe keys, but mapgate answers TEMP for them (see the mapgate column).", joinAnd(temp))})
	}
	if len(missed) > 0 {
		fr.Findings = append(fr.Findings, Finding{SevWarning, "wrong_notfound",
			fmt.Sprintf("The server returns rows for the %s probe keys, but mapgate answers NOTFOUND for them (see the mapgate column). Postfix's own mysql: client gets those rows: a wrong NOTFOUND. The query matches rows whatever the key holds in some branch (a wildcard or catch-all row).",
				joinAnd(missed))})
	}
	if len(unprotected) > 0 {
		fr.Findings = append(fr.Findings, Finding{SevRisk, "mapgate_temp_breaking",
			fmt.Sprintf("mapgate answers TEMP for the %s probe keys, which the server refuses (see the mapgate column): it cannot prove that no row matches them. Only the schema fix gives such keys an answer.", joinAnd(unprotected))})
	}
	for _, s := range fr.Scans {
		fr.Findings = append(fr.Findings, Finding{SevWarning, "full_scan",
			fmt.Sprintf("EXPLAIN: table %s is read in full for every lookup (no usable index; about %d rows).", s.Table, s.Rows)})
	}
	for _, p := range fr.Params {
		if !p.Known && p.Why == selectListWhy {
			fr.Findings = append(fr.Findings, Finding{SevInfo, "select_list",
				fmt.Sprintf("Parameter %d (%s) is in the select list: part of the result, not compared with a column. The probes above tell whether the server builds the result for every key.", p.Index, p.Expansion)})
		} else if !p.Known {
			fr.Findings = append(fr.Findings, Finding{SevInfo, "query_not_understood",
				fmt.Sprintf("Parameter %d (%s): the columns it is compared with are not known (%s); the probes above still tell what the server does.", p.Index, p.Expansion, p.Why)})
		}
	}
	double := false
	for _, c := range fr.Columns {
		if c.Data == nil {
			continue
		}
		switch c.Data.Case {
		case DataDoubleEncoded, DataMixed:
			double = true
			kind, what := "double_encoded", "UTF-8 byte sequences written through a latin1 connection (double-encoded)"
			if c.Data.Case == DataMixed {
				kind, what = "mixed_data", "both latin1 text and UTF-8 byte sequences written through a latin1 connection"
			}
			var now string
			if strings.EqualFold(fr.Conn.Charset, "latin1") {
				now = "They match non-ASCII keys today only because the connection is latin1."
			} else {
				now = fmt.Sprintf("Over a %s connection no non-ASCII key matches these rows.", fr.Conn.Charset)
			}
			fr.Findings = append(fr.Findings, Finding{SevWarning, kind,
				fmt.Sprintf("%s holds %s in %d of %d rows. %s Convert it through a binary type (see Fix); CONVERT TO CHARACTER SET would garble it.",
					c.Name(), what, c.Data.UTF8, c.Data.Rows, now)})
		}
	}
	if !fr.AtRisk {
		fr.Findings = append(fr.Findings, Finding{SevInfo, "safe", "No probe key makes the query fail."})
	}
	sort.SliceStable(fr.Findings, func(i, j int) bool { return sevRank(fr.Findings[i].Severity) < sevRank(fr.Findings[j].Severity) })

	// The fix: note every table a key is compared with; those whose key
	// columns are not utf8mb4 need converting, and when collations mix,
	// every table of the query (converted to one collation).
	needs := false
	var keys []string
	for _, c := range fr.Columns {
		t := a.tables[fr.Host+"|"+c.Schema+"|"+c.Table]
		if c.Charset == "" || t == nil {
			continue
		}
		why := ""
		if !strings.EqualFold(c.Charset, "utf8mb4") || asciiBreaks {
			needs = true
			why = fmt.Sprintf("%s.%s is %s/%s", c.Table, c.Column, c.Charset, c.Collation)
		}
		keys = append(keys, a.note(fr.Host, t, c.Column, why))
	}
	for _, mc := range fr.Mixed {
		for _, side := range []Column{mc.A, mc.B} {
			if t := a.tables[fr.Host+"|"+side.Schema+"|"+side.Table]; t != nil {
				keys = append(keys, a.note(fr.Host, t, side.Column, fmt.Sprintf("%s.%s is %s/%s", side.Table, side.Column, side.Charset, side.Collation)))
			}
		}
	}
	if len(keys) > 0 {
		a.tie(keys...)
	}
	if needs {
		a.fileNeeds[fr] = keys
	}
	base := filepath.Base(fr.Path)
	cs := fr.CFCharset
	if cs == "" {
		cs = "utf8mb4 (the default)"
	}
	switch {
	case double:
		until := fmt.Sprintf("%s: until the conversion, set charset = latin1 (now: %s)", base, cs)
		if strings.EqualFold(fr.CFCharset, "latin1") {
			until = fmt.Sprintf("%s: until the conversion, keep charset = latin1", base)
		}
		fr.FixCF = append(fr.FixCF,
			until+"; the double-encoded rows only match through a latin1 connection.",
			fmt.Sprintf("%s: right after the conversion, set charset = utf8mb4 (or remove the charset line).", base))
	case needs && !strings.EqualFold(fr.Conn.Charset, "utf8mb4"):
		fr.FixCF = append(fr.FixCF, fmt.Sprintf("%s: after the conversion, set charset = utf8mb4 (now: %s).", base, cs))
	case needs:
		fr.FixCF = append(fr.FixCF, fmt.Sprintf("%s: keep charset = %s; nothing to change in the file.", base, cs))
	}
}

// mixedText names, for the finding, the pairs of columns that cannot be
// compared; when none was found, the columns of one comparison with a
// parameter whose collations differ.
func mixedText(pairs []MixedPair, pcs []schema.ParamColumns) string {
	if len(pairs) > 0 {
		var parts []string
		for _, p := range pairs {
			parts = append(parts, p.String())
		}
		return ": " + joinAnd(parts)
	}
	return mixedColumns(pcs)
}

// mixedColumns lists, for the finding, the columns of one comparison whose
// collations differ.
func mixedColumns(pcs []schema.ParamColumns) string {
	for _, pc := range pcs {
		colls := map[string]bool{}
		var parts []string
		for _, ci := range pc.Infos {
			if ci.Collation == "" {
				continue
			}
			colls[strings.ToLower(ci.Collation)] = true
			parts = append(parts, fmt.Sprintf("%s.%s %s", ci.Table, ci.Column, ci.Collation))
		}
		if len(colls) > 1 {
			return ": " + strings.Join(parts, ", ")
		}
	}
	return ""
}

// addFix records that a table needs converting (schema mode).
func (a *auditor) addFix(host string, t *tableMeta, col, why string) string {
	return a.note(host, t, col, why)
}

func sevRank(s string) int {
	switch s {
	case SevRisk:
		return 0
	case SevWarning:
		return 1
	}
	return 2
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// joinAnd joins "a", "b", "c" as "a, b and c".
func joinAnd(list []string) string {
	switch len(list) {
	case 0:
		return ""
	case 1:
		return list[0]
	}
	return strings.Join(list[:len(list)-1], ", ") + " and " + list[len(list)-1]
}
