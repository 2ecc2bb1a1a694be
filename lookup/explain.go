package lookup

import (
	"context"
	"strings"
	"unicode/utf8"

	"mapgate/answer"
	"mapgate/charset"
)

// Explanation is what mapgate does with one lookup key in a map: the
// answer its lookup path serves, and for each search step and .cf file
// what the check before the query decided. Tools that predict mapgate's
// answer (mapgate audit) read it here instead of re-implementing it, so the
// two cannot drift.
type Explanation struct {
	// Result is Map.Lookup's own answer: the key was really looked up,
	// through the map's pools, classification, cache and search.
	Result answer.Result
	// Rejected is why the key itself was answered before any search step
	// ("empty", "nul", "invalid_utf8"); "" when steps were asked.
	Rejected string
	// Steps are the search steps in the order the lookup asks them, each
	// .cf file in turn; the lookup stops at the first one that answers.
	Steps []ExplainStep
}

// ExplainStep is one search step in one .cf file.
type ExplainStep struct {
	// Key is the step's lookup key, folded as it is looked up; File the
	// .cf file.
	Key  string
	File string
	// Skipped is "domain" (the file's domain list excludes the key) or
	// "suppressed" (an expansion of the query is empty: mysql_table(5)
	// "the query is suppressed"); "" when the check ran.
	Skipped string
	// Plan is what the check (PlanArgs, on the columns discovery found)
	// decided for the step's bound values: a miss without a query, the
	// parameters bound as NULL, or the statement sent as it is.
	Plan ArgsPlan
}

// Explain looks key up as Lookup does and says how. Column discovery runs
// first (as the first lookups of a served map trigger it), so that the
// plans rest on the schema as it is now.
func (m *Map) Explain(ctx context.Context, key string) Explanation {
	_ = m.Discover(ctx) // a failure leaves the check to the database, as when serving
	ex := Explanation{Result: m.Lookup(ctx, key)}
	// The checks Map.lookup makes before the search (search.go).
	switch {
	case key == "":
		ex.Rejected = "empty"
		return ex
	case strings.IndexByte(key, 0) >= 0:
		ex.Rejected = charset.ReasonNUL.String()
		return ex
	case m.Opts.SMTPUTF8 && !utf8.ValidString(key):
		ex.Rejected = charset.ReasonInvalidUTF8.String()
		return ex
	}
	var buf [4]Candidate
	for _, c := range m.candidates(key, buf[:0]) {
		for _, t := range m.tables {
			st := ExplainStep{Key: c.Key, File: t.cf.Path}
			args, ok := t.cf.Query.Expand(c.Key, nil)
			switch {
			case !t.domains.allows(c.Key):
				st.Skipped = "domain"
			case !ok:
				st.Skipped = "suppressed"
			default:
				st.Plan = t.plan(args)
			}
			ex.Steps = append(ex.Steps, st)
		}
	}
	return ex
}
