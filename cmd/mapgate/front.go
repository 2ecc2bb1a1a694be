package main

import (
	"context"
	"fmt"
	"net"

	"mapgate/answer"
	"mapgate/lookup"
	"mapgate/mysqlfront"
	"mapgate/socketmap"
)

// MySQLFront configures the MySQL-protocol front (package mysqlfront).
type MySQLFront struct {
	Listen         []string
	User, Password string
}

// frontSpecs are the map specs the MySQL front serves: the same .cf files
// as socketmap, with every search off, because Postfix's mysql: client runs
// its own (address search, parent domains, folding) and sends each key it
// wants asked. Extension propagation is Postfix's too.
func frontSpecs(specs []lookup.MapSpec) []lookup.MapSpec {
	out := make([]lookup.MapSpec, len(specs))
	for i, sp := range specs {
		sp.Opts.AddressSearch = false
		sp.Opts.DomainSearch = lookup.DomainExact
		sp.Opts.PropagateExtension = false
		sp.Opts.FoldCase = false
		out[i] = sp
	}
	return out
}

// frontResolver adapts the lookup core (an answer.Result) to
// mysqlfront.Resolver. It is the only place the two meet.
type frontResolver struct{ h *liveSet }

var _ mysqlfront.Resolver = frontResolver{}

func (f frontResolver) HasMap(name string) bool {
	_, ok := f.h.cur.Load().Map(name)
	return ok
}

func (f frontResolver) Resolve(ctx context.Context, name, key string) mysqlfront.Answer {
	if !f.HasMap(name) {
		return mysqlfront.Answer{Status: mysqlfront.UnknownMap}
	}
	return frontAnswer(f.h.cur.Load().Lookup(ctx, name, key))
}

// frontAnswer maps a result of the lookup core to the front's answer. An
// error packet makes Postfix's mysql: client skip every listed host for
// retry_interval, for every key (POSTFIX-FACTS 1.3): the front sends one
// only when the database cannot be asked or the map fails for every key.
// A failure the key caused (answer.Result.KeyCaused: socketmap's TEMP for
// that key alone) is an empty result set.
func frontAnswer(r answer.Result) mysqlfront.Answer {
	switch {
	case r.KeyCaused():
		return mysqlfront.NotFoundAnswer()
	case r.Failed():
		// TEMP, TIMEOUT, a map broken for every key and (never for a
		// key) a configuration error: an error packet.
		return mysqlfront.TempAnswer(r.Reason)
	case r.Found && r.Value != "":
		// The formatted answer as one row: Postfix joins rows with ',',
		// so the client prints exactly what the admin's mysql: table
		// would have returned.
		return mysqlfront.FoundAnswer(r.Value)
	}
	return mysqlfront.NotFoundAnswer()
}

// loopbackOrUnix refuses a TCP listen address that is not a loopback
// address: the front's password travels as a SHA1 challenge response.
func loopbackOrUnix(spec string) error {
	network, addr, err := socketmap.ParseSpec(spec)
	if err != nil {
		return err
	}
	if network == "unix" {
		return nil
	}
	host, _, _ := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("%q: the MySQL front listens on a unix socket or a loopback address only", spec)
	}
	return nil
}
