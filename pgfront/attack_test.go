package pgfront_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"mapgate/internal/conncore"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"mapgate/pgfront"
)

// lockedBuffer is a log sink for concurrent connections.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Len()
}

// TestPreAuthCannotStarvePostfix: a local client that opens connections
// and never logs in (some silent, some stalled inside SCRAM), refilling
// each one the server closes, must not keep Postfix's real pgsql: client
// (postmap -q, a new connection per run) from being answered. It holds
// more connections than the connection cap and the unauthenticated budget
// together.
func TestPreAuthCannotStarvePostfix(t *testing.T) {
	tb := &table{}
	budget := conncore.SQLFrontLimits.MaxUnauthenticated
	addr, s := start(t, tb, func(s *pgfront.Server) { s.MaxConns = 16 })
	lookup := postmapFront(t, tcpHosts(addr))

	held := budget + 16 + 64
	ctx, stop := context.WithCancel(context.Background())
	var dials atomic.Int64
	var wg sync.WaitGroup
	for i := range held {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				nc, err := net.Dial("tcp", addr)
				if err != nil {
					time.Sleep(time.Millisecond)
					continue
				}
				dials.Add(1)
				if i%2 == 1 { // stall in the middle of SCRAM
					fe := pgproto3.NewFrontend(nc, nc)
					fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"user": "postfix", "database": "m"}})
					_ = fe.Flush()
				}
				go func() { <-ctx.Done(); nc.Close() }()
				_, _ = nc.Read(make([]byte, 4096)) // until the server closes it
				for {
					if _, err := nc.Read(make([]byte, 4096)); err != nil {
						break
					}
				}
				nc.Close()
			}
		}()
	}
	defer func() { stop(); wg.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for s.Stats().Unauthenticated < int64(budget) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	const asked = 20
	answered := 0
	t0 := time.Now()
	for i := range asked {
		out, err := lookup("bob@example.jp", "")
		if err == nil && out == "got:bob@example.jp\n" {
			answered++
			continue
		}
		t.Errorf("postmap -q #%d: %q, %v", i, out, err)
	}
	el := time.Since(t0)
	st := s.Stats()
	t.Logf("postmap -q through the front: %d of %d answered in %v while a client held %d unauthenticated connections (budget %d) "+
		"and refilled them (%d connects, %.0f/s); stats %+v", answered, asked, el.Round(time.Millisecond), held, budget,
		dials.Load(), float64(dials.Load())/el.Seconds(), st)
	if st.Evicted == 0 {
		t.Errorf("no unauthenticated connection was closed to make room: the test did not fill the budget")
	}
}

// badLogin runs one SCRAM login with a wrong proof (or a user name of
// userLen bytes) and returns the server's ErrorResponse.
func badLogin(addr string, user string) (*pgproto3.ErrorResponse, error) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	fe := pgproto3.NewFrontend(nc, nc)
	fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"user": user, "database": "m"}})
	if err := fe.Flush(); err != nil {
		return nil, err
	}
	for {
		m, err := fe.Receive()
		if err != nil {
			return nil, err
		}
		switch m := m.(type) {
		case *pgproto3.AuthenticationSASL:
			fe.Send(&pgproto3.SASLInitialResponse{AuthMechanism: "SCRAM-SHA-256", Data: []byte("n,,n=,r=clientnonce")})
		case *pgproto3.AuthenticationSASLContinue:
			nonce := strings.TrimPrefix(strings.Split(string(m.Data), ",")[0], "r=")
			proof := base64.StdEncoding.EncodeToString(make([]byte, 32))
			fe.Send(&pgproto3.SASLResponse{Data: []byte("c=biws,r=" + nonce + ",p=" + proof)})
		case *pgproto3.ErrorResponse:
			return m, nil
		default:
			continue
		}
		if err := fe.Flush(); err != nil {
			return nil, err
		}
	}
}

// TestFailedLoginFlood: failed logins at full speed from one client are
// all refused and counted, the log gets at most about one line a second,
// and a user name as long as a startup message can hold (10,000 bytes)
// costs a bounded log line and reply.
func TestFailedLoginFlood(t *testing.T) {
	tb := &table{}
	var logs lockedBuffer
	addr, s := start(t, tb, func(s *pgfront.Server) { s.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	const workers, each = 4, 500
	var wg sync.WaitGroup
	var refused, maxReply atomic.Int64
	t0 := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				user := "postfix"
				if (w+i)%2 == 0 {
					user = strings.Repeat("ü", 4900) // 9,800 bytes, what fits a startup message
				}
				er, err := badLogin(addr, user)
				if err != nil {
					t.Errorf("login: %v", err)
					return
				}
				if er.Code == "28P01" {
					refused.Add(1)
				}
				if n := int64(len(er.Message)); n > maxReply.Load() {
					maxReply.Store(n)
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(t0)
	n := workers * each
	st := s.Stats()
	perLogin := float64(logs.Len()) / float64(n)
	t.Logf("%d failed logins in %v (%.0f/s): %d refused 28P01, counted %d; log %d bytes (%.1f bytes per login); longest reply message %d bytes",
		n, el.Round(time.Millisecond), float64(n)/el.Seconds(), refused.Load(), st.FailedLogins, logs.Len(), perLogin, maxReply.Load())
	if refused.Load() != int64(n) || st.FailedLogins != uint64(n) {
		t.Errorf("refused %d, counted %d, of %d", refused.Load(), st.FailedLogins, n)
	}
	// One line a second, each under 1 KB (the name cut to 80 bytes).
	if max := int(el.Seconds()+2) * 1024; logs.Len() > max {
		t.Errorf("log of %d bytes for %v of failed logins, want at most %d", logs.Len(), el, max)
	}
	if maxReply.Load() > 400 { // 80 bytes of name, escaped
		t.Errorf("a reply message of %d bytes", maxReply.Load())
	}
	// The front still answers.
	c := connect(t, addr)
	if got, err := query(c, `'bob@example.jp'`); err != nil || len(got) != 1 {
		t.Errorf("after the flood: %q, %v", got, err)
	}
}

// TestHugeNames: a database name and a user name at the startup
// message's limit, and a startup message over it, are refused with
// bounded replies and log lines; a statement naming a huge encoding too.
func TestHugeNames(t *testing.T) {
	tb := &table{}
	var logs lockedBuffer
	addr, s := start(t, tb, func(s *pgfront.Server) { s.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	try := func(params map[string]string) (*pgproto3.ErrorResponse, error) {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			return nil, err
		}
		defer nc.Close()
		_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
		fe := pgproto3.NewFrontend(nc, nc)
		fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: params})
		if err := fe.Flush(); err != nil {
			return nil, err
		}
		m, err := fe.Receive()
		if err != nil {
			return nil, err
		}
		if er, ok := m.(*pgproto3.ErrorResponse); ok {
			return er, nil
		}
		return nil, nil
	}
	huge := strings.Repeat("d", 9900)
	// Over the startup limit: closed unanswered.
	if er, err := try(map[string]string{"user": "postfix", "database": huge + huge}); err == nil {
		t.Errorf("a startup message over 10,000 bytes: answered %v", er)
	}
	// An unknown huge encoding in the startup: refused before any auth.
	if er, err := try(map[string]string{"user": "postfix", "database": "m", "client_encoding": huge}); err != nil || er == nil || er.Code != "22023" || len(er.Message) > 200 {
		t.Errorf("huge client_encoding: %v, %v", er, err)
	}
	// The right password and a huge unknown database (pgconn does SCRAM).
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := pgconnConnect(ctx, connString(addr, "postfix", "secret", huge))
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "3D000" || len(pe.Message) > 400 {
		t.Errorf("huge database: %.300v", err)
	}
	lines := strings.Split(strings.TrimSpace(logs.b.String()), "\n")
	for _, l := range lines {
		if len(l) > 1024 {
			t.Errorf("log line of %d bytes: %.200s", len(l), l)
		}
	}
	t.Logf("huge names: %d log lines, %d bytes; stats %+v", len(lines), logs.Len(), s.Stats())
}

// TestLogEscaped: a refused statement with control characters and bytes
// that are not UTF-8 is logged on one line, escaped once, cut to 200
// bytes.
func TestLogEscaped(t *testing.T) {
	tb := &table{}
	var logs lockedBuffer
	addr, _ := start(t, tb, func(s *pgfront.Server) { s.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	c := connect(t, addr)
	stmt := "SELECT 1;\n\x1b[31mfake log line level=ERROR\r\n" + strings.Repeat("ü", 500)
	if _, err := query(c, stmt); err == nil {
		t.Fatal("answered")
	}
	out := logs.b.String()
	if strings.Count(out, "\n") != 1 || strings.ContainsAny(out, "\x1b\r") {
		t.Errorf("log not one escaped line: %q", out)
	}
	if len(out) > 1024 {
		t.Errorf("log line of %d bytes", len(out))
	}
	t.Logf("%d-byte statement logged in %d bytes", len(stmt), len(out))
}
