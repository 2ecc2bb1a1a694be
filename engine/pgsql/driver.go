package pgsql

import (
	"context"
	"crypto/tls"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// A small database/sql driver over pgconn, pgx's protocol layer. It is
// here rather than pgx's stdlib because a lookup must see what Postfix's
// libpq client sees:
//
//   - every parameter is sent untyped (the server infers its type from
//     the statement, as it does for the '…' literal Postfix splices in)
//     and in text format, through the type's own input function;
//   - every result column comes back in text format, as PQgetvalue gives
//     it to Postfix (a boolean is "t", a timestamp in the server's
//     DateStyle): stdlib would decode them into Go values and print them
//     again ("true");
//   - an error the server reports before the statement ran (while binding
//     the parameters: their encoding, their types' input functions) is
//     told apart from one raised while it ran (bindError): only the first
//     can be about a key's value alone.

// connector opens connections with one pgconn configuration.
type connector struct {
	cfg *pgconn.Config
}

func (c *connector) Connect(ctx context.Context) (driver.Conn, error) {
	pc, err := pgconn.ConnectConfig(ctx, c.cfg)
	if err != nil {
		return nil, err
	}
	return &conn{pc: pc}, nil
}

func (c *connector) Driver() driver.Driver { return drv{} }

// drv is the driver behind connector; mapgate opens pools only through
// connectors (sql.OpenDB), never by name.
type drv struct{}

func (drv) Open(string) (driver.Conn, error) {
	return nil, errors.New("pgsql: open through the engine's connector")
}

// conn is one connection.
type conn struct {
	pc    *pgconn.PgConn
	stmts atomic.Int64 // names the prepared statements
}

var (
	_ driver.ConnPrepareContext = (*conn)(nil)
	_ driver.ConnBeginTx        = (*conn)(nil)
	_ driver.QueryerContext     = (*conn)(nil)
	_ driver.Pinger             = (*conn)(nil)
	_ driver.Validator          = (*conn)(nil)
	_ driver.SessionResetter    = (*conn)(nil)
)

func (c *conn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *conn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	if c.pc.IsClosed() {
		return nil, driver.ErrBadConn
	}
	name := "mapgate_" + strconv.FormatInt(c.stmts.Add(1), 10)
	sd, err := prepare(ctx, c.pc, name, query)
	if err != nil {
		return nil, err
	}
	return &stmt{c: c, sd: sd}, nil
}

// prepare prepares query with its parameters' types left to the server,
// which infers each from its context as it does for the '…' literal
// Postfix splices in. Where the context gives no type (CONCAT('@', $1):
// CONCAT takes "any"), the server refuses the statement (42P18,
// indeterminate_datatype), while it reads a literal there as text. So
// the parameters are then declared text, one at a time from the first,
// until the statement is accepted: a declaration that makes another error
// (an integer compared with text, 42883) is taken back. The first error
// is returned if no declaration helps.
func prepare(ctx context.Context, pc *pgconn.PgConn, name, query string) (*pgconn.StatementDescription, error) {
	sd, err := pc.Prepare(ctx, name, query, nil)
	if sqlState(err) != "42P18" {
		return sd, err
	}
	first := err
	var oids []uint32
	for i := 0; i < params(query); i++ {
		oids = append(oids, textOID)
		sd, err = pc.Prepare(ctx, name, query, oids)
		switch sqlState(err) {
		case "":
			return sd, nil
		case "42P18":
		default:
			oids[i] = 0 // left to the server
		}
		if pc.IsClosed() {
			return nil, err
		}
	}
	return nil, first
}

// params is the highest $n of query (pgsqlcf numbers the expansions $1 …
// $n and refuses a query's own).
func params(query string) int {
	n := 0
	for _, m := range dollarN.FindAllString(query, -1) {
		if k, err := strconv.Atoi(m[1:]); err == nil && k > n && k <= 1000 {
			n = k
		}
	}
	return n
}

var dollarN = regexp.MustCompile(`\$[0-9]+`)

const textOID = 25

func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

func (c *conn) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return c.pc.Close(ctx)
}

func (c *conn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{ReadOnly: true})
}

// BeginTx opens a read-only transaction (the audit runs a map's query in
// one); lookups need none.
func (c *conn) BeginTx(ctx context.Context, o driver.TxOptions) (driver.Tx, error) {
	if !o.ReadOnly {
		return nil, errors.New("pgsql: only read-only transactions")
	}
	if err := c.pc.Exec(ctx, "BEGIN READ ONLY").Close(); err != nil {
		return nil, err
	}
	return tx{c}, nil
}

type tx struct{ c *conn }

func (t tx) Commit() error   { return t.end("COMMIT") }
func (t tx) Rollback() error { return t.end("ROLLBACK") }

func (t tx) end(stmt string) error {
	if t.c.pc.IsClosed() {
		return driver.ErrBadConn
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return t.c.pc.Exec(ctx, stmt).Close()
}

func (c *conn) Ping(ctx context.Context) error {
	if c.pc.IsClosed() {
		return driver.ErrBadConn
	}
	if err := c.pc.Ping(ctx); err != nil {
		if c.pc.IsClosed() {
			return driver.ErrBadConn
		}
		return err
	}
	return nil
}

// IsValid: a connection pgconn closed (after an i/o error or a timeout)
// is not reused.
func (c *conn) IsValid() bool { return !c.pc.IsClosed() && !c.pc.IsBusy() }

// ResetSession runs before a pooled connection is used again: one that
// the server has closed since (a restart, a terminated backend) is
// discarded here, and database/sql takes another, rather than failing the
// next query (a host fault, for a host that is up again).
func (c *conn) ResetSession(context.Context) error {
	if !c.IsValid() || !alive(c.pc.Conn()) {
		return driver.ErrBadConn
	}
	return nil
}

// alive reports whether nothing is waiting to be read on an idle
// connection, without waiting (a non-blocking peek at the socket, as
// go-sql-driver/mysql's connection check): end of file or unread bytes (the
// server's FATAL before it closes, a TLS alert) mean it is unusable.
func alive(nc net.Conn) bool {
	for {
		switch c := nc.(type) {
		case *tls.Conn:
			nc = c.NetConn()
			continue
		case *deadlineConn:
			nc = c.Conn
			continue
		}
		break
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	ok = true
	var buf [1]byte
	err = rc.Read(func(fd uintptr) bool {
		n, _, rerr := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case rerr == syscall.EAGAIN || rerr == syscall.EWOULDBLOCK:
		case rerr != nil, n >= 0:
			ok = false // an error, end of file (0) or unread bytes
		}
		return true
	})
	return err == nil && ok
}

// QueryContext runs a statement with the unnamed prepared statement
// (catalogue queries: see catalog.go).
func (c *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if c.pc.IsClosed() {
		return nil, driver.ErrBadConn
	}
	vals, err := values(args)
	if err != nil {
		return nil, err
	}
	return newRows(c.pc.ExecParams(ctx, query, vals, nil, nil, nil))
}

// stmt is one prepared statement on one connection.
type stmt struct {
	c      *conn
	sd     *pgconn.StatementDescription
	closed bool
}

func (s *stmt) NumInput() int { return len(s.sd.ParamOIDs) }

func (s *stmt) Close() error {
	if s.closed || s.c.pc.IsClosed() {
		return nil
	}
	s.closed = true
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return s.c.pc.Deallocate(ctx, s.sd.Name)
}

func (s *stmt) Exec([]driver.Value) (driver.Result, error) {
	return nil, errors.New("pgsql: lookups only query")
}

func (s *stmt) Query(args []driver.Value) (driver.Rows, error) {
	named := make([]driver.NamedValue, len(args))
	for i, a := range args {
		named[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
	}
	return s.QueryContext(context.Background(), named)
}

func (s *stmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	if s.c.pc.IsClosed() {
		return nil, driver.ErrBadConn
	}
	vals, err := values(args)
	if err != nil {
		return nil, err
	}
	// ExecPrepared sends Bind, Describe (portal), Execute: the server's
	// RowDescription comes after a successful Bind and before the
	// statement runs.
	return newRows(s.c.pc.ExecPrepared(ctx, s.sd.Name, vals, nil, nil))
}

// values turns bound values into text-format parameters: nil is NULL.
func values(args []driver.NamedValue) ([][]byte, error) {
	out := make([][]byte, len(args))
	for i, a := range args {
		switch v := a.Value.(type) {
		case nil:
		case string:
			out[i] = []byte(v)
		case []byte:
			out[i] = v
		case int64:
			out[i] = strconv.AppendInt(nil, v, 10)
		default:
			return nil, fmt.Errorf("pgsql: cannot bind a %T", a.Value)
		}
	}
	return out, nil
}

// bindError is an error the server reported before the statement began to
// run: in reply to Bind, while it converted the parameter values to the
// database encoding and to their types. Only such an error can be about
// the values alone (Classify).
type bindError struct{ err error }

func (e *bindError) Error() string { return e.err.Error() }
func (e *bindError) Unwrap() error { return e.err }

// rows reads one statement's result.
type rows struct {
	rr     *pgconn.ResultReader
	cols   []string
	closed bool
}

func newRows(rr *pgconn.ResultReader) (driver.Rows, error) {
	fds := rr.FieldDescriptions()
	if fds == nil {
		// No row description: the statement failed before it ran, or
		// returns no rows at all. Close says which.
		if _, err := rr.Close(); err != nil {
			var pe *pgconn.PgError
			if errors.As(err, &pe) {
				return nil, &bindError{err}
			}
			return nil, err
		}
		return &rows{rr: rr, closed: true}, nil
	}
	r := &rows{rr: rr, cols: make([]string, len(fds))}
	for i, fd := range fds {
		r.cols[i] = fd.Name
	}
	return r, nil
}

func (r *rows) Columns() []string { return r.cols }

func (r *rows) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	_, err := r.rr.Close()
	return err
}

// Next gives each value as the server sent it, in text format; NULL is
// nil. The bytes are valid until the next call (database/sql's RawBytes).
func (r *rows) Next(dest []driver.Value) error {
	if r.closed {
		return io.EOF
	}
	if !r.rr.NextRow() {
		r.closed = true
		if _, err := r.rr.Close(); err != nil {
			return err
		}
		return io.EOF
	}
	for i, v := range r.rr.Values() {
		if v == nil {
			dest[i] = nil
		} else {
			dest[i] = v
		}
	}
	return nil
}

// deadlineConn bounds every read and write on a connection by timeout,
// as go-sql-driver/mysql's readTimeout and writeTimeout do: a host that
// stalls fails the first read that waits for it, whatever the context (the
// lookup core runs queries without a cancellable one). A deadline pgconn
// sets itself (to cancel a query) is kept when it is sooner.
type deadlineConn struct {
	net.Conn
	timeout time.Duration

	mu          sync.Mutex
	read, write time.Time // pgconn's own deadlines (zero: none)
}

func (c *deadlineConn) bound(own time.Time) time.Time {
	d := time.Now().Add(c.timeout)
	if !own.IsZero() && own.Before(d) {
		return own
	}
	return d
}

func (c *deadlineConn) Read(b []byte) (int, error) {
	c.mu.Lock()
	d := c.bound(c.read)
	c.mu.Unlock()
	if err := c.Conn.SetReadDeadline(d); err != nil {
		return 0, err
	}
	return c.Conn.Read(b)
}

func (c *deadlineConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	d := c.bound(c.write)
	c.mu.Unlock()
	if err := c.Conn.SetWriteDeadline(d); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}

func (c *deadlineConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.read, c.write = t, t
	c.mu.Unlock()
	return c.Conn.SetDeadline(t)
}

func (c *deadlineConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.read = t
	c.mu.Unlock()
	return c.Conn.SetReadDeadline(t)
}

func (c *deadlineConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.write = t
	c.mu.Unlock()
	return c.Conn.SetWriteDeadline(t)
}
