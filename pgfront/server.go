package pgfront

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"mapgate/answer"
	"mapgate/internal/conncore"
)

// Resolver answers lookups: the lookup core, behind a small interface so
// that this package does not depend on it. Resolve is called with the
// unescaped key, never empty, and may be called concurrently.
type Resolver interface {
	Resolve(ctx context.Context, mapName, key string) answer.Result
	// HasMap reports whether mapName is served (the startup's database).
	HasMap(mapName string) bool
}

// The front's byte bounds (its connection settings are conncore.Limits).
const (
	// DefaultMaxMessage is the largest message body kept; a longer Query
	// (an over-long key) is read, discarded and answered as not found,
	// any other longer message closes the connection.
	DefaultMaxMessage = 64 << 10
	// DefaultMaxReply caps the bytes of one answer's value; a longer one
	// is a failure of that key (answer.Result.ForSQL). Postfix's pgsql:
	// client reads a result of any size.
	DefaultMaxReply = 64 << 20
)

// maxStartupMessage is PostgreSQL's MAX_STARTUP_PACKET_LENGTH; SCRAM
// messages are far shorter.
const maxStartupMessage = 10000

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("pgfront: server closed")

// Server is the PostgreSQL-protocol front. Set its fields before Serve.
type Server struct {
	Resolver Resolver
	// User and Password are the only credentials accepted (SCRAM-SHA-256;
	// no other method is offered). SetCredentials replaces them while
	// serving.
	User, Password string
	// Logger; nil means slog.Default(). Keys, statements and client names
	// are logged as attribute values, which the handler escapes (once),
	// cut to 200 bytes (names to conncore.MaxNameBytes); refused logins,
	// unknown databases, refused statements and protocol errors at most
	// once a second each, with the number held back.
	Logger *slog.Logger
	// Limits: the connection settings (conncore.Limits); a zero field
	// takes conncore.SQLFrontLimits's.
	conncore.Limits
	// Observe, when set, is called once per lookup answered with the
	// result "ok", "notfound" or "temp" (answer.SQLReply.Outcome of what
	// was sent).
	Observe func(mapName, result string, d time.Duration)

	initOnce sync.Once
	limits   conncore.Limits // Limits with the defaults, from init
	core     *conncore.Server
	baseCtx  context.Context
	creds    atomic.Pointer[credentials]
	nextID   atomic.Uint32
	refused  atomic.Uint64
	loginLog conncore.LogLimiter // refused logins
	dbLog    conncore.LogLimiter // unknown databases
	stmtLog  conncore.LogLimiter // refused statements
	olderLog conncore.LogLimiter // failures of one key sent as an older front .cf allows
	protoLog conncore.LogLimiter // protocol errors, over-long messages
}

func (s *Server) init() {
	s.initOnce.Do(func() {
		if s.creds.Load() == nil {
			s.creds.Store(newCredentials(s.User, s.Password))
		}
		s.limits = s.Limits.Or(conncore.SQLFrontLimits)
		cfg := s.limits.Config("pgfront", "FATAL 53300")
		cfg.Logger = s.log()
		s.core = conncore.New(cfg, protocol{s})
		s.baseCtx = s.core.BaseContext()
	})
}

// SetCredentials replaces the user and password that logins must give
// (a reload); connections logged in stay. It derives the SCRAM secret
// (PBKDF2, 4096 rounds) once, here.
func (s *Server) SetCredentials(user, password string) {
	s.creds.Store(newCredentials(user, password))
}

func (s *Server) log() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// Stats is a snapshot of a Server's counters.
type Stats struct {
	Accepted          uint64 // connections accepted and served
	Rejected          uint64 // connections refused because MaxConns were logged in (FATAL 53300)
	Open              int64  // connections open now, logged in or not
	Unauthenticated   int64  // of these, connections that have not logged in yet
	Evicted           uint64 // unauthenticated connections closed to make room for a new one
	HandshakeTimeouts uint64 // connections closed at HandshakeTimeout without having logged in
	FailedLogins      uint64 // logins refused: wrong user or password, a malformed startup or SCRAM message, an unknown database or encoding
	Refused           uint64 // statements refused and never executed: not a quoted key, the extended protocol, a function call
}

// Stats returns the current counters. Each field is read atomically; the
// snapshot as a whole is not.
func (s *Server) Stats() Stats {
	s.init()
	cs := s.core.Stats()
	return Stats{
		Accepted:          cs.Accepted,
		Rejected:          cs.Rejected,
		Open:              cs.Open,
		Unauthenticated:   cs.Unauthenticated,
		Evicted:           cs.Evicted,
		HandshakeTimeouts: cs.HandshakeTimeouts,
		FailedLogins:      cs.FailedLogins,
		Refused:           s.refused.Load(),
	}
}

// Serve accepts connections on l until it fails or the server is shut
// down. It always closes l.
func (s *Server) Serve(l net.Listener) error {
	if s.Resolver == nil {
		l.Close()
		return errors.New("pgfront: Server.Resolver is nil")
	}
	s.init()
	err := s.core.Serve(l)
	if errors.Is(err, conncore.ErrClosed) {
		return ErrServerClosed
	}
	return err
}

// Shutdown closes the listeners and idle connections, lets queries in
// flight answer, and returns when all connections are closed or ctx ends
// (then it closes the rest).
func (s *Server) Shutdown(ctx context.Context) error {
	s.init()
	return s.core.Shutdown(ctx)
}

// Close closes everything at once.
func (s *Server) Close() error {
	s.init()
	return s.core.Close()
}

// protocol plugs the PostgreSQL protocol into the connection core.
type protocol struct{ s *Server }

func (p protocol) ServeConn(cc *conncore.Conn) {
	nc := cc.NetConn()
	c := &conn{s: p.s, cc: cc, nc: nc, id: p.s.nextID.Add(1), br: bufio.NewReaderSize(nc, 4096)}
	c.fr = &framer{br: c.br}
	c.be = pgproto3.NewBackend(c.fr, nc)
	c.log = p.s.log().With("front", "pgsql", "conn", c.id)
	c.lk.Watchdog.Expire = c.expire
	defer c.lk.Watchdog.Stop()
	c.serve()
}

// Refuse answers a connection over the cap as PostgreSQL does, with
// FATAL 53300, after reading its startup message (libpq speaks first; a
// reply written before would be lost to the reset of an unread close).
func (p protocol) Refuse(nc net.Conn) {
	br := bufio.NewReaderSize(nc, 512)
	fr := &framer{br: br}
	be := pgproto3.NewBackend(fr, nc)
	for range 3 {
		hdr, err := br.Peek(4)
		if err != nil {
			return
		}
		n := int(int32(binary.BigEndian.Uint32(hdr)))
		if n < 8 || n > maxStartupMessage {
			return
		}
		fr.left = n
		m, err := be.ReceiveStartupMessage()
		if err != nil {
			return
		}
		switch m.(type) {
		case *pgproto3.SSLRequest, *pgproto3.GSSEncRequest:
			if _, err := nc.Write([]byte{'N'}); err != nil {
				return
			}
			continue
		case *pgproto3.StartupMessage:
			be.Send(fatal("53300", "sorry, too many clients already (mapgate)"))
			_ = be.Flush()
		}
		return
	}
}

// framer hands pgproto3's Backend the bytes of the message in hand and no
// more (left), so that the Backend never buffers past it: the connection
// peeks at each message's header itself (its length, before any
// allocation) and knows when a whole message is buffered.
type framer struct {
	br   *bufio.Reader
	left int
}

var errFrame = errors.New("pgfront: read past the message in hand")

func (f *framer) Read(p []byte) (int, error) {
	if f.left <= 0 {
		return 0, errFrame
	}
	if len(p) > f.left {
		p = p[:f.left]
	}
	n, err := f.br.Read(p)
	f.left -= n
	return n, err
}
