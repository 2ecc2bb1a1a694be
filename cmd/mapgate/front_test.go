package main

import (
	"testing"
)

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
