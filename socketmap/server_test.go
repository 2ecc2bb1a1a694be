package socketmap_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"mapgate/socketmap"
)

// testBound is an upper bound for things that should happen promptly; it
// only keeps a broken test from hanging, it is not a performance threshold.
const testBound = 10 * time.Second

// call is one Lookup seen by the recorder.
type call struct{ Name, Key string }

// recorder is a fake Handler that records every call and answers with fn,
// or with OK("name|key") when fn is nil.
type recorder struct {
	mu    sync.Mutex
	calls []call
	fn    func(ctx context.Context, name, key string) socketmap.Reply
}

func (h *recorder) Lookup(ctx context.Context, name, key string) socketmap.Reply {
	h.mu.Lock()
	h.calls = append(h.calls, call{name, key})
	fn := h.fn
	h.mu.Unlock()
	if fn != nil {
		return fn(ctx, name, key)
	}
	return socketmap.OK(name + "|" + key)
}

func (h *recorder) Calls() []call {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]call(nil), h.calls...)
}

// logBuffer collects log output safely across goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type testServer struct {
	*socketmap.Server
	addr   string
	logs   *logBuffer
	served chan error
}

// newServer starts a Server on 127.0.0.1:0 and closes it when the test ends.
func newServer(t *testing.T, h socketmap.Handler, opts ...func(*socketmap.Server)) *testServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	return serveOn(t, l, h, opts...)
}

func serveOn(t *testing.T, l net.Listener, h socketmap.Handler, opts ...func(*socketmap.Server)) *testServer {
	t.Helper()
	logs := &logBuffer{}
	srv := &socketmap.Server{
		Handler: h,
		Logger:  slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, o := range opts {
		o(srv)
	}
	ts := &testServer{Server: srv, addr: l.Addr().String(), logs: logs, served: make(chan error, 1)}
	go func() { ts.served <- srv.Serve(l) }()
	t.Cleanup(func() {
		srv.Close()
		select {
		case err := <-ts.served:
			assert.ErrorIs(t, err, socketmap.ErrServerClosed)
		case <-time.After(testBound):
			t.Error("Serve did not return after Close")
		}
	})
	return ts
}

// rawConn is a client that sends arbitrary bytes and reads netstrings.
type rawConn struct {
	t   *testing.T
	nc  net.Conn
	dec *socketmap.Decoder
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, testBound)
	require.NoError(t, err)
	t.Cleanup(func() { nc.Close() })
	require.NoError(t, nc.SetDeadline(time.Now().Add(testBound)))
	return &rawConn{t: t, nc: nc, dec: socketmap.NewDecoder(nc, 0)}
}

func (c *rawConn) send(b []byte) {
	c.t.Helper()
	_, err := c.nc.Write(b)
	require.NoError(c.t, err)
}

// reply reads one reply payload.
func (c *rawConn) reply() string {
	c.t.Helper()
	p, err := c.dec.Next()
	require.NoError(c.t, err)
	return string(p)
}

// closed asserts that the server closes the connection without sending
// anything more.
func (c *rawConn) closed() {
	c.t.Helper()
	p, err := c.dec.Next()
	require.Error(c.t, err, "got %q, want the connection closed", p)
	assert.True(c.t, errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isReset(err), "err = %v", err)
}

func isReset(err error) bool { return err != nil && strings.Contains(err.Error(), "connection reset") }

func TestServer_pipelining(t *testing.T) {
	t.Parallel()
	h := &recorder{}
	ts := newServer(t, h)
	c := dialRaw(t, ts.addr)
	var batch []byte
	var want []call
	for i := range 200 {
		k := fmt.Sprintf("user%d@example.com", i)
		batch = socketmap.AppendRequest(batch, "alias", k)
		want = append(want, call{"alias", k})
	}
	c.send(batch)
	for _, w := range want {
		require.Equal(t, "OK "+w.Name+"|"+w.Key, c.reply())
	}
	assert.Equal(t, want, h.Calls())
	st := ts.Stats()
	assert.EqualValues(t, 200, st.Requests)
	assert.EqualValues(t, 200, st.Replies[socketmap.StatusOK])
}

func TestServer_requestSplitAcrossWrites(t *testing.T) {
	t.Parallel()
	h := &recorder{}
	ts := newServer(t, h)
	c := dialRaw(t, ts.addr)
	req := socketmap.AppendRequest(nil, "alias", "a b@example.com")
	req = socketmap.AppendRequest(req, "alias", "second")
	for i := range req {
		c.send(req[i : i+1])
	}
	assert.Equal(t, "OK alias|a b@example.com", c.reply())
	assert.Equal(t, "OK alias|second", c.reply())
}

func TestServer_keysPassedRaw(t *testing.T) {
	t.Parallel()
	h := &recorder{fn: func(_ context.Context, _, key string) socketmap.Reply {
		if key == "" {
			return socketmap.NotFound()
		}
		return socketmap.OK(fmt.Sprintf("%q", key))
	}}
	ts := newServer(t, h)
	cl, err := socketmap.Dial("inet:" + ts.addr)
	require.NoError(t, err)
	defer cl.Close()
	cl.Timeout = testBound
	for _, key := range []string{"", " ", "a b c", "nul\x00byte", "\xff\xfe latin1 \xe9", "ほげ@example.jp", "  leading"} {
		r, err := cl.Lookup("virtual", key)
		require.NoError(t, err)
		if key == "" {
			assert.Equal(t, socketmap.NotFound(), r)
		} else {
			assert.Equal(t, socketmap.OK(fmt.Sprintf("%q", key)), r)
		}
	}
	calls := h.Calls()
	require.Len(t, calls, 7)
	assert.Equal(t, call{"virtual", "nul\x00byte"}, calls[3])
	assert.Equal(t, call{"virtual", "  leading"}, calls[6])
}

func TestServer_malformedClosesConnection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		log  string // expected escaped excerpt in the log
	}{
		{"leading zero", "01:a,", `"01"`},
		{"non-digit", "1x:ab,", `"1x"`},
		{"missing comma", "3:a bX", `"3:a bX"`},
		{"no space in body", "5:abcde,", `"abcde"`},
		{"binary garbage", "\x00\xff\r\n", `"\x00"`},
		{"too large from digits", "100001:", `"100001"`},
		{"truncated", "10:abc", `"10:abc"`},
		{"control bytes in body", "4:a\x1b\x00bX", `"4:a\x1b\x00bX"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := &recorder{}
			ts := newServer(t, h)
			c := dialRaw(t, ts.addr)
			// A good request first: its reply must still be delivered.
			c.send(append(socketmap.AppendRequest(nil, "m", "k"), tt.in...))
			if tt.name == "truncated" {
				require.NoError(t, c.nc.(*net.TCPConn).CloseWrite())
			}
			assert.Equal(t, "OK m|k", c.reply())
			c.closed()
			require.Eventually(t, func() bool { return ts.Stats().Malformed == 1 }, testBound, time.Millisecond)
			assert.Len(t, h.Calls(), 1)
			logs := ts.logs.String()
			q := strconv.Quote(tt.log) // as slog's text handler renders the value
			assert.Contains(t, logs, q[1:len(q)-1])
			assert.Equal(t, 1, strings.Count(logs, "level=WARN"), logs)
			assert.NotContains(t, logs, "\x00")
			assert.NotContains(t, logs, "\x1b")
		})
	}
}

func TestServer_cleanEOFIsQuiet(t *testing.T) {
	t.Parallel()
	ts := newServer(t, &recorder{})
	c := dialRaw(t, ts.addr)
	c.send(socketmap.AppendRequest(nil, "m", "k"))
	assert.Equal(t, "OK m|k", c.reply())
	require.NoError(t, c.nc.Close())
	require.Eventually(t, func() bool { return ts.Stats().Open == 0 }, testBound, time.Millisecond)
	assert.NotContains(t, ts.logs.String(), "level=WARN")
	assert.Zero(t, ts.Stats().Malformed)
}

func TestServer_handlerTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	returned := make(chan struct{})
	h := &recorder{fn: func(ctx context.Context, _, key string) socketmap.Reply {
		if key != "slow" {
			return socketmap.OK("fast")
		}
		defer close(returned)
		<-release // ignores ctx on purpose
		return socketmap.OK("late")
	}}
	ts := newServer(t, h, func(s *socketmap.Server) { s.RequestTimeout = 20 * time.Millisecond })
	c := dialRaw(t, ts.addr)
	c.send(socketmap.AppendRequest(nil, "m", "first"))
	c.send(socketmap.AppendRequest(nil, "m", "slow"))
	c.send(socketmap.AppendRequest(nil, "m", "never"))
	assert.Equal(t, "OK fast", c.reply())
	assert.Equal(t, "TIMEOUT lookup timed out", c.reply())
	c.closed()
	close(release)
	<-returned
	require.Eventually(t, func() bool { return ts.Stats().Open == 0 }, testBound, time.Millisecond)
	st := ts.Stats()
	assert.EqualValues(t, 1, st.Timeouts)
	assert.EqualValues(t, 1, st.Replies[socketmap.StatusTimeout])
	assert.Len(t, h.Calls(), 2, "no request after the timed-out one is handled")
	assert.Contains(t, ts.logs.String(), `key="\"slow\""`)
}

func TestServer_handlerHonoursDeadline(t *testing.T) {
	t.Parallel()
	h := &recorder{fn: func(ctx context.Context, _, key string) socketmap.Reply {
		if key == "wait" {
			<-ctx.Done()
			return socketmap.Timeout("database: " + ctx.Err().Error())
		}
		return socketmap.OK("v")
	}}
	// The handler returns at the deadline; the server waits a grace of
	// at least 100 ms more before answering TIMEOUT itself.
	ts := newServer(t, h, func(s *socketmap.Server) { s.RequestTimeout = 100 * time.Millisecond })
	c := dialRaw(t, ts.addr)
	c.send(socketmap.AppendRequest(nil, "m", "wait"))
	assert.Equal(t, "TIMEOUT database: context deadline exceeded", c.reply())
	c.send(socketmap.AppendRequest(nil, "m", "next"))
	assert.Equal(t, "OK v", c.reply(), "a handler's own TIMEOUT keeps the connection")
	assert.Zero(t, ts.Stats().Timeouts)
}

func TestServer_handlerPanic(t *testing.T) {
	t.Parallel()
	h := &recorder{fn: func(_ context.Context, _, key string) socketmap.Reply {
		if key == "boom" {
			panic("kaboom")
		}
		return socketmap.OK("fine")
	}}
	ts := newServer(t, h)
	c := dialRaw(t, ts.addr)
	c.send(socketmap.AppendRequest(nil, "m", "boom"))
	assert.Equal(t, "TEMP internal error", c.reply())
	c.send(socketmap.AppendRequest(nil, "m", "ok"))
	assert.Equal(t, "OK fine", c.reply())
	assert.EqualValues(t, 1, ts.Stats().Panics)
	logs := ts.logs.String()
	assert.Contains(t, logs, "kaboom")
	assert.Contains(t, logs, "stack=")
}

func TestServer_emptyOKBecomesNotFound(t *testing.T) {
	t.Parallel()
	h := &recorder{fn: func(context.Context, string, string) socketmap.Reply { return socketmap.OK("") }}
	ts := newServer(t, h)
	c := dialRaw(t, ts.addr)
	c.send(socketmap.AppendRequest(nil, "m", "k"))
	assert.Equal(t, "NOTFOUND ", c.reply())
	assert.EqualValues(t, 1, ts.Stats().EmptyOK)
	assert.Contains(t, ts.logs.String(), "OK with an empty value")
}

func TestServer_replyTooLarge(t *testing.T) {
	t.Parallel()
	h := &recorder{fn: func(_ context.Context, _, key string) socketmap.Reply {
		switch key {
		case "fits":
			return socketmap.OK(strings.Repeat("v", 97)) // "OK " + 97 = 100 bytes
		case "big":
			return socketmap.OK(strings.Repeat("v", 98))
		default:
			return socketmap.NotFound()
		}
	}}
	ts := newServer(t, h, func(s *socketmap.Server) { s.MaxReplySize = 100 })
	c := dialRaw(t, ts.addr)
	c.send(socketmap.AppendRequest(nil, "m", "fits"))
	assert.Equal(t, "OK "+strings.Repeat("v", 97), c.reply())
	c.send(socketmap.AppendRequest(nil, "m", "big"))
	assert.Equal(t, "TEMP reply too large", c.reply())
	c.send(socketmap.AppendRequest(nil, "m", "other"))
	assert.Equal(t, "NOTFOUND ", c.reply())
	assert.EqualValues(t, 1, ts.Stats().TooLarge)
}

func TestServer_defaultReplyLimit(t *testing.T) {
	t.Parallel()
	h := &recorder{fn: func(context.Context, string, string) socketmap.Reply {
		return socketmap.OK(strings.Repeat("v", socketmap.DefaultMaxSize))
	}}
	ts := newServer(t, h)
	c := dialRaw(t, ts.addr)
	c.send(socketmap.AppendRequest(nil, "m", "k"))
	assert.Equal(t, "TEMP reply too large", c.reply())
}

func TestServer_requestTooLarge(t *testing.T) {
	t.Parallel()
	h := &recorder{}
	ts := newServer(t, h, func(s *socketmap.Server) { s.MaxRequestSize = 10 })
	c := dialRaw(t, ts.addr)
	c.send(socketmap.AppendRequest(nil, "m", "12345678")) // exactly 10
	assert.Equal(t, "OK m|12345678", c.reply())
	c.send([]byte("11:")) // rejected from the length alone
	c.closed()
	assert.EqualValues(t, 1, ts.Stats().Malformed)
}

func TestServer_maxConns(t *testing.T) {
	t.Parallel()
	ts := newServer(t, &recorder{}, func(s *socketmap.Server) { s.MaxConns = 2 })
	c1, c2 := dialRaw(t, ts.addr), dialRaw(t, ts.addr)
	for _, c := range []*rawConn{c1, c2} {
		c.send(socketmap.AppendRequest(nil, "m", "k"))
		assert.Equal(t, "OK m|k", c.reply())
	}
	// Over the cap: the request is read and answered TEMP, with a reason,
	// then the connection is closed (not reset).
	for _, c := range []*rawConn{dialRaw(t, ts.addr), dialRaw(t, ts.addr)} {
		c.send(socketmap.AppendRequest(nil, "m", "k"))
		assert.Equal(t, "TEMP mapgate: too many connections; try again later", c.reply())
		_, err := c.dec.Next()
		assert.ErrorIs(t, err, io.EOF, "closed, not reset")
	}
	st := ts.Stats()
	assert.EqualValues(t, 2, st.Rejected)
	assert.EqualValues(t, 2, st.Open)
	assert.Equal(t, 1, strings.Count(ts.logs.String(), "connection limit reached"), "rate-limited log")

	require.NoError(t, c1.nc.Close())
	require.Eventually(t, func() bool { return ts.Stats().Open == 1 }, testBound, time.Millisecond)
	c5 := dialRaw(t, ts.addr)
	c5.send(socketmap.AppendRequest(nil, "m", "again"))
	assert.Equal(t, "OK m|again", c5.reply())
}

func TestServer_idleTimeoutCloses(t *testing.T) {
	t.Parallel()
	ts := newServer(t, &recorder{}, func(s *socketmap.Server) { s.IdleTimeout = 20 * time.Millisecond })
	c := dialRaw(t, ts.addr)
	c.send(socketmap.AppendRequest(nil, "m", "k"))
	assert.Equal(t, "OK m|k", c.reply())
	c.closed()
	require.Eventually(t, func() bool { return ts.Stats().Open == 0 }, testBound, time.Millisecond)
	assert.NotContains(t, ts.logs.String(), "level=WARN")
}

func TestServer_shutdownFinishesInFlight(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	release := make(chan struct{})
	h := &recorder{fn: func(_ context.Context, _, key string) socketmap.Reply {
		if key == "slow" {
			close(started)
			<-release
			return socketmap.OK("finished")
		}
		return socketmap.OK("quick")
	}}
	ts := newServer(t, h)
	busy := dialRaw(t, ts.addr)
	idle := dialRaw(t, ts.addr)
	idle.send(socketmap.AppendRequest(nil, "m", "warmup"))
	assert.Equal(t, "OK quick", idle.reply())

	busy.send(socketmap.AppendRequest(nil, "m", "slow"))
	<-started
	done := make(chan error, 1)
	go func() { done <- ts.Shutdown(context.Background()) }()

	idle.closed() // idle connections are closed at once
	select {
	case err := <-ts.served:
		require.ErrorIs(t, err, socketmap.ErrServerClosed)
		ts.served <- err // for the cleanup check
	case <-time.After(testBound):
		t.Fatal("Serve did not return after Shutdown")
	}
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned %v with a request in flight", err)
	default:
	}
	close(release)
	assert.Equal(t, "OK finished", busy.reply())
	busy.closed()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(testBound):
		t.Fatal("Shutdown did not return")
	}
	assert.EqualValues(t, 0, ts.Stats().Open)
	_, err := net.DialTimeout("tcp", ts.addr, testBound)
	assert.Error(t, err, "listener closed")
}

func TestServer_shutdownContextExpires(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	release := make(chan struct{})
	defer close(release)
	h := &recorder{fn: func(context.Context, string, string) socketmap.Reply {
		close(started)
		<-release
		return socketmap.OK("late")
	}}
	ts := newServer(t, h) // default 10 s request timeout: the watchdog won't fire
	c := dialRaw(t, ts.addr)
	c.send(socketmap.AppendRequest(nil, "m", "k"))
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err := ts.Shutdown(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	c.closed()
	assert.EqualValues(t, 0, ts.Stats().Open)
}

func TestServer_serveAfterShutdown(t *testing.T) {
	t.Parallel()
	srv := &socketmap.Server{Handler: &recorder{}}
	require.NoError(t, srv.Shutdown(context.Background()))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	require.ErrorIs(t, srv.Serve(l), socketmap.ErrServerClosed)
	_, err = net.DialTimeout("tcp", l.Addr().String(), testBound)
	assert.Error(t, err, "Serve closes its listener")
}

func TestServer_nilHandler(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	require.Error(t, (&socketmap.Server{}).Serve(l))
}

func TestServer_manyConnections(t *testing.T) {
	t.Parallel()
	ts := newServer(t, &recorder{})
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			cl, err := socketmap.Dial(ts.addr)
			if !assert.NoError(t, err) {
				return
			}
			defer cl.Close()
			cl.Timeout = testBound
			for j := range 50 {
				k := fmt.Sprintf("%d-%d", i, j)
				r, err := cl.Lookup("m", k)
				if !assert.NoError(t, err) || !assert.Equal(t, socketmap.OK("m|"+k), r) {
					return
				}
			}
		})
	}
	wg.Wait()
	assert.EqualValues(t, 1000, ts.Stats().Requests)
}

// BenchmarkServerRoundTrip measures one request and reply through a real
// TCP loopback connection (allocations include the handler's strings and
// the request context).
func BenchmarkServerRoundTrip(b *testing.B) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	srv := &socketmap.Server{
		Handler: socketmap.HandlerFunc(func(_ context.Context, _, key string) socketmap.Reply {
			return socketmap.OK("dest@example.net")
		}),
		Logger: slog.New(slog.DiscardHandler),
	}
	go srv.Serve(l)
	defer srv.Close()
	cl, err := socketmap.Dial(l.Addr().String())
	require.NoError(b, err)
	defer cl.Close()
	b.ReportAllocs()
	for b.Loop() {
		r, err := cl.Lookup("alias", "someone@example.com")
		if err != nil || r.Status != socketmap.StatusOK {
			b.Fatal(r, err)
		}
	}
}
