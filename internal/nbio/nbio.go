// Package nbio reads and writes a connection's socket with raw system
// calls, so that a lookup's writes do not hand their goroutine's P to
// another thread.
//
// Go's net package enters every read and write through the runtime's
// system-call path: the P is marked as in a system call, and sysmon takes
// it away (waking another thread to run it) from a call that lasts past
// its tick. A write on loopback TCP runs the peer's whole receive path and
// wake-up inside the call, and lasts that long: under load most of them
// then cost a thread wake-up and, on return, a sleep. The sockets net
// makes are non-blocking, so a raw call never blocks: EAGAIN waits in the
// netpoller as net's own calls do, under the same deadlines.
package nbio

import (
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"unsafe"
)

// Conn is a net.Conn whose Read and Write make raw system calls. Wrap
// returns one; everything else is the wrapped connection's.
type Conn struct {
	net.Conn
	rc syscall.RawConn

	r, w call
}

// call is the state of the reads' or the writes' system calls and their
// function, made once: a closure passed to the RawConn per call would be
// an allocation per call.
type call struct {
	raw   func(func(fd uintptr) bool) error // the RawConn's Read or Write
	fn    func(fd uintptr) bool             // Conn.read or Conn.write
	mu    sync.Mutex
	buf   []byte
	n     int
	errno syscall.Errno
}

// run runs fn on p through raw, and returns what fn did.
func (k *call) run(p []byte) (n int, errno syscall.Errno, err error) {
	k.mu.Lock()
	k.buf, k.n, k.errno = p, 0, 0
	err = k.raw(k.fn)
	n, errno = k.n, k.errno
	k.buf = nil
	k.mu.Unlock()
	return n, errno, err
}

// Wrap returns nc with raw reads and writes when it is a non-blocking
// socket, and nc itself otherwise.
func Wrap(nc net.Conn) net.Conn {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nc
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nc
	}
	nonblock := false
	if err := rc.Control(func(fd uintptr) {
		fl, _, e := syscall.RawSyscall(syscall.SYS_FCNTL, fd, syscall.F_GETFL, 0)
		nonblock = e == 0 && fl&syscall.O_NONBLOCK != 0
	}); err != nil || !nonblock {
		return nc
	}
	c := &Conn{Conn: nc, rc: rc}
	c.r.raw, c.r.fn = rc.Read, c.read
	c.w.raw, c.w.fn = rc.Write, c.write
	return c
}

// SyscallConn is the wrapped connection's (the MySQL driver's liveness
// check reads the socket through it).
func (c *Conn) SyscallConn() (syscall.RawConn, error) { return c.rc, nil }

// Read reads like net.Conn's Read: it waits for data under the read
// deadline, and returns io.EOF when the peer closed.
func (c *Conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, errno, err := c.r.run(p)
	if err := c.callError("read", err, errno); err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

// read is one try of Read on the socket: false when it would block.
func (c *Conn) read(fd uintptr) bool {
	p := c.r.buf
	for {
		r, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		switch e {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		c.r.n, c.r.errno = int(r), e
		return true
	}
}

// Write writes all of p, waiting under the write deadline while the
// socket's buffer is full.
func (c *Conn) Write(p []byte) (int, error) {
	n, errno, err := c.w.run(p)
	return n, c.callError("write", err, errno)
}

// write is one try of Write on the socket: false when the socket's buffer
// is full.
func (c *Conn) write(fd uintptr) bool {
	p := c.w.buf
	for c.w.n < len(p) {
		r, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&p[c.w.n])), uintptr(len(p)-c.w.n))
		switch e {
		case 0:
			c.w.n += int(r)
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			c.w.errno = e
			return true
		}
	}
	return true
}

// callError is a call's error, nil for none: err is the RawConn's (a
// deadline, a closed connection), errno the system call's.
func (c *Conn) callError(op string, err error, errno syscall.Errno) error {
	switch {
	case err != nil:
		return c.opError(op, err)
	case errno != 0:
		return c.opError(op, os.NewSyscallError(op, errno))
	}
	return nil
}

// opError wraps err as net's calls do. The RawConn's own errors come as
// *net.OpError already.
func (c *Conn) opError(op string, err error) error {
	if oe, ok := err.(*net.OpError); ok {
		oe.Op = op
		return oe
	}
	return &net.OpError{Op: op, Net: c.LocalAddr().Network(), Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}
