package main

import (
	"testing"

	"mapgate/bench"
)

func TestCheckPostmap(t *testing.T) {
	d := bench.BulkAliases{N: 100}
	keys := []bench.Key{d.Present(1), d.Absent(1), d.Present(2), d.Absent(2)}
	out := "user1@bulk.example\tuser1@dest.example\nuser2@bulk.example\tuser2@dest.example\n"
	if c := checkPostmap([]byte(out), keys, d, false); c.OK != 2 || c.NotFound != 2 || c.Wrong != 0 || c.Errors != 0 {
		t.Errorf("all correct: %+v", c)
	}
	// A wrong value, and an absent key printed.
	bad := "user1@bulk.example\tuser9@dest.example\nuser101@bulk.example\tx@y\n"
	if c := checkPostmap([]byte(bad), keys, d, false); c.Wrong < 3 || c.OK != 0 {
		t.Errorf("wrong answers not caught: %+v", c)
	}
	// postmap died after the first key: the rest are errors, not NOTFOUND.
	died := "user1@bulk.example\tuser1@dest.example\n"
	if c := checkPostmap([]byte(died), keys, d, true); c.OK != 1 || c.Errors != 3 || c.NotFound != 0 {
		t.Errorf("fatal postmap: %+v", c)
	}
}
