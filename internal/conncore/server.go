// Package conncore is the connection core every front of mapgate shares
// (socketmap, the MySQL front, the PostgreSQL front to come): the accept
// loop, the connection cap and the refusal of connections over it, the
// budget and handshake deadline of connections that have not logged in,
// the idle, request and write deadlines, connection tracking, drain
// (Shutdown) and Close, and the counters of all that. A front plugs in its
// protocol (Protocol: serve one connection, refuse one over the cap), as
// go-smtp's Server runs its Conn and knows its protocol only through them.
package conncore

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"mapgate/internal/accept"
)

// ErrClosed is Serve's return after Shutdown or Close.
var ErrClosed = errors.New("server closed")

// Protocol is what a front plugs into the core.
type Protocol interface {
	// ServeConn serves one admitted connection, in its own goroutine; the
	// core closes the connection when ServeConn returns, and recovers (and
	// logs) a panic.
	ServeConn(c *Conn)
	// Refuse tells a connection over the cap why it is refused (socketmap
	// answers its first request TEMP; the MySQL front sends error 1040
	// instead of its greeting), under the deadline the core has set on it
	// (RefuseTimeout at most). The core closes it afterwards.
	Refuse(nc net.Conn)
}

// Config is a Server's settings; every field must be set (the fronts apply
// their defaults), except the login fields of a protocol without a login.
type Config struct {
	// Name prefixes the core's log lines ("socketmap").
	Name   string
	Logger *slog.Logger
	// MaxConns caps the connections open (with a login: logged in). A
	// connection over the cap is refused (Protocol.Refuse).
	MaxConns int
	// IdleTimeout: Conn.Idle's read deadline. RequestTimeout: Conn.Active's
	// read deadline. WriteTimeout: Conn.WriteDeadline's.
	IdleTimeout, RequestTimeout, WriteTimeout time.Duration
	// MaxUnauthenticated > 0 gives the protocol a login: a connection is
	// admitted unauthenticated, within a budget of its own of
	// MaxUnauthenticated connections beside MaxConns, and must call
	// Conn.LoggedIn within HandshakeTimeout of its accept (a deadline on
	// every read and write until then). When the budget is full, a new
	// connection closes an unauthenticated one (Stats.Evicted): the oldest
	// of the peer that has the most (a peer is a uid for a unix socket or a
	// loopback TCP connection, else an address). Connections that do not
	// log in can so never take the place of clients that do; a peer that
	// floods the budget closes its own; and one peer alone keeps a new
	// client out only by opening MaxUnauthenticated connections during its
	// handshake. Zero: no login; every connection counts in MaxConns from
	// its accept.
	MaxUnauthenticated int
	HandshakeTimeout   time.Duration
	// Refusal says how a connection over the cap is refused, in the log
	// line ("answered TEMP", "error 1040").
	Refusal string
}

// Connections over the cap: at most maxRefusing are refused at once (the
// others are closed unanswered), each within RefuseTimeout.
const (
	maxRefusing = 64
	// RefuseTimeout bounds Protocol.Refuse.
	RefuseTimeout = time.Second
)

// Server is the connection core of one front. Make it with New.
type Server struct {
	cfg   Config
	proto Protocol

	baseCtx context.Context
	cancel  context.CancelFunc
	closing atomic.Bool

	mu        sync.Mutex
	listeners map[*net.Listener]struct{}
	conns     map[*Conn]struct{}
	// peers lists the unauthenticated connections of each peer, oldest
	// first; nUnauth of them in all.
	peers     map[string]*peerQueue
	nUnauth   int
	nAuthed   int           // connections that count in MaxConns (Conn.authed)
	drained   chan struct{} // closed once closing and no conn is left
	drainOnce sync.Once

	refusing atomic.Int64 // connections over the cap being refused
	capLog   LogLimiter
	evictLog LogLimiter

	st struct {
		accepted, rejected, evicted, handshakeTimeouts, failedLogins atomic.Uint64
		open, unauth                                                 atomic.Int64
	}
}

// New makes the core of a front that speaks p.
func New(cfg Config, p Protocol) *Server {
	s := &Server{cfg: cfg, proto: p, listeners: map[*net.Listener]struct{}{},
		conns: map[*Conn]struct{}{}, peers: map[string]*peerQueue{}, drained: make(chan struct{})}
	s.baseCtx, s.cancel = context.WithCancel(context.Background())
	return s
}

// Stats is a snapshot of a Server's counters.
type Stats struct {
	Open              int64  // connections open now, logged in or not
	Unauthenticated   int64  // of these, connections that have not logged in yet
	Accepted          uint64 // connections admitted
	Rejected          uint64 // connections refused over MaxConns (at accept, or at login)
	Evicted           uint64 // unauthenticated connections closed to make room for a new one
	HandshakeTimeouts uint64 // connections closed unauthenticated at their handshake deadline
	FailedLogins      uint64 // logins refused (Conn.LoginFailed)
}

// Stats returns the counters. Each field is read atomically; the snapshot
// as a whole is not.
func (s *Server) Stats() Stats {
	return Stats{
		Open:              s.st.open.Load(),
		Unauthenticated:   s.st.unauth.Load(),
		Accepted:          s.st.accepted.Load(),
		Rejected:          s.st.rejected.Load(),
		Evicted:           s.st.evicted.Load(),
		HandshakeTimeouts: s.st.handshakeTimeouts.Load(),
		FailedLogins:      s.st.failedLogins.Load(),
	}
}

// BaseContext is the parent of the fronts' request contexts: Close cancels
// it, Shutdown once every connection is closed.
func (s *Server) BaseContext() context.Context { return s.baseCtx }

// Closing reports whether Shutdown or Close has begun.
func (s *Server) Closing() bool { return s.closing.Load() }

// Serve accepts connections on l and serves each in its own goroutine,
// until l fails or the server closes (then it returns ErrClosed). It always
// closes l. Serve may run on several listeners at once.
func (s *Server) Serve(l net.Listener) error {
	defer l.Close()
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		return ErrClosed
	}
	s.listeners[&l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, &l)
		s.mu.Unlock()
	}()
	err := accept.Loop(l, s.closing.Load, s.baseCtx.Done(), s.cfg.Logger, s.cfg.Name, s.admit)
	if errors.Is(err, accept.ErrClosed) {
		return ErrClosed
	}
	return err
}

// admit serves a new connection, or refuses it when the server is closing
// or the cap is reached. With a login, it enters the unauthenticated
// budget, closing the oldest unauthenticated connection when that is full.
func (s *Server) admit(nc net.Conn) {
	c := &Conn{s: s, nc: nc}
	login := s.cfg.MaxUnauthenticated > 0
	if login {
		c.peer = peerOf(nc)
	}
	var evict *Conn
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		nc.Close()
		return
	}
	if s.nAuthed >= s.cfg.MaxConns {
		s.mu.Unlock()
		s.reject(nc)
		return
	}
	if !login {
		c.authed, c.ready = true, true
		s.nAuthed++
	} else {
		if s.nUnauth >= s.cfg.MaxUnauthenticated {
			evict = s.victim()
			s.unlinkUnauth(evict)
			evict.evicted = true
		}
		s.linkUnauth(c)
		c.handshakeDL = time.Now().Add(s.cfg.HandshakeTimeout)
	}
	s.conns[c] = struct{}{}
	s.st.open.Add(1)
	s.st.accepted.Add(1)
	s.mu.Unlock()
	if evict != nil {
		s.st.evicted.Add(1)
		evict.nc.Close()
		if n, ok := s.evictLog.Allow(); ok {
			s.cfg.Logger.Warn(s.cfg.Name+": too many connections that have not logged in; closed the oldest",
				"max_unauthenticated", s.cfg.MaxUnauthenticated, "peer", evict.peer,
				"remote", addrString(evict.nc.RemoteAddr()), "suppressed_since_last", n)
		}
	}
	if login {
		_ = nc.SetDeadline(c.handshakeDL)
	}
	go c.serve()
}

// reject refuses a connection over the cap.
func (s *Server) reject(nc net.Conn) {
	s.st.rejected.Add(1)
	if n, ok := s.capLog.Allow(); ok {
		s.cfg.Logger.Warn(s.cfg.Name+": connection limit reached; refusing new connections ("+s.cfg.Refusal+")",
			"max_conns", s.cfg.MaxConns, "remote", addrString(nc.RemoteAddr()), "suppressed_since_last", n)
	}
	if s.refusing.Add(1) > maxRefusing {
		s.refusing.Add(-1)
		nc.Close()
		return
	}
	go func() {
		defer s.refusing.Add(-1)
		defer nc.Close()
		_ = nc.SetDeadline(time.Now().Add(min(RefuseTimeout, s.cfg.RequestTimeout)))
		s.proto.Refuse(nc)
	}()
}

// peerQueue is one peer's unauthenticated connections, oldest first
// (Conn.prev, Conn.next).
type peerQueue struct {
	head, tail *Conn
	n          int
}

// victim is the connection a full unauthenticated budget closes: the
// oldest of the peer that has the most (so a client that floods the budget
// closes its own connections, not another peer's); s.mu is held.
func (s *Server) victim() *Conn {
	var q *peerQueue
	for _, pq := range s.peers {
		if q == nil || pq.n > q.n || pq.n == q.n && pq.head.handshakeDL.Before(q.head.handshakeDL) {
			q = pq
		}
	}
	return q.head
}

// linkUnauth appends c to its peer's unauthenticated connections; s.mu is
// held.
func (s *Server) linkUnauth(c *Conn) {
	q := s.peers[c.peer]
	if q == nil {
		q = &peerQueue{}
		s.peers[c.peer] = q
	}
	c.unauth = true
	c.prev = q.tail
	if q.tail != nil {
		q.tail.next = c
	} else {
		q.head = c
	}
	q.tail = c
	q.n++
	s.nUnauth++
	s.st.unauth.Add(1)
}

// unlinkUnauth takes c off its peer's unauthenticated connections; s.mu is
// held.
func (s *Server) unlinkUnauth(c *Conn) {
	if !c.unauth {
		return
	}
	q := s.peers[c.peer]
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		q.head = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	} else {
		q.tail = c.prev
	}
	c.prev, c.next, c.unauth = nil, nil, false
	if q.n--; q.n == 0 {
		delete(s.peers, c.peer)
	}
	s.nUnauth--
	s.st.unauth.Add(-1)
}

// loggedIn moves c from the unauthenticated budget to MaxConns; false when
// c was evicted, or MaxConns connections are logged in (then counted as
// rejected).
func (s *Server) loggedIn(c *Conn) bool {
	s.mu.Lock()
	if c.evicted {
		s.mu.Unlock()
		return false
	}
	if c.authed {
		s.mu.Unlock()
		return true
	}
	if s.nAuthed >= s.cfg.MaxConns {
		s.mu.Unlock()
		s.st.rejected.Add(1)
		if n, ok := s.capLog.Allow(); ok {
			s.cfg.Logger.Warn(s.cfg.Name+": connection limit reached; refusing a login ("+s.cfg.Refusal+")",
				"max_conns", s.cfg.MaxConns, "remote", addrString(c.nc.RemoteAddr()), "suppressed_since_last", n)
		}
		return false
	}
	s.unlinkUnauth(c)
	c.authed = true
	s.nAuthed++
	s.mu.Unlock()
	return true
}

func (s *Server) untrack(c *Conn) {
	s.mu.Lock()
	if _, ok := s.conns[c]; ok {
		delete(s.conns, c)
		s.st.open.Add(-1)
		if c.authed {
			s.nAuthed--
		}
		if c.unauth {
			s.unlinkUnauth(c)
			if !s.closing.Load() && !time.Now().Before(c.handshakeDL) {
				s.st.handshakeTimeouts.Add(1)
			}
		}
	}
	empty := len(s.conns) == 0
	s.mu.Unlock()
	if empty && s.closing.Load() {
		s.drainOnce.Do(func() { close(s.drained) })
	}
}

// beginClose marks the server closing and closes its listeners.
func (s *Server) beginClose() error {
	s.mu.Lock()
	s.closing.Store(true)
	var errs []error
	for l := range s.listeners {
		if err := (*l).Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	empty := len(s.conns) == 0
	s.mu.Unlock()
	if empty {
		s.drainOnce.Do(func() { close(s.drained) })
	}
	return errors.Join(errs...)
}

// Shutdown stops the server gracefully: it closes the listeners and the
// idle connections, lets each request in flight finish (a protocol's
// Conn.Idle then says to close), and returns once every connection is
// closed; or, when ctx ends first, closes the rest and returns ctx.Err().
// A connection in its handshake is left to finish it or reach its deadline.
func (s *Server) Shutdown(ctx context.Context) error {
	lerr := s.beginClose()
	s.mu.Lock()
	for c := range s.conns {
		c.wakeIfIdle()
	}
	s.mu.Unlock()
	select {
	case <-s.drained:
		s.cancel()
		return lerr
	case <-ctx.Done():
		s.closeConns()
		s.cancel()
		return errors.Join(ctx.Err(), lerr)
	}
}

// Close closes the listeners and every connection at once, and cancels
// BaseContext. It does not wait for the protocol's goroutines.
func (s *Server) Close() error {
	err := s.beginClose()
	s.cancel()
	s.closeConns()
	return err
}

func (s *Server) closeConns() {
	s.mu.Lock()
	cs := make([]*Conn, 0, len(s.conns))
	for c := range s.conns {
		cs = append(cs, c)
	}
	s.mu.Unlock()
	for _, c := range cs {
		c.Close()
	}
}

// Grace is how long after a request deadline d a front still waits for
// its handler before answering a timeout itself: a quarter of d, between
// 100 ms and 1 s.
func Grace(d time.Duration) time.Duration {
	return min(max(d/4, 100*time.Millisecond), time.Second)
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}
