package audit

import (
	"strings"

	"mapgate/schema"
	"mapgate/sqlshape"
)

// What the report says about each parameter is mapgate's own analysis
// (schema.DiscoverColumns, which its pre-check uses), with one correction:
// a parameter in the query's select list (part of the result, not a
// comparison) is said to be so, where the analysis gives up on it for
// another reason (sqlshape.SelectPlaces reads where it stands).

// selectListWhy is the reason for a parameter in the select list.
const selectListWhy = "parameter in the select list: part of the result, not compared with a column"

// readParams returns the report's view of the parameters; pcs (mapgate's
// analysis) is not changed.
func readParams(query string, pcs []schema.ParamColumns) []schema.ParamColumns {
	out := append([]schema.ParamColumns(nil), pcs...)
	places := sqlshape.SelectPlaces(query)
	for i := range out {
		if !out[i].Known && i < len(places) && places[i] == sqlshape.SelectListResult && !strings.Contains(out[i].Why, "select list") {
			out[i].Why = selectListWhy
		}
	}
	return out
}
