package audit

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"mapgate/charset"
)

// A conversion is ready only when no lookup changes its answer. The audit
// checks that against the rows that exist, asking the server itself:
//
//   - the key columns' own values: two values that differ now and become
//     equal (a key that found one finds both; merges, see key_values and
//     duplicate_keys), or that are equal now and become different (a key
//     that found both finds one; splits);
//   - keys derived from each stored value, folded as Postfix folds a
//     mysql: table's key (charset.PostfixFold; full case folding, so a
//     key never reaches the table with ß or a ligature, and Straße@ is
//     looked up as strasse@): its case folding, accents added and
//     removed, ß/ss and the other expansions, ligatures in stored values,
//     ignorable characters (U+00AD, C0 controls such as Ctrl-Z, U+200B,
//     U+FEFF), a combining accent, fullwidth forms and a trailing space.
//     Each is compared with the value it came from now (the key converted
//     to the column's character set, under its collation; a key that
//     character set cannot hold matches nothing) and under the candidate.
//
// Of the server's utf8mb4 collations, the one that changes fewest answers
// is chosen (rows first, then keys the columns can hold today, then the
// others); any change makes the fix "review", with every changed pair
// listed.

// AnswerChange is one lookup whose answer the conversion changes: the key
// Key (as Postfix sends it, escaped) compared with the stored value Row of
// Column matches Before and not After, or the other way round.
type AnswerChange struct {
	Column string `json:"column"`
	// Kind is how the key was made from the row: "case", "accent", "ß/ss",
	// "ignorable U+00AD", "fullwidth", ..., or "rows" for two stored
	// values.
	Kind   string `json:"kind"`
	Key    string `json:"key"`
	Row    string `json:"row"`
	Before bool   `json:"before"`
	After  bool   `json:"after"`
}

// String is `key "strasse@example.com" finds "straße@example.com" (ß/ss)`.
func (c AnswerChange) String() string {
	verb := "finds"
	if !c.After {
		verb = "no longer finds"
	}
	return fmt.Sprintf("%s: key %s %s %s (%s)", c.Column, c.Key, verb, c.Row, c.Kind)
}

// AnswerCheck is what the answer check found for a group's collation.
type AnswerCheck struct {
	// Values is how many distinct stored key values were checked, Keys how
	// many derived keys.
	Values int `json:"values"`
	Keys   int `json:"keys"`
	// Changes are every lookup whose answer changes (merges of stored
	// values are in the key_values and duplicate_keys checks).
	Changes []AnswerChange `json:"changes,omitempty"`
	// Merged counts the sets of stored values that become equal.
	Merged int `json:"merged"`
	// Unchecked names columns whose values were not all checked, and why:
	// the fix cannot be called ready. Notes are columns left out by design
	// (double-encoded text, whose matches the conversion is there to
	// change).
	Unchecked []string `json:"unchecked,omitempty"`
	Notes     []string `json:"notes,omitempty"`
}

// changed reports whether some answer changes (or could not be checked).
func (c *AnswerCheck) changed() bool {
	return len(c.Changes) > 0 || c.Merged > 0 || len(c.Unchecked) > 0
}

// maxKeyValues is how many distinct values of one column are checked;
// sampleValues how many per column take part in choosing the collation.
const (
	maxKeyValues = 20000
	sampleValues = 300
)

// keyColumn is one key column of a table to convert, with its values.
type keyColumn struct {
	name    string // schema.table.column
	src     source
	values  []string // distinct (by bytes) values, as UTF-8
	t       *tableMeta
	c       *colMeta
	variant [][]keyVariant // per value
}

// loadKeyColumns reads the distinct values of the key columns of the
// tables. Columns holding double-encoded UTF-8 are left out (their
// conversion changes what they match by design) and named in notes.
func loadKeyColumns(ctx context.Context, db *sql.DB, members []*want) (cols []*keyColumn, unchecked, notes []string, err error) {
	for _, w := range members {
		for _, c := range w.t.cols {
			if !c.textual() || !w.keyCols[strings.ToLower(c.name)] {
				continue
			}
			name := w.t.schema + "." + w.t.name + "." + c.name
			if !identRe.MatchString(c.charset) || !identRe.MatchString(c.collation) {
				return nil, nil, nil, fmt.Errorf("unexpected collation name %q", c.collation)
			}
			if c.data != nil && (c.data.Case == DataDoubleEncoded || c.data.Case == DataMixed) {
				notes = append(notes, name+": holds UTF-8 written through a latin1 connection; what its rows match changes with the conversion by design")
				continue
			}
			kc := &keyColumn{name: name, src: source{strings.ToLower(c.charset), strings.ToLower(c.collation)}, t: w.t, c: c}
			q := fmt.Sprintf("SELECT HEX(CONVERT(%s USING utf8mb4)) FROM %s GROUP BY CAST(%s AS BINARY) ORDER BY CAST(%s AS BINARY) LIMIT %d",
				quoteIdent(c.name), w.t.qualified(), quoteIdent(c.name), quoteIdent(c.name), maxKeyValues+1)
			err := runRows(ctx, db, q, func(rows *sql.Rows) error {
				var h sql.NullString
				if err := rows.Scan(&h); err != nil {
					return err
				}
				if h.Valid {
					b, err := hex.DecodeString(h.String)
					if err != nil {
						return err
					}
					kc.values = append(kc.values, string(b))
				}
				return nil
			})
			if err != nil {
				return nil, nil, nil, fmt.Errorf("reading the values of %s: %w", name, err)
			}
			if len(kc.values) > maxKeyValues {
				kc.values = kc.values[:maxKeyValues]
				unchecked = append(unchecked, fmt.Sprintf("%s: more than %d distinct values; only the first %d were checked", name, maxKeyValues, maxKeyValues))
			}
			for _, v := range kc.values {
				kc.variant = append(kc.variant, keyVariants(v))
			}
			cols = append(cols, kc)
		}
	}
	return cols, unchecked, notes, nil
}

// keyVariant is a key derived from a stored value.
type keyVariant struct{ kind, key string }

// accented are the accented forms of letters (Latin-1, and the cp1252
// letters MySQL's latin1 holds).
var accented = map[rune]string{
	'a': "àáâãäå", 'e': "èéêë", 'i': "ìíîï", 'o': "òóôõöø", 'u': "ùúûü", 'y': "ýÿ",
	'n': "ñ", 'c': "ç", 's': "š", 'z': "ž", 'd': "ð",
}

// baseLetter maps each accented form back to its letter.
var baseLetter = func() map[rune]rune {
	m := map[rune]rune{}
	for b, forms := range accented {
		for _, r := range forms {
			m[r] = b
		}
	}
	return m
}()

// expansionPairs are strings some collations make equal to one character.
var expansionPairs = [][2]string{
	{"ss", "ß"}, {"ae", "æ"}, {"oe", "œ"}, {"th", "þ"}, {"aa", "å"}, {"ae", "ä"}, {"oe", "ö"}, {"ue", "ü"},
	{"ij", "ĳ"}, {"fi", "ﬁ"}, {"fl", "ﬂ"}, {"ff", "ﬀ"}, {"st", "ﬆ"},
	// utf8mb4_general_ci gives every character beyond the BMP the weight
	// of U+FFFD.
	{"\ufffd", "\U0001F600"},
}

// ignorableChars are characters UCA collations ignore.
var ignorableChars = []string{"\u00ad", "\x01", "\x1a", "\x1f", "\u200b", "\u2060", "\ufeff"}

// keyVariants derives the keys worth comparing with the stored value v:
// each folded as Postfix folds the key of a mysql: table, and different
// from v.
func keyVariants(v string) []keyVariant {
	var out []keyVariant
	seen := map[string]bool{v: true}
	add := func(kind, k string) {
		k = charset.PostfixFold(k, true)
		if !seen[k] && utf8.ValidString(k) {
			seen[k] = true
			out = append(out, keyVariant{kind, k})
		}
	}
	add("case", v)
	fv := charset.PostfixFold(v, true)
	var letters []rune
	for _, r := range fv {
		if !strings.ContainsRune(string(letters), r) {
			letters = append(letters, r)
		}
	}
	for _, r := range letters {
		if b, ok := baseLetter[r]; ok {
			add("accent", strings.ReplaceAll(fv, string(r), string(b)))
		}
		for _, a := range accented[r] {
			add("accent", strings.ReplaceAll(fv, string(r), string(a)))
		}
	}
	for _, p := range expansionPairs {
		kind := p[0] + "/" + p[1]
		if strings.Contains(fv, p[0]) {
			add(kind, strings.ReplaceAll(fv, p[0], p[1]))
		}
		if strings.Contains(v, p[1]) {
			add(kind, strings.ReplaceAll(v, p[1], p[0]))
		}
	}
	if fv != "" {
		_, n := utf8.DecodeRuneInString(fv)
		for _, ig := range ignorableChars {
			kind := fmt.Sprintf("ignorable U+%04X", []rune(ig)[0])
			add(kind, fv[:n]+ig+fv[n:])
			if at := strings.LastIndexByte(fv, '@'); at > 0 {
				add(kind, fv[:at]+ig+fv[at:])
			}
			add(kind, fv+ig)
		}
		if i := strings.IndexAny(fv, "aeiou"); i >= 0 {
			add("combining accent", fv[:i+1]+"\u0301"+fv[i+1:])
		}
	}
	var full strings.Builder
	for _, r := range fv {
		if r > ' ' && r < 0x7f {
			r += 0xfee0 // FULLWIDTH forms, U+FF01-U+FF5E
		}
		full.WriteRune(r)
	}
	add("fullwidth", full.String())
	add("trailing space", fv+" ")
	return out
}

// pairResult is how one derived key compares with its value: before, and
// under each candidate.
type pairResult struct {
	col, value, variant int
	before              bool
	after               []bool
}

// pairChunk is how many pairs one query compares.
const pairChunk = 400

// comparePairs compares, in the server, every derived key of the first
// limit values of each column with its value, now and under each
// candidate.
func comparePairs(ctx context.Context, db *sql.DB, cols []*keyColumn, candidates []string, limit int) ([]pairResult, error) {
	var out []pairResult
	for ci, kc := range cols {
		var pending []pairResult
		flush := func() error {
			if len(pending) == 0 {
				return nil
			}
			res, err := comparePairChunk(ctx, db, kc, pending, candidates)
			if err != nil {
				return err
			}
			out = append(out, res...)
			pending = pending[:0]
			return nil
		}
		for vi := range kc.values {
			if vi >= limit {
				break
			}
			for ki := range kc.variant[vi] {
				pending = append(pending, pairResult{col: ci, value: vi, variant: ki})
				if len(pending) == pairChunk {
					if err := flush(); err != nil {
						return nil, err
					}
				}
			}
		}
		if err := flush(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// comparePairChunk runs one query for pairs of one column. A key the
// column's character set cannot hold matches nothing now (the server
// refuses the comparison, mapgate answers NOTFOUND).
func comparePairChunk(ctx context.Context, db *sql.DB, kc *keyColumn, pairs []pairResult, candidates []string) ([]pairResult, error) {
	var lits []string
	for i, p := range pairs {
		lits = append(lits, fmt.Sprintf("SELECT %d AS i, %s AS k, %s AS v", i,
			utf8mb4Lit(kc.variant[p.value][p.variant].key), utf8mb4Lit(kc.values[p.value])))
	}
	cs, coll := kc.src.charset, kc.src.collation
	before := fmt.Sprintf("IF(CONVERT(CONVERT(k USING %[1]s) USING utf8mb4) = k COLLATE utf8mb4_bin, CONVERT(k USING %[1]s) COLLATE %[2]s = CONVERT(v USING %[1]s) COLLATE %[2]s, 0)", cs, coll)
	var after []string
	for _, c := range candidates {
		after = append(after, fmt.Sprintf("IF(k COLLATE %[1]s = v COLLATE %[1]s, '1', '0')", c))
	}
	q := fmt.Sprintf("SELECT i, %s, CONCAT(%s) FROM (%s) p", before, strings.Join(after, ", "), strings.Join(lits, " UNION ALL "))
	out := append([]pairResult(nil), pairs...)
	err := runRows(ctx, db, q, func(rows *sql.Rows) error {
		var i int
		var b bool
		var flags string
		if err := rows.Scan(&i, &b, &flags); err != nil {
			return err
		}
		if i < 0 || i >= len(out) || len(flags) != len(candidates) {
			return fmt.Errorf("unexpected row %d %q", i, flags)
		}
		out[i].before = b
		out[i].after = make([]bool, len(candidates))
		for j := range candidates {
			out[i].after[j] = flags[j] == '1'
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("comparing keys with %s: %w", kc.name, err)
	}
	return out, nil
}

// rowChanges counts, in one column, the sets of values that become equal
// under collation (merged) and the sets of values equal now that become
// different (splits, with every pair listed).
func rowChanges(ctx context.Context, db *sql.DB, kc *keyColumn, collation string) (merged int, splits []AnswerChange, err error) {
	col := quoteIdent(kc.c.name)
	to := fmt.Sprintf("CONVERT(%s USING utf8mb4) COLLATE %s", col, collation)
	q := fmt.Sprintf("SELECT COUNT(*) FROM (SELECT 1 FROM %s GROUP BY %s HAVING COUNT(DISTINCT %s) > 1) d", kc.t.qualified(), to, col)
	if err := runRow(ctx, db, q, &merged); err != nil {
		return 0, nil, fmt.Errorf("comparing the values of %s: %w", kc.name, err)
	}
	q = fmt.Sprintf("SELECT HEX(CONVERT(GROUP_CONCAT(DISTINCT %s ORDER BY CAST(%s AS BINARY) SEPARATOR '\\0') USING utf8mb4)) FROM %s GROUP BY %s HAVING COUNT(DISTINCT %s) > 1",
		col, col, kc.t.qualified(), col, to)
	err = runRows(ctx, db, q, func(rows *sql.Rows) error {
		var h string
		if err := rows.Scan(&h); err != nil {
			return err
		}
		b, err := hex.DecodeString(h)
		if err != nil {
			return err
		}
		vals := strings.Split(string(b), "\x00")
		for _, v := range vals[1:] {
			splits = append(splits, AnswerChange{Column: kc.name, Kind: "rows", Key: escapeText(charset.PostfixFold(vals[0], true)),
				Row: escapeText(v), Before: true, After: false})
		}
		return nil
	})
	if err != nil {
		return 0, nil, fmt.Errorf("comparing the values of %s: %w", kc.name, err)
	}
	return merged, splits, nil
}

// candidateScore orders candidates: fewest changed answers among stored
// values, then among keys the columns hold today, then other keys, then
// the generic test pairs, then the shortest name.
type candidateScore struct {
	rows, held, other, quick int
}

func (s candidateScore) less(t candidateScore) bool {
	switch {
	case s.rows != t.rows:
		return s.rows < t.rows
	case s.held != t.held:
		return s.held < t.held
	case s.other != t.other:
		return s.other < t.other
	}
	return s.quick < t.quick
}

// chooseByAnswers picks, of candidates, the collation that changes fewest
// answers, and checks it on every value.
func chooseByAnswers(ctx context.Context, db *sql.DB, cols []*keyColumn, unchecked []string, srcs []source, candidates []string) (string, *AnswerCheck, error) {
	best := 0
	if len(candidates) > 1 {
		pairs, err := comparePairs(ctx, db, cols, candidates, sampleValues)
		if err != nil {
			return "", nil, err
		}
		quick, err := quickScores(ctx, db, srcs, candidates)
		if err != nil {
			return "", nil, err
		}
		scores := make([]candidateScore, len(candidates))
		for i, c := range candidates {
			scores[i].quick = quick[i]
			for _, kc := range cols {
				merged, splits, err := rowChanges(ctx, db, kc, c)
				if err != nil {
					return "", nil, err
				}
				scores[i].rows += merged + len(splits)
			}
		}
		for _, p := range pairs {
			for i := range candidates {
				if p.after[i] == p.before {
					continue
				}
				if held(cols[p.col], cols[p.col].variant[p.value][p.variant].key) {
					scores[i].held++
				} else {
					scores[i].other++
				}
			}
		}
		for i := range candidates {
			if scores[i].less(scores[best]) || (!scores[best].less(scores[i]) && len(candidates[i]) < len(candidates[best])) {
				best = i
			}
		}
	}
	to := candidates[best]
	check, err := answerCheck(ctx, db, cols, unchecked, to)
	return to, check, err
}

// held reports whether the column's character set can hold key (a key it
// cannot hold found nothing before the conversion).
func held(kc *keyColumn, key string) bool {
	cs, ok := charset.Lookup(kc.src.charset)
	return ok && charset.Check(key, charset.UTF8MB4, cs, 0) == nil
}

// answerCheck lists every answer collation changes, over every value read.
func answerCheck(ctx context.Context, db *sql.DB, cols []*keyColumn, unchecked []string, collation string) (*AnswerCheck, error) {
	ac := &AnswerCheck{Unchecked: unchecked}
	pairs, err := comparePairs(ctx, db, cols, []string{collation}, maxKeyValues)
	if err != nil {
		return nil, err
	}
	for _, kc := range cols {
		ac.Values += len(kc.values)
		merged, splits, err := rowChanges(ctx, db, kc, collation)
		if err != nil {
			return nil, err
		}
		ac.Merged += merged
		ac.Changes = append(ac.Changes, splits...)
	}
	ac.Keys = len(pairs)
	for _, p := range pairs {
		if p.after[0] == p.before {
			continue
		}
		kc := cols[p.col]
		ac.Changes = append(ac.Changes, AnswerChange{Column: kc.name, Kind: kc.variant[p.value][p.variant].kind,
			Key: escapeText(kc.variant[p.value][p.variant].key), Row: escapeText(kc.values[p.value]), Before: p.before, After: p.after[0]})
	}
	sort.SliceStable(ac.Changes, func(i, j int) bool { return ac.Changes[i].Column < ac.Changes[j].Column })
	return ac, nil
}
