package pgfront_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"mapgate/pgfront"
)

// TestServerOverCap: with MaxConns logged in, a new client is refused as
// PostgreSQL refuses it (FATAL 53300), whether the cap is reached at its
// accept or during its login; the one logged in keeps serving.
func TestServerOverCap(t *testing.T) {
	tb := &table{}
	addr, s := start(t, tb, func(s *pgfront.Server) { s.MaxConns = 1 })
	c := connect(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// sslmode=disable: with prefer, pgconn tries a second time without TLS.
	_, err := pgconn.Connect(ctx, strings.Replace(connString(addr, "postfix", "secret", "m"), "sslmode=prefer", "sslmode=disable", 1))
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "53300" {
		t.Fatalf("over the cap: %v, want FATAL 53300", err)
	}
	if got, err := query(c, `'bob@example.jp'`); err != nil || len(got) != 1 {
		t.Errorf("the connection logged in: %q, %v", got, err)
	}
	if st := s.Stats(); st.Rejected != 1 {
		t.Errorf("Rejected = %d, want 1", st.Rejected)
	}
}

// TestServerHandshakeTimeout: a client that connects and never finishes
// its startup is closed at HandshakeTimeout.
func TestServerHandshakeTimeout(t *testing.T) {
	tb := &table{}
	addr, s := start(t, tb, func(s *pgfront.Server) { s.HandshakeTimeout = 200 * time.Millisecond })
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	if _, err := nc.Read(make([]byte, 1)); err == nil {
		t.Fatal("the server wrote to a client that sent nothing")
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("closed after %v", el)
	}
	deadline := time.Now().Add(2 * time.Second)
	for s.Stats().HandshakeTimeouts != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if st := s.Stats(); st.HandshakeTimeouts != 1 {
		t.Errorf("HandshakeTimeouts = %d", st.HandshakeTimeouts)
	}
}

// TestServerShutdownDrains: Shutdown lets a lookup in flight answer, and
// closes the idle connection.
func TestServerShutdownDrains(t *testing.T) {
	tb := &table{slow: 300 * time.Millisecond}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &pgfront.Server{Resolver: tb, User: "postfix", Password: "secret"}
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	busy, idle := connect(t, l.Addr().String()), connect(t, l.Addr().String())
	res := make(chan error, 1)
	go func() {
		got, err := query(busy, `'bob@example.jp'`)
		if err == nil && len(got) != 1 {
			err = errors.New("no row")
		}
		res <- err
	}()
	time.Sleep(100 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := <-res; err != nil {
		t.Errorf("the lookup in flight: %v", err)
	}
	if _, err := query(idle, `'bob@example.jp'`); err == nil {
		t.Errorf("the idle connection still answers after Shutdown")
	}
	if err := <-done; !errors.Is(err, pgfront.ErrServerClosed) {
		t.Errorf("Serve: %v", err)
	}
}

// TestServerStartupVariants: GSSENCRequest and SSLRequest are answered
// 'N' and the startup goes on; a CancelRequest is closed; a protocol 3.2
// startup is told 3.0 (NegotiateProtocolVersion) and goes on to SCRAM.
func TestServerStartupVariants(t *testing.T) {
	tb := &table{}
	addr, _ := start(t, tb, nil)
	dial := func() (net.Conn, *pgproto3.Frontend) {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
		return nc, pgproto3.NewFrontend(nc, nc)
	}
	for _, req := range []pgproto3.FrontendMessage{&pgproto3.GSSEncRequest{}, &pgproto3.SSLRequest{}} {
		nc, fe := dial()
		fe.Send(req)
		_ = fe.Flush()
		b := make([]byte, 1)
		if _, err := nc.Read(b); err != nil || b[0] != 'N' {
			t.Fatalf("%T: %q, %v", req, b, err)
		}
		fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"user": "postfix", "database": "m"}})
		_ = fe.Flush()
		if m, err := fe.Receive(); err != nil {
			t.Fatalf("%T, then startup: %v", req, err)
		} else if _, ok := m.(*pgproto3.AuthenticationSASL); !ok {
			t.Fatalf("%T, then startup: %T", req, m)
		}
	}
	nc, fe := dial()
	fe.Send(&pgproto3.CancelRequest{ProcessID: 1, SecretKey: []byte{1, 2, 3, 4}})
	_ = fe.Flush()
	if n, err := nc.Read(make([]byte, 1)); err == nil {
		t.Errorf("CancelRequest answered with %d bytes", n)
	}
	_, fe = dial()
	fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion32, Parameters: map[string]string{"user": "postfix", "database": "m", "_pq_.x": "1"}})
	_ = fe.Flush()
	m, err := fe.Receive()
	if npv, ok := m.(*pgproto3.NegotiateProtocolVersion); err != nil || !ok || npv.NewestMinorProtocol != 0 || len(npv.UnrecognizedOptions) != 1 {
		t.Fatalf("protocol 3.2: %#v, %v", m, err)
	}
	if m, err := fe.Receive(); err != nil {
		t.Fatal(err)
	} else if _, ok := m.(*pgproto3.AuthenticationSASL); !ok {
		t.Fatalf("protocol 3.2, then: %T", m)
	}
}

// TestServerUnknownMessage: a message type the protocol does not have, after
// login, gets FATAL 08P01 and the connection is closed; the front goes on.
func TestServerUnknownMessage(t *testing.T) {
	tb := &table{}
	addr, _ := start(t, tb, nil)
	c := connect(t, addr)
	nc := c.Conn()
	if _, err := nc.Write([]byte{'x', 0, 0, 0, 8, 1, 2, 3, 4}); err != nil {
		t.Fatal(err)
	}
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, _ := io.ReadAll(nc)
	if !bytes.Contains(b, []byte("08P01")) {
		t.Errorf("reply %q, want FATAL 08P01", b)
	}
	c2 := connect(t, addr)
	if got, err := query(c2, `'bob@example.jp'`); err != nil || len(got) != 1 {
		t.Errorf("after: %q, %v", got, err)
	}
}
