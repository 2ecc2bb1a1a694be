package conncore

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"
)

// lineProto is a test protocol: with a login, the first line must be
// "login" (answered "ok", or "full" over the cap); then each line is
// echoed. A connection over the cap is answered "refused".
type lineProto struct{}

func (lineProto) ServeConn(c *Conn) {
	br := bufio.NewReader(c.NetConn())
	if c.s.cfg.MaxUnauthenticated > 0 {
		l, err := br.ReadString('\n')
		if err != nil {
			return
		}
		if l != "login\n" {
			c.LoginFailed()
			return
		}
		if !c.LoggedIn() {
			c.NetConn().Write([]byte("full\n"))
			return
		}
		c.WriteDeadline(time.Now())
		c.NetConn().Write([]byte("ok\n"))
	}
	for {
		if br.Buffered() == 0 && !c.Idle(time.Now()) {
			return
		}
		l, err := br.ReadString('\n')
		if err != nil {
			return
		}
		c.Active(true)
		c.WriteDeadline(time.Now())
		if _, err := c.NetConn().Write([]byte(l)); err != nil {
			return
		}
	}
}

func (lineProto) Refuse(nc net.Conn) { nc.Write([]byte("refused\n")) }

const bound = 10 * time.Second

func start(t *testing.T, mod func(*Config)) (*Server, string) {
	t.Helper()
	cfg := Config{Name: "test", Logger: slog.New(slog.DiscardHandler), MaxConns: 2,
		IdleTimeout: bound, RequestTimeout: bound, WriteTimeout: bound, HandshakeTimeout: bound, Refusal: "refused"}
	if mod != nil {
		mod(&cfg)
	}
	s := New(cfg, lineProto{})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-served; !errors.Is(err, ErrClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return s, l.Addr().String()
}

type client struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(bound))
	return &client{t: t, nc: nc, br: bufio.NewReader(nc)}
}

// say sends a line and returns the reply line ("" when the connection ends).
func (c *client) say(line string) string {
	c.t.Helper()
	if _, err := c.nc.Write([]byte(line + "\n")); err != nil {
		return ""
	}
	l, _ := c.br.ReadString('\n')
	return strings.TrimSuffix(l, "\n")
}

// closed reports whether the server has closed the connection.
func (c *client) closed() bool {
	_, err := c.br.ReadByte()
	return errors.Is(err, io.EOF) || err != nil && strings.Contains(err.Error(), "reset")
}

// waitFor polls cond; the bound only keeps a broken test from hanging.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(bound); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestCapWithoutLogin(t *testing.T) {
	s, addr := start(t, nil)
	a, b := dial(t, addr), dial(t, addr)
	if a.say("x") != "x" || b.say("y") != "y" {
		t.Fatal("echo failed")
	}
	if got := dial(t, addr).say("z"); got != "refused" {
		t.Errorf("third connection over a cap of 2: %q, want refused", got)
	}
	st := s.Stats()
	if st.Accepted != 2 || st.Rejected != 1 || st.Open != 2 || st.Unauthenticated != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestUnauthenticatedBudget: connections that do not log in stay within
// their budget, evicting the oldest, and never keep a client from logging
// in while fewer than MaxConns have.
func TestUnauthenticatedBudget(t *testing.T) {
	// No handshake deadline within the test's time: only the budget closes
	// a connection here, however slowly a loaded machine runs the test.
	s, addr := start(t, func(c *Config) { c.MaxUnauthenticated = 3; c.HandshakeTimeout = time.Hour })
	var idle []*client
	for range 3 {
		idle = append(idle, dial(t, addr))
	}
	waitFor(t, "3 unauthenticated", func() bool { return s.Stats().Unauthenticated == 3 })
	// Five more: each closes the oldest one.
	for range 5 {
		idle = append(idle, dial(t, addr))
	}
	waitFor(t, "5 evictions", func() bool { return s.Stats().Evicted == 5 })
	for i, c := range idle[:5] {
		if !c.closed() {
			t.Errorf("connection %d (among the oldest) not closed", i)
		}
	}
	// Logged-in clients get in, up to MaxConns, whatever the idle ones do
	// (each new connection closes the oldest idle one).
	a, b := dial(t, addr), dial(t, addr)
	if got := a.say("login"); got != "ok" {
		t.Fatalf("login a: %q", got)
	}
	if got := b.say("login"); got != "ok" {
		t.Fatalf("login b: %q", got)
	}
	if got := a.say("hi"); got != "hi" {
		t.Errorf("echo after login: %q", got)
	}
	// Over MaxConns logged in: refused at accept.
	if got := dial(t, addr).say("login"); got != "refused" {
		t.Errorf("a login over a cap of 2: %q, want refused", got)
	}
	waitFor(t, "the evicted connections gone", func() bool { return s.Stats().Open == 3 })
	st := s.Stats()
	if st.Open != 3 || st.Unauthenticated != 1 || st.Evicted != 7 || st.Rejected != 1 || st.HandshakeTimeouts != 0 || st.FailedLogins != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestLoginOverCap: two connections admitted while one slot was free; the
// second to log in is refused.
func TestLoginOverCap(t *testing.T) {
	s, addr := start(t, func(c *Config) { c.MaxConns = 1; c.MaxUnauthenticated = 4 })
	a, b := dial(t, addr), dial(t, addr)
	waitFor(t, "2 unauthenticated", func() bool { return s.Stats().Unauthenticated == 2 })
	if got := a.say("login"); got != "ok" {
		t.Fatalf("login a: %q", got)
	}
	if got := b.say("login"); got != "full" {
		t.Errorf("login b over a cap of 1: %q, want full", got)
	}
	if st := s.Stats(); st.Rejected != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestHandshakeTimeout(t *testing.T) {
	s, addr := start(t, func(c *Config) { c.MaxUnauthenticated = 4; c.HandshakeTimeout = 50 * time.Millisecond })
	slow := dial(t, addr)
	if !slow.closed() {
		t.Fatal("a connection that never logs in was not closed")
	}
	waitFor(t, "the close counted", func() bool { return s.Stats().Open == 0 })
	// The deadline covers the login phase only.
	c := dial(t, addr)
	if got := c.say("login"); got != "ok" {
		t.Fatalf("login: %q", got)
	}
	time.Sleep(100 * time.Millisecond)
	if got := c.say("still"); got != "still" {
		t.Errorf("logged in, after the handshake deadline: %q", got)
	}
	bad := dial(t, addr)
	if got := bad.say("nope"); got != "" {
		t.Errorf("a refused login answered %q", got)
	}
	waitFor(t, "the refused login counted", func() bool { return s.Stats().FailedLogins == 1 })
	if st := s.Stats(); st.HandshakeTimeouts != 1 {
		t.Errorf("stats %+v, want 1 handshake timeout", st)
	}
}

// TestShutdownDrains: Shutdown closes idle connections at once and returns
// when none is left.
func TestShutdownDrains(t *testing.T) {
	s, addr := start(t, nil)
	a := dial(t, addr)
	if a.say("x") != "x" {
		t.Fatal("echo failed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if !a.closed() {
		t.Error("idle connection not closed")
	}
	if st := s.Stats(); st.Open != 0 {
		t.Errorf("stats %+v after Shutdown", st)
	}
	if err := s.BaseContext().Err(); err == nil {
		t.Error("BaseContext not cancelled after Shutdown")
	}
}

func TestLogLimiter(t *testing.T) {
	var l LogLimiter
	if n, ok := l.Allow(); !ok || n != 0 {
		t.Fatalf("first: %d, %v", n, ok)
	}
	for range 5 {
		if _, ok := l.Allow(); ok {
			t.Fatal("let through within the period")
		}
	}
	l.last.Store(monoNow() - int64(logEvery))
	if n, ok := l.Allow(); !ok || n != 5 {
		t.Errorf("after the period: %d, %v; want 5 held back", n, ok)
	}
}
