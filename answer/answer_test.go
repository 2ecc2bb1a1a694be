package answer

import "testing"

// A Result or a Class never assigned is a failure, never a miss: only
// the constructors make an answer.
func TestZeroValueIsFailure(t *testing.T) {
	var r Result
	if !r.Failed() || r.Class != ClassUnknown || r.KeyCaused() {
		t.Fatalf("zero Result: Failed %v, Class %v, KeyCaused %v; want a failure of class unknown", r.Failed(), r.Class, r.KeyCaused())
	}
	if (Result{Found: true, Value: "x"}).Failed() == false {
		t.Error("a Result literal without a class is an answer")
	}
	if NotFound().Failed() || Found("x").Failed() || !Found("x").Found {
		t.Error("NotFound and Found are answers")
	}
	if Fail(ClassNone, "oops").Failed() == false {
		t.Error("Fail(ClassNone) is no failure")
	}
	for c := ClassUnknown; c <= ClassNoMap; c++ {
		r := Fail(c, "r")
		if got, want := r.KeyCaused(), c == ClassKey; got != want {
			t.Errorf("Fail(%v).KeyCaused() = %v", c, got)
		}
		if c.String() == "" || c != ClassUnknown && c.String() == "unknown" {
			t.Errorf("class %d has label %q", c, c.String())
		}
	}
}

// TestSQL: a SQL front sends an error only where the database cannot be
// asked or the map fails for every key; a failure of one key is two rows
// for a front .cf that limits expansion to 1 (Postfix's client fails that
// lookup alone), else an empty result (key-caused) or, for an overrun
// expansion_limit, an error as Postfix's own client fails it; a Result
// never assigned is an error, never empty.
func TestSQL(t *testing.T) {
	for _, tc := range []struct {
		r               Result
		limited, legacy SQLReply
	}{
		{Found("a@x,b@y"), SQLRow, SQLRow},
		{Found(""), SQLEmpty, SQLEmpty},
		{NotFound(), SQLEmpty, SQLEmpty},
		{Fail(ClassHost, "down"), SQLError, SQLError},
		{Fail(ClassTimeout, "slow"), SQLError, SQLError},
		{Fail(ClassCanceled, "gone"), SQLError, SQLError},
		{Fail(ClassNoMap, "config"), SQLError, SQLError},
		{Fail(ClassQuery, "broken"), SQLError, SQLError},
		{Fail(ClassUnknown, "?"), SQLError, SQLError},
		{Fail(ClassKey, "key"), SQLFailOne, SQLEmpty},
		{Fail(ClassLimit, "limit"), SQLFailOne, SQLError},
		{Result{}, SQLError, SQLError},
	} {
		if got := tc.r.SQL(true); got != tc.limited {
			t.Errorf("%+v.SQL(limited) = %v, want %v", tc.r, got, tc.limited)
		}
		if got := tc.r.SQL(false); got != tc.legacy {
			t.Errorf("%+v.SQL(older .cf) = %v, want %v", tc.r, got, tc.legacy)
		}
	}
	if n := len(FailOneRows()); n != 2 {
		t.Errorf("FailOneRows: %d rows, want 2 (expansion_limit = 1 refuses 2)", n)
	}
	for reply, want := range map[SQLReply]string{SQLRow: "ok", SQLEmpty: "notfound", SQLFailOne: "temp", SQLError: "temp"} {
		if got := reply.Outcome(); got != want {
			t.Errorf("%v.Outcome() = %q, want %q", reply, got, want)
		}
	}
}

// TestForSQL: a value over the front's bound is a failure of that key, and
// OlderForm marks exactly the failures of one key that an older front
// .cf cannot defer.
func TestForSQL(t *testing.T) {
	for _, tc := range []struct {
		r       Result
		limited bool
		want    SQLAnswer
	}{
		{Found("abcd"), true, SQLAnswer{Reply: SQLRow}},
		{Found("abcde"), true, SQLAnswer{Reply: SQLFailOne, TooLarge: true}},
		{Found("abcde"), false, SQLAnswer{Reply: SQLError, TooLarge: true, OlderForm: true}},
		{Fail(ClassKey, "k"), false, SQLAnswer{Reply: SQLEmpty, OlderForm: true}},
		{Fail(ClassKey, "k"), true, SQLAnswer{Reply: SQLFailOne}},
		{Fail(ClassHost, "h"), false, SQLAnswer{Reply: SQLError}},
		{NotFound(), false, SQLAnswer{Reply: SQLEmpty}},
	} {
		if got := tc.r.ForSQL(tc.limited, 4); got != tc.want {
			t.Errorf("%+v.ForSQL(%v, 4) = %+v, want %+v", tc.r, tc.limited, got, tc.want)
		}
	}
}
