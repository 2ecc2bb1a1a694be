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
