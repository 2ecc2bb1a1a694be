package daemon

import (
	"context"
	"net"
	"sync"

	"mapgate/answer"
	"mapgate/lookup"
	"mapgate/mysqlfront"
	"mapgate/pgfront"
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

// sqlResolver is the resolver of a SQL front (mysqlfront.Resolver and
// pgfront.Resolver): the current generation's view for that front (every
// search off). How a Result is sent is answer.Result.SQL, the one reply
// rule of both fronts.
type sqlResolver struct {
	d    *Daemon
	view func(*generation) *lookup.Set
}

var (
	_ mysqlfront.Resolver = sqlResolver{}
	_ pgfront.Resolver    = sqlResolver{}
)

func mysqlView(g *generation) *lookup.Set { return g.front }
func pgView(g *generation) *lookup.Set    { return g.pg }

func (f sqlResolver) HasMap(name string) bool {
	g := f.d.acquire()
	defer g.release()
	_, ok := f.view(g).Map(name)
	return ok
}

func (f sqlResolver) Resolve(ctx context.Context, name, key string) answer.Result {
	g := f.d.acquire()
	defer g.release()
	v := f.view(g)
	if _, ok := v.Map(name); !ok {
		return answer.Fail(answer.ClassNoMap, "no such map")
	}
	return v.Lookup(ctx, name, key)
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
