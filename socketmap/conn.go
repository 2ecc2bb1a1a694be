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
	"sync"
	"time"
)

// conn serves one client connection.
type conn struct {
	s      *Server
	nc     net.Conn
	br     *bufio.Reader
	dec    *Decoder
	out    []byte // replies not yet written
	log    *slog.Logger
	remote string

	mu   sync.Mutex // orders idle and read deadlines against Shutdown
	idle bool
	// idleDL is the idle read deadline last set, zero when the read
	// deadline is another; writeDL the write deadline last set (owned
	// like out). See deadlineSlack.
	idleDL  time.Time
	writeDL time.Time

	// hmu hands the connection over between serve and the watchdog. Once
	// the watchdog sets timedOut it owns out and the net.Conn, and serve
	// must only exit.
	hmu       sync.Mutex
	inHandler bool
	timedOut  bool
	deadline  int64  // monoNow after which the watchdog may act
	curName   string // request in the handler, for the watchdog's log line
	curKey    string
	watchdog  *time.Timer // used by serve only

	lastName  string // interned map name: most connections use few
	finishOne sync.Once
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

func (c *conn) serve() {
	s := c.s
	defer c.finish()
	c.remote = addrString(c.nc.RemoteAddr())
	c.log = s.logger().With("remote", c.remote)
	defer func() {
		if p := recover(); p != nil {
			c.log.Error("socketmap: internal error", "panic", quoteHead(fmt.Sprint(p)), "stack", string(debug.Stack()))
		}
	}()
	c.br = bufio.NewReaderSize(connReader{c}, 4096)
	c.dec = NewDecoder(c.br, s.maxRequest())
	for {
		if c.br.Buffered() == 0 {
			now := time.Now()
			if err := c.flushAt(now); err != nil {
				c.log.Debug("socketmap: write failed", "err", err)
				return
			}
			if !c.setIdle(now) {
				return // shutting down
			}
			if _, err := c.br.Peek(1); err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, os.ErrDeadlineExceeded) && !errors.Is(err, net.ErrClosed) {
					c.log.Debug("socketmap: read failed", "err", err)
				}
				return
			}
		}
		c.setActive()
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
		if s.closing.Load() {
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

// deadlineSlack: an idle or write deadline is moved only when the new one
// is later than the one in force by more than its timeout/deadlineSlack
// (under 1 s for the default 110 s idle timeout): most requests then set
// no deadline at all. A deadline may so come up to that much early.
const deadlineSlack = 128

// setIdle arms the idle deadline, unless the server is shutting down.
func (c *conn) setIdle(now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.s.closing.Load() {
		return false
	}
	c.idle = true
	it := c.s.idleTimeout()
	if dl := now.Add(it); c.idleDL.IsZero() || dl.Sub(c.idleDL) > it/deadlineSlack {
		c.nc.SetReadDeadline(dl)
		c.idleDL = dl
	}
	return true
}

// setActive arms the deadline for reading the rest of a request, unless the
// whole request is buffered already: then nothing is read until the next
// setIdle or setActive.
func (c *conn) setActive() {
	c.mu.Lock()
	c.idle = false
	if !c.requestBuffered() {
		c.nc.SetReadDeadline(time.Now().Add(c.s.requestTimeout()))
		c.idleDL = time.Time{}
	}
	c.mu.Unlock()
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

// wakeIfIdle makes an idle connection's pending read return at once, so it
// notices the shutdown. A connection with a request under way is left alone.
func (c *conn) wakeIfIdle() {
	c.mu.Lock()
	if c.idle {
		c.nc.SetReadDeadline(time.Unix(1, 0))
		c.idleDL = time.Time{}
	}
	c.mu.Unlock()
}

// lookup calls the handler under the request deadline. ok is false when the
// watchdog gave up on the handler first.
func (c *conn) lookup(name, key string) (r Reply, ok bool) {
	d := c.s.requestTimeout()
	now := time.Now()
	ctx := newReqCtx(c.s.baseCtx, now.Add(d))
	defer ctx.release()
	limit := d + grace(d)
	c.hmu.Lock()
	c.curName, c.curKey = name, key
	c.deadline = int64(now.Sub(epoch)) + int64(limit)
	c.inHandler = true
	c.hmu.Unlock()
	if c.watchdog == nil {
		c.watchdog = time.AfterFunc(limit, c.expire)
	} else {
		c.watchdog.Reset(limit)
	}
	r = c.call(ctx, name, key)
	c.hmu.Lock()
	timedOut := c.timedOut
	c.inHandler = false
	c.hmu.Unlock()
	if timedOut {
		return Reply{}, false
	}
	c.watchdog.Stop()
	return r, true
}

// expire runs when the handler overran its deadline: it sends the pending
// replies and TIMEOUT, and closes the connection.
func (c *conn) expire() {
	c.hmu.Lock()
	// A late firing armed for an earlier request finds the handler idle
	// or a later deadline.
	if !c.inHandler || c.timedOut || monoNow() < c.deadline {
		c.hmu.Unlock()
		return
	}
	c.timedOut = true
	c.hmu.Unlock()
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
	wt := c.s.writeTimeout()
	if dl := now.Add(wt); c.writeDL.IsZero() || dl.Sub(c.writeDL) > wt/deadlineSlack {
		c.nc.SetWriteDeadline(dl)
		c.writeDL = dl
	}
	_, err := c.nc.Write(c.out)
	if cap(c.out) > flushAt*2 {
		c.out = nil
	} else {
		c.out = c.out[:0]
	}
	return err
}

// finish closes the connection and forgets it; safe to call more than once.
func (c *conn) finish() {
	c.finishOne.Do(func() {
		c.nc.Close()
		c.s.untrack(c)
	})
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}
