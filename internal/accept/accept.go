// Package accept is the accept loop of mapgate's servers (socketmap and the
// MySQL front): it hands each connection on, retries the Accept errors
// worth retrying with a growing delay, and stops when the server closes.
package accept

import (
	"errors"
	"log/slog"
	"net"
	"syscall"
	"time"
)

// ErrClosed is Loop's return when closing reported true.
var ErrClosed = errors.New("server closed")

// Loop accepts connections on l and hands each to serve (which must not
// block), until Accept fails for good or closing reports true. A temporary
// failure is logged (with prefix) and retried after a delay that doubles
// from 5 ms up to 1 s; done ends a wait early.
func Loop(l net.Listener, closing func() bool, done <-chan struct{}, log *slog.Logger, prefix string, serve func(net.Conn)) error {
	var delay time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if closing() {
				return ErrClosed
			}
			if !Temporary(err) {
				return err
			}
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			log.Warn(prefix+": accept failed; retrying", "err", err, "delay", delay)
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-done:
				t.Stop()
			}
			continue
		}
		delay = 0
		serve(nc)
	}
}

// Temporary reports whether an Accept error is worth retrying: a timeout,
// running out of descriptors or memory, an aborted connection.
func Temporary(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	for _, e := range [...]error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM,
		syscall.ECONNABORTED, syscall.ECONNRESET, syscall.EINTR, syscall.EAGAIN, syscall.EPROTO} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
