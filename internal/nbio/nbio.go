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

	// The calls' state and their functions, made once: a closure passed
	// to the RawConn per call would be an allocation per call.
	rmu    sync.Mutex
	rbuf   []byte
	rn     int
	rerrno syscall.Errno
	readFn func(fd uintptr) bool

	wmu     sync.Mutex
	wbuf    []byte
	wn      int
	werrno  syscall.Errno
	writeFn func(fd uintptr) bool
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
	c.readFn, c.writeFn = c.read, c.write
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
	c.rmu.Lock()
	c.rbuf, c.rn, c.rerrno = p, 0, 0
	err := c.rc.Read(c.readFn)
	n, errno := c.rn, c.rerrno
	c.rbuf = nil
	c.rmu.Unlock()
	if err != nil {
		return 0, c.opError("read", err)
	}
	if errno != 0 {
		return 0, c.opError("read", os.NewSyscallError("read", errno))
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

// read is one try of Read on the socket: false when it would block.
func (c *Conn) read(fd uintptr) bool {
	p := c.rbuf
	for {
		r, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		switch e {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		c.rn, c.rerrno = int(r), e
		return true
	}
}

// Write writes all of p, waiting under the write deadline while the
// socket's buffer is full.
func (c *Conn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	c.wbuf, c.wn, c.werrno = p, 0, 0
	err := c.rc.Write(c.writeFn)
	n, errno := c.wn, c.werrno
	c.wbuf = nil
	c.wmu.Unlock()
	if err != nil {
		return n, c.opError("write", err)
	}
	if errno != 0 {
		return n, c.opError("write", os.NewSyscallError("write", errno))
	}
	return n, nil
}

// write is one try of Write on the socket: false when the socket's buffer
// is full.
func (c *Conn) write(fd uintptr) bool {
	p := c.wbuf
	for c.wn < len(p) {
		r, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&p[c.wn])), uintptr(len(p)-c.wn))
		switch e {
		case 0:
			c.wn += int(r)
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			c.werrno = e
			return true
		}
	}
	return true
}

// opError wraps err as net's calls do. The raw calls' own errors (a
// deadline, a closed connection) come as *net.OpError already.
func (c *Conn) opError(op string, err error) error {
	if oe, ok := err.(*net.OpError); ok {
		oe.Op = op
		return oe
	}
	return &net.OpError{Op: op, Net: c.LocalAddr().Network(), Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}
