package pgfront

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"strconv"
	"strings"
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

// Defaults for the zero values of Server's fields: those of the MySQL
// front (package mysqlfront), for the same client behaviour.
const (
	DefaultIdleTimeout        = 110 * time.Second
	DefaultRequestTimeout     = 10 * time.Second
	DefaultWriteTimeout       = 10 * time.Second
	DefaultMaxConns           = 1024
	DefaultMaxUnauthenticated = 1024
	// DefaultHandshakeTimeout bounds the whole startup (first byte to
	// ReadyForQuery). libpq answers each step at once.
	DefaultHandshakeTimeout = 3 * time.Second
	// DefaultMaxMessage is the largest message body kept; a longer Query
	// (an over-long key) is read, discarded and answered as not found,
	// any other longer message closes the connection.
	DefaultMaxMessage = 64 << 10
	// DefaultMaxReply caps the bytes of one answer's value; a longer one
	// is sent as not found (an error would make Postfix skip the host for
	// every key). Postfix's pgsql: client reads a result of any size.
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
	// IdleTimeout, RequestTimeout, WriteTimeout, MaxConns,
	// MaxUnauthenticated, HandshakeTimeout: as in mysqlfront.Server (the
	// connection core's settings); zero means the Default.
	IdleTimeout        time.Duration
	RequestTimeout     time.Duration
	WriteTimeout       time.Duration
	MaxConns           int
	MaxUnauthenticated int
	HandshakeTimeout   time.Duration
	// Observe, when set, is called once per lookup answered with the
	// result "ok", "notfound" or "temp" (a key-caused failure is sent,
	// and observed, as "notfound").
	Observe func(mapName, result string, d time.Duration)

	initOnce sync.Once
	core     *conncore.Server
	baseCtx  context.Context
	creds    atomic.Pointer[credentials]
	nextID   atomic.Uint32
	refused  atomic.Uint64
	loginLog conncore.LogLimiter // refused logins
	dbLog    conncore.LogLimiter // unknown databases
	stmtLog  conncore.LogLimiter // refused statements
	protoLog conncore.LogLimiter // protocol errors, over-long messages
}

func (s *Server) init() {
	s.initOnce.Do(func() {
		if s.creds.Load() == nil {
			s.creds.Store(newCredentials(s.User, s.Password))
		}
		s.core = conncore.New(conncore.Config{
			Name:               "pgfront",
			Logger:             s.log(),
			MaxConns:           orDefault(s.MaxConns, DefaultMaxConns),
			IdleTimeout:        orDefault(s.IdleTimeout, DefaultIdleTimeout),
			RequestTimeout:     orDefault(s.RequestTimeout, DefaultRequestTimeout),
			WriteTimeout:       orDefault(s.WriteTimeout, DefaultWriteTimeout),
			MaxUnauthenticated: orDefault(s.MaxUnauthenticated, DefaultMaxUnauthenticated),
			HandshakeTimeout:   orDefault(s.HandshakeTimeout, DefaultHandshakeTimeout),
			Refusal:            "FATAL 53300",
		}, protocol{s})
		s.baseCtx = s.core.BaseContext()
	})
}

// SetCredentials replaces the user and password that logins must give
// (a reload); connections logged in stay. It derives the SCRAM secret
// (PBKDF2, 4096 rounds) once, here.
func (s *Server) SetCredentials(user, password string) {
	s.creds.Store(newCredentials(user, password))
}

func orDefault[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
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
	c.wd.Expire = c.expire
	defer c.wd.Stop()
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

type conn struct {
	s   *Server
	cc  *conncore.Conn
	nc  net.Conn
	br  *bufio.Reader
	fr  *framer
	be  *pgproto3.Backend
	id  uint32
	log *slog.Logger

	db   string   // the map: the startup's database
	enc  Encoding // the client encoding reported, and so libpq's escaping
	skip bool     // extended protocol refused: discard until Sync

	// wd hands the connection over to expire when a lookup overruns.
	wd       conncore.Watchdog
	curKey   string    // the lookup in the resolver, for expire's log line
	curStart time.Time // when it began
}

func fatal(code, msg string) *pgproto3.ErrorResponse {
	return &pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: code, Message: msg}
}

func errorResponse(code, msg string) *pgproto3.ErrorResponse {
	return &pgproto3.ErrorResponse{Severity: "ERROR", SeverityUnlocalized: "ERROR", Code: code, Message: msg}
}

func (c *conn) flush() error {
	c.cc.WriteDeadline(time.Now())
	return c.be.Flush()
}

// ready ends a query cycle.
func (c *conn) ready() error {
	c.be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
	return c.flush()
}

// serve serves the connection until it ends; the core then closes it (and
// recovers a panic). The startup runs under the core's handshake deadline,
// each message under the idle and request deadlines.
func (c *conn) serve() {
	if !c.startup() {
		return
	}
	for {
		if c.br.Buffered() == 0 {
			if !c.cc.Idle(time.Now()) {
				return // shutting down
			}
			if _, err := c.br.Peek(1); err != nil {
				return
			}
		}
		hdr, _ := c.br.Peek(min(c.br.Buffered(), 5))
		whole := len(hdr) == 5 && c.br.Buffered() >= 1+int(binary.BigEndian.Uint32(hdr[1:]))
		c.cc.Active(whole)
		if !c.message() {
			return
		}
	}
}

// next reads the next message, its length checked against limit before
// anything is allocated. tooLong reports a longer message, left unread
// (its type in typ, its whole length in n).
func (c *conn) next(limit int, startup bool) (m pgproto3.FrontendMessage, typ byte, n int, tooLong bool, err error) {
	hl := 5
	if startup {
		hl = 4
	}
	hdr, err := c.br.Peek(hl)
	if err != nil {
		return nil, 0, 0, false, err
	}
	if startup {
		n = int(int32(binary.BigEndian.Uint32(hdr)))
		if n < 8 {
			return nil, 0, n, false, fmt.Errorf("startup message length %d", n)
		}
	} else {
		typ = hdr[0]
		n = 1 + int(int32(binary.BigEndian.Uint32(hdr[1:])))
		if n < 5 {
			return nil, typ, n, false, fmt.Errorf("message length %d", n-1)
		}
	}
	if n-hl > limit {
		return nil, typ, n, true, nil
	}
	c.fr.left = n
	if startup {
		m, err = c.be.ReceiveStartupMessage()
	} else {
		m, err = c.be.Receive()
	}
	if err != nil && !quiet(err) {
		err = fmt.Errorf("malformed message %q: %w", typ, err)
	}
	return m, typ, n, false, err
}

// protoError logs (at most once a second) a protocol violation.
func (c *conn) protoError(msg string, args ...any) {
	if n, ok := c.s.protoLog.Allow(); ok {
		c.log.Warn(msg, append(args, "suppressed_since_last", n)...)
	}
}

// refuseLogin counts a refused login, logs it at most once a second, and
// sends the FATAL error that ends it.
func (c *conn) refuseLogin(code, reply, msg string, args ...any) bool {
	c.cc.LoginFailed()
	if n, ok := c.s.loginLog.Allow(); ok {
		c.log.Warn(msg, append(args, "suppressed_since_last", n)...)
	}
	c.be.Send(fatal(code, reply))
	_ = c.flush()
	return false
}

// startup answers SSLRequest and GSSENCRequest with 'N' (the front has no
// TLS), reads the startup message, authenticates with SCRAM-SHA-256 and
// reports the session's parameters.
func (c *conn) startup() bool {
	var sm *pgproto3.StartupMessage
	for sm == nil {
		m, _, n, tooLong, err := c.next(maxStartupMessage, true)
		if tooLong || err != nil {
			if tooLong || !quiet(err) {
				c.cc.LoginFailed()
				c.protoError("refused a malformed startup message", "bytes", n, "err", err)
			}
			return false
		}
		switch m := m.(type) {
		case *pgproto3.SSLRequest, *pgproto3.GSSEncRequest:
			c.cc.WriteDeadline(time.Now())
			if _, err := c.nc.Write([]byte{'N'}); err != nil {
				return false
			}
		case *pgproto3.CancelRequest:
			return false // no query runs long enough to cancel
		case *pgproto3.StartupMessage:
			sm = m
		}
	}
	user := sm.Parameters["user"]
	db, ok := sm.Parameters["database"]
	if !ok || db == "" {
		db = user // PostgreSQL's default
	}
	var unknown []string
	for k := range sm.Parameters {
		if strings.HasPrefix(k, "_pq_.") {
			unknown = append(unknown, k)
		}
	}
	if sm.ProtocolVersion != pgproto3.ProtocolVersion30 || len(unknown) > 0 {
		c.be.Send(&pgproto3.NegotiateProtocolVersion{NewestMinorProtocol: 0, UnrecognizedOptions: unknown})
	}
	if v, ok := sm.Parameters["client_encoding"]; ok {
		enc, ok := ParseEncoding(v)
		if !ok {
			return c.refuseLogin("22023", "mapgate: client_encoding must be UTF8, LATIN1 or SQL_ASCII",
				"refused a client encoding whose escaping is not byte-wise", "client_encoding", conncore.CutName(v))
		}
		c.enc = enc
	}
	if !c.authenticate(user) {
		return false
	}
	if !c.s.Resolver.HasMap(db) {
		c.cc.LoginFailed()
		if n, ok := c.s.dbLog.Allow(); ok {
			c.log.Warn("unknown map in the startup's database", "dbname", conncore.CutName(db), "dbname_bytes", len(db), "suppressed_since_last", n)
		}
		c.be.Send(fatal("3D000", "database (mapgate map) "+strconv.QuoteToASCII(conncore.CutName(db))+" does not exist"))
		_ = c.flush()
		return false
	}
	c.db = db
	if !c.cc.LoggedIn() {
		c.be.Send(fatal("53300", "sorry, too many clients already (mapgate)"))
		_ = c.flush()
		return false
	}
	c.be.Send(&pgproto3.AuthenticationOk{})
	for _, p := range [][2]string{
		{"server_version", "15.0 (mapgate)"},
		{"server_encoding", "UTF8"},
		{"client_encoding", c.enc.String()},
		{"standard_conforming_strings", "on"},
		{"integer_datetimes", "on"},
		{"DateStyle", "ISO, MDY"},
		{"IntervalStyle", "postgres"},
		{"TimeZone", "UTC"},
		{"is_superuser", "off"},
		{"session_authorization", user},
	} {
		c.be.Send(&pgproto3.ParameterStatus{Name: p[0], Value: p[1]})
	}
	secret := make([]byte, 4)
	_, _ = rand.Read(secret)
	c.be.Send(&pgproto3.BackendKeyData{ProcessID: c.id, SecretKey: secret})
	return c.ready() == nil
}

// authenticate runs SCRAM-SHA-256 (the only method offered: no cleartext
// password, no MD5) and sends AuthenticationSASLFinal when it succeeds.
func (c *conn) authenticate(user string) bool {
	x := &scramExchange{cr: c.s.creds.Load()}
	c.be.Send(&pgproto3.AuthenticationSASL{AuthMechanisms: []string{scramMechanism}})
	if c.flush() != nil {
		return false
	}
	_ = c.be.SetAuthType(pgproto3.AuthTypeSASL)
	m, ok := c.authMessage()
	if !ok {
		return false
	}
	ir, isIR := m.(*pgproto3.SASLInitialResponse)
	if !isIR || ir.AuthMechanism != scramMechanism {
		return c.refuseLogin("28000", "mapgate: only SCRAM-SHA-256 without channel binding",
			"refused an authentication method other than SCRAM-SHA-256", "user", conncore.CutName(user), "user_bytes", len(user))
	}
	sf, err := x.first(ir.Data)
	if err != nil {
		return c.refuseLogin("08P01", "mapgate: malformed SCRAM message", "refused a malformed SCRAM message",
			"user", conncore.CutName(user), "user_bytes", len(user))
	}
	c.be.Send(&pgproto3.AuthenticationSASLContinue{Data: []byte(sf)})
	if c.flush() != nil {
		return false
	}
	_ = c.be.SetAuthType(pgproto3.AuthTypeSASLContinue)
	if m, ok = c.authMessage(); !ok {
		return false
	}
	_ = c.be.SetAuthType(pgproto3.AuthTypeOk)
	r, isR := m.(*pgproto3.SASLResponse)
	if !isR {
		return c.refuseLogin("08P01", "mapgate: expected a SASL response", "refused a login that did not continue SCRAM",
			"user", conncore.CutName(user), "user_bytes", len(user))
	}
	final, good, err := x.final(r.Data)
	if err != nil {
		return c.refuseLogin("08P01", "mapgate: malformed SCRAM message", "refused a malformed SCRAM message",
			"user", conncore.CutName(user), "user_bytes", len(user))
	}
	// The user is compared after the proof, so that a wrong user and a
	// wrong password look the same to the client, as PostgreSQL's do.
	if !good || user != x.cr.user {
		return c.refuseLogin("28P01", "password authentication failed for user "+strconv.QuoteToASCII(conncore.CutName(user)),
			"access denied", "user", conncore.CutName(user), "user_bytes", len(user))
	}
	c.be.Send(&pgproto3.AuthenticationSASLFinal{Data: []byte(final)})
	return true
}

// authMessage reads one authentication message; false (after logging a
// malformed one) ends the login.
func (c *conn) authMessage() (pgproto3.FrontendMessage, bool) {
	m, typ, n, tooLong, err := c.next(maxStartupMessage, false)
	switch {
	case tooLong:
		c.refuseLogin("08P01", "mapgate: message too long", "refused an over-long authentication message", "type", typ, "bytes", n)
		return nil, false
	case err != nil:
		if !quiet(err) {
			c.refuseLogin("08P01", "mapgate: malformed authentication message", "refused a malformed authentication message", "err", err)
		}
		return nil, false
	}
	if _, ok := m.(*pgproto3.Terminate); ok {
		return nil, false
	}
	return m, true
}

// quiet reports a read error that is no client's fault to log or count:
// the client went away, the handshake deadline passed, or the core
// closed the connection (evicted, shutting down).
func quiet(err error) bool {
	var ne net.Error
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.As(err, &ne) && ne.Timeout()
}

// message answers one message; false closes the connection.
func (c *conn) message() bool {
	m, typ, n, tooLong, err := c.next(DefaultMaxMessage, false)
	if tooLong {
		if typ != 'Q' {
			c.protoError("message too long; connection closed", "type", string(typ), "bytes", n)
			c.be.Send(fatal("08P01", "mapgate: message too long"))
			_ = c.flush()
			return false
		}
		// Only a statement can be this long: an over-long key, which no
		// table mapgate serves holds.
		if _, err := c.br.Discard(n); err != nil {
			return false
		}
		c.protoError("statement too long; answered as not found", "map", c.db, "bytes", n)
		return c.resultSet("") == nil
	}
	if err != nil {
		if !quiet(err) { // not a message pgproto3 knows, or malformed
			c.protoError("malformed message; connection closed", "err", err)
			c.be.Send(fatal("08P01", "mapgate: malformed message"))
			_ = c.flush()
		}
		return false
	}
	switch m := m.(type) {
	case *pgproto3.Query:
		return c.query(m.String)
	case *pgproto3.Terminate:
		return false
	case *pgproto3.Sync:
		c.skip = false
		return c.ready() == nil
	case *pgproto3.Flush:
		return c.flush() == nil
	case *pgproto3.CopyData, *pgproto3.CopyDone, *pgproto3.CopyFail:
		return true // ignored outside COPY, as PostgreSQL does
	case *pgproto3.Parse, *pgproto3.Bind, *pgproto3.Describe, *pgproto3.Execute, *pgproto3.Close:
		// The extended protocol: refused, and its messages discarded
		// until Sync, as PostgreSQL discards them after an error.
		if c.skip {
			return true
		}
		c.skip = true
		c.refuse("refused the extended query protocol; not executed", "message", fmt.Sprintf("%T", m))
		c.be.Send(errorResponse("0A000", "mapgate: only simple queries of one quoted key"))
		return c.flush() == nil
	case *pgproto3.FunctionCall:
		c.refuse("refused a function call; not executed")
		c.be.Send(errorResponse("0A000", "mapgate: function calls are not supported"))
		return c.ready() == nil
	}
	c.protoError("unexpected message; connection closed", "message", fmt.Sprintf("%T", m))
	c.be.Send(fatal("08P01", "mapgate: unexpected message"))
	_ = c.flush()
	return false
}

// refuse counts a refused statement and logs it, at most once a second.
func (c *conn) refuse(msg string, args ...any) {
	c.s.refused.Add(1)
	if n, ok := c.s.stmtLog.Allow(); ok {
		c.log.Warn(msg, append(args, "map", c.db, "suppressed_since_last", n)...)
	}
}

// resultSet sends a one-column result set: one row holding value, or no
// row when value is empty; then ReadyForQuery.
func (c *conn) resultSet(value string) error {
	c.be.Send(&pgproto3.RowDescription{Fields: []pgproto3.FieldDescription{{
		Name: []byte("result"), DataTypeOID: 25, DataTypeSize: -1, TypeModifier: -1, Format: 0,
	}}})
	tag := "SELECT 0"
	if value != "" {
		c.be.Send(&pgproto3.DataRow{Values: [][]byte{[]byte(value)}})
		tag = "SELECT 1"
	}
	c.be.Send(&pgproto3.CommandComplete{CommandTag: []byte(tag)})
	return c.ready()
}

func (c *conn) query(stmt string) bool {
	if strings.TrimSpace(stmt) == "" {
		c.be.Send(&pgproto3.EmptyQueryResponse{})
		return c.ready() == nil
	}
	if stmt[0] != '\'' {
		if name, ok := setEncoding(stmt); ok {
			enc, ok := ParseEncoding(name)
			if !ok {
				c.refuse("refused a client encoding whose escaping is not byte-wise", "client_encoding", conncore.CutName(name))
				c.be.Send(errorResponse("22023", "mapgate: client_encoding must be UTF8, LATIN1 or SQL_ASCII"))
				return c.ready() == nil
			}
			c.enc = enc
			c.be.Send(&pgproto3.CommandComplete{CommandTag: []byte("SET")})
			c.be.Send(&pgproto3.ParameterStatus{Name: "client_encoding", Value: enc.String()})
			return c.ready() == nil
		}
	}
	key, err := ParseKey(stmt, c.enc)
	if err != nil {
		c.refuse("refused a statement that is not a quoted escaped key (the front's .cf needs query = '%s'); not executed",
			"statement", truncate(stmt, 200), "statement_bytes", len(stmt), "client_encoding", c.enc.String())
		c.be.Send(errorResponse("42601", "mapgate: not a key; the .cf for mapgate's PostgreSQL front needs query = '%s'"))
		return c.ready() == nil
	}
	if key == "" {
		return c.resultSet("") == nil
	}
	r, ok := c.resolve(key)
	if !ok {
		return false // expire answered and closed the connection
	}
	switch {
	case r.KeyCaused():
		// A condition of this key alone: an empty result, never an
		// error, which would make Postfix skip the host for every key.
		return c.resultSet("") == nil
	case r.Class == answer.ClassNoMap:
		c.be.Send(errorResponse("3D000", "database (mapgate map) "+strconv.QuoteToASCII(c.db)+" does not exist"))
		return c.ready() == nil
	case r.Failed():
		// The database cannot be asked, or the map fails for every key.
		c.be.Send(errorResponse("58000", "mapgate: temporary lookup failure: "+truncate(strconv.QuoteToASCII(r.Reason), 200)))
		return c.ready() == nil
	case r.Found && len(r.Value) > DefaultMaxReply:
		c.log.Warn("answer too large; answered as not found", "map", c.db, "bytes", len(r.Value), "max", DefaultMaxReply)
		return c.resultSet("") == nil
	case r.Found:
		return c.resultSet(r.Value) == nil
	}
	return c.resultSet("") == nil
}

// resolve runs the lookup on the connection's goroutine under the request
// deadline (conncore.RequestContext). false: it overran the deadline and a
// grace, and the watchdog has sent FATAL 57014 and closed the connection
// (expire); its result is discarded.
func (c *conn) resolve(key string) (answer.Result, bool) {
	d := orDefault(c.s.RequestTimeout, DefaultRequestTimeout)
	start := time.Now()
	ctx := conncore.NewRequestContext(c.s.baseCtx, start.Add(d))
	defer ctx.Release()
	c.curKey, c.curStart = key, start
	c.wd.Begin(start, d+conncore.Grace(d))
	r := c.call(ctx, key)
	if !c.wd.End() {
		return answer.Result{}, false
	}
	res := "temp"
	switch {
	case r.Found && !r.Failed():
		res = "ok"
	case !r.Failed(), r.KeyCaused():
		res = "notfound"
	}
	c.observe(res, time.Since(start))
	return r, true
}

// call runs the resolver, turning a panic into a failure.
func (c *conn) call(ctx context.Context, key string) (r answer.Result) {
	defer func() {
		if p := recover(); p != nil {
			c.log.Error("pgfront: resolver panic", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			r = answer.Fail(answer.ClassUnknown, "internal error")
		}
	}()
	return c.s.Resolver.Resolve(ctx, c.db, key)
}

// expire runs when a lookup overran its deadline (conncore.Watchdog): it
// sends FATAL 57014 and closes the connection.
func (c *conn) expire() {
	c.log.Warn("lookup overran its deadline; error sent, connection closed", "map", c.db, "key", truncate(c.curKey, 200))
	c.observe("temp", time.Since(c.curStart))
	c.be.Send(fatal("57014", "mapgate: lookup timed out"))
	_ = c.flush()
	c.cc.Close()
}

func (c *conn) observe(res string, d time.Duration) {
	if c.s.Observe != nil {
		c.s.Observe(c.db, res, d)
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
