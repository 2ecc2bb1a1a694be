package socketmap

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"time"

	"mapgate/internal/conncore"
)

// conn serves one client connection.
type conn struct {
	s      *Server
	cc     *conncore.Conn // deadlines, idleness, closing
	nc     net.Conn       // cc's
	br     *bufio.Reader
	dec    *Decoder
	out    []byte // replies not yet written
	log    *slog.Logger
	remote string

	// wd hands the connection over to expire when the handler overruns:
	// expire then owns out and the net.Conn, and serve must only exit.
	wd      conncore.Watchdog
	curName string // request in the handler, for expire's log line
	curKey  string

	lastName string // interned map name: most connections use few
}

// flushAt is the amount of pending replies written even while more
// pipelined requests are buffered.
const flushAt = 32 << 10

// connReader writes pending replies before any read that may block, so a
// client never waits on a reply the server is holding back.
type connReader struct{ c *conn }

func (r connReader) Read(p []byte) (int, error) {
	if err := r.c.flush(); err != nil {
		return 0, err
	}
	return r.c.nc.Read(p)
}

// serve serves the connection until it ends; the core then closes it (and
// recovers a panic).
func (c *conn) serve() {
	defer c.wd.Stop()
	s := c.s
	c.remote = addrString(c.nc.RemoteAddr())
	c.log = s.logger().With("remote", c.remote)
	c.br = bufio.NewReaderSize(connReader{c}, 4096)
	c.dec = NewDecoder(c.br, s.maxRequest())
	for {
		if c.br.Buffered() == 0 {
			now := time.Now()
			if err := c.flushAt(now); err != nil {
				c.log.Debug("socketmap: write failed", "err", err)
				return
			}
			if !c.cc.Idle(now) {
				return // shutting down
			}
			if _, err := c.br.Peek(1); err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, os.ErrDeadlineExceeded) && !errors.Is(err, net.ErrClosed) {
					c.log.Debug("socketmap: read failed", "err", err)
				}
				return
			}
		}
		c.cc.Active(c.requestBuffered())
		payload, err := c.dec.Next()
		if err != nil {
			c.readFailed(err)
			return
		}
		name, key, ok := SplitRequest(payload)
		if !ok {
			s.st.malformed.Add(1)
			c.log.Warn("socketmap: malformed request: no space between map name and key; closing",
				"request", quoteHead(payload))
			c.flush()
			return
		}
		s.st.requests.Add(1)
		if string(name) != c.lastName {
			c.lastName = string(name)
		}
		r, ok := c.lookup(c.lastName, string(key))
		if !ok {
			return // the watchdog answered TIMEOUT and closed the connection
		}
		c.appendReply(r, key)
		if c.cc.Closing() {
			c.flush()
			return
		}
		if len(c.out) >= flushAt {
			if err := c.flush(); err != nil {
				c.log.Debug("socketmap: write failed", "err", err)
				return
			}
		}
	}
}

func (c *conn) readFailed(err error) {
	var de *DecodeError
	switch {
	case errors.As(err, &de) && (errors.Is(err, ErrMalformed) || errors.Is(err, ErrTooLarge) || errors.Is(err, io.ErrUnexpectedEOF)):
		c.s.st.malformed.Add(1)
		c.log.Warn("socketmap: malformed request; closing", "reason", de.Reason, "read", quoteHead(de.Data))
	case errors.As(err, &de):
		c.s.st.malformed.Add(1)
		c.log.Warn("socketmap: reading request failed; closing", "reason", de.Reason, "err", de.Err, "read", quoteHead(de.Data))
	default:
		c.log.Debug("socketmap: read failed", "err", err)
	}
	c.flush()
}

// requestBuffered reports whether the reader holds a whole netstring (or
// enough of one to fail it): its length, its payload and its comma. In
// doubt it says no.
func (c *conn) requestBuffered() bool {
	b, _ := c.br.Peek(c.br.Buffered())
	n := 0
	for i, ch := range b {
		switch {
		case ch >= '0' && ch <= '9' && i < 9:
			n = n*10 + int(ch-'0')
		case ch == ':' && i > 0:
			return len(b) > i+n+1
		default:
			return false
		}
	}
	return false
}

// lookup calls the handler under the request deadline. ok is false when the
// watchdog gave up on the handler first.
func (c *conn) lookup(name, key string) (r Reply, ok bool) {
	d := c.s.requestTimeout()
	now := time.Now()
	ctx := conncore.NewRequestContext(c.s.core.BaseContext(), now.Add(d))
	defer ctx.Release()
	c.curName, c.curKey = name, key
	c.wd.Begin(now, d+conncore.Grace(d))
	r = c.call(ctx, name, key)
	if !c.wd.End() {
		return Reply{}, false
	}
	return r, true
}

// expire runs when the handler overran its deadline (conncore.Watchdog):
// it sends the pending replies and TIMEOUT, and closes the connection.
func (c *conn) expire() {
	c.s.st.timeouts.Add(1)
	c.log.Warn("socketmap: handler did not return in time; replying TIMEOUT and closing",
		"map", quoteHead(c.curName), "key", quoteHead(c.curKey), "timeout", c.s.requestTimeout())
	c.s.st.replies[StatusTimeout].Add(1)
	c.out = AppendReplyNetstring(c.out, Timeout(timeoutText))
	if err := c.flush(); err != nil {
		c.log.Debug("socketmap: write failed", "err", err)
	}
	c.finish()
}

// call runs the handler, turning a panic into TEMP.
func (c *conn) call(ctx context.Context, name, key string) (r Reply) {
	defer func() {
		if p := recover(); p != nil {
			c.s.st.panics.Add(1)
			c.log.Error("socketmap: handler panicked; replying TEMP",
				"map", quoteHead(name), "key", quoteHead(key), "panic", quoteHead(fmt.Sprint(p)),
				"stack", string(debug.Stack()))
			r = Temp("internal error")
		}
	}()
	return c.s.Handler.Lookup(ctx, name, key)
}

func (c *conn) appendReply(r Reply, key []byte) {
	s := c.s
	if r.Status == StatusOK && r.Text == "" {
		s.st.emptyOK.Add(1)
		c.log.Warn("socketmap: handler returned OK with an empty value; sending NOTFOUND",
			"map", quoteHead(c.lastName), "key", quoteHead(key))
		r = NotFound()
	}
	if n := r.payloadLen(); n > s.maxReply() {
		s.st.tooLarge.Add(1)
		c.log.Warn("socketmap: reply too large; sending TEMP",
			"map", quoteHead(c.lastName), "key", quoteHead(key), "status", r.Status, "bytes", n, "max", s.maxReply())
		r = Temp("reply too large")
	}
	if int(r.Status) < len(s.st.replies) {
		s.st.replies[r.Status].Add(1)
	} else {
		s.st.replies[StatusTemp].Add(1)
	}
	c.out = AppendReplyNetstring(c.out, r)
}

// flush writes the pending replies under the write deadline.
func (c *conn) flush() error {
	if len(c.out) == 0 {
		return nil
	}
	return c.flushAt(time.Now())
}

// flushAt is flush with the time now.
func (c *conn) flushAt(now time.Time) error {
	if len(c.out) == 0 {
		return nil
	}
	c.cc.WriteDeadline(now)
	_, err := c.nc.Write(c.out)
	if cap(c.out) > flushAt*2 {
		c.out = nil
	} else {
		c.out = c.out[:0]
	}
	return err
}

// finish closes the connection and forgets it; safe to call more than once.
func (c *conn) finish() { c.cc.Close() }

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}
