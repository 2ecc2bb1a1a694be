package mysqlfront

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"mapgate/answer"
	"mapgate/internal/conncore"
	"mapgate/internal/nbio"
	"mapgate/internal/sqlfront"
)

// Resolver answers lookups: the lookup core, behind a small interface so
// that this package does not depend on it. Resolve is called with the
// unescaped key, never empty, and may be called concurrently. The front
// answers its Result as Result.SQL says (the reply rule both SQL fronts
// share); a map it does not serve is error 1049.
type Resolver interface {
	Resolve(ctx context.Context, mapName, key string) answer.Result
	// HasMap reports whether mapName is served (COM_INIT_DB, handshake).
	HasMap(mapName string) bool
}

// The front's byte bounds (its connection settings are conncore.Limits).
const (
	// DefaultMaxPacket is the largest statement kept; a longer one (an
	// over-long key) is read, discarded and answered as not found.
	DefaultMaxPacket = 64 << 10
	// DefaultMaxReply caps the bytes of one answer's values. Postfix's
	// mysql: client reads a result of any size (socketmap's 100000-byte
	// limit is socketmap's): the cap only bounds what one reply may hold
	// in memory, far above any real table's answer (the rows a LIKE '%'
	// returns for 5,000 aliases are under 300 KB). A longer answer is a
	// failure of that key (answer.Result.ForSQL).
	DefaultMaxReply = 64 << 20
)

// maxNameBytes is the most of a user or database name that a log line or
// an error reply carries (MariaDB's user names have at most 80 characters,
// database names 64).
const maxNameBytes = 80

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("mysqlfront: server closed")

// Server is the MySQL-protocol front. Set its fields before Serve.
type Server struct {
	Resolver Resolver
	// User and Password are the only credentials accepted
	// (mysql_native_password). An empty Password accepts only an empty
	// response.
	User, Password string
	// Logger; nil means slog.Default(). Keys and statements are logged
	// escaped (strconv.QuoteToASCII). Refused logins and unknown map
	// names are logged at most once a second (with the number held back),
	// the client's name cut to 80 bytes and left to the log handler to
	// escape (once).
	Logger *slog.Logger
	// Limits: the connection settings (conncore.Limits); a zero field
	// takes conncore.SQLFrontLimits's.
	conncore.Limits
	// Observe, when set, is called once per lookup answered with the
	// result "ok", "notfound" or "temp".
	Observe func(mapName, result string, d time.Duration)

	initOnce sync.Once
	limits   conncore.Limits // Limits with the defaults, from init
	core     *conncore.Server
	baseCtx  context.Context // the core's
	nextID   atomic.Uint32
	loginLog conncore.LogLimiter // refused logins
	dbLog    conncore.LogLimiter // unknown maps named by a client
	olderLog conncore.LogLimiter // failures of one key sent as an older front .cf allows
}

func (s *Server) init() {
	s.initOnce.Do(func() {
		s.limits = s.Limits.Or(conncore.SQLFrontLimits)
		cfg := s.limits.Config("mysqlfront", "error 1040")
		cfg.Logger = s.log()
		s.core = conncore.New(cfg, protocol{s})
		s.baseCtx = s.core.BaseContext()
	})
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
	Rejected          uint64 // connections refused because MaxConns were logged in (error 1040)
	Open              int64  // connections open now, logged in or not
	Unauthenticated   int64  // of these, connections that have not logged in yet
	Evicted           uint64 // unauthenticated connections closed to make room for a new one
	HandshakeTimeouts uint64 // connections closed at HandshakeTimeout without having logged in
	FailedLogins      uint64 // logins refused: wrong user or password, a malformed handshake, a refused charset, an unknown map
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
	}
}

// Serve accepts connections on l until it fails or the server is shut
// down. It always closes l.
func (s *Server) Serve(l net.Listener) error {
	if s.Resolver == nil {
		l.Close()
		return errors.New("mysqlfront: Server.Resolver is nil")
	}
	s.init()
	err := s.core.Serve(l)
	if errors.Is(err, conncore.ErrClosed) {
		return ErrServerClosed
	}
	return err
}

// Shutdown closes the listeners and idle connections, lets commands in
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

// protocol plugs the MySQL protocol into the connection core.
type protocol struct{ s *Server }

func (p protocol) ServeConn(cc *conncore.Conn) {
	c := &conn{s: p.s, cc: cc, nc: nbio.Wrap(cc.NetConn()), id: p.s.nextID.Add(1)}
	c.lk.Watchdog.Expire = c.expire
	c.serve()
}

// Refuse answers a connection over the cap with error 1040.
func (p protocol) Refuse(nc net.Conn) {
	_, _ = nc.Write((&packetIO{}).appendPacket(nil, tooManyConns))
}

var tooManyConns = errPacket(1040, "08004", "mapgate: too many connections")

type conn struct {
	s       *Server
	cc      *conncore.Conn // deadlines, idleness, login budget
	nc      net.Conn       // cc's
	p       *packetIO
	id      uint32
	db      string
	charset string // "" until SET NAMES; then the handshake's collation no longer matters
	log     *slog.Logger

	out []byte // the last result set sent, kept for the next one

	// lk runs the lookups; its watchdog hands the connection over to
	// expire when one overruns.
	lk sqlfront.Lookups
}

// writeResult sends a result set of values (none: empty), built in a
// buffer kept for the next one.
func (c *conn) writeResult(values []string) error {
	b := c.p.resultSet(c.out[:0], c.db, values)
	if cap(b) <= scratchMax {
		c.out = b[:0]
	}
	return c.write(b)
}

func (c *conn) write(b []byte) error {
	c.cc.WriteDeadline(time.Now())
	_, err := c.nc.Write(b)
	return err
}

// serve serves the connection until it ends; the core then closes it (and
// recovers a panic). The handshake runs under the core's handshake
// deadline, each command under the idle and request deadlines.
func (c *conn) serve() {
	defer c.lk.Watchdog.Stop()
	c.log = c.s.log().With("front", "mysql", "conn", c.id)
	c.p = &packetIO{r: bufio.NewReaderSize(c.nc, 4096), w: c.nc, max: DefaultMaxPacket}
	if !c.handshake() {
		return
	}
	for {
		if c.p.r.Buffered() == 0 {
			if !c.cc.Idle(time.Now()) {
				return // shutting down
			}
			if _, err := c.p.r.Peek(1); err != nil {
				return
			}
		}
		c.cc.Active(c.packetBuffered())
		c.p.seq = 0
		pkt, err := c.p.readCommand()
		if errors.Is(err, errPacketTooLarge) {
			// Only a statement can be this long: an over-long key, which
			// cannot be in any table mapgate serves.
			c.log.Info("statement too long; answered as not found")
			if c.writeResult(nil) != nil {
				return
			}
			continue
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				c.log.Debug("connection closed", "err", err)
			}
			return
		}
		if !c.command(pkt) {
			return
		}
	}
}

// packetBuffered reports whether the reader holds the whole next packet
// (a single one, under 16 MiB).
func (c *conn) packetBuffered() bool {
	b, _ := c.p.r.Peek(min(c.p.r.Buffered(), 4))
	if len(b) < 4 {
		return false
	}
	n := int(b[0]) | int(b[1])<<8 | int(b[2])<<16
	return n < 0xffffff && c.p.r.Buffered() >= 4+n
}

// handshake greets, authenticates and selects the database.
func (c *conn) handshake() bool {
	scramble := make([]byte, 20)
	_, _ = rand.Read(scramble)
	for i, b := range scramble { // printable, no NUL, as servers send
		scramble[i] = b%94 + 33
	}
	if c.write(c.p.appendPacket(nil, handshake(c.id, scramble))) != nil {
		return false
	}
	pkt, err := c.p.readPacket()
	if err != nil {
		return false
	}
	hr, err := parseHandshakeResponse(pkt)
	if err != nil {
		c.refuseLogin("refused a malformed handshake", "err", err)
		_ = c.write(c.p.appendPacket(nil, errPacket(1043, "08S01", "mapgate: bad handshake")))
		return false
	}
	auth := hr.auth
	if hr.caps&capPluginAuth != 0 && hr.plugin != "" && hr.plugin != nativePlugin {
		// AuthSwitchRequest to mysql_native_password.
		sw := append([]byte{0xfe}, nativePlugin...)
		sw = append(sw, 0)
		sw = append(append(sw, scramble...), 0)
		if c.write(c.p.appendPacket(nil, sw)) != nil {
			return false
		}
		if auth, err = c.p.readPacket(); err != nil {
			return false
		}
	}
	if hr.user != c.s.User || !checkNative(c.s.Password, scramble, auth) {
		c.refuseLogin("access denied", "user", cutName(hr.user), "user_bytes", len(hr.user))
		_ = c.write(c.p.appendPacket(nil, errPacket(1045, "28000", "Access denied for user "+strconv.QuoteToASCII(cutName(hr.user)))))
		return false
	}
	if !safeCollationID(hr.collation) {
		c.refuseLogin("refused a client character set whose escape is not byte-wise", "collation", hr.collation)
		_ = c.write(c.p.appendPacket(nil, errPacket(1115, "42000", "mapgate: use charset = utf8mb4")))
		return false
	}
	if hr.db != "" {
		if !c.s.Resolver.HasMap(hr.db) {
			c.cc.LoginFailed()
			_ = c.write(c.p.appendPacket(nil, c.unknownMap("unknown map in dbname", hr.db)))
			return false
		}
		c.db = hr.db
	}
	if !c.cc.LoggedIn() {
		_ = c.write(c.p.appendPacket(nil, tooManyConns))
		return false
	}
	return c.write(c.p.appendPacket(nil, okPacket())) == nil
}

// refuseLogin counts a refused login and logs it, at most once a second.
func (c *conn) refuseLogin(msg string, args ...any) {
	c.cc.LoginFailed()
	if n, ok := c.s.loginLog.Allow(); ok {
		c.log.Warn(msg, append(args, "suppressed_since_last", n)...)
	}
}

// unknownMap logs (at most once a second) a map name a client asked for
// that is not served, and returns the error 1049 to send.
func (c *conn) unknownMap(msg, db string) []byte {
	if n, ok := c.s.dbLog.Allow(); ok {
		c.log.Warn(msg, "dbname", cutName(db), "dbname_bytes", len(db), "suppressed_since_last", n)
	}
	return errPacket(1049, "42000", "Unknown database (mapgate map) "+strconv.QuoteToASCII(cutName(db)))
}

// cutName cuts a client's user or database name to maxNameBytes (at a
// character boundary) for a log line or a reply, which escapes it once:
// a log handler quotes it, the reply with strconv.QuoteToASCII.
func cutName(s string) string {
	if len(s) <= maxNameBytes {
		return s
	}
	cut := maxNameBytes
	for k := cut; k > cut-utf8.UTFMax && k > 0; k-- {
		if utf8.RuneStart(s[k]) {
			cut = k
			break
		}
	}
	return s[:cut] + "..."
}

// command answers one command packet; false closes the connection.
func (c *conn) command(pkt []byte) bool {
	if len(pkt) == 0 {
		return false
	}
	switch pkt[0] {
	case comQuit:
		return false
	case comPing, comResetConnection:
		return c.write(c.p.appendPacket(nil, okPacket())) == nil
	case comInitDB:
		db := string(pkt[1:])
		if !c.s.Resolver.HasMap(db) {
			return c.write(c.p.appendPacket(nil, c.unknownMap("unknown map in COM_INIT_DB", db))) == nil
		}
		c.db = db
		return c.write(c.p.appendPacket(nil, okPacket())) == nil
	case comQuery:
		return c.query(string(pkt[1:]))
	}
	c.log.Warn("unsupported command", "command", pkt[0])
	return c.write(c.p.appendPacket(nil, errPacket(1047, "08S01", "mapgate: unsupported command"))) == nil
}

func (c *conn) query(stmt string) bool {
	if len(stmt) == 0 || stmt[0] != '\'' {
		if cs, ok := sessionStatement(stmt); ok {
			if cs != "" && !safeCharset(cs) {
				c.log.Warn("refused a character set whose escape is not byte-wise", "charset", strconv.QuoteToASCII(cs))
				return c.write(c.p.appendPacket(nil, errPacket(1115, "42000", "mapgate: use charset = utf8mb4"))) == nil
			}
			if cs != "" {
				c.charset = cs
			}
			return c.write(c.p.appendPacket(nil, okPacket())) == nil
		}
	}
	key, limited, err := ParseKey(stmt)
	if err != nil {
		c.log.Warn("refused a statement that is not a quoted escaped key (the front's .cf needs query = '%s'); not executed",
			"map", c.db, "statement", strconv.QuoteToASCII(truncate(stmt, 200)))
		return c.write(c.p.appendPacket(nil, errPacket(1064, "42000", "mapgate: not a key; the .cf for mapgate's MySQL front needs query = '%s'"))) == nil
	}
	if c.db == "" {
		return c.write(c.p.appendPacket(nil, errPacket(1046, "3D000", "No database (mapgate map) selected"))) == nil
	}
	if key == "" {
		return c.writeResult(nil) == nil
	}
	r, ok := c.resolve(key, limited)
	if !ok {
		return false // expire answered and closed the connection
	}
	if r.Class == answer.ClassNoMap {
		return c.write(c.p.appendPacket(nil, errPacket(1049, "42000", "Unknown database (mapgate map) "+strconv.QuoteToASCII(c.db)))) == nil
	}
	a := r.ForSQL(limited, DefaultMaxReply)
	c.note(a, len(r.Value))
	switch a.Reply {
	case answer.SQLRow:
		return c.writeResult([]string{r.Value}) == nil
	case answer.SQLEmpty:
		return c.writeResult(nil) == nil
	case answer.SQLFailOne:
		return c.writeResult(answer.FailOneRows()) == nil
	}
	return c.write(c.p.appendPacket(nil, errPacket(1105, "HY000", "mapgate: temporary lookup failure: "+truncate(strconv.QuoteToASCII(r.Reason), 200)))) == nil
}

// resolve runs the lookup with the request deadline, on the connection's
// goroutine; false when it did not return within a grace after it: the
// watchdog has then sent an error and closed the connection (expire), and
// the result is discarded.
func (c *conn) resolve(key string, limited bool) (answer.Result, bool) {
	r, ok := c.lk.Run(c.s.baseCtx, c.s.limits.RequestTimeout, c.log, c.s.Resolver, c.db, key)
	if ok {
		c.observe(r.SQL(limited).Outcome(), time.Since(c.lk.Start))
	}
	return r, ok
}

// expire runs when a lookup overran its deadline (conncore.Watchdog): it
// sends error 1205 and closes the connection.
func (c *conn) expire() {
	c.log.Warn("lookup overran its deadline; error sent, connection closed", "map", c.db, "key", strconv.QuoteToASCII(c.lk.Key))
	c.observe("temp", time.Since(c.lk.Start))
	_ = c.write(c.p.appendPacket(nil, errPacket(1205, "HY000", "mapgate: lookup timed out")))
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

// note logs what a front admin should know of an answer: a value over
// the front's bound, and (at most once a second) a failure of one key
// answered as a front .cf of the older form allows.
func (c *conn) note(a answer.SQLAnswer, size int) {
	if a.TooLarge {
		c.log.Warn("answer too large: a failure of this key", "map", c.db, "bytes", size, "max", DefaultMaxReply)
	}
	if !a.OlderForm {
		return
	}
	if n, ok := c.s.olderLog.Allow(); ok {
		c.log.Warn(answer.OlderFormAdvice, "map", c.db, "sent", a.Reply.Outcome(), "suppressed_since_last", n)
	}
}
