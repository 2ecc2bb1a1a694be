package conncore

import (
	"fmt"
	"net"
	"runtime/debug"
	"strconv"
	"sync"
	"time"
)

// Conn is one connection the core tracks. The protocol reads and writes
// NetConn and sets its deadlines only through Idle, Active and
// WriteDeadline, so that Shutdown can tell an idle connection from a busy
// one.
type Conn struct {
	s  *Server
	nc net.Conn

	mu   sync.Mutex // orders idle and read deadlines against Shutdown
	idle bool
	// idleDL is the idle read deadline last set, zero when the read
	// deadline is another; writeDL the write deadline last set (owned by
	// the protocol's writer). See deadlineSlack.
	idleDL  time.Time
	writeDL time.Time

	peer string // peerOf(nc), with a login
	// Guarded by s.mu: the login phase.
	authed      bool  // counts in MaxConns
	unauth      bool  // on the server's unauthenticated list
	evicted     bool  // closed to make room; can no longer log in
	prev, next  *Conn // in the peer's unauthenticated connections
	handshakeDL time.Time

	// ready: logged in, or no login. Written under mu by the protocol's
	// goroutine, which alone reads it.
	ready bool

	closeOnce sync.Once
}

// NetConn is the connection itself.
func (c *Conn) NetConn() net.Conn { return c.nc }

// Closing reports whether the server is shutting down.
func (c *Conn) Closing() bool { return c.s.closing.Load() }

func (c *Conn) serve() {
	defer c.Close()
	defer func() {
		if p := recover(); p != nil {
			c.s.cfg.Logger.Error(c.s.cfg.Name+": internal error", "panic", quoteHead(fmt.Sprint(p)), "stack", string(debug.Stack()))
		}
	}()
	c.s.proto.ServeConn(c)
}

// LoggedIn ends c's login phase: c leaves the unauthenticated budget and
// counts in MaxConns from now on, and its handshake deadline is lifted
// (Idle, Active and WriteDeadline set the next ones). It returns false
// when c cannot stay: MaxConns connections are logged in (the protocol
// refuses c as over the cap), or c was evicted.
func (c *Conn) LoggedIn() bool {
	if !c.s.loggedIn(c) {
		return false
	}
	c.mu.Lock()
	c.idleDL, c.writeDL = time.Time{}, time.Time{}
	c.ready = true
	c.mu.Unlock()
	return true
}

// LoginFailed counts a refused login (Stats.FailedLogins).
func (c *Conn) LoginFailed() { c.s.st.failedLogins.Add(1) }

// deadlineSlack: an idle or write deadline is moved only when the new one
// is later than the one in force by more than its timeout/deadlineSlack
// (under 1 s for a 110 s idle timeout): most requests then set no
// deadline at all. A deadline may so come up to that much early.
const deadlineSlack = 128

// Idle arms the idle read deadline (IdleTimeout from now) before the
// protocol waits for the next request, and marks c idle, so that Shutdown
// wakes it. It returns false when the server is shutting down: the
// protocol should then close the connection. Idle, Active and
// WriteDeadline leave the deadlines alone until c has logged in: the
// handshake deadline bounds every read and write until then.
func (c *Conn) Idle(now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.s.closing.Load() {
		return false
	}
	c.idle = true
	if !c.ready {
		return true
	}
	it := c.s.cfg.IdleTimeout
	if dl := now.Add(it); c.idleDL.IsZero() || dl.Sub(c.idleDL) > it/deadlineSlack {
		c.nc.SetReadDeadline(dl)
		c.idleDL = dl
	}
	return true
}

// Active marks c busy once a request has begun, and arms the deadline for
// reading the rest of it (RequestTimeout from now), unless buffered says
// the whole request has been read already: then nothing is read until the
// next Idle or Active.
func (c *Conn) Active(buffered bool) {
	c.mu.Lock()
	c.idle = false
	if !buffered && c.ready {
		c.nc.SetReadDeadline(time.Now().Add(c.s.cfg.RequestTimeout))
		c.idleDL = time.Time{}
	}
	c.mu.Unlock()
}

// WriteDeadline arms the write deadline (WriteTimeout from now) before a
// write. The protocol's writes are not concurrent, so it takes no lock.
func (c *Conn) WriteDeadline(now time.Time) {
	if !c.ready {
		return
	}
	wt := c.s.cfg.WriteTimeout
	if dl := now.Add(wt); c.writeDL.IsZero() || dl.Sub(c.writeDL) > wt/deadlineSlack {
		c.nc.SetWriteDeadline(dl)
		c.writeDL = dl
	}
}

// wakeIfIdle makes an idle connection's pending read return at once, so it
// notices the shutdown. A connection with a request under way is left alone.
func (c *Conn) wakeIfIdle() {
	c.mu.Lock()
	if c.idle {
		c.nc.SetReadDeadline(time.Unix(1, 0))
		c.idleDL = time.Time{}
	}
	c.mu.Unlock()
}

// Close closes the connection and forgets it; safe to call more than once
// and from any goroutine.
func (c *Conn) Close() {
	c.closeOnce.Do(func() {
		c.nc.Close()
		c.s.untrack(c)
	})
}

// quoteHead escapes the start of a panic value for a log line.
func quoteHead(s string) string {
	if len(s) > 200 {
		return strconv.QuoteToASCII(s[:200]) + "..."
	}
	return strconv.QuoteToASCII(s)
}
