package audit

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// The target collation of a conversion is read from the server: of the
// utf8mb4 collations it offers, the one that compares the Latin-1
// characters (as mapgate's keys carry them) the way the source collations
// do. The comparison is made by the server itself, pair by pair, so it
// holds for the server at hand (MariaDB 10.10+ offers
// utf8mb4_uca1400_as_ci, MySQL 8 utf8mb4_0900_as_ci, older servers
// neither).

// CollationChange says how a conversion changes comparisons: From (a
// column's collation now) against To (the utf8mb4 collation proposed).
// Changes counts the pairs of test strings (every two printable Latin-1
// characters, each character appended to "a", and expansions such as
// "ss"/"ß") that compare differently; Examples shows some of them as they
// compare under To ("2" = "\u00b2": different before).
type CollationChange struct {
	From     string   `json:"from"`
	To       string   `json:"to"`
	Changes  int      `json:"changes"`
	Examples []string `json:"examples,omitempty"`
}

// identRe is what a collation or charset name may look like; anything else
// is never spliced into SQL.
var identRe = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

// offeredCollations lists the utf8mb4 collations the server offers. MariaDB
// 10.10+ lists its UCA 14.0.0 collations without a character set in
// COLLATIONS and gives their full names (utf8mb4_uca1400_as_ci) in
// COLLATION_CHARACTER_SET_APPLICABILITY.FULL_COLLATION_NAME; MySQL and
// older MariaDB have the full name in COLLATION_NAME.
func offeredCollations(ctx context.Context, db *sql.DB) ([]string, error) {
	var names []string
	collect := func(q string) error {
		return runRows(ctx, db, q, func(rows *sql.Rows) error {
			var n string
			if err := rows.Scan(&n); err != nil {
				return err
			}
			if identRe.MatchString(n) && !contains(names, n) {
				names = append(names, n)
			}
			return nil
		})
	}
	err := collect("SELECT FULL_COLLATION_NAME FROM information_schema.COLLATION_CHARACTER_SET_APPLICABILITY WHERE CHARACTER_SET_NAME = 'utf8mb4'")
	if mysqlErrNo(err) == 1054 { // no FULL_COLLATION_NAME: not MariaDB 10.10+
		err = collect("SELECT COLLATION_NAME FROM information_schema.COLLATION_CHARACTER_SET_APPLICABILITY WHERE CHARACTER_SET_NAME = 'utf8mb4'")
	}
	if err != nil {
		return nil, fmt.Errorf("information_schema.COLLATION_CHARACTER_SET_APPLICABILITY: %w", err)
	}
	sort.Strings(names)
	return names, nil
}

// source is a collation to keep, with its character set.
type source struct{ charset, collation string }

// utf8mb4Lit is a utf8mb4 string literal of s that does not depend on the
// connection's character set.
func utf8mb4Lit(s string) string { return fmt.Sprintf("CONVERT(X'%X' USING utf8mb4)", s) }

// quickPairs tell the common collation families apart: case, accents,
// German, Scandinavian and Icelandic letters, expansions, trailing spaces.
var quickPairs = [][2]string{
	{"a", "A"}, {"e", "\u00e9"}, {"E", "\u00e9"}, {"a", "\u00e4"}, {"o", "\u00f6"}, {"u", "\u00fc"},
	{"y", "\u00fc"}, {"ss", "\u00df"}, {"ae", "\u00e6"}, {"ae", "\u00e4"}, {"oe", "\u00f6"},
	{"ue", "\u00fc"}, {"aa", "\u00e5"}, {"a", "\u00e5"}, {"d", "\u00f0"}, {"th", "\u00fe"},
	{"n", "\u00f1"}, {"s", "\u0161"}, {"\u00f6", "\u00f8"}, {"\u00e4", "\u00e6"}, {"a ", "a"},
	{"\u0160", "\u0161"}, {"i", "\u00ed"}, {"c", "\u00e7"},
}

// expansions are multi-character pairs some collations make equal.
var expansions = [][2]string{
	{"ss", "\u00df"}, {"SS", "\u00df"}, {"ae", "\u00e6"}, {"AE", "\u00c6"}, {"oe", "\u0153"}, {"OE", "\u0152"},
	{"th", "\u00fe"}, {"ae", "\u00e4"}, {"oe", "\u00f6"}, {"ue", "\u00fc"}, {"aa", "\u00e5"}, {"a ", "a"},
}

// pairsCTE returns a WITH clause defining p(x, y): the test pairs, utf8mb4.
// full adds every two printable Latin-1 characters and each character
// appended to "a" (which finds ignorable characters).
func pairsCTE(full bool) string {
	var lits []string
	list := quickPairs
	if full {
		list = expansions
	}
	for _, p := range list {
		lits = append(lits, "SELECT "+utf8mb4Lit(p[0])+", "+utf8mb4Lit(p[1]))
	}
	if !full {
		return "WITH p(x, y) AS (" + strings.Join(lits, " UNION ALL ") + ")"
	}
	// MySQL's latin1 is cp1252: 0x80-0x9F hold € Š Œ ... but for five
	// undefined bytes; controls are left out.
	return `WITH RECURSIVE n(i) AS (SELECT 32 UNION ALL SELECT i + 1 FROM n WHERE i < 255),
 c(i, s) AS (SELECT i, CONVERT(CONVERT(UNHEX(HEX(i)) USING latin1) USING utf8mb4) FROM n WHERE i <> 127 AND i NOT IN (129, 141, 143, 144, 157)),
 p(x, y) AS (SELECT a.s, b.s FROM c a JOIN c b ON a.i < b.i
  UNION ALL SELECT CONCAT(` + utf8mb4Lit("a") + `, s), ` + utf8mb4Lit("a") + ` FROM c
  UNION ALL ` + strings.Join(lits, " UNION ALL ") + `)`
}

// differs is the SQL condition "x and y compare differently under the
// source and under to".
func differs(src source, to string) string {
	old := fmt.Sprintf("(CONVERT(x USING %s) COLLATE %s = CONVERT(y USING %s) COLLATE %s)", src.charset, src.collation, src.charset, src.collation)
	return fmt.Sprintf("(%s <> (x COLLATE %s = y COLLATE %s))", old, to, to)
}

// quickScores counts, for every candidate, the quick pairs that compare
// differently from the sources (summed over the sources), in one query.
func quickScores(ctx context.Context, db *sql.DB, srcs []source, candidates []string) ([]int, error) {
	var sums []string
	for _, c := range candidates {
		var parts []string
		for _, s := range srcs {
			parts = append(parts, "SUM"+differs(s, c))
		}
		sums = append(sums, strings.Join(parts, " + "))
	}
	q := pairsCTE(false) + " SELECT " + strings.Join(sums, ", ") + " FROM p"
	scores := make([]int, len(candidates))
	dst := make([]any, len(candidates))
	for i := range scores {
		dst[i] = &scores[i]
	}
	if err := runRow(ctx, db, q, dst...); err != nil {
		return nil, fmt.Errorf("comparing collations: %w", err)
	}
	return scores, nil
}

// compareCollation runs the full comparison of src against to and returns
// the pairs that change (at most limit examples).
func compareCollation(ctx context.Context, db *sql.DB, src source, to string, limit int) (CollationChange, error) {
	ch := CollationChange{From: src.collation, To: to}
	q := pairsCTE(true) + fmt.Sprintf(" SELECT HEX(x), HEX(y), (CONVERT(x USING %s) COLLATE %s = CONVERT(y USING %s) COLLATE %s) FROM p WHERE %s",
		src.charset, src.collation, src.charset, src.collation, differs(src, to))
	err := runRows(ctx, db, q, func(rows *sql.Rows) error {
		var hx, hy string
		var equalBefore bool
		if err := rows.Scan(&hx, &hy, &equalBefore); err != nil {
			return err
		}
		ch.Changes++
		if len(ch.Examples) < limit {
			ch.Examples = append(ch.Examples, pairText(hx, hy, equalBefore))
		}
		return nil
	})
	if err != nil {
		return ch, fmt.Errorf("comparing %s with %s: %w", src.collation, to, err)
	}
	return ch, nil
}

// pairText describes one changed pair as it compares after the
// conversion: "a" = "\u00aa" (different before), or "a" <> "b".
func pairText(hx, hy string, equalBefore bool) string {
	x, y := unhexText(hx), unhexText(hy)
	if equalBefore {
		return fmt.Sprintf("%s <> %s", x, y)
	}
	return fmt.Sprintf("%s = %s", x, y)
}

// unhexText turns HEX() output into the escaped text it encodes.
func unhexText(h string) string {
	b := make([]byte, len(h)/2)
	for i := range b {
		fmt.Sscanf(h[2*i:2*i+2], "%02X", &b[i])
	}
	return escapeText(string(b))
}

// neutralWords are the parts of collation names that name no language.
var neutralWords = map[string]bool{"utf8mb4": true, "utf8mb3": true, "utf8": true, "latin1": true, "uca1400": true, "0900": true,
	"unicode": true, "520": true, "general": true, "general1400": true, "nopad": true, "as": true, "ai": true,
	"ci": true, "cs": true, "ks": true, "bin": true, "mysql500": true}

// eligible keeps the language-neutral candidates and those of a language a
// source collation names (latin1_swedish_ci: utf8mb4_swedish_ci). A
// collation for another language can happen to score well on the test
// pairs and still sort and compare that language's way.
//
// A case-sensitive candidate (_cs, _bin) is eligible only when some source
// is: Postfix folds the keys it sends, so the stored rows' answers may not
// show the difference, but every row written later in another case, and
// every other client of the tables, would.
func eligible(candidates []string, srcs []source) []string {
	langs := map[string]bool{}
	caseSensitive := false
	for _, s := range srcs {
		caseSensitive = caseSensitive || !strings.HasSuffix(s.collation, "_ci")
		for _, w := range strings.Split(s.collation, "_") {
			langs[w] = true
		}
	}
	var out []string
	for _, c := range candidates {
		ok := caseSensitive || strings.HasSuffix(strings.ToLower(c), "_ci")
		for _, w := range strings.Split(strings.ToLower(c), "_") {
			if !neutralWords[w] && !langs[w] {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, c)
		}
	}
	return out
}
