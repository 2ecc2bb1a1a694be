package mysqlfront

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"mapgate/internal/accept"
)

// Status is the outcome of one lookup.
type Status uint8

const (
	// NotFound: the key is provably absent, or cannot match (a key-caused
	// condition). Sent as an empty result set.
	NotFound Status = iota
	// Found: Answer.Values holds the formatted values, one row each.
	Found
	// Temp: the answer is uncertain (database down, timeout). Sent as an
	// error packet; Postfix defers and skips the host for retry_interval.
	Temp
	// UnknownMap: the map name is not served. Sent as an error packet.
	UnknownMap
)

// Answer is a Resolver's result.
type Answer struct {
	Status Status
	Values []string // Found: the values, each non-empty
	Reason string   // Temp, UnknownMap: logged and sent in the error text
}

// Resolver answers lookups: the lookup core, behind a small interface so
// that this package does not depend on it. Resolve is called with the
// unescaped key, never empty, and may be called concurrently.
type Resolver interface {
	Resolve(ctx context.Context, mapName, key string) Answer
	// HasMap reports whether mapName is served (COM_INIT_DB, handshake).
	HasMap(mapName string) bool
}

// Defaults for the zero values of Server's fields; the same budgets as the
// socketmap server's.
const (
	DefaultIdleTimeout    = 110 * time.Second
	DefaultRequestTimeout = 10 * time.Second
	DefaultWriteTimeout   = 10 * time.Second
	DefaultMaxConns       = 1024
	// DefaultMaxPacket is the largest statement kept; a longer one (an
	// over-long key) is read, discarded and answered as not found.
	DefaultMaxPacket = 64 << 10
	// DefaultMaxReply caps the bytes of one answer's values, as Postfix's
	// socketmap_max_reply_size does; a longer answer is Temp.
	DefaultMaxReply = 100000
)

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
	// escaped (strconv.QuoteToASCII).
	Logger *slog.Logger
	// IdleTimeout: how long to wait for the next command. Zero means
	// DefaultIdleTimeout (Postfix's idle_interval, 60 s, closes first).
	IdleTimeout time.Duration
	// RequestTimeout bounds the handshake, reading a command once its first
	// byte arrived, and the lookup's context. A lookup that has not
	// returned shortly after is answered with an error and the connection
	// closed. Zero means DefaultRequestTimeout.
	RequestTimeout time.Duration
	// WriteTimeout bounds each write. Zero means DefaultWriteTimeout.
	WriteTimeout time.Duration
	// MaxConns caps open connections; a connection over the cap gets
	// error 1040 (too many connections) instead of a greeting. Zero means
	// DefaultMaxConns.
	MaxConns int
	// Observe, when set, is called once per lookup answered with the
	// result "ok", "notfound" or "temp".
	Observe func(mapName, result string, d time.Duration)

	initOnce  sync.Once
	baseCtx   context.Context
	cancel    context.CancelFunc
	closing   atomic.Bool
	mu        sync.Mutex
	listeners map[*net.Listener]struct{}
	conns     map[*conn]struct{}
	drained   chan struct{}
	drainOnce sync.Once
	nextID    atomic.Uint32

	refusing   atomic.Int64
	lastCapLog atomic.Int64
	st         serverStats
}

func (s *Server) init() {
	s.initOnce.Do(func() {
		s.baseCtx, s.cancel = context.WithCancel(context.Background())
		s.listeners = map[*net.Listener]struct{}{}
		s.conns = map[*conn]struct{}{}
		s.drained = make(chan struct{})
	})
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

// Serve accepts connections on l until it fails or the server is shut
// down. It always closes l.
func (s *Server) Serve(l net.Listener) error {
	s.init()
	defer l.Close()
	if s.Resolver == nil {
		return errors.New("mysqlfront: Server.Resolver is nil")
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
	err := accept.Loop(l, s.closing.Load, s.baseCtx.Done(), s.log(), "mysqlfront", s.admit)
	if errors.Is(err, accept.ErrClosed) {
		return ErrServerClosed
	}
	return err
}

// admit serves a new connection, or refuses it when the server is closing
// or MaxConns connections are open.
func (s *Server) admit(nc net.Conn) {
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		nc.Close()
		return
	}
	if len(s.conns) >= orDefault(s.MaxConns, DefaultMaxConns) {
		s.mu.Unlock()
		s.st.rejected.Add(1)
		if s.refusing.Add(1) <= maxRefusing {
			go s.refuse(nc)
		} else {
			s.refusing.Add(-1)
			nc.Close()
		}
		return
	}
	c := &conn{s: s, nc: nc, id: s.nextID.Add(1)}
	s.st.accepted.Add(1)
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	go c.serve()
}

// At most maxRefusing connections over the cap are answered at once; the
// others are closed unanswered.
const maxRefusing = 64

// refuse answers a connection over the cap with error 1040 and closes it;
// it logs at most once a second.
func (s *Server) refuse(nc net.Conn) {
	defer s.refusing.Add(-1)
	defer nc.Close()
	now := time.Now().UnixNano()
	if last := s.lastCapLog.Load(); now-last >= int64(time.Second) && s.lastCapLog.CompareAndSwap(last, now) {
		s.log().Warn("mysqlfront: connection limit reached; answering error 1040 to new connections", "max_conns", orDefault(s.MaxConns, DefaultMaxConns))
	}
	_ = nc.SetWriteDeadline(time.Now().Add(time.Second))
	p := &packetIO{w: nc}
	_, _ = nc.Write(p.appendPacket(nil, errPacket(1040, "08004", "mapgate: too many connections")))
}

func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	empty := len(s.conns) == 0
	s.mu.Unlock()
	if empty && s.closing.Load() {
		s.drainOnce.Do(func() { close(s.drained) })
	}
}

func (s *Server) beginClose() {
	s.init()
	s.mu.Lock()
	s.closing.Store(true)
	for l := range s.listeners {
		(*l).Close()
	}
	empty := len(s.conns) == 0
	for c := range s.conns {
		c.wakeIfIdle()
	}
	s.mu.Unlock()
	if empty {
		s.drainOnce.Do(func() { close(s.drained) })
	}
}

// Shutdown closes the listeners and idle connections, lets commands in
// flight answer, and returns when all connections are closed or ctx ends
// (then it closes the rest).
func (s *Server) Shutdown(ctx context.Context) error {
	s.beginClose()
	select {
	case <-s.drained:
		s.cancel()
		return nil
	case <-ctx.Done():
		s.Close()
		return ctx.Err()
	}
}

// Close closes everything at once.
func (s *Server) Close() error {
	s.beginClose()
	s.cancel()
	s.mu.Lock()
	for c := range s.conns {
		c.nc.Close()
	}
	s.mu.Unlock()
	return nil
}

type conn struct {
	s       *Server
	nc      net.Conn
	p       *packetIO
	id      uint32
	db      string
	charset string // "" until SET NAMES; then the handshake's collation no longer matters
	log     *slog.Logger

	mu   sync.Mutex
	idle bool
}

func (c *conn) wakeIfIdle() {
	c.mu.Lock()
	if c.idle {
		_ = c.nc.SetReadDeadline(time.Now())
	}
	c.mu.Unlock()
}

func (c *conn) setIdle(idle bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.idle = idle
	return !(idle && c.s.closing.Load())
}

func (c *conn) write(b []byte) error {
	_ = c.nc.SetWriteDeadline(time.Now().Add(orDefault(c.s.WriteTimeout, DefaultWriteTimeout)))
	_, err := c.nc.Write(b)
	return err
}

func (c *conn) serve() {
	defer c.s.untrack(c)
	defer c.nc.Close()
	defer func() {
		if r := recover(); r != nil {
			c.s.log().Error("mysqlfront: panic serving a connection", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		}
	}()
	c.log = c.s.log().With("front", "mysql", "conn", c.id)
	reqTimeout := orDefault(c.s.RequestTimeout, DefaultRequestTimeout)
	c.p = &packetIO{r: bufio.NewReaderSize(c.nc, 4096), w: c.nc, max: DefaultMaxPacket}
	_ = c.nc.SetDeadline(time.Now().Add(reqTimeout))
	if !c.handshake() {
		return
	}
	for {
		if !c.setIdle(true) {
			return
		}
		_ = c.nc.SetReadDeadline(time.Now().Add(orDefault(c.s.IdleTimeout, DefaultIdleTimeout)))
		_, err := c.p.r.Peek(1)
		if !c.setIdle(false) || err != nil {
			return
		}
		_ = c.nc.SetReadDeadline(time.Now().Add(reqTimeout))
		c.p.seq = 0
		pkt, err := c.p.readPacket()
		if errors.Is(err, errPacketTooLarge) {
			// Only a statement can be this long: an over-long key, which
			// cannot be in any table mapgate serves.
			c.log.Info("statement too long; answered as not found")
			if c.write(c.p.resultSet(nil, c.db, nil)) != nil {
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
		c.log.Warn("refused a malformed handshake", "err", err)
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
		c.s.st.loginsFailed.Add(1)
		c.log.Warn("access denied", "user", strconv.QuoteToASCII(hr.user))
		_ = c.write(c.p.appendPacket(nil, errPacket(1045, "28000", "Access denied for user "+strconv.QuoteToASCII(hr.user))))
		return false
	}
	if !safeCollationID(hr.collation) {
		c.log.Warn("refused a client character set whose escape is not byte-wise", "collation", hr.collation)
		_ = c.write(c.p.appendPacket(nil, errPacket(1115, "42000", "mapgate: use charset = utf8mb4")))
		return false
	}
	if hr.db != "" {
		if !c.s.Resolver.HasMap(hr.db) {
			c.log.Warn("unknown map in dbname", "dbname", strconv.QuoteToASCII(hr.db))
			_ = c.write(c.p.appendPacket(nil, errPacket(1049, "42000", "Unknown database (mapgate map) "+strconv.QuoteToASCII(hr.db))))
			return false
		}
		c.db = hr.db
	}
	return c.write(c.p.appendPacket(nil, okPacket())) == nil
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
			c.log.Warn("unknown map in COM_INIT_DB", "dbname", strconv.QuoteToASCII(db))
			return c.write(c.p.appendPacket(nil, errPacket(1049, "42000", "Unknown database (mapgate map) "+strconv.QuoteToASCII(db)))) == nil
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
	key, err := ParseKey(stmt)
	if err != nil {
		c.log.Warn("refused a statement that is not a quoted escaped key (the front's .cf needs query = '%s'); not executed",
			"map", c.db, "statement", strconv.QuoteToASCII(truncate(stmt, 200)))
		return c.write(c.p.appendPacket(nil, errPacket(1064, "42000", "mapgate: not a key; the .cf for mapgate's MySQL front needs query = '%s'"))) == nil
	}
	if c.db == "" {
		return c.write(c.p.appendPacket(nil, errPacket(1046, "3D000", "No database (mapgate map) selected"))) == nil
	}
	if key == "" {
		return c.write(c.p.resultSet(nil, c.db, nil)) == nil
	}
	a, ok := c.resolve(key)
	if !ok {
		_ = c.write(c.p.appendPacket(nil, errPacket(1205, "HY000", "mapgate: lookup timed out")))
		return false
	}
	switch a.Status {
	case Found:
		size := 0
		vals := a.Values[:0:0]
		for _, v := range a.Values {
			if v != "" {
				vals = append(vals, v)
				size += len(v)
			}
		}
		if size > DefaultMaxReply {
			c.log.Warn("answer too large; temporary error", "map", c.db, "bytes", size)
			return c.write(c.p.appendPacket(nil, errPacket(1105, "HY000", "mapgate: answer too large"))) == nil
		}
		return c.write(c.p.resultSet(nil, c.db, vals)) == nil
	case NotFound:
		return c.write(c.p.resultSet(nil, c.db, nil)) == nil
	case UnknownMap:
		return c.write(c.p.appendPacket(nil, errPacket(1049, "42000", "Unknown database (mapgate map) "+strconv.QuoteToASCII(c.db)))) == nil
	}
	return c.write(c.p.appendPacket(nil, errPacket(1105, "HY000", "mapgate: temporary lookup failure: "+truncate(strconv.QuoteToASCII(a.Reason), 200)))) == nil
}

// resolve runs the lookup with the request deadline; false when it did not
// return within a grace after it (its result is then discarded).
func (c *conn) resolve(key string) (Answer, bool) {
	d := orDefault(c.s.RequestTimeout, DefaultRequestTimeout)
	ctx, cancel := context.WithTimeout(c.s.baseCtx, d)
	defer cancel()
	start := time.Now()
	done := make(chan Answer, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				c.log.Error("mysqlfront: resolver panic", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				done <- Answer{Status: Temp, Reason: "internal error"}
			}
		}()
		done <- c.s.Resolver.Resolve(ctx, c.db, key)
	}()
	grace := min(max(d/4, 100*time.Millisecond), time.Second)
	t := time.NewTimer(d + grace)
	defer t.Stop()
	var a Answer
	select {
	case a = <-done:
	case <-t.C:
		c.log.Warn("lookup overran its deadline; error sent, connection closed", "map", c.db, "key", strconv.QuoteToASCII(key))
		c.observe("temp", time.Since(start))
		return Answer{}, false
	}
	res := "temp"
	switch a.Status {
	case Found:
		res = "ok"
	case NotFound:
		res = "notfound"
	}
	c.observe(res, time.Since(start))
	return a, true
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

// Stats is a snapshot of a Server's counters.
type Stats struct {
	Accepted     uint64 // connections accepted and greeted
	Rejected     uint64 // connections refused because MaxConns were open (error 1040, or closed)
	LoginsFailed uint64 // handshakes refused with error 1045 (wrong user or password)
	Open         int    // connections open now
}

type serverStats struct{ accepted, rejected, loginsFailed atomic.Uint64 }

// Stats returns the current counters.
func (s *Server) Stats() Stats {
	s.init()
	s.mu.Lock()
	open := len(s.conns)
	s.mu.Unlock()
	return Stats{Accepted: s.st.accepted.Load(), Rejected: s.st.rejected.Load(), LoginsFailed: s.st.loginsFailed.Load(), Open: open}
}
