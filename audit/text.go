package audit

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"mapgate/charset"
)

// WriteText writes the report for people. It names .cf files by their
// base name and leaves out hosts and ports, so the same schema gives the
// same text wherever the server runs.
func WriteText(w io.Writer, r *Report) error {
	tw := &textWriter{w: w}
	if r.Schema != nil {
		tw.schema(r.Schema)
	} else {
		atRisk, failed := 0, 0
		for _, m := range r.Maps {
			if m.AtRisk() {
				atRisk++
			}
			for _, f := range m.Files {
				if f.Failure != nil {
					failed++
					break
				}
			}
		}
		tw.printf("mapgate audit: %d %s, %d at risk, %d not fully audited\n", len(r.Maps), plural(len(r.Maps), "map", "maps"), atRisk, failed)
		for _, m := range r.Maps {
			tw.mapReport(m)
		}
	}
	tw.fix(r)
	return tw.err
}

type textWriter struct {
	w   io.Writer
	err error
}

func (t *textWriter) printf(format string, args ...any) {
	if t.err == nil {
		_, t.err = fmt.Fprintf(t.w, format, args...)
	}
}

// para writes text wrapped at 100 columns, the first line after prefix,
// the others indented to match.
func (t *textWriter) para(prefix, text string) {
	t.paraCont(prefix, strings.Repeat(" ", len(prefix)), text)
}

// paraCont is para with indent starting the continuation lines.
func (t *textWriter) paraCont(prefix, indent, text string) {
	line := prefix
	width := len(prefix)
	first := true
	for _, word := range strings.Fields(text) {
		if !first && width+1+len(word) > 100 {
			t.printf("%s\n", line)
			line, width, first = indent, len(indent), true
		}
		if !first {
			line += " "
			width++
		}
		line += word
		width += len(word)
		first = false
	}
	t.printf("%s\n", line)
}

func (t *textWriter) table(rows [][]string, indent string) {
	if t.err != nil {
		return
	}
	tw := tabwriter.NewWriter(t.w, 0, 0, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintf(tw, "%s%s\n", indent, strings.Join(r, "\t"))
	}
	t.err = tw.Flush()
}

func (t *textWriter) mapReport(m *MapReport) {
	status := "ok"
	if m.AtRisk() {
		status = "AT RISK"
	}
	failed := 0
	for _, f := range m.Files {
		if f.Failure != nil {
			failed++
		}
	}
	switch {
	case failed == len(m.Files):
		status = "NOT AUDITED"
	case failed > 0:
		status += ", NOT FULLY AUDITED"
	}
	t.printf("\n== map %s: %s\n", m.Name, status)
	for _, f := range m.Files {
		t.file(f)
	}
}

func (t *textWriter) file(f *FileReport) {
	base := filepath.Base(f.Path)
	t.printf("\n  file %s", base)
	if f.Database != "" {
		cs := f.CFCharset
		switch {
		case strings.HasPrefix(f.Path, "pgsql:"):
			t.printf(": database %s, %s, %s", f.Database, f.Conn.Charset, f.Conn.Collation)
		case cs == "":
			cs = "utf8mb4 (default)"
			fallthrough
		default:
			t.printf(": database %s, charset = %s, connection %s/%s", f.Database, cs, f.Conn.Charset, f.Conn.Collation)
		}
	}
	t.printf("\n")
	if f.Query != "" {
		t.para("  query ", f.Query)
	}
	for _, p := range f.Params {
		cols := strings.Join(p.Columns, ", ")
		if !p.Known {
			cols = "unknown: " + p.Why
		} else if cols == "" {
			cols = "no column"
		}
		t.printf("  ?%d %s %s %s\n", p.Index, p.Expansion, p.Op, cols)
	}
	if len(f.Columns) > 0 {
		t.printf("\n")
		t.columns([]string{"column", "charset/collation", "type", "indexed", "stored data"}, f.Columns, false)
	}
	if len(f.Probes) > 0 {
		t.printf("\n  probe keys, each sent through this query in a read-only transaction:\n")
		rows := [][]string{{"class", "key", "server", "mapgate"}}
		for _, p := range f.Probes {
			server := p.Server
			if p.Breaks {
				server = "BREAKS (" + p.Server + ")"
			} else if p.Rows > 0 {
				server += fmt.Sprintf(", %d %s", p.Rows, plural(p.Rows, "row", "rows"))
			}
			pred := p.Mapgate
			if !p.Agrees {
				pred += " (!)"
			}
			rows = append(rows, []string{p.Label, probeSample(p), server, pred})
		}
		t.table(rows, "  ")
	}
	if f.Failure != nil {
		t.printf("\n")
		t.para("  NOT AUDITED: ", f.Failure.Message)
	}
	if len(f.Findings) > 0 {
		t.printf("\n")
		for _, fd := range f.Findings {
			t.para(fmt.Sprintf("  %-8s", strings.ToUpper(fd.Severity)), fd.Text)
		}
	}
	if len(f.FixTables) > 0 || len(f.FixCF) > 0 {
		t.printf("\n")
		if len(f.FixTables) > 0 {
			t.para("  fix: ", "convert "+strings.Join(f.FixTables, ", ")+" (statements under \"Fix\" below)")
		}
		for _, c := range f.FixCF {
			t.para("       ", c)
		}
	}
}

// probeSample shows a probe's sample rather than the whole key.
func probeSample(p *Probe) string {
	for _, c := range probeClasses {
		if c.id == p.Class {
			if c.id == "too_long" {
				return p.Key
			}
			return charset.Escape(c.sample) + "@..."
		}
	}
	return p.Key
}

// columns prints a table of columns under header, then their escaped
// example rows.
func (t *textWriter) columns(header []string, cols []*Column, withBreaks bool) {
	rows := [][]string{header}
	var examples []string
	for _, c := range cols {
		rows = append(rows, columnRow(c, withBreaks))
		examples = append(examples, exampleLines(c)...)
	}
	t.table(rows, "  ")
	for _, e := range examples {
		t.printf("    %s\n", e)
	}
}

func columnRow(c *Column, withBreaks bool) []string {
	cs := c.Charset + "/" + c.Collation
	if c.Charset == "" {
		cs = "-"
	}
	idx := "no"
	if c.Indexed {
		idx = "yes"
	}
	data := "not sampled (not latin1)"
	if c.Data != nil {
		data = dataText(c.Data)
	}
	row := []string{c.Name(), cs, c.Type, idx}
	if withBreaks {
		b := "-"
		if len(c.Breaks) > 0 {
			var labels []string
			for _, id := range c.Breaks {
				labels = append(labels, classShort(id))
			}
			b = strings.Join(labels, ", ")
		}
		row = append(row, b)
	}
	return append(row, data)
}

// classShort is a short label for tables.
func classShort(id string) string {
	switch id {
	case "latin1":
		return "latin1"
	case "4byte":
		return "4-byte"
	case "invalid_utf8":
		return "invalid-UTF-8"
	case "too_long":
		return "over-long"
	}
	return classLabel(id)
}

func dataText(d *Data) string {
	switch d.Case {
	case DataASCII:
		return fmt.Sprintf("ASCII only (%d %s)", d.Rows, plural(int(d.Rows), "row", "rows"))
	case DataLatin1:
		return fmt.Sprintf("latin1 text (%d of %d rows non-ASCII)", d.NonASCII, d.Rows)
	case DataDoubleEncoded:
		return fmt.Sprintf("DOUBLE-ENCODED UTF-8 (%d of %d rows)", d.UTF8, d.Rows)
	case DataMixed:
		return fmt.Sprintf("MIXED latin1 and UTF-8 (%d latin1, %d UTF-8 of %d rows)", d.NonASCII-d.UTF8, d.UTF8, d.Rows)
	}
	return d.Case
}

func exampleLines(c *Column) []string {
	if c.Data == nil {
		return nil
	}
	var out []string
	for _, e := range c.Data.Examples {
		s := c.Name() + " stores " + e.Bytes
		if e.AsUTF8 != "" {
			s += " = UTF-8 " + e.AsUTF8
		}
		out = append(out, s)
	}
	return out
}

func (t *textWriter) schema(s *SchemaReport) {
	status := "ok"
	if s.AtRisk {
		status = "AT RISK"
	}
	if s.Failure != nil {
		status = "NOT AUDITED"
	}
	t.printf("mapgate audit: database %s: %s\n", s.Database, status)
	if s.Conn.Charset != "" {
		t.printf("  connection %s/%s\n", s.Conn.Charset, s.Conn.Collation)
	}
	if s.Failure != nil {
		t.para("  NOT AUDITED: ", s.Failure.Message)
	}
	if len(s.Columns) > 0 {
		t.printf("\n  every text column, probed with EXPLAIN SELECT 1 FROM table WHERE column = ?:\n")
		t.columns([]string{"column", "charset/collation", "type", "indexed", "keys that break it", "stored data"}, s.Columns, true)
	}
	if len(s.Findings) > 0 {
		t.printf("\n")
		for _, fd := range s.Findings {
			t.para(fmt.Sprintf("  %-8s", strings.ToUpper(fd.Severity)), fd.Text)
		}
	}
}

func (t *textWriter) fix(r *Report) {
	if r.PlanFailure != nil {
		t.printf("\n")
		t.para("  NO FIX: ", r.PlanFailure.Message)
	}
	if len(r.Fix) == 0 {
		return
	}
	t.printf("\n== Fix: convert %d %s to utf8mb4\n\n", len(r.Fix), plural(len(r.Fix), "table", "tables"))
	for _, c := range Caveats {
		t.para("  - ", c)
	}
	for i, g := range r.Groups {
		t.groupSummary(i+1, g)
	}
	// Every preflight before the first change: a precondition that fails
	// in any group stops the statements with nothing converted.
	for i, g := range r.Groups {
		t.printf("\n-- group %d, preflight: changes nothing; stops with a message if a precondition fails\n", i+1)
		for _, s := range g.Preflight {
			t.printf("%s\n", s)
		}
	}
	for i, g := range r.Groups {
		t.groupSQL(i+1, g, r.Fix)
	}
}

// groupSummary prints a group's collation, what it changes and the
// preflight, before any SQL.
func (t *textWriter) groupSummary(n int, g *FixGroup) {
	status := "ready"
	switch g.Verdict {
	case "review":
		status = "review: answers change; the statements stop at the preflight unless run after SET @mapgate_review = 'accept';"
	case "not_ready":
		status = "NOT READY: the statements stop at the preflight"
	}
	t.printf("\n  group %d: %s to %s (%s)\n", n, strings.Join(g.Tables, ", "), g.Collation, status)
	for _, c := range g.Checks {
		mark := "ok  "
		if !c.OK {
			mark = "FAIL"
		}
		t.paraCont(fmt.Sprintf("    %s %-15s", mark, c.Name), strings.Repeat(" ", 25), c.Text)
		if c.Name == "answers" && g.Answers != nil {
			t.answerChanges(g.Answers.Changes)
		}
	}
}

// answerChanges lists every changed answer, one line per stored value:
// the keys that find it and did not, or no longer find it.
func (t *textWriter) answerChanges(changes []AnswerChange) {
	type row struct{ column, value string }
	var order []row
	found, lost := map[row][]string{}, map[row][]string{}
	for _, ch := range changes {
		r := row{ch.Column, ch.Row}
		if _, ok := found[r]; !ok {
			if _, ok := lost[r]; !ok {
				order = append(order, r)
			}
		}
		k := ch.Key + " (" + ch.Kind + ")"
		if ch.After {
			found[r] = append(found[r], k)
		} else {
			lost[r] = append(lost[r], k)
		}
	}
	for _, r := range order {
		if ks := found[r]; len(ks) > 0 {
			t.paraCont("      - ", "        ", fmt.Sprintf("%s %s is found by %s", r.column, r.value, strings.Join(ks, ", ")))
		}
		if ks := lost[r]; len(ks) > 0 {
			t.paraCont("      - ", "        ", fmt.Sprintf("%s %s is no longer found by %s", r.column, r.value, strings.Join(ks, ", ")))
		}
	}
}

// groupSQL prints a group's changes: foreign keys dropped, tables, foreign
// keys added back.
func (t *textWriter) groupSQL(n int, g *FixGroup, fixes []*TableFix) {
	t.printf("\n-- group %d: %s to %s\n", n, strings.Join(g.Tables, ", "), g.Collation)
	if len(g.DropKeys) > 0 {
		t.printf("-- group %d: the foreign keys over text columns, dropped for the conversion\n", n)
		for _, s := range g.DropKeys {
			t.printf("%s\n", s)
		}
	}
	for _, f := range fixes {
		if f.Group != n-1 {
			continue
		}
		t.printf("\n")
		t.paraCont("-- ", "--   ", fmt.Sprintf("%s.%s: about %d rows, %s. Fixes: %s.", f.Schema, f.Table, f.Rows, size(f.Bytes), f.Why))
		for _, c := range f.Caveats {
			t.paraCont("-- NOTE: ", "--   ", c)
		}
		for _, s := range f.Statements {
			t.printf("%s\n", s)
		}
	}
	if len(g.AddKeys) > 0 {
		t.printf("\n-- group %d: the foreign keys added back\n", n)
		for _, s := range g.AddKeys {
			t.printf("%s\n", s)
		}
	}
}

func size(b int64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	}
	return fmt.Sprintf("%d KiB", b>>10)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
