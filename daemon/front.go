package daemon

import (
	"context"
	"net"
	"sync"

	"mapgate/answer"
	"mapgate/lookup"
	"mapgate/mysqlfront"
)

// frontOptions are the options of a map as the MySQL front serves it: the
// same .cf files as socketmap, with every search off, because Postfix's
// mysql: client runs its own (address search, parent domains, folding) and
// sends each key it wants asked. Extension propagation is Postfix's too.
func frontOptions(o lookup.MapOptions) lookup.MapOptions {
	o.AddressSearch = false
	o.DomainSearch = lookup.DomainExact
	o.PropagateExtension = false
	o.FoldCase = false
	return o
}

// frontResolver adapts the lookup core (an answer.Result) to
// mysqlfront.Resolver. It is the only place the two meet.
type frontResolver struct{ d *Daemon }

var _ mysqlfront.Resolver = frontResolver{}

func (f frontResolver) HasMap(name string) bool {
	g := f.d.acquire()
	defer g.release()
	_, ok := g.front.Map(name)
	return ok
}

func (f frontResolver) Resolve(ctx context.Context, name, key string) mysqlfront.Answer {
	g := f.d.acquire()
	defer g.release()
	if _, ok := g.front.Map(name); !ok {
		return mysqlfront.Answer{Status: mysqlfront.UnknownMap}
	}
	return frontAnswer(g.front.Lookup(ctx, name, key))
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

// relay is the listener a MySQL front server accepts from: the daemon
// accepts on the real sockets and hands each connection to the current
// server's relay. A reload that changes mysql_user or mysql_password starts
// a server with the new credentials on a new relay and closes the old
// relay: new logins need the new password at once, while the old server
// keeps the connections that logged in before (closing them would make
// Postfix's mysql: client mark the host down).
type relay struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newRelay(addr net.Addr) *relay {
	return &relay{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

func (r *relay) Accept() (net.Conn, error) {
	select {
	case c := <-r.conns:
		return c, nil
	case <-r.done:
		return nil, net.ErrClosed
	}
}

func (r *relay) Close() error {
	r.once.Do(func() { close(r.done) })
	return nil
}

func (r *relay) Addr() net.Addr { return r.addr }
