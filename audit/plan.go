package audit

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
)

// FixGroup is a set of tables that must be converted together, to one
// collation: tables one query compares with each other, and tables tied by
// foreign keys over text columns. The statements run in this order: the
// Preflight SQL of every group, then per group DropKeys, each table's
// statements (Report.Fix, Group == this group's index), AddKeys.
type FixGroup struct {
	// Collation is the utf8mb4 collation the tables are converted to, read
	// from the server (see CollationChange); Changes says, per collation
	// the key columns have now, which comparisons it changes.
	Collation string            `json:"collation"`
	Changes   []CollationChange `json:"changes,omitempty"`
	// Answers is what the conversion changes in the answers of lookups
	// (answers.go): none for a ready fix.
	Answers *AnswerCheck `json:"answers,omitempty"`
	// Tables are the tables converted (schema.table).
	Tables []string `json:"tables"`
	// ForeignKeys are the constraints on text columns that tie the tables
	// together: dropped before the conversion and added back after it.
	ForeignKeys []*ForeignKey `json:"foreign_keys,omitempty"`
	// Checks are the preflight's findings (the audit's, read-only).
	Checks []Check `json:"preflight"`
	// Ready is false when a check failed: the statements then stop at the
	// preflight with its message, before changing anything. Verdict is
	// "ready"; "review" when the only failed check is answers (some
	// lookup's answer changes: the statements stop unless run after SET
	// @mapgate_review = 'accept'); or "not_ready".
	Ready   bool   `json:"ready"`
	Verdict string `json:"verdict"`
	// Preflight is SQL that changes nothing and stops with a message when
	// a precondition fails when the statements are run (privileges of the
	// account running them, colliding keys, foreign keys changed since the
	// audit). DropKeys and AddKeys drop and add back ForeignKeys.
	Preflight []string `json:"preflight_sql"`
	DropKeys  []string `json:"drop_foreign_keys,omitempty"`
	AddKeys   []string `json:"add_foreign_keys,omitempty"`
}

// Check is one precondition of a fix group.
type Check struct {
	// Name is "foreign_keys", "duplicate_keys", "key_values", "answers",
	// "index_length", "collation" or "privileges".
	Name string `json:"name"`
	OK   bool   `json:"ok"`
	Text string `json:"text"`
}

// want is a table the audit found in a map's query.
type want struct {
	key     string // host|schema|table
	host    string
	t       *tableMeta
	why     []string        // why it needs converting; empty: only tied
	keyCols map[string]bool // lower-case names of columns compared with keys, each other, or in text foreign keys
}

// note records a table and one of its key columns; why, when not empty,
// says why it must be converted.
func (a *auditor) note(host string, t *tableMeta, col, why string) string {
	k := host + "|" + t.schema + "|" + t.name
	w := a.wants[k]
	if w == nil {
		w = &want{key: k, host: host, t: t, keyCols: map[string]bool{}}
		a.wants[k] = w
		a.order = append(a.order, k)
	}
	if col != "" {
		w.keyCols[strings.ToLower(col)] = true
	}
	if why != "" && !contains(w.why, why) {
		w.why = append(w.why, why)
	}
	return k
}

// tie records that tables must end up in one collation.
func (a *auditor) tie(keys ...string) {
	for _, k := range keys[min(1, len(keys)):] {
		ra, rb := a.root(keys[0]), a.root(k)
		if ra != rb {
			a.parent[rb] = ra
		}
	}
}

func (a *auditor) root(k string) string {
	for i := 0; i < 1<<16; i++ {
		p, ok := a.parent[k]
		if !ok || p == k {
			return k
		}
		k = p
	}
	return k
}

// keepDB keeps one connection per host for planning the fix; it reports
// whether db was kept (the caller closes it otherwise).
func (a *auditor) keepDB(host string, db *sql.DB) bool {
	if _, ok := a.dbs[host]; ok {
		return false
	}
	a.dbs[host] = db
	return true
}

// closeDBs closes the kept connections.
func (a *auditor) closeDBs() {
	for _, db := range a.dbs {
		db.Close()
	}
	a.dbs = map[string]*sql.DB{}
}

// plan turns the tables noted during the audit into fix groups: it adds
// the tables foreign keys tie to them, picks each group's collation, and
// runs the preflight.
func (a *auditor) plan(ctx context.Context) error {
	if err := a.addForeignKeys(ctx); err != nil {
		return err
	}
	groups := map[string][]*want{}
	var roots []string
	for _, k := range a.order {
		r := a.root(k)
		if _, ok := groups[r]; !ok {
			roots = append(roots, r)
		}
		groups[r] = append(groups[r], a.wants[k])
	}
	for _, r := range roots {
		members := groups[r]
		needed := false
		for _, w := range members {
			needed = needed || len(w.why) > 0
		}
		if !needed {
			continue
		}
		if err := a.planGroup(ctx, members); err != nil {
			return err
		}
	}
	return nil
}

// addForeignKeys loads the foreign keys of every schema met, notes the
// tables textual ones reach and ties both ends.
func (a *auditor) addForeignKeys(ctx context.Context) error {
	loaded := map[string]bool{}
	for i := 0; i < len(a.order); i++ { // grows while looping
		w := a.wants[a.order[i]]
		sk := w.host + "|" + w.t.schema
		if loaded[sk] {
			continue
		}
		loaded[sk] = true
		db := a.dbs[w.host]
		if db == nil {
			continue
		}
		tables, _, err := loadTables(ctx, db, w.t.schema, nil)
		if err != nil {
			return err
		}
		fks, err := loadForeignKeys(ctx, db, w.t.schema, tables)
		if err != nil {
			return err
		}
		for _, f := range fks {
			if !f.Textual {
				continue
			}
			child, err := a.table(ctx, db, w.host, f.Schema, f.Table)
			if err != nil {
				return err
			}
			parent, err := a.table(ctx, db, w.host, f.RefSchema, f.RefTable)
			if err != nil {
				return err
			}
			if child == nil || parent == nil {
				continue
			}
			var keys []string
			for i := range f.Columns {
				keys = append(keys, a.note(w.host, child, f.Columns[i], ""), a.note(w.host, parent, f.RefColumns[i], ""))
			}
			a.tie(keys...)
			a.fks[w.host+"|"+f.Schema+"|"+f.Table+"|"+f.Name] = f
		}
	}
	return nil
}

// planGroup picks the collation of one group, builds its statements and
// runs its preflight.
func (a *auditor) planGroup(ctx context.Context, members []*want) error {
	db := a.dbs[members[0].host]
	if db == nil {
		return fmt.Errorf("no connection to %s", members[0].host)
	}
	g := &FixGroup{}
	srcs := groupSources(members)
	for _, w := range members {
		if err := w.t.sample(ctx, db, a.opts.Examples); err != nil {
			return err
		}
	}
	var err error
	if g.Collation, g.Changes, g.Answers, err = a.target(ctx, db, srcs, members); err != nil {
		return err
	}
	var convert []*want
	for _, w := range members {
		if w.needsConversion(g.Collation) {
			convert = append(convert, w)
		}
	}
	idx := len(a.report.Groups)
	converted := map[string]bool{}
	for _, w := range convert {
		f := buildFix(w.t, g.Collation)
		f.Group = idx
		f.Why = strings.Join(w.why, "; ")
		if f.Why == "" {
			f.Why = "converted with the tables it is compared with or tied to by foreign keys"
		}
		a.report.Fix = append(a.report.Fix, f)
		a.converted[w.key] = true
		converted[w.t.schema+"."+w.t.name] = true
		g.Tables = append(g.Tables, w.t.schema+"."+w.t.name)
	}
	for _, k := range sortedKeys(a.fkKeys()) {
		f := a.fks[k]
		if converted[f.Schema+"."+f.Table] || converted[f.RefSchema+"."+f.RefTable] {
			g.ForeignKeys = append(g.ForeignKeys, f)
			g.DropKeys = append(g.DropKeys, f.drop())
			g.AddKeys = append(g.AddKeys, f.add())
		}
	}
	if err := a.preflight(ctx, db, g, convert); err != nil {
		return err
	}
	a.report.Groups = append(a.report.Groups, g)
	return nil
}

func (a *auditor) fkKeys() map[string]bool {
	m := map[string]bool{}
	for k := range a.fks {
		m[k] = true
	}
	return m
}

// groupSources are the distinct character sets and collations of the key
// columns of a group's tables.
func groupSources(members []*want) []source {
	seen := map[source]bool{}
	var out []source
	for _, w := range members {
		for _, c := range w.t.cols {
			if !w.keyCols[strings.ToLower(c.name)] || !c.textual() {
				continue
			}
			s := source{strings.ToLower(c.charset), strings.ToLower(c.collation)}
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].collation < out[j].collation })
	return out
}

// target picks the collation for sources: Options.Collation when set,
// else, of the server's language-neutral utf8mb4 collations (and those of
// the sources' language), the one that changes fewest answers (see
// answers.go). It returns what it changes: on the generic test pairs per
// source, and the answers.
func (a *auditor) target(ctx context.Context, db *sql.DB, srcs []source, members []*want) (string, []CollationChange, *AnswerCheck, error) {
	for _, s := range srcs {
		if !identRe.MatchString(s.charset) || !identRe.MatchString(s.collation) {
			return "", nil, nil, fmt.Errorf("unexpected collation name %q", s.collation)
		}
	}
	candidates := []string{a.opts.Collation}
	if a.opts.Collation == "" {
		offered, err := offeredCollations(ctx, db)
		if err != nil {
			return "", nil, nil, err
		}
		if len(offered) == 0 {
			return "", nil, nil, fmt.Errorf("the server offers no utf8mb4 collation")
		}
		if candidates = eligible(offered, srcs); len(candidates) == 0 {
			return "", nil, nil, fmt.Errorf("the server offers no language-neutral utf8mb4 collation")
		}
	} else if !identRe.MatchString(a.opts.Collation) {
		return "", nil, nil, fmt.Errorf("unexpected collation name %q", a.opts.Collation)
	}
	cols, unchecked, notes, err := loadKeyColumns(ctx, db, members)
	if err != nil {
		return "", nil, nil, err
	}
	to, answers, err := chooseByAnswers(ctx, db, cols, unchecked, srcs, candidates)
	if err != nil {
		return "", nil, nil, err
	}
	answers.Notes = notes
	var changes []CollationChange
	for _, s := range srcs {
		ch, err := compareCollation(ctx, db, s, to, 12)
		if err != nil {
			return "", nil, nil, err
		}
		changes = append(changes, ch)
	}
	return to, changes, answers, nil
}

// needsConversion reports whether some key column of the table is not
// utf8mb4 in collation.
func (w *want) needsConversion(collation string) bool {
	for _, c := range w.t.cols {
		if !c.textual() || !w.keyCols[strings.ToLower(c.name)] {
			continue
		}
		if !strings.EqualFold(c.charset, "utf8mb4") || !strings.EqualFold(c.collation, collation) {
			return true
		}
	}
	return false
}
