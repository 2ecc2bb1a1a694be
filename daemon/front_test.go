package daemon

import (
	"testing"

	"mapgate/answer"
	"mapgate/lookup"
	"mapgate/mysqlfront"
)

// TestFrontAnswer: an error packet only where the database cannot be
// asked or the map fails for every key; a failure the key caused is an
// empty result set; a Result never assigned is an error, never empty.
func TestFrontAnswer(t *testing.T) {
	for _, tc := range []struct {
		r    answer.Result
		want mysqlfront.Status
		vals int
	}{
		{answer.Found("a@x,b@y"), mysqlfront.Found, 1},
		{answer.Found(""), mysqlfront.NotFound, 0},
		{answer.NotFound(), mysqlfront.NotFound, 0},
		{answer.Fail(answer.ClassHost, "down"), mysqlfront.Temp, 0},
		{answer.Fail(answer.ClassTimeout, "slow"), mysqlfront.Temp, 0},
		{answer.Fail(answer.ClassNoMap, "config"), mysqlfront.Temp, 0},
		{answer.Fail(answer.ClassQuery, "broken"), mysqlfront.Temp, 0},
		{answer.Fail(answer.ClassUnknown, "?"), mysqlfront.Temp, 0},
		{answer.Fail(answer.ClassKey, "key"), mysqlfront.NotFound, 0},
		{answer.Result{}, mysqlfront.Temp, 0},
	} {
		a := frontAnswer(tc.r)
		if a.Status != tc.want || len(a.Values) != tc.vals {
			t.Errorf("%+v: %+v, want status %v with %d values", tc.r, a, tc.want, tc.vals)
		}
	}
}

// TestFrontOptions: the front's maps run no search of their own; the
// socketmap maps keep theirs.
func TestFrontOptions(t *testing.T) {
	o := lookup.DefaultMapOptions("+")
	o.PropagateExtension = true
	o.DomainSearch = lookup.DomainParent
	got := frontOptions(o)
	if got.AddressSearch || got.PropagateExtension || got.FoldCase || got.DomainSearch != lookup.DomainExact {
		t.Errorf("front options %+v: want every search off", got)
	}
	if !o.AddressSearch || !o.PropagateExtension {
		t.Errorf("frontOptions changed the socketmap options: %+v", o)
	}
	if got.SMTPUTF8 != o.SMTPUTF8 || got.RecipientDelimiter != o.RecipientDelimiter {
		t.Errorf("front options %+v: want smtputf8 and the delimiter kept", got)
	}
}
