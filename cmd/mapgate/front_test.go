package main

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

// TestFrontSpecs: the front's maps run no search of their own; the
// socketmap maps keep theirs.
func TestFrontSpecs(t *testing.T) {
	o := lookup.DefaultMapOptions("+")
	o.PropagateExtension = true
	o.DomainSearch = lookup.DomainParent
	in := []lookup.MapSpec{{Name: "m", Paths: []string{"/x.cf"}, Opts: o}}
	out := frontSpecs(in)
	got := out[0].Opts
	if got.AddressSearch || got.PropagateExtension || got.FoldCase || got.DomainSearch != lookup.DomainExact {
		t.Errorf("front options %+v: want every search off", got)
	}
	if !in[0].Opts.AddressSearch || !in[0].Opts.PropagateExtension {
		t.Errorf("frontSpecs changed the socketmap specs: %+v", in[0].Opts)
	}
}

func TestLoopbackOrUnix(t *testing.T) {
	for spec, ok := range map[string]bool{
		"unix:/run/x.sock": true, "inet:127.0.0.1:3307": true, "inet:[::1]:3307": true, "localhost:3307": true,
		"inet:0.0.0.0:3307": false, "inet:192.0.2.1:3307": false, "inet::3307": false,
	} {
		if err := loopbackOrUnix(spec); (err == nil) != ok {
			t.Errorf("%s: %v, want ok=%v", spec, err, ok)
		}
	}
}
