package main

import (
	"testing"

	"mapgate/lookup"
	"mapgate/mysqlfront"
	"mapgate/socketmap"
)

func TestAnswerFromReply(t *testing.T) {
	for _, tc := range []struct {
		r    socketmap.Reply
		want mysqlfront.Status
		vals int
	}{
		{socketmap.OK("a@x,b@y"), mysqlfront.Found, 1},
		{socketmap.OK(""), mysqlfront.NotFound, 0},
		{socketmap.NotFound(), mysqlfront.NotFound, 0},
		{socketmap.Temp("down"), mysqlfront.Temp, 0},
		{socketmap.Timeout("slow"), mysqlfront.Temp, 0},
		{socketmap.Perm("config"), mysqlfront.Temp, 0},
	} {
		a := answerFromReply(tc.r)
		if a.Status != tc.want || len(a.Values) != tc.vals {
			t.Errorf("%v: %+v, want status %v with %d values", tc.r, a, tc.want, tc.vals)
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
