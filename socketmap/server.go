package socketmap

import (
	"bufio"
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"mapgate/internal/accept"
)

// Defaults for the zero values of Server's fields.
const (
	// DefaultIdleTimeout is longer than Postfix's 100 s connection lifetime,
	// so the server never closes a connection Postfix still means to use.
	DefaultIdleTimeout = 110 * time.Second
	// DefaultRequestTimeout is the handler's deadline; Postfix itself
	// waits up to 100 s for a reply.
	DefaultRequestTimeout = 10 * time.Second
	// DefaultWriteTimeout bounds each write of replies.
	DefaultWriteTimeout = 10 * time.Second
	// DefaultMaxConns caps concurrently open connections.
	DefaultMaxConns = 1024
)

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("socketmap: server closed")

// timeoutText is the reason sent when a handler overruns its deadline.
const timeoutText = "lookup timed out"

// Server serves socketmap requests from one or more listeners. Set its
// fields before the first call to Serve and do not change them afterwards.
// A Server must not be copied after first use.
type Server struct {
	// Handler answers lookups. It must not be nil.
	Handler Handler
	// Logger receives one line per notable event (malformed request,
	// handler timeout or panic, oversized reply, connection cap). Keys and
	// raw bytes are always logged escaped with strconv.QuoteToASCII.
	// nil means slog.Default().
	Logger *slog.Logger
	// MaxRequestSize is the largest request payload ("NAME KEY") accepted,
	// in bytes. It is enforced from the netstring's length prefix, before
	// the payload is read. Zero means DefaultMaxSize (100000).
	MaxRequestSize int
	// MaxReplySize is the largest reply payload sent, in bytes; a longer
	// reply is replaced by "TEMP reply too large". Zero means
	// DefaultMaxSize, Postfix's default socketmap_max_reply_size.
	MaxReplySize int
	// IdleTimeout is how long to wait for the first byte of the next
	// request before closing the connection. Zero means
	// DefaultIdleTimeout (110 s; Postfix itself closes idle connections
	// after 10 s and any connection after 100 s).
	IdleTimeout time.Duration
	// RequestTimeout bounds reading the rest of a request once its first
	// byte arrived, and is the deadline of the context given to Handler.
	// If Handler has not returned shortly after it (a grace of a quarter
	// of RequestTimeout, between 100 ms and 1 s), the server replies
	// "TIMEOUT lookup timed out" and closes the connection; the handler's
	// eventual result is discarded. Zero means DefaultRequestTimeout (10 s).
	RequestTimeout time.Duration
	// WriteTimeout bounds each write of replies. Zero means
	// DefaultWriteTimeout (10 s).
	WriteTimeout time.Duration
	// MaxConns caps concurrently open connections. A connection accepted
	// over the cap gets its first request read and answered TEMP ("too
	// many connections"), then is closed, so that Postfix logs why (logged
	// here at most once a second). Zero means DefaultMaxConns (1024).
	MaxConns int

	initOnce  sync.Once
	baseCtx   context.Context
	cancel    context.CancelFunc
	closing   atomic.Bool
	mu        sync.Mutex
	listeners map[*net.Listener]struct{}
	conns     map[*conn]struct{}
	drained   chan struct{} // closed once closing and no conn is left
	drainOnce sync.Once

	lastCapLog atomic.Int64 // monotonic ns of the last connection-cap log line
	capQuiet   atomic.Int64 // rejections not logged since then
	refusing   atomic.Int64 // connections over the cap being answered TEMP

	st struct {
		accepted, rejected, requests, malformed atomic.Uint64
		timeouts, panics, emptyOK, tooLarge     atomic.Uint64
		replies                                 [5]atomic.Uint64
		open                                    atomic.Int64
	}
}

// Stats is a snapshot of a Server's counters.
type Stats struct {
	Accepted  uint64    // connections accepted and served
	Rejected  uint64    // connections refused because MaxConns were open (answered TEMP, or closed)
	Open      int64     // connections open now
	Requests  uint64    // well-formed requests passed to the Handler
	Malformed uint64    // connections closed over a malformed or truncated request
	Timeouts  uint64    // handlers that overran the deadline (TIMEOUT sent, connection closed)
	Panics    uint64    // handler panics recovered (TEMP sent)
	EmptyOK   uint64    // OK replies with an empty value sent as NOTFOUND
	TooLarge  uint64    // replies over MaxReplySize sent as TEMP
	Replies   [5]uint64 // replies sent, indexed by Status
}

// Stats returns the current counters. Each field is read atomically; the
// snapshot as a whole is not.
func (s *Server) Stats() Stats {
	st := Stats{
		Accepted:  s.st.accepted.Load(),
		Rejected:  s.st.rejected.Load(),
		Open:      s.st.open.Load(),
		Requests:  s.st.requests.Load(),
		Malformed: s.st.malformed.Load(),
		Timeouts:  s.st.timeouts.Load(),
		Panics:    s.st.panics.Load(),
		EmptyOK:   s.st.emptyOK.Load(),
		TooLarge:  s.st.tooLarge.Load(),
	}
	for i := range st.Replies {
		st.Replies[i] = s.st.replies[i].Load()
	}
	return st
}

func (s *Server) init() {
	s.initOnce.Do(func() {
		s.baseCtx, s.cancel = context.WithCancel(context.Background())
		s.listeners = make(map[*net.Listener]struct{})
		s.conns = make(map[*conn]struct{})
		s.drained = make(chan struct{})
	})
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

func orDefault[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

func (s *Server) maxRequest() int            { return orDefault(s.MaxRequestSize, DefaultMaxSize) }
func (s *Server) maxReply() int              { return orDefault(s.MaxReplySize, DefaultMaxSize) }
func (s *Server) idleTimeout() time.Duration { return orDefault(s.IdleTimeout, DefaultIdleTimeout) }
func (s *Server) requestTimeout() time.Duration {
	return orDefault(s.RequestTimeout, DefaultRequestTimeout)
}
func (s *Server) writeTimeout() time.Duration { return orDefault(s.WriteTimeout, DefaultWriteTimeout) }
func (s *Server) maxConns() int               { return orDefault(s.MaxConns, DefaultMaxConns) }

// grace is how long after the request deadline the server still waits for
// the handler before answering TIMEOUT itself.
func grace(d time.Duration) time.Duration {
	return min(max(d/4, 100*time.Millisecond), time.Second)
}

// epoch anchors monotonic timestamps stored in atomics.
var epoch = time.Now()

func monoNow() int64 { return int64(time.Since(epoch)) }

// Serve accepts connections on l and serves each in its own goroutine,
// until l fails or the server is shut down. It always closes l. After
// Shutdown or Close it returns ErrServerClosed; call Serve on several
// listeners concurrently to serve them all.
func (s *Server) Serve(l net.Listener) error {
	s.init()
	defer l.Close()
	if s.Handler == nil {
		return errors.New("socketmap: Server.Handler is nil")
	}
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.listeners[&l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, &l)
		s.mu.Unlock()
	}()

	err := accept.Loop(l, s.closing.Load, s.baseCtx.Done(), s.logger(), "socketmap", func(nc net.Conn) {
		if c := s.track(nc); c != nil {
			go c.serve()
		}
	})
	if errors.Is(err, accept.ErrClosed) {
		return ErrServerClosed
	}
	return err
}

// track registers a new connection, or closes it when the server is closing
// or MaxConns connections are open.
func (s *Server) track(nc net.Conn) *conn {
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		nc.Close()
		return nil
	}
	if len(s.conns) >= s.maxConns() {
		s.mu.Unlock()
		s.st.rejected.Add(1)
		s.logCapReached(nc)
		if s.refusing.Add(1) <= maxRefusing {
			go s.refuse(nc)
		} else {
			s.refusing.Add(-1)
			nc.Close()
		}
		return nil
	}
	c := &conn{s: s, nc: nc}
	s.conns[c] = struct{}{}
	s.st.open.Add(1)
	s.st.accepted.Add(1)
	s.mu.Unlock()
	return c
}

func (s *Server) logCapReached(nc net.Conn) {
	now, last := monoNow(), s.lastCapLog.Load()
	if last != 0 && now-last < int64(time.Second) || !s.lastCapLog.CompareAndSwap(last, now) {
		s.capQuiet.Add(1)
		return
	}
	s.logger().Warn("socketmap: connection limit reached; answering TEMP to new connections and closing them",
		"max_conns", s.maxConns(), "remote", addrString(nc.RemoteAddr()),
		"also_rejected_since_last_log", s.capQuiet.Swap(0))
}

// Connections over the cap: at most maxRefusing are answered at once (the
// others are closed at once), each within refuseTimeout.
const (
	maxRefusing   = 64
	refuseTimeout = time.Second
)

// refusedReply is the answer to a request on a connection over the cap.
var refusedReply = Temp("mapgate: too many connections; try again later")

// refuse reads the first request of a connection over the cap, answers it
// TEMP and closes the connection: closing it at once, with the request
// unread, resets it, and Postfix logs no reason.
func (s *Server) refuse(nc net.Conn) {
	defer s.refusing.Add(-1)
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(min(refuseTimeout, s.requestTimeout())))
	dec := NewDecoder(bufio.NewReaderSize(nc, 512), s.maxRequest())
	if _, err := dec.Next(); err != nil {
		return
	}
	if _, err := nc.Write(AppendReplyNetstring(nil, refusedReply)); err == nil {
		s.st.replies[refusedReply.Status].Add(1)
	}
}

func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	if _, ok := s.conns[c]; ok {
		delete(s.conns, c)
		s.st.open.Add(-1)
	}
	empty := len(s.conns) == 0
	s.mu.Unlock()
	if empty && s.closing.Load() {
		s.drainOnce.Do(func() { close(s.drained) })
	}
}

// beginClose marks the server closing and closes its listeners.
func (s *Server) beginClose() error {
	s.init()
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

// Shutdown stops the server gracefully: it closes the listeners and idle
// connections, lets each request in flight finish and send its reply, then
// closes that connection. It returns once all connections are closed, or,
// when ctx ends first, force-closes the rest and returns ctx.Err(). A
// handler that overruns its deadline is answered TIMEOUT as usual, so
// Shutdown waits at most about RequestTimeout + WriteTimeout.
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

// Close closes the listeners and all connections at once, and cancels the
// contexts of handlers still running. It does not wait for them.
func (s *Server) Close() error {
	err := s.beginClose()
	s.cancel()
	s.closeConns()
	return err
}

func (s *Server) closeConns() {
	s.mu.Lock()
	cs := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		cs = append(cs, c)
	}
	s.mu.Unlock()
	for _, c := range cs {
		c.finish()
	}
}
