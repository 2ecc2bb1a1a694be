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

	"mapgate/internal/conncore"
	"mapgate/internal/nbio"
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

	initOnce sync.Once
	core     *conncore.Server

	st struct {
		requests, malformed                 atomic.Uint64
		timeouts, panics, emptyOK, tooLarge atomic.Uint64
		replies                             [5]atomic.Uint64
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
	s.init()
	cs := s.core.Stats()
	st := Stats{
		Accepted:  cs.Accepted,
		Rejected:  cs.Rejected,
		Open:      cs.Open,
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
		s.core = conncore.New(conncore.Config{
			Name:           "socketmap",
			Logger:         s.logger(),
			MaxConns:       s.maxConns(),
			IdleTimeout:    s.idleTimeout(),
			RequestTimeout: s.requestTimeout(),
			WriteTimeout:   s.writeTimeout(),
			Refusal:        "answered TEMP, or closed",
		}, protocol{s})
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

// Serve accepts connections on l and serves each in its own goroutine,
// until l fails or the server is shut down. It always closes l. After
// Shutdown or Close it returns ErrServerClosed; call Serve on several
// listeners concurrently to serve them all.
func (s *Server) Serve(l net.Listener) error {
	if s.Handler == nil {
		l.Close()
		return errors.New("socketmap: Server.Handler is nil")
	}
	s.init()
	err := s.core.Serve(l)
	if errors.Is(err, conncore.ErrClosed) {
		return ErrServerClosed
	}
	return err
}

// protocol plugs socketmap into the connection core.
type protocol struct{ s *Server }

func (p protocol) ServeConn(cc *conncore.Conn) {
	c := &conn{s: p.s, cc: cc, nc: nbio.Wrap(cc.NetConn())}
	c.wd.Expire = c.expire
	c.serve()
}

// refusedReply is the answer to a request on a connection over the cap.
var refusedReply = Temp("mapgate: too many connections; try again later")

// Refuse reads the first request of a connection over the cap and answers
// it TEMP: closing it at once, with the request unread, resets it, and
// Postfix logs no reason.
func (p protocol) Refuse(nc net.Conn) {
	dec := NewDecoder(bufio.NewReaderSize(nc, 512), p.s.maxRequest())
	if _, err := dec.Next(); err != nil {
		return
	}
	if _, err := nc.Write(AppendReplyNetstring(nil, refusedReply)); err == nil {
		p.s.st.replies[refusedReply.Status].Add(1)
	}
}

// Shutdown stops the server gracefully: it closes the listeners and idle
// connections, lets each request in flight finish and send its reply, then
// closes that connection. It returns once all connections are closed, or,
// when ctx ends first, force-closes the rest and returns ctx.Err(). A
// handler that overruns its deadline is answered TIMEOUT as usual, so
// Shutdown waits at most about RequestTimeout + WriteTimeout.
func (s *Server) Shutdown(ctx context.Context) error {
	s.init()
	return s.core.Shutdown(ctx)
}

// Close closes the listeners and all connections at once, and cancels the
// contexts of handlers still running. It does not wait for them.
func (s *Server) Close() error {
	s.init()
	return s.core.Close()
}
