package pgfront_test

import (
	"context"
	"io"
	"log/slog"
	"mapgate/internal/conncore"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"mapgate/pgfront"
)

// pipeListener hands the server one end of in-memory connections.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error { l.once.Do(func() { close(l.done) }); return nil }

func (l *pipeListener) Addr() net.Addr { return &net.UnixAddr{Name: "pipe", Net: "unix"} }

func (l *pipeListener) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	a, b := net.Pipe()
	select {
	case l.conns <- b:
		return a, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// panicLog records whether the core logged a recovered panic.
type panicLog struct {
	mu  sync.Mutex
	msg string
}

func (p *panicLog) Write(b []byte) (int, error) {
	if strings.Contains(string(b), "internal error") || strings.Contains(string(b), "panic") {
		p.mu.Lock()
		p.msg = string(b)
		p.mu.Unlock()
	}
	return len(b), nil
}

// FuzzConn: whatever bytes a client sends, before its login (first byte
// even) or after a real SCRAM login (odd), the front never panics (the
// core would recover it and log "internal error"). A connection still
// waiting for more bytes after 50 ms is closed by the client.
func FuzzConn(f *testing.F) {
	startup := func(params ...string) []byte {
		m := map[string]string{}
		for i := 0; i+1 < len(params); i += 2 {
			m[params[i]] = params[i+1]
		}
		b, _ := (&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: m}).Encode(nil)
		return b
	}
	q := func(s string) []byte { b, _ := (&pgproto3.Query{String: s}).Encode(nil); return b }
	f.Add(append([]byte{0}, startup("user", "postfix", "database", "m")...))
	f.Add(append([]byte{0}, append(startup("user", "postfix"), 'p', 0, 0, 0, 5, 0)...))
	f.Add(append([]byte{1}, q("'bob@example.jp'")...))
	f.Add(append([]byte{1}, q("set client_encoding to 'LATIN1'")...))
	f.Add(append([]byte{1}, append(q("''''"), 'P', 0, 0, 0, 8, 0, 0, 0, 0, 'S', 0, 0, 0, 4)...))
	f.Add([]byte{1, 'X', 0, 0, 0, 4})
	f.Add([]byte{1, 'Q', 0xff, 0xff, 0xff, 0xff})

	var plog panicLog
	l := &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
	s := &pgfront.Server{Resolver: &table{}, User: "postfix", Password: "secret", Logger: slog.New(slog.NewTextHandler(&plog, nil)),
		Limits: conncore.Limits{RequestTimeout: time.Second, HandshakeTimeout: time.Second, IdleTimeout: time.Second}}
	go s.Serve(l)
	f.Cleanup(func() { s.Close() })
	cfg, err := pgconn.ParseConfig("host=pipe user=postfix password=secret dbname=m sslmode=disable")
	if err != nil {
		f.Fatal(err)
	}
	cfg.DialFunc = l.dial
	cfg.LookupFunc = func(context.Context, string) ([]string, error) { return []string{"pipe"}, nil }

	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var nc net.Conn
		if b[0]%2 == 0 {
			if nc, err = l.dial(ctx, "", ""); err != nil {
				t.Fatal(err)
			}
		} else {
			c, err := pgconn.ConnectConfig(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			nc = c.Conn()
		}
		defer nc.Close()
		drained := make(chan struct{})
		go func() { _, _ = io.Copy(io.Discard, nc); close(drained) }()
		_ = nc.SetWriteDeadline(time.Now().Add(3 * time.Second))
		_, _ = nc.Write(b[1:])
		select {
		case <-drained:
		case <-time.After(50 * time.Millisecond):
			nc.Close()
			<-drained
		}
		plog.mu.Lock()
		defer plog.mu.Unlock()
		if plog.msg != "" {
			t.Fatalf("the server panicked: %s", plog.msg)
		}
	})
}
