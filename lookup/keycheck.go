package lookup

import "mapgate/engine"

// The check before a query is the table's engine's key policy
// (engine.Engine's Plan, KeyErrorMayBe, KeyErrorIsMiss): which values
// provably cannot match, and what a database error about them proves.

// keyErrorMayBe reports whether an error from the query, run with args,
// can be the key's doing (the check could not vouch for some value).
func (t *table) keyErrorMayBe(args []any) bool {
	return t.engine.KeyErrorMayBe(t.cf, t.facts(), args)
}

// keyErrorIsMiss reports whether the key's error from the query, run with
// args, proves that no row matches.
func (t *table) keyErrorIsMiss(args []any) bool {
	return t.engine.KeyErrorIsMiss(t.cf, t.facts(), args)
}

// plan checks the bound values against what the catalogue found.
func (t *table) plan(args []any) ArgsPlan {
	return t.engine.Plan(t.cf, t.facts(), args)
}

// ArgsPlan is what the check before a query decided for one search step.
type ArgsPlan = engine.Plan
