package sqlshape

import "testing"

// A placeholder that is, alone, an argument of CALL is bound to that
// procedure parameter; one inside an expression argument is not
// understood.
func TestParamUsesCall(t *testing.T) {
	for _, tc := range []struct {
		q    string
		want []*RoutineArg
	}{
		{"CALL check_access(?)", []*RoutineArg{{Name: "check_access", Position: 1}}},
		{"call `mail`.`p` ( 'x', ?, CONCAT(?, '@'), ? );", []*RoutineArg{{"mail", "p", 2}, nil, {"mail", "p", 4}}},
		{"CALL p(?) ; SELECT 1", []*RoutineArg{nil}},
		{"CALL p(?", []*RoutineArg{nil}},
	} {
		uses := ParamUses(tc.q)
		if len(uses) != len(tc.want) {
			t.Fatalf("%q: %d uses, want %d", tc.q, len(uses), len(tc.want))
		}
		for i, w := range tc.want {
			u := uses[i]
			if u.Known {
				t.Errorf("%q param %d: Known, want left to the catalogue", tc.q, i+1)
			}
			switch {
			case w == nil && u.Routine != nil:
				t.Errorf("%q param %d: Routine %+v, want none", tc.q, i+1, *u.Routine)
			case w != nil && (u.Routine == nil || *u.Routine != *w):
				t.Errorf("%q param %d: %+v, want Routine %+v", tc.q, i+1, u, *w)
			}
		}
	}
}
