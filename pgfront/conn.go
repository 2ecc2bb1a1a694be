package pgfront

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"mapgate/answer"
	"mapgate/internal/conncore"
	"mapgate/internal/sqlfront"
)

// conn is one client connection: its startup (startup.go), then one
// message at a time until it ends.
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

	// lk runs the lookups; its watchdog hands the connection over to
	// expire when one overruns.
	lk sqlfront.Lookups
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
		return c.resultSet() == nil
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

// resultSet sends a one-column result set of values, a row each, then
// ReadyForQuery.
func (c *conn) resultSet(values ...string) error {
	c.be.Send(&pgproto3.RowDescription{Fields: []pgproto3.FieldDescription{{
		Name: []byte("result"), DataTypeOID: 25, DataTypeSize: -1, TypeModifier: -1, Format: 0,
	}}})
	for _, v := range values {
		c.be.Send(&pgproto3.DataRow{Values: [][]byte{[]byte(v)}})
	}
	c.be.Send(&pgproto3.CommandComplete{CommandTag: []byte("SELECT " + strconv.Itoa(len(values)))})
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
	key, limited, err := ParseKey(stmt, c.enc)
	if err != nil {
		c.refuse("refused a statement that is not a quoted escaped key (the front's .cf needs query = '%s'); not executed",
			"statement", truncate(stmt, 200), "statement_bytes", len(stmt), "client_encoding", c.enc.String())
		c.be.Send(errorResponse("42601", "mapgate: not a key; the .cf for mapgate's PostgreSQL front needs query = '%s'"))
		return c.ready() == nil
	}
	key = c.enc.Key(key)
	if key == "" {
		return c.resultSet() == nil
	}
	r, ok := c.resolve(key, limited)
	if !ok {
		return false // expire answered and closed the connection
	}
	if r.Class == answer.ClassNoMap {
		c.be.Send(errorResponse("3D000", "database (mapgate map) "+strconv.QuoteToASCII(c.db)+" does not exist"))
		return c.ready() == nil
	}
	a := r.ForSQL(limited, DefaultMaxReply)
	c.note(a, len(r.Value))
	switch a.Reply {
	case answer.SQLRow:
		return c.resultSet(r.Value) == nil
	case answer.SQLEmpty:
		return c.resultSet() == nil
	case answer.SQLFailOne:
		return c.resultSet(answer.FailOneRows()...) == nil
	}
	// The database cannot be asked, or the map fails for every key.
	c.be.Send(errorResponse("58000", "mapgate: temporary lookup failure: "+truncate(strconv.QuoteToASCII(r.Reason), 200)))
	return c.ready() == nil
}

// resolve runs the lookup on the connection's goroutine under the request
// deadline (conncore.RequestContext). false: it overran the deadline and a
// grace, and the watchdog has sent FATAL 57014 and closed the connection
// (expire); its result is discarded.
func (c *conn) resolve(key string, limited bool) (answer.Result, bool) {
	r, ok := c.lk.Run(c.s.baseCtx, c.s.limits.RequestTimeout, c.log, c.s.Resolver, c.db, key)
	if ok {
		c.observe(r.SQL(limited).Outcome(), time.Since(c.lk.Start))
	}
	return r, ok
}

// expire runs when a lookup overran its deadline (conncore.Watchdog): it
// sends FATAL 57014 and closes the connection.
func (c *conn) expire() {
	c.log.Warn("lookup overran its deadline; error sent, connection closed", "map", c.db, "key", truncate(c.lk.Key, 200))
	c.observe("temp", time.Since(c.lk.Start))
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
